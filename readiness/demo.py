"""The readiness part of ``manage.py load_demo``: what a new user sees on the first ``make run``.

Idempotent, in order:

1. the shipped requirement sets (``readiness/requirement_sets``) through the loader;
2. each agency's FirstNet status history since 2017, for agencies the inventory demo left
   without one;
3. federal participation expectations in three versions (2018, 2021, 2024). They are
   ILLUSTRATIVE: no public source sets agency-level FirstNet participation targets for a
   state, so each is labelled as such and its note says what it is modelled on;
4. a few waivers (one per chosen agency, within the ceiling; one expiring soon, one expired),
   each requested by the agency's admin (or a relationship manager where the agency has no
   admin) and approved by the state analyst, plus one request per set still pending;
5. the first evaluation of record (``readiness.evaluations``), unless one was recorded today;
6. 180 days of snapshots. The inventory keeps no history of device attributes, so the past
   is synthesised backwards from that first evaluation: each day is its fleet judged by the
   versions and waivers of that day, with a share of its passes shown as failures that
   shrinks to nothing by yesterday (the fleet "improving"), and rows marked
   ``source=demo``. Yesterday therefore ends exactly at the evaluation's figures, and
   today's snapshot is written at the evaluation's moment: no chart jumps into today.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from config.errors import DomainError
from devices.models import Agency, Device, FirstNetStatusChange, User
from readiness.models import (
    FederalExpectation,
    ParticipationSnapshot,
    ReadinessEvaluation,
    ReadinessSnapshot,
    Waiver,
)

REQUIREMENT_SETS_DIR = Path(__file__).resolve().parent / "requirement_sets"
HISTORY_START = date(2017, 3, 30)  # FirstNet's partnership award, the start of agency decisions
BACKFILL_DAYS = 180
# How much worse the synthesised past looks at its oldest day (share of passes shown failing).
DEMO_PAST_DEFICIT = 0.30
DEMO_WAIVER_PREFIX = "Demo: "

Log = Callable[[str], object]


def load_readiness_demo(*, seed: int = 7, log: Log = print, days: int = BACKFILL_DAYS) -> None:
    """Load the readiness demo; safe to run again (it changes nothing the second time)."""
    from readiness.loader import load_requirements

    report = load_requirements([REQUIREMENT_SETS_DIR])
    log(
        f"requirement sets: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    rng = random.Random(seed)
    log(f"FirstNet history: {ensure_firstnet_history(rng)} agencies given a history")
    log(f"federal expectations: {ensure_expectations()} created")
    log(f"waivers: {ensure_waivers(rng)} created")
    record = first_evaluation()
    log(
        f"evaluation of record: #{record.pk} at {timezone.localtime(record.evaluated_at):%H:%M}, "
        f"{record.devices} devices"
    )
    written = backfill_demo_snapshots(days=days, now=record.evaluated_at, evaluation=record)
    log(f"snapshots: {written} days written" if written else "snapshots: already present")


# --- participation history and expectations -------------------------------------------------------


def ensure_firstnet_history(rng: random.Random) -> int:
    """A status path since 2017 for each agency without one, ending at its current status."""
    with_history = set(FirstNetStatusChange.objects.values_list("agency_id", flat=True).distinct())
    today = timezone.localdate()
    created = 0
    path_to = {
        "not_engaged": ["not_engaged"],
        "evaluating": ["not_engaged", "evaluating"],
        "pilot": ["not_engaged", "evaluating", "pilot"],
        "subscribed": ["not_engaged", "evaluating", "pilot", "subscribed"],
        "declined": ["not_engaged", "evaluating", "declined"],
    }
    rows = []
    for agency in Agency.objects.exclude(pk__in=with_history).order_by("slug"):
        day = HISTORY_START
        path = path_to.get(agency.firstnet_status, ["not_engaged"])
        for i, status in enumerate(path):
            if i:
                day = min(
                    day + timedelta(days=rng.randint(120, 700)),
                    agency.firstnet_status_changed_on,
                    today,
                )
            rows.append(
                FirstNetStatusChange(
                    agency=agency, status=status, changed_on=day, note="demo history"
                )
            )
        created += 1
    FirstNetStatusChange.objects.bulk_create(rows, ignore_conflicts=True)
    return created


ILLUSTRATIVE = (
    "Illustrative target for the demo, not a published federal figure: no public source sets "
    "agency-level FirstNet participation targets for a state."
)

# (metric, version, target, target_by, effective_from, modelled on, what changed)
EXPECTATIONS: list[tuple[str, str, float, date, date, str, str]] = [
    (
        "agencies_engaged",
        "2018",
        0.50,
        date(2019, 12, 31),
        date(2018, 1, 1),
        "After the 28 Dec 2017 opt-in deadline, when every state had opted in and agencies began to decide "
        "(urgentcomm.com state opt-in reports; NASCIO Connections Nov/Dec 2017).",
        "First expectation.",
    ),
    (
        "agencies_subscribed",
        "2018",
        0.25,
        date(2020, 12, 31),
        date(2018, 1, 1),
        "As above: agencies are not required to subscribe (allthingsfirstnet.com).",
        "First expectation.",
    ),
    (
        "agencies_engaged",
        "2021",
        0.70,
        date(2022, 12, 31),
        date(2021, 1, 1),
        "Nationwide adoption passing 16,000 agencies in 2021 (allthingsfirstnet.com).",
        "Raised from 50% to 70%, later date.",
    ),
    (
        "agencies_subscribed",
        "2021",
        0.40,
        date(2023, 12, 31),
        date(2021, 1, 1),
        "Nationwide adoption passing 16,000 agencies in 2021 (allthingsfirstnet.com).",
        "Raised from 25% to 40%.",
    ),
    (
        "devices_firstnet",
        "2021",
        0.40,
        date(2023, 12, 31),
        date(2021, 1, 1),
        "First device-level expectation, as device programmes matured.",
        "New metric.",
    ),
    (
        "agencies_engaged",
        "2024",
        0.85,
        date(2026, 12, 31),
        date(2024, 1, 1),
        "23,000+ agencies on FirstNet by Nov 2022 (tradelawdaily.com 2022-11-17).",
        "Raised from 70% to 85%.",
    ),
    (
        "agencies_subscribed",
        "2024",
        0.60,
        date(2026, 12, 31),
        date(2024, 1, 1),
        "23,000+ agencies on FirstNet by Nov 2022 (tradelawdaily.com 2022-11-17).",
        "Raised from 40% to 60%.",
    ),
    (
        "devices_firstnet",
        "2024",
        0.60,
        date(2026, 12, 31),
        date(2024, 1, 1),
        "As above.",
        "Raised from 40% to 60%.",
    ),
    (
        "devices_band14",
        "2024",
        0.80,
        date(2026, 12, 31),
        date(2024, 1, 1),
        "Band 14 device certification under FCC technical rules (fcc.gov 700 MHz public safety broadband).",
        "New metric: Band 14 capable share of cellular devices.",
    ),
]


def ensure_expectations() -> int:
    created = 0
    previous: dict[str, FederalExpectation] = {}
    for metric, version, target, by, since, modelled_on, change in EXPECTATIONS:
        exp, was_created = FederalExpectation.objects.get_or_create(
            metric=metric,
            version=version,
            defaults={
                "target_value": target,
                "target_by": by,
                "effective_from": since,
                "source": "Illustrative (demo)",
                "change_note": change,
                "is_illustrative": True,
                "supersedes": previous.get(metric),
            },
        )
        if was_created:
            exp.source = f"Illustrative (demo). Modelled on: {modelled_on} {ILLUSTRATIVE}"[:300]
            exp.save(update_fields=["source"])
        previous[metric] = exp
        created += was_created
    return created


# --- waivers ------------------------------------------------------------------------------------


# (start, end) from now of the approved demo waivers; a fourth pick is left pending.
APPROVED_PLANS = [
    (timedelta(days=-200), timedelta(days=-20)),
    (timedelta(days=-30), timedelta(days=20)),
    (timedelta(days=-10), timedelta(days=150)),
]
PENDING_PLAN = (timedelta(days=0), timedelta(days=90))


def ensure_waivers(rng: random.Random) -> int:
    """A few waivers on real failures of the sets in effect: requested, then approved by the
    state analyst (two people, as always), and one pending request per set."""
    from readiness.results import evaluate_fleet, find_version_in_effect, get_requirement_set

    if Waiver.objects.filter(reason__startswith=DEMO_WAIVER_PREFIX).exists():
        return 0
    approver = (
        User.objects.filter(role=User.Role.STATE_STAFF, is_active=True).order_by("id").first()
    )
    if approver is None:
        return 0
    created = 0
    for code in ("cjis-mobile", "bwc-programme", "firstnet-device-baseline"):
        try:
            req_set = get_requirement_set(code)
        except DomainError:
            continue
        version = find_version_in_effect(req_set, on=timezone.localdate())
        if version is None:
            continue
        fleet = evaluate_fleet(version=version)
        failing = fleet.results[fleet.results["status"].astype(str).eq("fail")]
        picks = failing.drop_duplicates("agency_id").sort_values(["agency_id", "device_id"]).head(4)
        plans = [*APPROVED_PLANS, PENDING_PLAN]
        for plan, rec in zip(plans, picks.to_dict("records"), strict=False):
            device = Device.objects.select_related("agency").get(pk=int(rec["device_id"]))
            waiver = _demo_waiver(
                rng, code, str(rec["stable_key"]), device, plan, approver=approver
            )
            created += waiver is not None
    return created


def _demo_waiver(
    rng: random.Random,
    code: str,
    key: str,
    device: Device,
    plan: tuple[timedelta, timedelta],
    *,
    approver: User,
) -> Waiver | None:
    """Request one waiver as the agency would, approved unless it is the pending plan."""
    from readiness.waivers import approve_waiver, request_waiver

    requester = _demo_requester(device.agency_id, approver)
    if requester is None:
        return None
    now = timezone.now()
    start, end = plan
    funding = rng.choice(["grant", "budget"])
    try:
        waiver = request_waiver(
            actor=requester,
            agency=device.agency,
            set_code=code,
            requirement_key=key,
            device=device,
            reason=f"{DEMO_WAIVER_PREFIX}replacement on order; {funding} requested",
            starts_at=now + start,
            expires_at=now + end,
            now=now + start,
        )
        if plan == PENDING_PLAN:
            return waiver
        return approve_waiver(
            actor=approver,
            waiver_id=waiver.pk,
            comment=f"{DEMO_WAIVER_PREFIX}replacement funded; approved until it arrives",
            now=now + start,
        )
    except DomainError:
        return None  # over the ceiling or a conflict: the demo simply has fewer waivers


def _demo_requester(agency_id: int, approver: User) -> User | None:
    """The agency's admin, else another state staff member: never the approver."""
    admins = User.objects.filter(is_active=True).exclude(pk=approver.pk)
    return (
        admins.filter(role=User.Role.AGENCY_ADMIN, agency_id=agency_id).order_by("id").first()
        or admins.filter(role=User.Role.STATE_STAFF).order_by("id").first()
    )


