"""Bulk edits of the inventory: one change (status, unit, network, a flag, retirement) to many
devices at once, previewed first, then applied whole or not at all.

Contract:

* `plan_bulk_edit` reads only. It lists, per device, the value before and after and whether
  it changes, and every reason the edit is refused (`devices.rules` decides each one: the
  same lifecycle rules as a single device's change, so a retired device stays retired).
* `apply_bulk_edit` plans again inside one transaction, with the devices locked, and writes
  only when nothing is refused: the changed devices, one lifecycle entry per status change
  and ONE audit record naming every changed device with its value before and after. A
  refused edit raises `config.errors.Conflict` listing every reason and writes nothing.
* Idempotent: applying the same edit twice changes nothing the second time, and a run that
  changes no device writes no audit record.
* Both take device ids the caller has already resolved through `devices.scoping` (who may
  see and change them is decided once, at the interface), and the acting user's id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, InvalidInput, NotFound
from devices import audit, rules
from devices.models import (
    AuditRecord,
    Device,
    DeviceNetwork,
    DeviceStatus,
    DeviceStatusChange,
    User,
)

# One request's ceiling: a statewide fleet is ~100,000 devices; a change bigger than this is
# done by filter in parts, so one transaction never locks a large share of the inventory.
MAX_DEVICES = 10_000
UNIT_MAX_LENGTH = 100

# Each action changes one field of the device.
ACTION_FIELDS: dict[str, str] = {
    "status": "status",
    "retire": "status",
    "unit": "assigned_unit",
    "network": "network",
    "mdm": "is_mdm_enrolled",
    "encryption": "is_encryption_enabled",
}
# The changed field as the preview and the audit message name it.
FIELD_LABELS: dict[str, str] = {
    "status": "status",
    "assigned_unit": "unit",
    "network": "network",
    "is_mdm_enrolled": "MDM enrolment",
    "is_encryption_enabled": "encryption",
}
ACTION_LABELS: dict[str, str] = {
    "status": "Change status",
    "unit": "Change unit",
    "network": "Change network",
    "mdm": "Set MDM enrolment",
    "encryption": "Set encryption",
    "retire": "Retire",
}


@dataclass(frozen=True)
class BulkChange:
    """What to do to every selected device: ``action`` (a key of ACTION_FIELDS) and its value."""

    action: str
    value: Any

    @property
    def field(self) -> str:
        return ACTION_FIELDS[self.action]

    @property
    def field_label(self) -> str:
        return FIELD_LABELS[self.field]

    def describe(self) -> str:
        """The change in words, for the preview's heading and the audit record's message."""
        if self.action == "retire":
            return "retire"
        return f"{self.field_label} → {display(self.field, self.value)}"


@dataclass(frozen=True)
class DeviceChange:
    """One device's line of the preview."""

    id: int
    serial: str
    asset_tag: str
    agency: str
    field: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def before_label(self) -> str:
        return display(self.field, self.before)

    @property
    def after_label(self) -> str:
        return display(self.field, self.after)

    @property
    def audit_key(self) -> str:
        # The id keeps keys unique; the asset tag (or serial) is what a person recognises.
        return f"{self.id} {self.asset_tag or self.serial}"


@dataclass
class BulkPlan:
    """The preview of a bulk edit, or its result once applied (``audit_id`` set)."""

    change: BulkChange
    devices: list[DeviceChange]
    problems: list[rules.Violation] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def changed(self) -> list[DeviceChange]:
        return [d for d in self.devices if d.changed]

    @property
    def is_refused(self) -> bool:
        return bool(self.problems)


def display(field_name: str, value: Any) -> str:
    """A value as a person reads it: a status or network's label, yes/no, ∅ for blank."""
    if field_name == "status":
        return str(DeviceStatus(value).label)
    if field_name == "network":
        return str(DeviceNetwork(value).label)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value else "∅"


def make_change(action: str, value: Any = None) -> BulkChange:
    """Check an action and its value; an unknown action or bad value is `InvalidInput`."""
    if action not in ACTION_FIELDS:
        choices = ", ".join(ACTION_FIELDS)
        raise InvalidInput(f"Choose an action: one of {choices}.", field="action")
    if action == "retire":
        return BulkChange(action, DeviceStatus.RETIRED.value)
    if action == "status":
        if value not in rules.STATUSES or value == rules.RETIRED:
            raise InvalidInput(
                "Choose the new status (in stock, deployed, in repair or lost); to retire "
                "devices choose the retire action.",
                field="status",
            )
    elif action == "network":
        if value not in DeviceNetwork.values:
            raise InvalidInput(
                "Choose the new network: firstnet, commercial or none.", field="network"
            )
    elif action == "unit":
        value = (value or "").strip()
        if len(value) > UNIT_MAX_LENGTH or any(ord(ch) < 32 for ch in value):
            raise InvalidInput(
                f"The unit must be one line of at most {UNIT_MAX_LENGTH} characters.", field="unit"
            )
    elif not isinstance(value, bool):
        raise InvalidInput("Choose whether the flag is on (yes) or off (no).", field="enabled")
    return BulkChange(action, value)


