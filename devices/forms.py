"""Forms of the inventory pages: filters (bad values are ignored, not errors) and small actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from django import forms

from devices.models import AuditRecord, Device, DeviceKind, DeviceNetwork, DeviceStatus


def _blank(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


def set_choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    """Give the form's ChoiceField ``name`` its choices (they depend on who is asking)."""
    # Form.fields is typed as plain Field; the named field is a ChoiceField by declaration.
    cast(forms.ChoiceField, form.fields[name]).choices = choices


class DeviceFilters(TypedDict, total=False):
    """The keyword arguments of `devices.selectors.filter_devices` a filter form can give."""

    q: str
    agency: str
    kind: str
    status: str | None
    network: str


class AuditFilters(TypedDict, total=False):
    """The keyword arguments of `devices.selectors.filter_audit` a filter form can give."""

    agency: str
    object_type: str
    action: str
    actor: str
    since: dt.date
    until: dt.date


def _given(form: forms.Form) -> dict[str, Any]:
    form.is_valid()  # cleaned_data then holds the valid fields only
    return {k: v for k, v in getattr(form, "cleaned_data", {}).items() if v}


class DeviceFilterForm(forms.Form):
    """The inventory list's filters, the same as the API's (`devices.selectors.filter_devices`)."""

    q = forms.CharField(label="Serial or asset tag", required=False, max_length=64)
    agency = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, choices=_blank(DeviceKind.choices))
    status = forms.ChoiceField(required=False, choices=_blank(DeviceStatus.choices))
    network = forms.ChoiceField(required=False, choices=_blank(DeviceNetwork.choices))

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, agencies: list[tuple[str, str]]
    ) -> None:
        super().__init__(data)
        set_choices(self, "agency", _blank(agencies, "All agencies"))

    def filters(self) -> DeviceFilters:
        """The valid filters given, ready for `filter_devices`; an invalid value counts as absent."""
        return cast(DeviceFilters, _given(self))


class AuditFilterForm(forms.Form):
    agency = forms.ChoiceField(required=False)
    object_type = forms.CharField(
        label="Object type",
        required=False,
        max_length=64,
        help_text="device, agency, devicemodel, gateway, apitoken …",
    )
    action = forms.ChoiceField(required=False, choices=_blank(AuditRecord.Action.choices))
    actor = forms.CharField(label="User", required=False, max_length=150)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, agencies: list[tuple[str, str]]
    ) -> None:
        super().__init__(data)
        set_choices(self, "agency", _blank(agencies, "All agencies"))

    def filters(self) -> AuditFilters:
        """The valid filters given, ready for `filter_audit`; an invalid value counts as absent."""
        return cast(AuditFilters, _given(self))


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(
        choices=[c for c in Device.Status.choices if c[0] != Device.Status.RETIRED]
    )
    note = forms.CharField(required=False, max_length=300)


class GatewayForm(forms.Form):
    name = forms.SlugField(
        max_length=64, help_text="Used in MQTT topics: letters, digits, - and _."
    )
    description = forms.CharField(required=False, max_length=200)