def _approved_waiver_rows() -> list[tuple]:
    """(pk, starts_at, expires_at, revoked_at) of the waivers that count (approved ones)."""
    return list(
        Waiver.objects.approved().values_list("pk", "starts_at", "expires_at", "revoked_at")
    )


# --- snapshots ----------------------------------------------------------------------------------


def _deficit(counts: pd.DataFrame, share: float) -> pd.DataFrame:
    """Move ``share`` of the passes to failures (the synthesised, less ready past)."""
    if share <= 0:
        return counts
    out = counts.copy()
    moved = (out["n_pass"] * share).round().astype("int64")
    out["n_pass"] -= moved
    out["n_fail"] += moved
    return out


def first_evaluation() -> ReadinessEvaluation:
    """Today's latest evaluation of record, or one recorded now (the demo's "now")."""
    from readiness.evaluation_store import latest_evaluation
    from readiness.evaluations import record_evaluation

    now = timezone.now()
    found = latest_evaluation()
    if found is not None and timezone.localdate(found.evaluated_at) == timezone.localdate(now):
        return found
    return record_evaluation(now=now, trigger=ReadinessEvaluation.Trigger.DEMO)


def backfill_demo_snapshots(
    *,
    days: int = BACKFILL_DAYS,
    today: date | None = None,
    now: datetime | None = None,
    evaluation: ReadinessEvaluation | None = None,
) -> int:
    """Write the demo history (see module doc); dates that already have rows are kept.

    ``evaluation`` (recorded at ``now``) is where the history ends: the days whose waivers
    are those counting at ``now`` start from its counts exactly.
    """
    from readiness.participation import agencies_frame, status_changes_frame
    from readiness.snapshots import compute_snapshots, participation_rows

    now = now or timezone.now()
    today = today or timezone.localdate(now)
    have = set(
        ReadinessSnapshot.objects.filter(date__gte=today - timedelta(days=days - 1))
        .values_list("date", flat=True)
        .distinct()
    )
    todo = [
        today - timedelta(days=k)
        for k in range(days - 1, 0, -1)
        if today - timedelta(days=k) not in have
    ]
    history = _DemoHistory(
        today=today,
        days=days,
        now=now,
        waiver_rows=_approved_waiver_rows(),
        part_template=participation_rows(today, computed_at=now) if todo else [],
        agencies=agencies_frame(None),
        changes=status_changes_frame(None),
    )
    if evaluation is not None and todo:
        history.start_from(evaluation)
    written = 0
    for day in todo:
        _replace_demo_day(day, *history.rows_for(day))
        written += 1
    if today not in have:
        compute_snapshots(as_of=today, now=now, cache=history.cache)
        written += 1
    return written


