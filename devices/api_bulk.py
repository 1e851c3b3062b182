"""Bulk edit and asset label endpoints of the inventory (mounted under the devices router).

POST /api/devices/bulk     {ids | filter, action, value fields, dry_run}: preview or apply
POST /api/devices/labels   {ids | filter, stock}: a PDF of asset labels

The same core as the list page's bulk actions: the selection is scoped to the caller here,
then `devices.selection`, `devices.bulk_edits` and `devices.labels` do the work. Another
agency's device id answers 404 naming the ids only; a read-only role answers 403.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema
from pydantic import model_validator

from config.api import WRITE_ERRORS
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import bulk_edits, labels, selection
from devices.audit import request_user_agent
from devices.models import DeviceNetwork, DeviceStatus
from devices.schemas import MAX_ID, DeviceFilter, text

router = Router(tags=["devices"])

DeviceId = Annotated[int, Field(ge=1, le=MAX_ID)]


class SelectionIn(Schema):
    """Either ``ids`` (the devices picked) or ``filter`` (every device matching it)."""

    ids: list[DeviceId] | None = Field(None, description="Device ids.")
    filter: DeviceFilter | None = Field(
        None, description="The device list's filters: every matching device."
    )

    @model_validator(mode="after")
    def _one_way(self) -> SelectionIn:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids (the devices picked) or filter, not both or neither")
        return self

    def selection(self) -> selection.Selection:
        filters: Any = self.filter.dict(exclude_none=True) if self.filter is not None else {}
        return selection.Selection(ids=self.ids, filters=filters)


class BulkEditIn(SelectionIn):
    action: Literal["status", "unit", "network", "mdm", "encryption", "retire"]
    status: DeviceStatus | None = Field(None, description="The new status (action status).")
    unit: text(100) | None = Field(None, description="The new unit (action unit).")  # type: ignore[valid-type]
    network: DeviceNetwork | None = Field(None, description="The new network (action network).")
    enabled: bool | None = Field(
        None, description="The flag's new value (actions mdm, encryption)."
    )
    dry_run: bool = Field(False, description="Preview only: what would change, nothing written.")

    def value(self) -> Any:
        return {
            "status": self.status,
            "unit": self.unit,
            "network": self.network,
            "mdm": self.enabled,
            "encryption": self.enabled,
        }.get(self.action)


class BulkDeviceOut(Schema):
    id: int
    serial: str
    asset_tag: str
    agency: str
    before: Any
    after: Any
    changed: bool


class BulkEditOut(Schema):
    """The preview (dry run) or the result of a bulk edit."""

    dry_run: bool
    applied: bool = Field(..., description="True when the devices were written.")
    action: str
    field: str
    selected: int
    changed: int
    devices: list[BulkDeviceOut]
    audit_id: int | None = Field(None, description="The one audit record of the change.")


class LabelsIn(SelectionIn):
    stock: Literal["avery5160", "single"] = Field(
        "avery5160", description="avery5160 (30 per letter sheet) or single (62 × 29 mm)."
    )


@router.post("/devices/bulk", response={200: BulkEditOut, **WRITE_ERRORS}, tags=["devices"])
def bulk_edit_devices(request: AuthedRequest, payload: BulkEditIn):
    """Change status, unit, network, MDM or encryption, or retire, on many devices at once.

    With ``dry_run`` the answer lists each device's value before and after and writes
    nothing. Otherwise all change in one transaction with one audit record, or none does:
    409 lists every device that may not change. At most 10,000 devices a request.
    """
    # The change is checked first: a bad value is a 422 before any device is looked up.
    change = bulk_edits.make_change(payload.action, payload.value())
    ids = selection.resolve_for_writer(
        request.user, payload.selection(), limit=bulk_edits.MAX_DEVICES, task="a bulk edit"
    )
    if payload.dry_run:
        plan = bulk_edits.plan_bulk_edit(device_ids=ids, change=change)
        if plan.is_refused:
            raise bulk_edits.refusal(plan)
    else:
        plan = bulk_edits.apply_bulk_edit(
            device_ids=ids,
            change=change,
            actor_id=request.user.pk,
            remote_addr=client_address(request),
            user_agent=request_user_agent(request),
        )
    return {
        "dry_run": payload.dry_run,
        "applied": not payload.dry_run,
        "action": change.action,
        "field": change.field,
        "selected": len(plan.devices),
        "changed": len(plan.changed),
        "devices": [{**vars(d), "changed": d.changed} for d in plan.devices],
        "audit_id": plan.audit_id,
    }


LABELS_DOC = {
    "responses": {
        200: {
            "description": "The label sheet.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.post("/devices/labels", response=WRITE_ERRORS, tags=["devices"], openapi_extra=LABELS_DOC)
def print_device_labels(request: AuthedRequest, payload: LabelsIn):
    """A PDF of asset labels (asset tag as a QR code, serial, agency) for 1 to 1,000 devices."""
    ids = selection.resolve_for_writer(
        request.user, payload.selection(), limit=labels.MAX_LABELS, task="a label sheet"
    )
    pdf = labels.render_labels(selection.label_rows(ids), stock=payload.stock)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"asset-labels-{payload.stock}-{timezone.localdate().isoformat()}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
