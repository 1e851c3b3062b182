"""Waivers: a requirement excused for one device or a whole agency, with a reason and an expiry.

Waivers name a requirement by its stable key, so a waiver granted under CJIS 5.9.5 keeps
covering the same control after the set is renumbered in 6.0. Whether a waiver counts is
decided at evaluation time from ``at`` (``starts_at <= at < expires_at`` and not revoked by
then): an expired waiver stops counting by itself, with no cron flag to forget.

The share of an agency's applicable results that may be waived is capped
(``READINESS_WAIVER_CEILING``, default 10%); a new waiver beyond it is refused with the figures.

The pure functions at the top take DataFrames and plain values; ``create_waiver`` and
``revoke_waiver`` are the only writers and audit every change through ``devices.audit.record``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from devices.audit import record, snapshot
from devices.models import Agency, AuditRecord, Device, User

if TYPE_CHECKING:
    from readiness.models import Waiver

DEFAULT_WAIVER_CEILING = 0.10
# A waiver is an exception, not a policy: longer than this must be re-approved.
MAX_WAIVER_DAYS = 366

WAIVED = "waived"
FAIL = "fail"
PASS = "pass"
NOT_APPLICABLE = "not_applicable"

WAIVER_COLUMNS = ["waiver_id", "agency_id", "device_id", "stable_key", "starts_at", "expires_at", "revoked_at"]


def waiver_ceiling() -> float:
    """The configured ceiling as a share (0..1): the setting, else the environment variable."""
    raw = getattr(settings, "READINESS_WAIVER_CEILING", None)
    if raw is None:
        raw = os.environ.get("READINESS_WAIVER_CEILING", DEFAULT_WAIVER_CEILING)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"READINESS_WAIVER_CEILING must be a share between 0 and 1, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ImproperlyConfigured(f"READINESS_WAIVER_CEILING must be a share between 0 and 1, got {raw!r}")
    return value


# --- pure ---------------------------------------------------------------------------------


def active_waivers(waivers: pd.DataFrame, *, at: datetime) -> pd.DataFrame:
    """The rows of ``waivers`` (WAIVER_COLUMNS) that count at ``at``."""
    if waivers.empty:
        return waivers
    starts = pd.to_datetime(waivers["starts_at"], utc=True)
    expires = pd.to_datetime(waivers["expires_at"], utc=True)
    revoked = pd.to_datetime(waivers["revoked_at"], utc=True)
    at_ts = pd.Timestamp(at)
    at_ts = at_ts.tz_localize("UTC") if at_ts.tzinfo is None else at_ts.tz_convert("UTC")
    live = (starts <= at_ts) & (expires > at_ts) & (revoked.isna() | (revoked > at_ts))
    return waivers[live.to_numpy()]


def apply_waivers(results: pd.DataFrame, waivers: pd.DataFrame, *, at: datetime) -> pd.DataFrame:
    """Turn failing results covered by a waiver valid at ``at`` into ``waived``.

    ``results`` has at least device_id, agency_id, stable_key and status. Returns a copy with
    ``status`` updated and a ``waiver_id`` column (the device waiver wins over the agency one,
    because it is the more specific decision). Passing and not-applicable results are never
    waived: a waiver excuses a failure, it does not hide a pass.
    """
    out = results.copy()
    out["waiver_id"] = pd.array([pd.NA] * len(out), dtype="Int64")
    live = active_waivers(waivers, at=at)
    if out.empty or live.empty:
        return out
    failing = out["status"].eq(FAIL)
    by_device = live[live["device_id"].notna()]
    by_agency = live[live["device_id"].isna()]
    if not by_agency.empty:
        keyed = by_agency.drop_duplicates(["agency_id", "stable_key"]).set_index(["agency_id", "stable_key"])["waiver_id"]
        idx = pd.MultiIndex.from_arrays([out["agency_id"], out["stable_key"]])
        hit = pd.Series(keyed.reindex(idx).to_numpy(), index=out.index)
        mask = failing & hit.notna()
        out.loc[mask, "waiver_id"] = hit[mask].astype("int64")
    if not by_device.empty:
        dev = by_device.astype({"device_id": "int64"})
        keyed = dev.drop_duplicates(["device_id", "stable_key"]).set_index(["device_id", "stable_key"])["waiver_id"]
        idx = pd.MultiIndex.from_arrays([out["device_id"], out["stable_key"]])
        hit = pd.Series(keyed.reindex(idx).to_numpy(), index=out.index)
        mask = failing & hit.notna()
        out.loc[mask, "waiver_id"] = hit[mask].astype("int64")
    out.loc[out["waiver_id"].notna(), "status"] = WAIVED
    return out


@dataclass(frozen=True)
class CeilingCheck:
    """What a new waiver would do to an agency's waived share."""

    applicable: int
    waived_before: int
    waived_after: int
    ceiling: float

    @property
    def share_after(self) -> float:
        return self.waived_after / self.applicable if self.applicable else 0.0

    @property
    def allowed(self) -> bool:
        # A waiver that waives nothing new (the results already pass) never breaks the ceiling.
        if self.waived_after <= self.waived_before:
            return True
        return self.share_after <= self.ceiling + 1e-12


