"""Waivers: requesting, deciding (approve or reject) and revoking them, audited; listing them.

A waiver excuses one requirement for one device or a whole agency, with a reason and an
expiry; what it does to results, the ceiling on the waived share and the two-person rule are
the rules in ``readiness.waiver_rules``. ``request_waiver``, ``approve_waiver``,
``reject_waiver`` and ``revoke_waiver`` are the only writers, and each audits its change
through ``devices.audit.record`` (one entry each, with before and after).

A request is ``pending`` and counts in no score until a state staff member other than the
requester approves it. Each writer decides, then writes: pure checks (``waiver_problems``,
``waiver_rules.decision_refusal``) refuse before anything is locked, and the write re-checks
what only the locked agency can answer (an overlapping waiver, the ceiling) inside its
transaction. The ceiling counts approved waivers only, so it is checked at request time as
if the request were approved, and again at approval, since others may have been approved
meanwhile. Who may request, decide and revoke is decided at the interface
(``readiness.scoping.require_waiver_requester``, ``require_waiver_decider``,
``require_waiver_revoker``); the writers take the already-checked actor for the audit record,
and refuse self-approval themselves, since that rule is about the waiver, not the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from config.errors import Conflict, Forbidden, InvalidInput
from devices.audit import record, snapshot
from devices.models import Agency, AuditRecord, Device, User
from readiness.models import RequirementSet, RequirementSetVersion, Waiver
from readiness.results import evaluate_fleet, get_version_in_effect
from readiness.waiver_rules import (
    ceiling_after,
    decision_refusal,
    waiver_ceiling,
    waivers_frame,
    with_waiver,
)

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


def request_waiver(
    *,
    actor: User,
    agency: Agency,
    set_code: str,
    requirement_key: str,
    reason: str,
    expires_at: datetime,
    device: Device | None = None,
    starts_at: datetime | None = None,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Waiver:
    """Request a waiver (``pending``: it counts nowhere until approved by a second person).

    The caller has checked the role (``readiness.scoping.require_waiver_requester``). Refused
    when it overlaps a pending or approved waiver (409), or when approving it would take the
    agency above the ceiling (409), judged with the version in effect now and the approved
    waivers that count at ``starts_at``. One transaction: the waiver and its audit record are
    written together, with the agency row locked so two requests cannot both slip under the
    ceiling. Not idempotent: a second identical request is refused as an overlap.
    """
    now = now or timezone.now()
    starts_at = starts_at or now
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
    asked = _Request(
        actor=actor,
        agency=agency,
        device=device,
        req_set=req_set,
        version=_version_for(req_set, requirement_key, now=now),
        requirement_key=requirement_key,
        reason=reason.strip(),
        starts_at=starts_at,
        expires_at=expires_at,
        now=now,
    )
    return _apply_request(asked, request=request)


@dataclass(frozen=True)
class _Request:
    """A waiver request that passed every check that needs no lock."""

    actor: User
    agency: Agency
    device: Device | None
    req_set: RequirementSet
    version: RequirementSetVersion
    requirement_key: str
    reason: str
    starts_at: datetime
    expires_at: datetime
    now: datetime


def _apply_request(asked: _Request, *, request: HttpRequest | None) -> Waiver:
    """The write: lock the agency, re-check overlap and ceiling, insert, audit. One transaction."""
    a = asked
    with transaction.atomic():
        Agency.objects.select_for_update().filter(pk=a.agency.pk).first()
        _refuse_overlap(a)
        before = evaluate_fleet(
            version=a.version, at=a.now, waivers_at=a.starts_at, agency_ids=[a.agency.pk]
        ).results
        waiver = Waiver.objects.create(
            requirement_set=a.req_set,
            requirement_key=a.requirement_key,
            agency=a.agency,
            device=a.device,
            reason=a.reason,
            status=Waiver.Status.PENDING,
            requested_by=a.actor,
            requested_at=a.now,
            starts_at=a.starts_at,
            expires_at=a.expires_at,
            created_by=a.actor,
            created_at=a.now,
        )
        # As if approved: the approved waivers that count, plus this one.
        candidate = waivers_frame(requirement_set_id=a.req_set.pk, agency_ids=[a.agency.pk])
        _refuse_above_ceiling(
            before,
            with_waiver(candidate, waiver),
            agency=a.agency,
            req_set=a.req_set,
            at=a.starts_at,
        )
        target = a.device or "the whole agency"
        record(
            actor=a.actor,
            action=AuditRecord.Action.CREATE,
            obj=waiver,
            after=snapshot(waiver),
            message=(
                f"waiver requested: {a.req_set.code}/{a.requirement_key} for {target}: {a.reason}"
            ),
            request=request,
        )
    return waiver


def _refuse_overlap(a: _Request) -> None:
    existing = (
        Waiver.objects.filter(
            agency=a.agency,
            requirement_set=a.req_set,
            requirement_key=a.requirement_key,
            device=a.device,
            status__in=[Waiver.Status.PENDING, Waiver.Status.APPROVED],
            expires_at__gt=a.starts_at,
            starts_at__lt=a.expires_at,
        )
        .order_by("id")
        .first()
    )
    if existing is not None:
        pending = " (pending approval)" if existing.status == Waiver.Status.PENDING else ""
        raise Conflict(
            f"Waiver {existing.pk}{pending} already covers this until "
            f"{existing.expires_at:%Y-%m-%d}; revoke it first or let it expire.",
            field="requirement_key",
        )


def _refuse_above_ceiling(
    results: pd.DataFrame,
    waivers: pd.DataFrame,
    *,
    agency: Agency,
    req_set: RequirementSet,
    at: datetime,
    verb: str = "would waive",
) -> None:
    """Raise Conflict if ``waivers`` (the new one included) break the ceiling.

    Called after the write, inside the caller's transaction: raising rolls it back, so
    nothing is half-written.
    """
    check = ceiling_after(results, waivers, at=at, ceiling=waiver_ceiling())
    if not check.allowed:
        raise Conflict(
            f"This waiver {verb} {check.waived_after} of {agency.name}'s {check.applicable} "
            f"applicable {req_set.code} results ({check.share_after:.1%}), above the ceiling of "
            f"{check.ceiling:.0%}. Fix some failures or revoke another waiver first.",
            field="requirement_key",
        )


# --- the decision: a second person approves or rejects -----------------------------------------


def approve_waiver(
    *,
    actor: User,
    waiver_id: int,
    comment: str,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Waiver:
    """Approve a pending waiver: from then on it counts (from its start) until expiry or revocation.

    The caller has checked ``actor`` is state staff who may see the waiver
    (``readiness.scoping.require_waiver_decider``). Refused: by the requester (403, and the
    database refuses it too), when no longer pending or expired (409), and when the approved
    waivers, this one included, would now break the ceiling (409: others may have been
    approved since the request). One transaction with the agency locked, as for a request;
    approving twice is refused (409), so a repeated click changes nothing.
    """
    now = now or timezone.now()
    comment = _required_comment(comment, verb="approval")
    agency_id = Waiver.objects.values_list("agency_id", flat=True).get(pk=waiver_id)
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency_id)
        locked = _locked_for_decision(waiver_id, actor=actor, now=now, verb="approve")
        at = max(locked.starts_at, now)
        version = get_version_in_effect(locked.requirement_set, on=timezone.localdate(now))
        results = evaluate_fleet(
            version=version, at=now, waivers_at=at, agency_ids=[agency_id]
        ).results
        before = snapshot(locked)
        locked.status = Waiver.Status.APPROVED
        locked.approved_by = actor
        locked.approver_name = actor.get_username()
        _save_decision(
            locked, actor=actor, comment=comment, now=now, extra=["approved_by", "approver_name"]
        )
        counted = waivers_frame(
            requirement_set_id=locked.requirement_set_id, agency_ids=[agency_id]
        )
        _refuse_above_ceiling(
            results,
            counted,
            agency=agency,
            req_set=locked.requirement_set,
            at=at,
            verb="would now waive",
        )
        _record_decision(locked, actor=actor, before=before, comment=comment, request=request)
    return locked


def reject_waiver(
    *,
    actor: User,
    waiver_id: int,
    comment: str,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Waiver:
    """Reject a pending waiver with a comment saying why; it never counts.

    Same caller check and refusals as ``approve_waiver`` (bar the ceiling). One transaction;
    rejecting twice is refused (409).
    """
    now = now or timezone.now()
    comment = _required_comment(comment, verb="rejection")
    with transaction.atomic():
        locked = _locked_for_decision(waiver_id, actor=actor, now=now, verb="reject")
        before = snapshot(locked)
        locked.status = Waiver.Status.REJECTED
        _save_decision(locked, actor=actor, comment=comment, now=now, extra=[])
        _record_decision(locked, actor=actor, before=before, comment=comment, request=request)
    return locked


def _required_comment(comment: str, *, verb: str) -> str:
    if not comment or not comment.strip():
        raise InvalidInput(
            f"Give a comment with the {verb}; it is kept with the audit.", field="comment"
        )
    return comment.strip()


def _locked_for_decision(waiver_id: int, *, actor: User, now: datetime, verb: str) -> Waiver:
    """The waiver, row-locked, once ``decision_refusal`` has nothing against ``actor`` deciding it."""
    locked = (
        Waiver.objects.select_for_update(of=("self",))
        .select_related("requirement_set", "agency")
        .get(pk=waiver_id)
    )
    refusal = decision_refusal(
        status=locked.status,
        requested_by_id=locked.requested_by_id,
        decider_id=actor.pk,
        expires_at=locked.expires_at,
        now=now,
        verb=verb,
    )
    if refusal is not None:
        error = Forbidden if refusal.kind == "self" else Conflict
        raise error(refusal.message)
    return locked


def _save_decision(
    waiver: Waiver, *, actor: User, comment: str, now: datetime, extra: list[str]
) -> None:
    waiver.decided_by = actor
    waiver.decided_at = now
    waiver.decision_comment = comment
    fields = ["status", "decided_by", "decided_at", "decision_comment", "updated_at", *extra]
    waiver.save(update_fields=fields)


def _record_decision(
    waiver: Waiver,
    *,
    actor: User,
    before: dict,
    comment: str,
    request: HttpRequest | None,
) -> None:
    record(
        actor=actor,
        action=AuditRecord.Action.UPDATE,
        obj=waiver,
        before=before,
        after=snapshot(waiver),
        message=f"waiver {waiver.status}: {comment}",
        request=request,
    )


# --- revocation -----------------------------------------------------------------------------------


def revoke_waiver(
    *,
    actor: User,
    waiver: Waiver,
    reason: str,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Waiver:
    """Revoke a pending or approved waiver from ``now`` on. Audited, one transaction.

    Revoking twice, or a rejected waiver, is refused (409). A requester withdraws their own
    pending request this way. The caller has checked ``actor`` may
    (``readiness.scoping.require_waiver_revoker``).
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
        if locked.status == Waiver.Status.REJECTED:
            raise Conflict(f"Waiver {locked.pk} was rejected: there is nothing to revoke.")
        before = snapshot(locked)
        locked.status = Waiver.Status.REVOKED
        locked.revoked_at = now
        locked.revoked_by = actor
        locked.revoke_reason = reason.strip()[:500]
        locked.save(
            update_fields=["status", "revoked_at", "revoked_by", "revoke_reason", "updated_at"]
        )
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
    """pending, rejected, revoked, expired, scheduled or active: as it stands at ``now``."""
    if waiver.status == Waiver.Status.REJECTED:
        return "rejected"
    if waiver.revoked_at is not None and waiver.revoked_at <= now:
        return "revoked"
    if waiver.expires_at <= now:
        return "expired"
    if waiver.status == Waiver.Status.PENDING:
        return "pending"
    if waiver.starts_at > now:
        return "scheduled"
    return "active"