@dataclass
class _DemoHistory:
    """Decides a past day's demo rows; evaluations are cached across days (the fleet is today's)."""

    today: date
    days: int
    now: datetime
    waiver_rows: list[tuple[Any, ...]]
    part_template: list[ParticipationSnapshot]
    agencies: pd.DataFrame
    changes: pd.DataFrame
    cache: dict = field(default_factory=dict)  # version pk -> raw evaluation
    counts_cache: dict = field(default_factory=dict)  # (version pk, live waivers) -> counts

    def _live_waivers(self, at: datetime) -> frozenset:
        return frozenset(
            pk for pk, s, e, r in self.waiver_rows if s <= at < e and (r is None or r > at)
        )

    def start_from(self, evaluation: ReadinessEvaluation) -> None:
        """Days with the waivers counting now start from ``evaluation``'s counts exactly."""
        from readiness.evaluation_store import evaluation_counts
        from readiness.results import versions_in_effect

        live = self._live_waivers(self.now)
        for version in versions_in_effect(on=self.today):
            counts = evaluation_counts(evaluation, version=version, agency_ids=None)
            if not counts.empty:
                self.counts_cache[(version.pk, live)] = counts

    def rows_for(self, day: date) -> tuple[pd.DataFrame, list[ParticipationSnapshot]]:
        """The readiness and participation rows of ``day``, the past made less ready (none
        yesterday, so the history meets today's evaluation)."""
        from readiness.snapshots import end_of_day

        at = end_of_day(day, now=self.now)
        share = DEMO_PAST_DEFICIT * ((self.today - day).days - 1) / max(1, self.days - 2)
        return self._readiness(day, at, share), self._participation(day, share)

    def _readiness(self, day: date, at: datetime, share: float) -> pd.DataFrame:
        from readiness.results import (
            agency_counts,
            evaluate_raw,
            finish_results,
            versions_in_effect,
        )
        from readiness.snapshots import snapshot_frame

        live = self._live_waivers(at)
        frames: list[pd.DataFrame] = []
        for version in versions_in_effect(on=day):
            if version.pk not in self.cache:
                self.cache[version.pk] = evaluate_raw(version=version, now=self.now)
            key = (version.pk, live)
            if key not in self.counts_cache:
                self.counts_cache[key] = agency_counts(
                    finish_results(self.cache[version.pk], waivers_at=at)
                )
            frames.append(
                snapshot_frame(
                    _deficit(self.counts_cache[key], share),
                    day=day,
                    version=version,
                    computed_at=self.now,
                    source=ReadinessSnapshot.Source.DEMO,
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _participation(self, day: date, share: float) -> list[ParticipationSnapshot]:
        from readiness.participation import statuses_on

        statuses = (
            {int(k): str(v) for k, v in statuses_on(self.agencies, self.changes, day).items()}
            if len(self.agencies)
            else {}
        )
        part = []
        for tmpl in self.part_template:
            moved = round(tmpl.devices_firstnet * share)
            part.append(
                ParticipationSnapshot(
                    date=day,
                    agency_id=tmpl.agency_id,
                    firstnet_status=statuses.get(tmpl.agency_id, tmpl.firstnet_status),
                    devices_cellular=tmpl.devices_cellular,
                    devices_firstnet=tmpl.devices_firstnet - moved,
                    devices_band14=tmpl.devices_band14,
                    source=ReadinessSnapshot.Source.DEMO,
                    computed_at=self.now,
                )
            )
        return part


def _replace_demo_day(
    day: date, snapshots: pd.DataFrame, participation: list[ParticipationSnapshot]
) -> None:
    """Replace ``day``'s readiness and participation rows in one transaction."""
    from readiness.snapshots import insert_snapshots

    with transaction.atomic():
        ReadinessSnapshot.objects.filter(date=day).delete()
        ParticipationSnapshot.objects.filter(date=day).delete()
        insert_snapshots(snapshots)
        ParticipationSnapshot.objects.bulk_create(participation, batch_size=2000)