def check_ceiling(*, applicable: int, waived_before: int, waived_after: int, ceiling: float) -> CeilingCheck:
    """Pure: would the agency stay within the ceiling? (See ``CeilingCheck.allowed``.)"""
    return CeilingCheck(applicable=applicable, waived_before=waived_before, waived_after=waived_after, ceiling=ceiling)


def waiver_frame(rows: list[dict]) -> pd.DataFrame:
    """A WAIVER_COLUMNS frame from dicts (e.g. ``Waiver.objects.values(...)``)."""
    frame = pd.DataFrame(rows, columns=WAIVER_COLUMNS)
    frame["device_id"] = frame["device_id"].astype("Int64")
    return frame


# --- writes ---------------------------------------------------------------------------------


def _waiver_rows(queryset) -> pd.DataFrame:  # noqa: ANN001 - a Waiver queryset
    rows = [
        {
            "waiver_id": r["id"], "agency_id": r["agency_id"], "device_id": r["device_id"],
            "stable_key": r["requirement_key"], "starts_at": r["starts_at"], "expires_at": r["expires_at"],
            "revoked_at": r["revoked_at"],
        }
        for r in queryset.values(
            "id", "agency_id", "device_id", "requirement_key", "starts_at", "expires_at", "revoked_at"
        )
    ]
    return waiver_frame(rows)


def waivers_frame(*, requirement_set_id: int | None = None, agency_ids: list[int] | None = None) -> pd.DataFrame:
    """Every waiver (any state) of a set, optionally for some agencies, as WAIVER_COLUMNS."""
    from readiness.models import Waiver

    qs = Waiver.objects.all()
    if requirement_set_id is not None:
        qs = qs.filter(requirement_set_id=requirement_set_id)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return _waiver_rows(qs)