def _violation(device: Device, change: BulkChange) -> rules.Violation | None:
    """The lifecycle rule that refuses ``change`` on ``device``, if one does (devices.rules)."""
    if change.action == "retire":
        return rules.retirement_violation(serial=device.serial, current=device.status)
    if change.action == "status":
        return rules.status_change_violation(
            serial=device.serial, current=device.status, new=change.value
        )
    found = rules.retired_edit_violation(
        serial=device.serial, current=device.status, fields={change.action}
    )
    if found is None and change.action == "network":
        model = device.model
        cellular = rules.cellular_violations(
            model_label=f"{model} (device {device.serial})",
            is_cellular=model.is_cellular,
            imei="",
            iccid="",
            network=change.value,
        )
        found = cellular[0] if cellular else None
    return found


def _plan(devices: list[Device], change: BulkChange) -> BulkPlan:
    plan = BulkPlan(change=change, devices=[])
    for device in devices:
        plan.devices.append(
            DeviceChange(
                id=device.pk,
                serial=device.serial,
                asset_tag=device.asset_tag,
                agency=device.agency.name,
                field=change.field,
                before=getattr(device, change.field),
                after=change.value,
            )
        )
        problem = _violation(device, change)
        if problem is not None:
            plan.problems.append(problem)
    return plan


def _load(device_ids: list[int], *, lock: bool) -> list[Device]:
    devices = Device.objects.select_related("agency", "model").filter(pk__in=device_ids)
    if lock:
        # Only the device rows: the agency and catalog rows are read, not changed.
        devices = devices.select_for_update(of=("self",))
    found = list(devices.order_by("agency__name", "serial", "id"))
    if len(found) != len(set(device_ids)):
        missing = sorted(set(device_ids) - {d.pk for d in found})
        raise NotFound(
            f"Devices not found: {', '.join(map(str, missing[:20]))}"
            f"{' …' if len(missing) > 20 else ''}; nothing was changed.",
            field="ids",
        )
    return found


def plan_bulk_edit(*, device_ids: list[int], change: BulkChange) -> BulkPlan:
    """The preview: every device's value before and after, and every reason for refusal. Reads only."""
    return _plan(_load(device_ids, lock=False), change)


def refusal(plan: BulkPlan) -> Conflict:
    """The error of a refused plan: every reason, and that nothing was changed."""
    count = len(plan.problems)
    return Conflict(
        f"The bulk edit is refused and nothing was changed: {count} device"
        f"{'s' if count != 1 else ''} may not change. {plan.problems[0].message}",
        errors=[{"field": p.field, "message": p.message} for p in plan.problems],
    )


def _write(devices: list[Device], plan: BulkPlan, actor: User | None, now: dt.datetime) -> None:
    change = plan.change
    to_change = {d.id for d in plan.changed}
    changed = [d for d in devices if d.pk in to_change]
    fields = [change.field, "updated_at"]
    if change.field == "status":
        fields.append("status_changed_at")
        DeviceStatusChange.objects.bulk_create(
            DeviceStatusChange(
                device=d,
                from_status=d.status,
                to_status=change.value,
                changed_at=now,
                changed_by=actor,
            )
            for d in changed
        )
    for device in changed:
        setattr(device, change.field, change.value)
        device.status_changed_at = now if change.field == "status" else device.status_changed_at
        device.updated_at = now
    Device.objects.bulk_update(changed, fields, batch_size=1000)


def apply_bulk_edit(
    *,
    device_ids: list[int],
    change: BulkChange,
    actor_id: int,
    remote_addr: str | None = None,
    user_agent: str | None = None,
) -> BulkPlan:
    """Apply ``change`` to every device in one transaction, or refuse it whole (`Conflict`).

    Writes one audit record listing each changed device (id and asset tag or serial, value
    before and after); a second identical call changes nothing and records nothing.
    """
    actor = User.objects.filter(pk=actor_id).first()
    now = timezone.now()
    with transaction.atomic():
        devices = _load(device_ids, lock=True)
        plan = _plan(devices, change)
        if plan.is_refused:
            raise refusal(plan)
        if not plan.changed:
            return plan
        _write(devices, plan, actor, now)
        agencies = {d.agency_id for d in devices if d.pk in {c.id for c in plan.changed}}
        count = len(plan.changed)
        record = audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            object_type="device",
            object_repr=f"{count} device{'s' if count != 1 else ''} (bulk edit)",
            agency_id=agencies.pop() if len(agencies) == 1 else None,
            before={c.audit_key: c.before for c in plan.changed},
            after={c.audit_key: c.after for c in plan.changed},
            message=f"Bulk edit of {count} devices: {change.describe()}",
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
        plan.audit_id = record.pk
    return plan
