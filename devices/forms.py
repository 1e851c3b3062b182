"""Forms of the inventory pages: filters (bad values are ignored, not errors) and small actions."""

from __future__ import annotations

from django import forms

from devices.models import AuditRecord, Device, DeviceKind, DeviceNetwork, DeviceStatus


def _blank(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


class DeviceFilterForm(forms.Form):
    """The inventory list's filters, the same as the API's (`devices.selectors.filter_devices`)."""

    q = forms.CharField(label="Serial or asset tag", required=False, max_length=64)
    agency = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, choices=_blank(DeviceKind.choices))
    status = forms.ChoiceField(required=False, choices=_blank(DeviceStatus.choices))
    network = forms.ChoiceField(required=False, choices=_blank(DeviceNetwork.choices))

    def __init__(self, *args: object, agencies: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = _blank(agencies, "All agencies")

    def filters(self) -> dict[str, str]:
        """The valid filters given, ready for `filter_devices`; an invalid value counts as absent."""
        self.is_valid()  # cleaned_data then holds the valid fields only
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}


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

    def __init__(self, *args: object, agencies: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = _blank(agencies, "All agencies")

    def filters(self) -> dict[str, object]:
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}


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