def _can_manage(user: User, agency: Agency) -> bool:
    if user.is_state_staff:
        return True
    return user.role == User.Role.AGENCY_ADMIN and user.agency_id == agency.pk


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

    Only state staff may approve a waiver (the approver defaults to the actor); agency admins
    may request one on their own agency only when a state approver is named. The ceiling is
    checked against the version in effect now, with every waiver that counts at
    ``starts_at``. One transaction: the waiver and its audit record are written together,
    and the agency row is locked so two concurrent requests cannot both slip under the
    ceiling.
    """
    from readiness.models import RequirementSet, Waiver
    from readiness.results import evaluate_fleet, get_version_in_effect

    now = now or timezone.now()
    starts_at = starts_at or now
    approver = approver or actor
    if not _can_manage(actor, agency):
        raise PermissionDenied("Your role cannot request waivers for this agency.")
    if not approver.is_state_staff:
        raise PermissionDenied("A waiver must be approved by state staff.")
    errors: list[dict] = []
    if not reason or not reason.strip():
        errors.append({"field": "reason", "message": "Give the reason for the waiver; it is kept with the audit."})
    if expires_at <= starts_at:
        errors.append({"field": "expires_at", "message": "The expiry must be after the start of the waiver."})
    elif expires_at - starts_at > timedelta(days=MAX_WAIVER_DAYS):
        errors.append({"field": "expires_at", "message": f"A waiver may last at most {MAX_WAIVER_DAYS} days; renew it later."})
    if expires_at <= now:
        errors.append({"field": "expires_at", "message": "The expiry is in the past."})
    if device is not None and device.agency_id != agency.pk:
        errors.append({"field": "device", "message": "That device belongs to another agency."})
    req_set = RequirementSet.objects.filter(code=set_code).first()
    if req_set is None:
        errors.append({"field": "set", "message": f"There is no requirement set '{set_code}'."})
    if errors:
        raise InvalidInput(errors[0]["message"], errors=errors)
    assert req_set is not None
    version = get_version_in_effect(req_set, on=timezone.localdate(now))
    known = version.requirements.filter(key=requirement_key).exists() or req_set.versions.filter(
        requirements__key=requirement_key
    ).exists()
    if not known:
        raise InvalidInput(
            f"Requirement set '{set_code}' has no requirement with key '{requirement_key}'.",
            field="requirement_key",
        )

    with transaction.atomic():
        Agency.objects.select_for_update().filter(pk=agency.pk).first()
        existing = Waiver.objects.filter(
            agency=agency, requirement_set=req_set, requirement_key=requirement_key, device=device,
            revoked_at__isnull=True, expires_at__gt=starts_at, starts_at__lt=expires_at,
        ).first()
        if existing is not None:
            raise Conflict(
                f"Waiver {existing.pk} already covers this until {existing.expires_at:%Y-%m-%d}; "
                "revoke it first or let it expire.",
                field="requirement_key",
            )
        fleet = evaluate_fleet(version=version, at=starts_at, agency_ids=[agency.pk])
        results = fleet.results
        applicable = int((results["status"] != NOT_APPLICABLE).sum())
        waived_before = int((results["status"] == WAIVED).sum())
        waiver = Waiver.objects.create(
            requirement_set=req_set, requirement_key=requirement_key, agency=agency, device=device,
            reason=reason.strip(), approved_by=approver, approver_name=approver.get_username(),
            starts_at=starts_at, expires_at=expires_at, created_by=actor,
        )
        with_new = apply_waivers(
            results.assign(status=results["status"].astype(str).replace(WAIVED, FAIL)),
            waivers_frame(requirement_set_id=req_set.pk, agency_ids=[agency.pk]),
            at=starts_at,
        )
        waived_after = int((with_new["status"] == WAIVED).sum())
        check = check_ceiling(
            applicable=applicable, waived_before=waived_before, waived_after=waived_after, ceiling=waiver_ceiling()
        )
        if not check.allowed:
            # Raising rolls back the insert: nothing half-written.
            raise Conflict(
                f"This waiver would waive {waived_after} of {agency.name}'s {applicable} applicable "
                f"{set_code} results ({check.share_after:.1%}), above the ceiling of "
                f"{check.ceiling:.0%}. Fix some failures or revoke another waiver first.",
                field="requirement_key",
            )
        record(
            actor=actor, action=AuditRecord.Action.CREATE, obj=waiver, after=snapshot(waiver),
            message=f"waiver {set_code}/{requirement_key} for {device or 'the whole agency'}: {reason.strip()}",
            request=request,
        )
    return waiver


def revoke_waiver(
    *, actor: User, waiver: Waiver, reason: str, now: datetime | None = None, request: HttpRequest | None = None
) -> Waiver:
    """Revoke a waiver from ``now`` on; revoking twice is refused (409). Audited."""
    from readiness.models import Waiver

    now = now or timezone.now()
    if not actor.is_state_staff and not (
        actor.role == User.Role.AGENCY_ADMIN and actor.agency_id == waiver.agency_id
    ):
        raise PermissionDenied("Your role cannot revoke waivers for this agency.")
    if not reason or not reason.strip():
        raise InvalidInput("Say why the waiver is revoked.", field="reason")
    with transaction.atomic():
        locked = Waiver.objects.select_for_update().get(pk=waiver.pk)
        if locked.revoked_at is not None:
            raise Conflict(f"Waiver {locked.pk} was already revoked on {locked.revoked_at:%Y-%m-%d}.")
        before = snapshot(locked)
        locked.revoked_at = now
        locked.revoked_by = actor
        locked.revoke_reason = reason.strip()[:500]
        locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "updated_at"])
        record(
            actor=actor, action=AuditRecord.Action.REVOKE, obj=locked, before=before, after=snapshot(locked),
            message=f"waiver revoked: {reason.strip()}", request=request,
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
    *, user: User, set_code: str | None = None, agency_slug: str | None = None, state: str = "active",
    now: datetime | None = None,
):  # noqa: ANN201 - a Waiver queryset
    """Waivers ``user`` may see, filtered by set, agency and state at ``now``."""
    from django.db.models import Q

    from readiness.scoping import visible_waivers

    now = now or timezone.now()
    qs = visible_waivers(user)
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