WAIVER_RELATIONS = (
    "agency",
    "device",
    "requirement_set",
    "approved_by",
    "requested_by",
    "decided_by",
)


def list_waivers(
    *,
    agency_ids: list[int] | None,
    set_code: str | None = None,
    agency_slug: str | None = None,
    state: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
):  # noqa: ANN201 - a Waiver queryset
    """Waivers of ``agency_ids`` (None: every agency), filtered by set, agency, status and state.

    ``status`` is the decision (pending, approved, rejected, revoked); ``state`` is where an
    approved waiver stands at ``now`` (active: counting now; expired; revoked; all). Without
    either, the active ones; with a status alone, every waiver of that status. Read-only.
    """
    now = now or timezone.now()
    state = state or ("all" if status else "active")
    qs = Waiver.objects.select_related(*WAIVER_RELATIONS)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    if set_code:
        qs = qs.filter(requirement_set__code=set_code)
    if agency_slug:
        qs = qs.filter(agency__slug=agency_slug)
    if status:
        qs = qs.filter(status=status)
    not_revoked = Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)
    if state == "active":
        qs = qs.approved().filter(not_revoked, starts_at__lte=now, expires_at__gt=now)
    elif state == "expired":
        qs = qs.approved().filter(not_revoked, expires_at__lte=now)
    elif state == "revoked":
        qs = qs.filter(revoked_at__lte=now)
    return qs.order_by("expires_at", "id")


def list_pending_waivers(*, agency_ids: list[int] | None):  # noqa: ANN201 - a Waiver queryset
    """Requests waiting for a decision, oldest first (the pending-approvals page). Read-only."""
    qs = Waiver.objects.pending().select_related(*WAIVER_RELATIONS)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return qs.order_by("requested_at", "id")
