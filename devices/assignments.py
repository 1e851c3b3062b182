"""Who holds which device: officers, check-out and check-in.

Every write here is keyword-only, takes ids (the caller resolved the scope through
`devices.scoping` first), runs in one transaction and writes exactly one audit record in
it, with the state before and after. The rules (a retired device does not go out, a device
is in one pair of hands at a time, only a device that is out comes back) are
`devices.rules`; the database holds the second as the constraint
``devices_assignment_one_open_per_device``, so two check-outs racing cannot both win.

A check-out also writes the holder onto the device (``assigned_officer``, ``assigned_unit``)
so the inventory list, its filters and the export show who has it now without a join; a
check-in clears the officer. The assignment rows are the history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from devices import audit, rules
from devices.models import Assignment, AuditRecord, Device, Officer, User

_OFFICER_FIELDS = {"name", "badge", "unit", "is_active"}


def _raise(violation: rules.Violation) -> NoReturn:
    error = Conflict if violation.is_conflict else InvalidInput
    raise error(violation.message, field=violation.field)


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.pk else None


def _save_officer(officer: Officer) -> None:
    """Save, turning a badge already used in the agency into a 409 on the badge."""
    officer.name = officer.name.strip()
    officer.badge = officer.badge.strip()
    if not officer.name:
        raise InvalidInput("Give the officer's name.", field="name")
    if not officer.badge:
        raise InvalidInput("Give the officer's badge number or ID.", field="badge")
    taken = Officer.objects.filter(agency_id=officer.agency_id, badge=officer.badge)
    if officer.pk:
        taken = taken.exclude(pk=officer.pk)
    holder = taken.first()
    if holder is not None:
        raise Conflict(
            f"Badge {officer.badge} already belongs to {holder.name} in this agency; "
            "check the number, or edit that officer instead.",
            field="badge",
        )
    try:
        with transaction.atomic():
            officer.save()
    except IntegrityError as exc:
        raise Conflict(
            "This officer conflicts with one saved at the same moment; reload and retry."
        ) from exc


def create_officer(
    *,
    actor: User | None,
    agency_id: int,
    name: str,
    badge: str,
    unit: str = "",
    remote_addr: str | None = None,
) -> Officer:
    """Add an officer to an agency. One transaction, one audit record."""
    officer = Officer(agency_id=agency_id, name=name, badge=badge, unit=unit.strip())
    with transaction.atomic():
        _save_officer(officer)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=officer,
            after=audit.snapshot(officer),
            remote_addr=remote_addr,
        )
    return officer


def update_officer(
    *,
    actor: User | None,
    officer_id: int,
    changes: Mapping[str, Any],
    remote_addr: str | None = None,
) -> Officer:
    """Change an officer's name, badge, usual unit or whether they are active."""
    unknown = set(changes) - _OFFICER_FIELDS
    if unknown:
        raise TypeError(f"unknown officer fields: {sorted(unknown)}")
    with transaction.atomic():
        officer = Officer.objects.select_for_update().get(pk=officer_id)
        before = audit.snapshot(officer)
        for field, value in changes.items():
            setattr(officer, field, value.strip() if isinstance(value, str) else value)
        _save_officer(officer)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=officer,
            before=before,
            after=audit.snapshot(officer),
            remote_addr=remote_addr,
        )
    return officer


def open_assignment(device_id: int) -> Assignment | None:
    """The device's current check-out, or None when it is not out."""
    return (
        Assignment.objects.select_related("officer")
        .filter(device_id=device_id, checked_in_at__isnull=True)
        .first()
    )


def history(device_id: int) -> QuerySet[Assignment]:
    """Every check-out of a device, newest first, with who did what."""
    return (
        Assignment.objects.filter(device_id=device_id)
        .select_related("officer", "checked_out_by", "checked_in_by")
        .order_by("-checked_out_at", "-id")
    )


def _locked_device(device_id: int) -> Device:
    return Device.objects.select_for_update().select_related("agency", "model").get(pk=device_id)


def check_out(
    *,
    actor: User | None,
    device_id: int,
    officer_id: int,
    unit: str = "",
    notes: str = "",
    now: dt.datetime | None = None,
    remote_addr: str | None = None,
) -> Assignment:
    """Hand a device to an officer of its agency, for a unit. Refused if retired or already out."""
    now = now or timezone.now()
    with transaction.atomic():
        device = _locked_device(device_id)
        officer = Officer.objects.filter(pk=officer_id, agency_id=device.agency_id).first()
        if officer is None:
            raise InvalidInput(
                "Choose an officer of the device's own agency (add them on the officers page).",
                field="officer",
            )
        if not officer.is_active:
            raise InvalidInput(
                f"{officer} is marked inactive; reactivate them on their page first.",
                field="officer",
            )
        current = open_assignment(device.pk)
        violation = rules.checkout_violation(
            serial=device.serial,
            status=device.status,
            holder=str(current.officer) if current is not None else None,
        )
        if violation is not None:
            _raise(violation)
        unit = unit.strip() or officer.unit
        assignment = Assignment(
            device=device,
            officer=officer,
            unit=unit,
            checked_out_at=now,
            checked_out_by=_user(actor),
            notes=notes.strip(),
        )
        try:
            with transaction.atomic():
                assignment.save()
        except IntegrityError as exc:
            raise Conflict(
                f"Device {device.serial} was checked out by someone else at the same moment; "
                "reload the page to see who holds it."
            ) from exc
        device.assigned_officer = str(officer)[:100]
        device.assigned_unit = unit
        device.save(update_fields=["assigned_officer", "assigned_unit", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=assignment,
            object_repr=f"{device.serial} to {officer}"[:200],
            agency_id=device.agency_id,
            after=audit.snapshot(assignment),
            message=f"checked out {device.serial} to {officer}",
            remote_addr=remote_addr,
        )
    return assignment


def check_in(
    *,
    actor: User | None,
    device_id: int,
    condition: str,
    notes: str = "",
    now: dt.datetime | None = None,
    remote_addr: str | None = None,
) -> Assignment:
    """Take a device back, with its condition and notes. Refused if it is not checked out."""
    now = now or timezone.now()
    if condition not in Assignment.Condition.values:
        choices = ", ".join(Assignment.Condition.values)
        raise InvalidInput(f"Give the condition on return: one of {choices}.", field="condition")
    with transaction.atomic():
        device = _locked_device(device_id)
        assignment = open_assignment(device.pk)
        violation = rules.checkin_violation(
            serial=device.serial, is_checked_out=assignment is not None
        )
        if violation is not None:
            _raise(violation)
        assert assignment is not None  # the rule above refused the other case
        before = audit.snapshot(assignment)
        assignment.checked_in_at = max(now, assignment.checked_out_at)
        assignment.checked_in_by = _user(actor)
        assignment.condition = condition
        assignment.return_notes = notes.strip()
        assignment.save()
        device.assigned_officer = ""
        device.save(update_fields=["assigned_officer", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=assignment,
            object_repr=f"{device.serial} from {assignment.officer}"[:200],
            agency_id=device.agency_id,
            before=before,
            after=audit.snapshot(assignment),
            message=f"checked in {device.serial} from {assignment.officer} ({condition})",
            remote_addr=remote_addr,
        )
    return assignment
