"""Forms of the inventory pages: filters (bad values are ignored, not errors) and small actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from django import forms

from devices.models import (
    AgencyKind,
    AssignmentCondition,
    AuditRecord,
    Cabinet,
    Device,
    DeviceKind,
    DeviceModel,
    DeviceNetwork,
    DeviceStatus,
    FirstNetProgram,
    FirstNetStatus,
    User,
)


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


# --- device, officer and check-out forms (devices/inventory_views.py) --------------------
# These check presence and length only: every device rule (identifiers, uniqueness, what a
# model without a radio may have) is `devices.rules`, applied by `devices.services` for the
# API, the import and these pages alike, and its message is put next to the field it names.


class DeviceForm(forms.Form):
    agency = forms.ChoiceField(help_text="The agency that owns the device.")
    model = forms.ModelChoiceField(
        queryset=DeviceModel.objects.order_by("manufacturer", "name"),
        label="Model",
        empty_label="Choose a catalog model",
    )
    serial = forms.CharField(max_length=64)
    asset_tag = forms.CharField(label="Asset tag", required=False, max_length=64)
    imei = forms.CharField(
        label="IMEI",
        required=False,
        max_length=40,
        help_text="15 digits; spaces and dashes are fine.",
    )
    iccid = forms.CharField(
        label="ICCID",
        required=False,
        max_length=40,
        help_text="The SIM number, 19 or 20 digits.",
    )
    status = forms.ChoiceField(
        choices=[c for c in DeviceStatus.choices if c[0] != DeviceStatus.RETIRED],
        initial=DeviceStatus.IN_STOCK,
    )
    network = forms.ChoiceField(choices=DeviceNetwork.choices, initial=DeviceNetwork.NONE)
    firmware_version = forms.CharField(label="Firmware version", required=False, max_length=64)
    is_mdm_enrolled = forms.BooleanField(label="MDM enrolled", required=False)
    is_encryption_enabled = forms.BooleanField(label="Encryption enabled", required=False)
    has_cji_access = forms.BooleanField(label="CJI access", required=False)
    notes = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        agencies: list[tuple[str, str]],
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        set_choices(self, "agency", agencies)
        if len(agencies) == 1:
            # An agency admin registers for their own agency only: nothing to choose.
            self.fields["agency"].widget = forms.HiddenInput()
            self.fields["agency"].initial = agencies[0][0]
        if editing:
            # Moving a device between agencies is a transfer, and its status has its own form
            # with the lifecycle history on the device page.
            del self.fields["agency"]
            del self.fields["status"]


class CheckOutForm(forms.Form):
    officer = forms.TypedChoiceField(coerce=int, label="Officer")
    unit = forms.CharField(
        required=False, max_length=100, help_text="Left empty: the officer's usual unit."
    )
    notes = forms.CharField(label="Check-out notes", required=False, max_length=2000)

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, officers: list[tuple[int, str]]
    ) -> None:
        super().__init__(data)
        set_choices(self, "officer", [("", "Choose an officer"), *officers])  # type: ignore[list-item]


class CheckInForm(forms.Form):
    condition = forms.ChoiceField(
        label="Condition on return",
        choices=[("", "Choose the condition"), *AssignmentCondition.choices],
    )
    notes = forms.CharField(label="Return notes", required=False, max_length=2000)


class OfficerForm(forms.Form):
    name = forms.CharField(max_length=100)
    badge = forms.CharField(label="Badge or ID", max_length=32)
    unit = forms.CharField(label="Usual unit", required=False, max_length=100)


class OfficerEditForm(OfficerForm):
    is_active = forms.BooleanField(
        label="Active", required=False, help_text="An inactive officer is not offered at check-out."
    )


# --- state staff's setup forms and the gateway edit form (devices/setup_views.py) --------


class AgencyForm(forms.Form):
    slug = forms.SlugField(max_length=64, help_text="Short name used in links and MQTT topics.")
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=AgencyKind.choices)
    cabinet = forms.ModelChoiceField(queryset=Cabinet.objects.order_by("name"))
    county = forms.CharField(required=False, max_length=100)
    ori = forms.CharField(label="NCIC ORI", required=False, max_length=9)
    firstnet_status = forms.ChoiceField(label="FirstNet status", choices=FirstNetStatus.choices)
    firstnet_status_changed_on = forms.DateField(
        label="FirstNet status since",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Today if left empty.",
    )
    firstnet_note = forms.CharField(
        label="Why the FirstNet status changed", required=False, max_length=300
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["slug"]  # links, topics and exports name the agency by it
        else:
            del self.fields["firstnet_note"]

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"])
        if slug in ("new",):
            raise forms.ValidationError("This word is reserved for the page that adds an agency.")
        return slug


class CabinetForm(forms.Form):
    slug = forms.SlugField(max_length=64)
    name = forms.CharField(max_length=200)
    brm = forms.ModelChoiceField(
        label="Business relationship manager",
        queryset=User.objects.filter(role=User.Role.STATE_STAFF, is_active=True).order_by(
            "username"
        ),
        required=False,
        empty_label="None yet",
    )


class DeviceModelForm(forms.Form):
    manufacturer = forms.CharField(max_length=100)
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=DeviceKind.choices)
    is_cellular = forms.BooleanField(label="Cellular (has a radio)", required=False)
    has_band14 = forms.BooleanField(label="Band 14", required=False)
    firstnet_program = forms.ChoiceField(label="FirstNet program", choices=FirstNetProgram.choices)
    fips_140_level = forms.TypedChoiceField(
        label="FIPS 140 level",
        choices=[("", "None"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    has_mcptt = forms.BooleanField(label="MCPTT", required=False)
    has_encryption_at_rest = forms.BooleanField(label="Encryption at rest", required=False)
    telemetry_interval_s = forms.IntegerField(
        label="Expected telemetry interval (seconds)", min_value=10, max_value=7 * 24 * 3600
    )
    unit_cost = forms.DecimalField(min_value=0, max_digits=10, decimal_places=2)


class GatewayEditForm(forms.Form):
    description = forms.CharField(required=False, max_length=200)
    is_active = forms.BooleanField(
        label="Active", required=False, help_text="An inactive gateway's messages are refused."
    )
