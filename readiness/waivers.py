"""Waivers: granting and revoking them (audited), and listing them.

A waiver excuses one requirement for one device or a whole agency, with a reason and an
expiry; what it does to results, and the ceiling on the waived share, are the rules in
``readiness.waiver_rules``. ``create_waiver`` and ``revoke_waiver`` are the only writers and
audit every change through ``devices.audit.record``.

``create_waiver`` decides, then writes: ``waiver_problems`` refuses a request before anything
is read or locked, and the write re-checks what only the locked agency can answer (an
overlapping waiver, the ceiling) inside its transaction. Who may request, approve and revoke
a waiver is decided at the interface (``readiness.scoping.require_waiver_roles`` and
``require_waiver_revoker``); the writers here take the already-checked actor and approver
for the audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from devices.audit import record, snapshot
from devices.models import Agency, AuditRecord, Device, User
from readiness.models import RequirementSet, RequirementSetVersion, Waiver
from readiness.results import evaluate_fleet, get_version_in_effect
from readiness.waiver_rules import ceiling_after, waiver_ceiling, waivers_frame

# A waiver is an exception, not a policy: longer than this must be re-approved.
MAX_WAIVER_DAYS = 366


def waiver_problems(
    *,
    agency: Agency,
    device: Device | None,
    reason: str,
    starts_at: datetime,
    expires_at: datetime,
    now: datetime,
) -> list[dict]:
    """Pure: what is wrong with a waiver request, as ``{"field", "message"}`` dicts (none: valid)."""
    problems: list[dict] = []
    if not reason or not reason.strip():
        problems.append(
            {
                "field": "reason",
                "message": "Give the reason for the waiver; it is kept with the audit.",
            }
        )
    if expires_at <= starts_at:
        problems.append(
            {"field": "expires_at", "message": "The expiry must be after the start of the waiver."}
        )
    elif expires_at - starts_at > timedelta(days=MAX_WAIVER_DAYS):
        problems.append(
            {
                "field": "expires_at",
                "message": f"A waiver may last at most {MAX_WAIVER_DAYS} days; renew it later.",
            }
        )
    if expires_at <= now:
        problems.append({"field": "expires_at", "message": "The expiry is in the past."})
    if device is not None and device.agency_id != agency.pk:
        problems.append({"field": "device", "message": "That device belongs to another agency."})
    return problems


def _version_for(
    req_set: RequirementSet, requirement_key: str, *, now: datetime
) -> RequirementSetVersion:
    """The version in effect now, once the key is known to some version of the set."""
    version = get_version_in_effect(req_set, on=timezone.localdate(now))
    known = (
        version.requirements.filter(key=requirement_key).exists()
        or req_set.versions.filter(requirements__key=requirement_key).exists()
    )
    if not known:
        raise InvalidInput(
            f"Requirement set '{req_set.code}' has no requirement with key '{requirement_key}'.",
            field="requirement_key",
        )
    return version


def create_waiver(
    *,
    actor: User,
    agency: Agency,
    set_code: str,
    requirement_key: str,
    reason: str,
    expires_at: datetime,
    device: Device | None = None,
    approver: User | None = None,
    starts_at: datetime | None = None,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Waiver:
    """Grant a waiver, refusing it when it would take the agency above the ceiling.

    The caller has checked the roles (``readiness.scoping.require_waiver_roles``: only state
    staff approve); ``actor`` and ``approver`` (default: the actor) are recorded. The ceiling is
    checked against the version in effect now, with every waiver that counts at
    ``starts_at``. One transaction: the waiver and its audit record are written together,
    and the agency row is locked so two concurrent requests cannot both slip under the
    ceiling. Not idempotent: a second identical request is refused (409) as an overlap.
    """
    now = now or timezone.now()
    starts_at = starts_at or now
    approver = approver or actor
    problems = waiver_problems(
        agency=agency,
        device=device,
        reason=reason,
        starts_at=starts_at,
        expires_at=expires_at,
        now=now,
    )
    req_set = RequirementSet.objects.filter(code=set_code).first()
    if req_set is None:
        problems.append({"field": "set", "message": f"There is no requirement set '{set_code}'."})
    if problems:
        raise InvalidInput(problems[0]["message"], errors=problems)
    assert req_set is not None
    grant = _Grant(
        actor=actor,
        approver=approver,
        agency=agency,
        device=device,
        req_set=req_set,
        version=_version_for(req_set, requirement_key, now=now),
        requirement_key=requirement_key,
        reason=reason.strip(),
        starts_at=starts_at,
        expires_at=expires_at,
    )
    return _apply_grant(grant, request=request)


@dataclass(frozen=True)
class _Grant:
    """A waiver request that passed every check that needs no lock."""

    actor: User
    approver: User
    agency: Agency
    device: Device | None
    req_set: RequirementSet
    version: RequirementSetVersion
    requirement_key: str
    reason: str
    starts_at: datetime
    expires_at: datetime


def _apply_grant(grant: _Grant, *, request: HttpRequest | None) -> Waiver:
    """The write: lock the agency, re-check overlap and ceiling, insert, audit. One transaction."""
    g = grant
    with transaction.atomic():
        Agency.objects.select_for_update().filter(pk=g.agency.pk).first()
        _refuse_overlap(g)
        before = evaluate_fleet(version=g.version, at=g.starts_at, agency_ids=[g.agency.pk]).results
        waiver = Waiver.objects.create(
            requirement_set=g.req_set,
            requirement_key=g.requirement_key,
            agency=g.agency,
            device=g.device,
            reason=g.reason,
            approved_by=g.approver,
            approver_name=g.approver.get_username(),
            starts_at=g.starts_at,
            expires_at=g.expires_at,
            created_by=g.actor,
        )
        _refuse_above_ceiling(before, agency=g.agency, req_set=g.req_set, at=g.starts_at)
        target = g.device or "the whole agency"
        record(
            actor=g.actor,
            action=AuditRecord.Action.CREATE,
            obj=waiver,
            after=snapshot(waiver),
            message=f"waiver {g.req_set.code}/{g.requirement_key} for {target}: {g.reason}",
            request=request,
        )
    return waiver


def _refuse_overlap(g: _Grant) -> None:
    existing = Waiver.objects.filter(
        agency=g.agency,
        requirement_set=g.req_set,
        requirement_key=g.requirement_key,
        device=g.device,
        revoked_at__isnull=True,
        expires_at__gt=g.starts_at,
        starts_at__lt=g.expires_at,
    ).first()
    if existing is not None:
        raise Conflict(
            f"Waiver {existing.pk} already covers this until {existing.expires_at:%Y-%m-%d}; "
            "revoke it first or let it expire.",
            field="requirement_key",
        )


def _refuse_above_ceiling(
    results: pd.DataFrame, *, agency: Agency, req_set: RequirementSet, at: datetime
) -> None:
    """Raise Conflict if the waivers now stored (the new one included) break the ceiling.

    Called after the insert, inside the caller's transaction: raising rolls the insert back,
    so nothing is half-written.
    """
    check = ceiling_after(
        results,
        waivers_frame(requirement_set_id=req_set.pk, agency_ids=[agency.pk]),
        at=at,
        ceiling=waiver_ceiling(),
    )
    if not check.allowed:
        raise Conflict(
            f"This waiver would waive {check.waived_after} of {agency.name}'s {check.applicable} applicable "
            f"{req_set.code} results ({check.share_after:.1%}), above the ceiling of "
            f"{check.ceiling:.0%}. Fix some failures or revoke another waiver first.",
            field="requirement_key",
        )


def revoke_waiver(
    *,
    actor: User,
    waiver: Waiver,
    reason: str,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Waiver:
    """Revoke a waiver from ``now`` on; revoking twice is refused (409). Audited, one transaction.

    The caller has checked ``actor`` may (``readiness.scoping.require_waiver_revoker``).
    """
    now = now or timezone.now()
    if not reason or not reason.strip():
        raise InvalidInput("Say why the waiver is revoked.", field="reason")
    with transaction.atomic():
        locked = Waiver.objects.select_for_update().get(pk=waiver.pk)
        if locked.revoked_at is not None:
            raise Conflict(
                f"Waiver {locked.pk} was already revoked on {locked.revoked_at:%Y-%m-%d}."
            )
        before = snapshot(locked)
        locked.revoked_at = now
        locked.revoked_by = actor
        locked.revoke_reason = reason.strip()[:500]
        locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "updated_at"])
        record(
            actor=actor,
            action=AuditRecord.Action.REVOKE,
            obj=locked,
            before=before,
            after=snapshot(locked),
            message=f"waiver revoked: {reason.strip()}",
            request=request,
        )
    return locked


# --- reads ------------------------------------------------------------------------------------


def waiver_state(waiver: Waiver, *, now: datetime) -> str:
    """active, scheduled, expired or revoked: as it stands at ``now``."""
    if waiver.revoked_at is not None and waiver.revoked_at <= now:
        return "revoked"
    if waiver.expires_at <= now:
        return "expired"
    if waiver.starts_at > now:
        return "scheduled"
    return "active"


def list_waivers(
    *,
    agency_ids: list[int] | None,
    set_code: str | None = None,
    agency_slug: str | None = None,
    state: str = "active",
    now: datetime | None = None,
):  # noqa: ANN201 - a Waiver queryset
    """Waivers of ``agency_ids`` (None: every agency), filtered by set, agency and state at ``now``."""
    now = now or timezone.now()
    qs = Waiver.objects.select_related("agency", "device", "requirement_set", "approved_by")
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    if set_code:
        qs = qs.filter(requirement_set__code=set_code)
    if agency_slug:
        qs = qs.filter(agency__slug=agency_slug)
    not_revoked = Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)
    if state == "active":
        qs = qs.filter(not_revoked, starts_at__lte=now, expires_at__gt=now)
    elif state == "expired":
        qs = qs.filter(not_revoked, expires_at__lte=now)
    elif state == "revoked":
        qs = qs.filter(revoked_at__lte=now)
    return qs.order_by("expires_at", "id")
