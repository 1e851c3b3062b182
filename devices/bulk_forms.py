"""Forms of the inventory list's bulk actions: the selection and the change (or label stock).

They read the list's own form fields: ``ids`` (ticked rows, or a comma-separated list from the
preview's confirm form) or ``scope=filter`` with the list's filters, then ``action`` and the
one value that action needs. Names of the new values start with ``new_`` so they never clash
with the filters (``status`` filters the list, ``new_status`` is what a bulk edit sets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import QueryDict

from config.errors import InvalidInput
from devices import bulk_edits, labels
from devices.forms import DeviceFilterForm
from devices.models import DeviceNetwork, DeviceStatus
from devices.selection import Selection, parse_ids

FLAG_CHOICES = [("yes", "Yes (on)"), ("no", "No (off)")]


class BulkEditForm(forms.Form):
    """The change a bulk edit makes; `change()` turns it into a `bulk_edits.BulkChange`."""

    # The list's one form also prints labels, which need no action: no browser-side required.
    use_required_attribute = False

    action = forms.ChoiceField(
        label="Action", choices=[("", "Choose…"), *bulk_edits.ACTION_LABELS.items()]
    )
    new_status = forms.ChoiceField(
        label="New status",
        required=False,
        choices=[("", "—"), *((v, lbl) for v, lbl in DeviceStatus.choices if v != "retired")],
    )
    new_unit = forms.CharField(label="New unit", required=False, max_length=100)
    new_network = forms.ChoiceField(
        label="New network", required=False, choices=[("", "—"), *DeviceNetwork.choices]
    )
    new_flag = forms.ChoiceField(
        label="MDM or encryption", required=False, choices=[("", "—"), *FLAG_CHOICES]
    )

    def change(self) -> bulk_edits.BulkChange:
        """The checked change, or `InvalidInput` saying which value is missing."""
        if not self.is_valid():
            field, errors = next(iter(self.errors.items()))
            label = self.fields[field].label if field in self.fields else field
            raise InvalidInput(f"{label}: {' '.join(map(str, errors))}", field=field)
        data = self.cleaned_data
        action = data["action"]
        value: Any = {
            "status": data["new_status"],
            "unit": data["new_unit"],
            "network": data["new_network"],
            "mdm": {"yes": True, "no": False}.get(data["new_flag"]),
            "encryption": {"yes": True, "no": False}.get(data["new_flag"]),
        }.get(action)
        return bulk_edits.make_change(action, value)

    def hidden_values(self) -> dict[str, str]:
        """The submitted change as plain values, for the confirm form's hidden inputs."""
        return {name: str(self.data.get(name, "")) for name in self.fields}


class LabelForm(forms.Form):
    use_required_attribute = False
    stock = forms.ChoiceField(
        label="Label stock", choices=list(labels.STOCKS.items()), initial="avery5160"
    )


def selection_from(
    data: QueryDict | Mapping[str, Any], *, agencies: list[tuple[str, str]]
) -> Selection:
    """The devices a bulk form names: ``scope=filter`` and the filters, or the ``ids`` ticked."""
    filters = DeviceFilterForm(data, agencies=agencies).filters()
    if data.get("scope") == "filter":
        return Selection(ids=None, filters=filters)
    values = data.getlist("ids") if isinstance(data, QueryDict) else [str(data.get("ids", ""))]
    return Selection(ids=parse_ids(values), filters=filters)
