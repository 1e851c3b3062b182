"""Waiver rules: which failing results a waiver turns into "waived", when, and the ceiling.

Waivers name a requirement by its stable key, so a waiver granted under CJIS 5.9.5 keeps
covering the same control after the set is renumbered in 6.0. Whether a waiver counts is
decided at evaluation time from ``at`` (``starts_at <= at < expires_at`` and not revoked by
then): an expired waiver stops counting by itself, with no cron flag to forget. Only an
approved waiver counts (one revoked after approval counts before its revocation): a pending
or rejected request never changes a score, so ``waivers_frame`` reads approved waivers only.

A waiver needs two people: ``decision_refusal`` is the rule that refuses a decision by the
requester (self-approval), on a waiver that is no longer pending, or on one that has expired
while waiting. The database backs the first with ``readiness_waiver_approver_not_requester``.

The share of an agency's applicable results that may be waived is capped
(``READINESS_WAIVER_CEILING``, default 10%); ``ceiling_after`` says what a new waiver would do
to it. Pending requests do not count towards the ceiling (a request that is rejected must not
have blocked anyone), so the ceiling is checked twice: at request time, as if this request were
approved, and again at approval, because others may have been approved meanwhile.
Everything here is pure (DataFrames and plain values) except ``waivers_frame``, the one
read of the waiver table. ``readiness.results`` applies these rules to every evaluation, and
``readiness.waivers`` (the writers) checks the ceiling with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import QuerySet

from readiness.models import Waiver

WAIVED = "waived"
FAIL = "fail"
PASS = "pass"
NOT_APPLICABLE = "not_applicable"

WAIVER_COLUMNS = [
    "waiver_id",
    "agency_id",
    "device_id",
    "stable_key",
    "starts_at",
    "expires_at",
    "revoked_at",
]


def waiver_ceiling() -> float:
    """The configured ceiling as a share (0..1), validated in config/settings.py."""
    return float(settings.READINESS_WAIVER_CEILING)


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
    # All missing, built from arrays: a list of a million pd.NA takes seconds.
    out["waiver_id"] = pd.arrays.IntegerArray(
        np.zeros(len(out), dtype="int64"), np.ones(len(out), dtype=bool)
    )
    live = active_waivers(waivers, at=at)
    if out.empty or live.empty:
        return out
    failing = out["status"].eq(FAIL)
    by_device = live[live["device_id"].notna()]
    by_agency = live[live["device_id"].isna()]
    if not by_agency.empty:
        keyed = by_agency.drop_duplicates(["agency_id", "stable_key"]).set_index(
            ["agency_id", "stable_key"]
        )["waiver_id"]
        idx = pd.MultiIndex.from_arrays([out["agency_id"], out["stable_key"]])
        hit = pd.Series(keyed.reindex(idx).to_numpy(), index=out.index)
        mask = failing & hit.notna()
        out.loc[mask, "waiver_id"] = hit[mask].astype("int64")
    if not by_device.empty:
        dev = by_device.astype({"device_id": "int64"})
        keyed = dev.drop_duplicates(["device_id", "stable_key"]).set_index(
            ["device_id", "stable_key"]
        )["waiver_id"]
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


def check_ceiling(
    *, applicable: int, waived_before: int, waived_after: int, ceiling: float
) -> CeilingCheck:
    """Pure: would the agency stay within the ceiling? (See ``CeilingCheck.allowed``.)"""
    return CeilingCheck(
        applicable=applicable,
        waived_before=waived_before,
        waived_after=waived_after,
        ceiling=ceiling,
    )


def ceiling_after(
    results: pd.DataFrame, waivers: pd.DataFrame, *, at: datetime, ceiling: float
) -> CeilingCheck:
    """Pure: the agency's waived share with ``waivers`` (which include the new one) applied at ``at``.

    ``results`` are the agency's results as evaluated before the new waiver; results already
    waived are re-decided from ``waivers``, so the count after is exact rather than added to.
    """
    applicable = int((results["status"] != NOT_APPLICABLE).sum())
    waived_before = int((results["status"] == WAIVED).sum())
    with_new = apply_waivers(
        results.assign(status=results["status"].astype(str).replace(WAIVED, FAIL)), waivers, at=at
    )
    waived_after = int((with_new["status"] == WAIVED).sum())
    return check_ceiling(
        applicable=applicable,
        waived_before=waived_before,
        waived_after=waived_after,
        ceiling=ceiling,
    )


def waiver_frame(rows: list[dict]) -> pd.DataFrame:
    """A WAIVER_COLUMNS frame from dicts (e.g. ``Waiver.objects.values(...)``)."""
    frame = pd.DataFrame(rows, columns=WAIVER_COLUMNS)
    frame["device_id"] = frame["device_id"].astype("Int64")
    return frame


@dataclass(frozen=True)
class DecisionRefusal:
    """Why an approval or rejection is refused; ``kind`` picks the status an interface answers."""

    kind: Literal["self", "not_pending", "expired"]
    message: str


def decision_refusal(
    *,
    status: str,
    requested_by_id: int | None,
    decider_id: int,
    expires_at: datetime,
    now: datetime,
    verb: str = "approve",
) -> DecisionRefusal | None:
    """Pure: why ``decider_id`` may not approve or reject (``verb``) this waiver now; None: may.

    The requester never decides their own request, either way: a second person is the point.
    (A requester who changes their mind revokes the request instead.)
    """
    if requested_by_id is not None and requested_by_id == decider_id:
        return DecisionRefusal(
            "self",
            f"You requested this waiver, so you cannot {verb} it: another state staff member "
            "must decide it.",
        )
    if status != Waiver.Status.PENDING:
        return DecisionRefusal(
            "not_pending", f"This waiver is {status}, not pending: there is nothing to {verb}."
        )
    if expires_at <= now:
        return DecisionRefusal(
            "expired",
            f"This waiver expired on {expires_at:%Y-%m-%d} while pending; request a new one.",
        )
    return None


def with_waiver(waivers: pd.DataFrame, waiver: Waiver) -> pd.DataFrame:
    """Pure: ``waivers`` plus one waiver row, as if it counted (a request judged as approved)."""
    row = waiver_frame(
        [
            {
                "waiver_id": waiver.pk,
                "agency_id": waiver.agency_id,
                "device_id": waiver.device_id,
                "stable_key": waiver.requirement_key,
                "starts_at": waiver.starts_at,
                "expires_at": waiver.expires_at,
                "revoked_at": None,
            }
        ]
    )
    return row if waivers.empty else pd.concat([waivers, row], ignore_index=True)


# --- the waivers, as a frame -----------------------------------------------------------------


def _waiver_rows(queryset: QuerySet[Waiver]) -> pd.DataFrame:
    rows = [
        {
            "waiver_id": r["id"],
            "agency_id": r["agency_id"],
            "device_id": r["device_id"],
            "stable_key": r["requirement_key"],
            "starts_at": r["starts_at"],
            "expires_at": r["expires_at"],
            "revoked_at": r["revoked_at"],
        }
        for r in queryset.values(
            "id",
            "agency_id",
            "device_id",
            "requirement_key",
            "starts_at",
            "expires_at",
            "revoked_at",
        )
    ]
    return waiver_frame(rows)


def waivers_frame(
    *, requirement_set_id: int | None = None, agency_ids: list[int] | None = None
) -> pd.DataFrame:
    """Every approved waiver (revoked later or not) of a set, optionally for some agencies.

    As WAIVER_COLUMNS; pending, rejected and never-approved revoked requests are left out.
    """
    qs = Waiver.objects.approved()
    if requirement_set_id is not None:
        qs = qs.filter(requirement_set_id=requirement_set_id)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return _waiver_rows(qs)
