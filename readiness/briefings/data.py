"""The data of one briefing, assembled once for every format (`build_briefing_data`).

Reads only, from the same functions the API and the pages use (``readiness.results``,
``readiness.pages``, ``readiness.participation_pages``, ``readiness.whatif``). Today's as-of
reads the evaluation of record the request is pinned to (``BriefingParams.evaluation_id``, as
the dashboard and the API read the latest), or evaluates the scope's fleet now when it is not
pinned; a past as-of reads the snapshot of that date. The scope is named by the request's key and resolved by
``readiness.scoping.scope_for_briefing``: the request was authorised when it was made
(``readiness.exports.validate_params``), so nothing here looks at a user. The renderers
(``pptx``, ``xlsx``, ``pdf``) turn the result into bytes without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TypedDict

import pandas as pd
from django.db.models import Count, Q
from django.utils import timezone

from config.errors import InvalidInput
from devices.models import Agency, AgencyKind, Cabinet
from readiness import deadlines, evaluation_store, results, scoping, snapshots, whatif
from readiness.briefings.common import (
    DEADLINE_COLUMNS,
    WAIVER_LIST_COLUMNS,
    BriefingData,
    ChangesSince,
    Headline,
    WhatIf,
)
from readiness.failing_devices import LONG_COLUMNS, FailingDevices, failing_from_fleet
from readiness.filters import requirement_sets, set_versions
from readiness.models import BriefingExport, ReadinessEvaluation, RequirementSetVersion, Waiver
from readiness.pages import TREND_DAYS, choice_label, group_frame, requirement_table
from readiness.participation_pages import expectations_table, participation_table
from readiness.scoping import Scope
from telemetry.models import Alert

Progress = Callable[[int, str], None]

# A statewide briefing lists at most this many failing-device reasons.
FAILING_ROWS_LIMIT = 20_000
# The briefing's requirements table: its columns, in order.
REQUIREMENT_COLUMNS = [
    "code",
    "title",
    "severity",
    "applicable",
    "passed",
    "failed",
    "waived",
    "pass_pct",
]


@dataclass(frozen=True)
class BriefingParams:
    """What a briefing is asked for. JSON-safe through ``as_dict`` (it is stored on the export)."""

    scope: str = "state"
    set_code: str = ""
    version: str = ""
    compare_version: str = ""
    as_of: date | None = None
    since_id: int | None = None
    # Today's briefing is pinned to one evaluation of record (the latest when requested, or
    # one chosen from today's): every format and every rebuild reads the same counts.
    evaluation_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "set": self.set_code,
            "version": self.version,
            "compare_version": self.compare_version,
            "as_of": self.as_of.isoformat() if self.as_of else "",
            "since_briefing": self.since_id,
            "evaluation": self.evaluation_id,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> BriefingParams:
        as_of = raw.get("as_of") or None
        since = raw.get("since_briefing")
        evaluation = raw.get("evaluation")
        return cls(
            scope=str(raw.get("scope") or "state"),
            set_code=str(raw.get("set") or ""),
            version=str(raw.get("version") or ""),
            compare_version=str(raw.get("compare_version") or ""),
            as_of=date.fromisoformat(str(as_of)) if as_of else None,
            since_id=int(since) if isinstance(since, int | str) and since != "" else None,
            evaluation_id=int(evaluation)
            if isinstance(evaluation, int | str) and evaluation != ""
            else None,
        )


@dataclass(frozen=True)
class BriefingChoices:
    scopes: list[tuple[str, str]]
    sets: list[tuple[str, str]]
    versions: list[tuple[str, str]]
    earlier: list[tuple[int, str]]


def briefing_choices(agency_ids: list[int] | None, *, set_code: str = "") -> BriefingChoices:
    """The options of the briefing form over ``agency_ids`` (None: every agency, for state staff):
    the scopes one may brief on, sets, versions and earlier finished briefings. Read-only."""
    if agency_ids is None:
        scopes = [("state", "Statewide")]
        scopes += [
            (f"cabinet:{slug}", f"Cabinet: {name}")
            for slug, name in Cabinet.objects.order_by("name").values_list("slug", "name")
        ]
        scopes += [
            (f"agency:{slug}", f"Agency: {name}")
            for slug, name in Agency.objects.order_by("name").values_list("slug", "name")
        ]
    else:
        scopes = [
            (f"agency:{slug}", f"Agency: {name}")
            for slug, name in Agency.objects.filter(pk__in=agency_ids).values_list("slug", "name")
        ]
    sets = requirement_sets()
    code = set_code or (sets[0][0] if sets else "")
    earlier = BriefingExport.objects.filter(status=BriefingExport.Status.DONE)
    if agency_ids is not None:
        # A statewide or cabinet briefing has no agency: only state staff see it.
        earlier = earlier.filter(agency_id__in=agency_ids)
    return BriefingChoices(
        scopes=scopes,
        sets=sets,
        versions=(set_versions(code, with_drafts_in_progress=agency_ids is None) if code else []),
        earlier=[
            (e.pk, f"#{e.pk} {e.scope_label} as of {e.as_of:%Y-%m-%d} ({e.format})")
            for e in earlier.order_by("-created_at")[:50]
        ],
    )


# --- assembling one briefing ------------------------------------------------------------------


@dataclass(frozen=True)
class _Basis:
    """What a briefing is built from: its scope and version, and the counts it reads."""

    scope: Scope
    set_code: str
    version: RequirementSetVersion
    as_of: date
    today: date
    at: datetime  # the moment the figures describe: the evaluation's, or the end of the as-of day
    counts: pd.DataFrame
    failing: FailingDevices | None
    evaluation_hash: str = ""


def build_briefing_data(
    params: BriefingParams,
    *,
    now: datetime | None = None,
    previous: dict | None = None,
    progress: Progress | None = None,
) -> BriefingData:
    """Everything a briefing shows, from the same functions the API uses (``readiness.results``).

    Today's as-of reads the pinned evaluation of record (see the module doc); a past as-of
    reads the snapshot of that date (latest on or before it), with the version in effect
    then unless one is named. ``previous`` is an earlier export's ``figures`` (see
    ``briefing_figures``) for the "what changed" section. ``progress(pct, note)`` hears
    each step. Read-only: no transaction, no write, so it is safe to run twice.
    """
    now = now or timezone.now()
    step = progress or _no_progress
    basis = _read_basis(params, now=now, step=step)
    step(35, "Aggregating by cabinet and agency")
    meta = results.agency_meta(basis.scope.agency_ids)
    participation_now = participation_table(basis.scope, as_of=basis.as_of, today=basis.today)
    agencies, cabinets = _agency_tables(basis, meta, participation_now)
    reqs = requirement_table(basis.counts, basis.version.pk)
    expectations = expectations_table(basis.scope, as_of=basis.as_of, today=basis.today)
    step(50, "Participation and expectations")
    headline = _headline(basis, meta, participation_now, expectations)
    summary = _compared_version(params, basis, now=now, step=step)
    failing = basis.failing
    data = BriefingData(
        title=f"Device readiness briefing: {basis.scope.label}",
        scope=basis.scope.key,
        scope_label=basis.scope.label,
        set_code=basis.set_code,
        set_name=basis.version.requirement_set.name,
        version=basis.version.version,
        compare_version=params.compare_version or None,
        as_of=basis.as_of,
        headline=headline,
        trend=_trend(basis),
        cabinets=cabinets,
        agencies=agencies,
        requirements=reqs[REQUIREMENT_COLUMNS] if not reqs.empty else reqs,
        failing_devices=failing.long if failing is not None else pd.DataFrame(columns=LONG_COLUMNS),
        failing_devices_total=int(len(failing.long)) if failing is not None else 0,
        participation=participation_now,
        expectations=expectations,
        versions_in_effect=_versions_in_effect(basis.version, as_of=basis.as_of),
        parameters=params.as_dict(),
        whatif=summary,
        generated_at=now,
        waivers=briefing_waivers(basis.scope, basis.set_code, at=basis.at),
        evaluated_at=basis.at if basis.as_of == basis.today else None,
        evaluation_hash=basis.evaluation_hash,
        deadlines=_deadlines(reqs, basis.version.pk, as_of=basis.as_of),
    )
    if previous is not None:
        data = changes_since(data, previous)
    step(70, "Figures ready")
    return data


def _deadlines(reqs: pd.DataFrame, version_id: int, *, as_of: date) -> pd.DataFrame:
    """Requirements with a due date, as of the briefing's date, with the devices failing each."""
    rows = deadlines.rows_from_counts(reqs, deadlines.due_dates(version_id), today=as_of)
    return pd.DataFrame(
        [
            {
                "code": r.code,
                "title": r.title,
                "due_on": r.due_on,
                "due": r.label,
                "failing": r.failing,
            }
            for r in rows
        ],
        columns=DEADLINE_COLUMNS,
    )


def _compared_version(
    params: BriefingParams, basis: _Basis, *, now: datetime, step: Progress
) -> WhatIf | None:
    """ "Compared with version V": what moving from the briefing's version to V would do."""
    if not params.compare_version:
        return None
    step(60, f"What-if: version {basis.version.version} to {params.compare_version}")
    return briefing_whatif(
        basis.scope,
        basis.set_code,
        from_version=basis.version.version,
        to_version=params.compare_version,
        at=now,
    )


def _no_progress(pct: int, note: str) -> None:
    return None


def _read_basis(params: BriefingParams, *, now: datetime, step: Progress) -> _Basis:
    """Check the request and read its counts: the live fleet for today, the snapshot for a past date."""
    today = timezone.localdate(now)
    as_of = params.as_of or today
    if as_of > today:
        raise InvalidInput(
            f"as_of {as_of} is in the future; use the what-if comparison for a draft.",
            field="as_of",
        )
    scope = scoping.scope_for_briefing(params.scope)
    sets = requirement_sets()
    if not sets:
        raise InvalidInput(
            "No requirement sets are loaded yet: run `python manage.py load_requirements "
            "readiness/requirement_sets`.",
            field="set",
        )
    set_code = params.set_code or sets[0][0]
    version = results.resolve_version(set_code, version=params.version or None, on=as_of)
    step(10, f"Evaluating {_version_label(version)}")
    failing: FailingDevices | None = None
    evaluation_hash = ""
    if as_of == today:
        record = _pinned_evaluation(params, version)
        # The failing-device list names devices, which an evaluation of record does not
        # keep: it is read at the evaluation's moment from the inventory as it stands.
        at = record.evaluated_at if record is not None else now
        fleet = results.evaluate_fleet(version=version, at=at, agency_ids=scope.agency_ids)
        failing = failing_from_fleet(fleet, limit=0, long_limit=FAILING_ROWS_LIMIT)
        if record is not None:
            counts = evaluation_store.evaluation_counts(
                record, version=version, agency_ids=scope.agency_ids
            )
            evaluation_hash = record.data_hash
        else:
            counts = results.agency_counts(fleet)
    else:
        snap_date = results.latest_snapshot_date(version, on_or_before=as_of)
        if snap_date is None:
            raise InvalidInput(
                f"No snapshot of {set_code} {version.version} on or before {as_of:%Y-%m-%d}: "
                "run `python manage.py snapshot_readiness --date` for it.",
                field="as_of",
            )
        counts = results.snapshot_counts(version, on=snap_date, agency_ids=scope.agency_ids)
        at = snapshots.end_of_day(as_of)
    return _Basis(
        scope=scope,
        set_code=set_code,
        version=version,
        as_of=as_of,
        today=today,
        at=at,
        counts=counts,
        failing=failing,
        evaluation_hash=evaluation_hash,
    )


def _pinned_evaluation(
    params: BriefingParams, version: RequirementSetVersion
) -> ReadinessEvaluation | None:
    """The evaluation a today briefing is pinned to (None: not pinned, evaluated live).

    A pinned evaluation that no longer exists (pruned after its day) or did not cover the
    version is refused with what to do, rather than silently evaluated afresh.
    """
    if params.evaluation_id is None:
        return None
    record = evaluation_store.get_evaluation(params.evaluation_id)
    if record is None:
        raise InvalidInput(
            f"Evaluation #{params.evaluation_id} is no longer kept (evaluations are kept for "
            "their day): brief on the latest one, or on that day's snapshot with --as-of.",
            field="evaluation",
        )
    if not evaluation_store.has_version(record, version):
        raise InvalidInput(
            f"Evaluation #{record.pk} did not evaluate {version.requirement_set.code} "
            f"{version.version} (not in effect then): choose the version in effect, or "
            "brief on a past date's snapshot.",
            field="version",
        )
    return record


def _agency_tables(
    basis: _Basis, meta: pd.DataFrame, participation_now: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agencies, cabinets): each one's devices, ready and coverage, agencies with their details."""
    ag = group_frame(basis.counts, meta, "agency")
    cab = group_frame(basis.counts, meta, "cabinet")
    kinds = dict(basis.scope.filter(Agency.objects.all(), "pk").values_list("slug", "kind"))
    status_by_name = dict(
        zip(participation_now["agency"], participation_now["status"], strict=True)
    )
    agencies = (
        pd.DataFrame(
            {
                "agency": ag["name"],
                "cabinet": ag["group"].map(dict(zip(meta["slug"], meta["cabinet"], strict=True))),
                "county": ag["group"].map(dict(zip(meta["slug"], meta["county"], strict=True))),
                "kind": [choice_label(AgencyKind, kinds.get(slug, "")) for slug in ag["group"]],
                "firstnet_status": ag["name"].map(status_by_name).fillna(""),
                "devices": ag["devices"],
                "ready": ag["ready"],
                "ready_pct": ag["ready_pct"].astype(float).round(1),
                "coverage_pct": ag["coverage_pct"],
            }
        )
        if not ag.empty
        else pd.DataFrame(
            columns=[
                "agency",
                "cabinet",
                "county",
                "kind",
                "firstnet_status",
                "devices",
                "ready",
                "ready_pct",
                "coverage_pct",
            ]
        )
    )
    cabinets = (
        pd.DataFrame(
            {
                "cabinet": cab["name"],
                "agencies": cab["group"]
                .map(meta.groupby("cabinet_slug")["agency_id"].nunique())
                .fillna(0)
                .astype(int),
                "devices": cab["devices"],
                "ready": cab["ready"],
                "ready_pct": cab["ready_pct"].astype(float).round(1),
                "coverage_pct": cab["coverage_pct"],
            }
        )
        if not cab.empty
        else pd.DataFrame(
            columns=["cabinet", "agencies", "devices", "ready", "ready_pct", "coverage_pct"]
        )
    )
    return agencies, cabinets


def _headline(
    basis: _Basis, meta: pd.DataFrame, participation_now: pd.DataFrame, expectations: pd.DataFrame
) -> Headline:
    counts = basis.counts
    state = group_frame(counts, meta, "state")
    total = state.iloc[0] if not state.empty else None
    is_total = counts["key"].eq("") if not counts.empty else pd.Series(dtype=bool)
    current = _current_expectation(expectations)
    subscribed = choice_label(Agency.FirstNetStatus, Agency.FirstNetStatus.SUBSCRIBED)
    return Headline(
        devices=int(total["devices"]) if total is not None else 0,
        online_now=int(counts.loc[is_total, "n_reporting"].sum()) if not counts.empty else 0,
        ready=int(total["ready"]) if total is not None else 0,
        ready_pct=round(float(total["ready_pct"]), 1) if total is not None else 0.0,
        coverage_pct=float(total["coverage_pct"]) if total is not None else 0.0,
        agencies=len(participation_now),
        agencies_participating=int((participation_now["status"] == subscribed).sum()),
        open_alerts=alerts_open_at(basis.scope, basis.at),
        waived=int(counts.loc[~is_total, "n_waived"].sum()) if not counts.empty else 0,
        expectation_label=current.get("label", ""),
        expectation_actual=current.get("actual"),
        expectation_target=current.get("target"),
    )


def _trend(basis: _Basis) -> pd.DataFrame:
    """date, ready_pct, coverage_pct over the trend window ending on the as-of date."""
    trend = snapshots.trend(
        set_code=basis.set_code,
        agency_ids=basis.scope.agency_ids,
        start=basis.as_of - timedelta(days=TREND_DAYS),
        end=basis.as_of,
    )
    if trend.empty:
        return pd.DataFrame(columns=["date", "ready_pct", "coverage_pct"])
    return pd.DataFrame(
        {
            "date": trend["date"],
            "ready_pct": trend["ready_pct"].astype(float).round(1),
            "coverage_pct": (100.0 * trend["coverage"].astype(float)).round(1),
        }
    )


def _versions_in_effect(version: RequirementSetVersion, *, as_of: date) -> list[str]:
    """Every set's version in effect on ``as_of``, plus the briefing's own if it was chosen."""
    versions = [_version_label(v) for v in results.versions_in_effect(on=as_of)]
    if _version_label(version) not in versions:
        versions.append(f"{_version_label(version)} (chosen)")
    return versions


def _version_label(v: RequirementSetVersion) -> str:
    return f"{v.requirement_set.code} {v.version} ({v.status}, effective {v.effective_on:%Y-%m-%d})"


def alerts_open_at(scope: Scope, at: datetime) -> int:
    """Alerts open at a moment (opened by then, not resolved by then): stable for a past date."""
    qs = Alert.objects.filter(opened_at__lte=at).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=at)
    )
    return scope.filter(qs).count()


class _Expectation(TypedDict, total=False):
    label: str
    actual: float
    target: float


def _current_expectation(expectations: pd.DataFrame) -> _Expectation:
    """The latest agencies-subscribed expectation (the headline compares against it)."""
    if expectations.empty:
        return {}
    current = expectations[expectations["current"].astype(bool)]
    subscribed = current[current["metric"] == "agencies_subscribed"]
    if subscribed.empty:
        return {}
    row = subscribed.iloc[-1]
    return {
        "label": str(row["label"]),
        "actual": float(row["actual"]),
        "target": float(row["target"]),
    }


# --- the waiver list -------------------------------------------------------------------------


def briefing_waivers(scope: Scope, set_code: str, *, at: datetime) -> pd.DataFrame:
    """The scope's waivers of the set: approved ones that count at ``at``, then open requests.

    WAIVER_LIST_COLUMNS, with who requested and who decided each, and when. A request counts
    as open if it was made by ``at``, is still pending now and has not expired by ``at``.
    Read-only.
    """
    waivers = scope.filter(
        Waiver.objects.filter(requirement_set__code=set_code).select_related(
            "agency", "device", "requested_by", "decided_by"
        )
    )
    live = Q(revoked_at__isnull=True) | Q(revoked_at__gt=at)
    approved = waivers.approved().filter(live, starts_at__lte=at, expires_at__gt=at)
    pending = waivers.pending().filter(requested_at__lte=at, expires_at__gt=at)
    rows = [
        _waiver_row(w)
        for group in (approved, pending)
        for w in group.order_by("agency__name", "requirement_key", "id")
    ]
    return pd.DataFrame(rows, columns=WAIVER_LIST_COLUMNS)


def _waiver_row(w: Waiver) -> dict[str, str]:
    def when(value: datetime | None) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    return {
        "agency": w.agency.name,
        "requirement": w.requirement_key,
        "covers": f"device {w.device.serial}" if w.device else "whole agency",
        "status": w.get_status_display(),
        "requested_by": w.requested_by.get_username() if w.requested_by else "",
        "requested_at": when(w.requested_at),
        "decided_by": w.decided_by.get_username() if w.decided_by else "",
        "decided_at": when(w.decided_at),
        "comment": w.decision_comment,
        "starts": when(w.starts_at)[:10],
        "expires": when(w.expires_at)[:10],
    }


# --- the what-if section ----------------------------------------------------------------------


def briefing_whatif(
    scope: Scope, set_code: str, *, from_version: str, to_version: str, at: datetime
) -> WhatIf:
    """The what-if of two versions for the scope, through ``readiness.whatif.compare_versions``.

    The engine evaluates only the scope's agencies (``agency_ids``), so for a cabinet or an
    agency every figure, the cost and the ranked plan are that scope's, not the state's.
    Read-only.
    """
    result = whatif.compare_versions(
        agency_ids=scope.agency_ids,
        set_code=set_code,
        from_version=from_version,
        to_version=to_version,
        now=at,
    )
    return whatif_summary(result)


def whatif_summary(result: whatif.WhatIfResult) -> WhatIf:
    """A comparison as the briefing's (and the what-if page's) summary: counts, plan and cost."""
    plan = pd.DataFrame(
        [
            {
                "rank": s.rank,
                "action": s.description,
                "devices": s.devices_touched,
                "ready_pct_after": round(float(s.readiness_after_pct), 1),
                "cost": float(s.cost),
            }
            for s in result.plan
        ],
        columns=["rank", "action", "devices", "ready_pct_after", "cost"],
    )
    changes = pd.DataFrame(
        [
            {"code": c.new_code or c.old_code, "change": c.change, "title": c.title}
            for c in result.changes
            if c.change != "same"
        ],
        columns=["code", "change", "title"],
    )
    return WhatIf(
        from_version=result.from_version,
        to_version=result.to_version,
        added=result.count("added"),
        removed=result.count("removed"),
        tightened=result.count("tightened"),
        relaxed=result.count("relaxed"),
        ready_pct_before=round(result.ready_pct_before, 1),
        ready_pct_after=round(result.ready_pct_after, 1),
        newly_failing_devices=len(result.newly_failing_devices),
        newly_failing_agencies=result.newly_failing_agencies,
        estimated_cost=float(result.cost.get("total", sum(result.cost.values()))),
        changes=changes,
        plan=plan,
    )


# --- "What changed since the last briefing" ------------------------------------------------------


def briefing_figures(data: BriefingData) -> dict[str, object]:
    """What a later briefing compares with: headline figures, statuses, versions (JSON-safe)."""
    return {
        "as_of": data.as_of.isoformat(),
        "devices": data.headline.devices,
        "ready_pct": data.headline.ready_pct,
        "agencies_participating": data.headline.agencies_participating,
        "statuses": dict(
            zip(data.participation["agency"], data.participation["status"], strict=True)
        ),
        "versions_in_effect": list(data.versions_in_effect),
        "data_hash": data.data_hash,
    }


def changes_since(data: BriefingData, previous: dict) -> BriefingData:
    """``data`` with its "what changed since the last briefing" section filled from ``previous``.

    ``previous`` is ``{"id": .., **briefing_figures(earlier)}``. Requirement changes are the
    versions of any set taking effect after the earlier as-of and on or before this one.
    """
    prev_as_of = date.fromisoformat(str(previous["as_of"]))
    changes = ChangesSince(
        previous_id=int(previous["id"]),
        previous_as_of=prev_as_of,
        previous_data_hash=str(previous.get("data_hash", "")),
        devices_before=int(previous.get("devices", 0)),
        devices_after=data.headline.devices,
        ready_pct_before=float(previous.get("ready_pct", 0.0)),
        ready_pct_after=data.headline.ready_pct,
        agencies_participating_before=int(previous.get("agencies_participating", 0)),
        agencies_participating_after=data.headline.agencies_participating,
        requirement_changes=_requirement_changes(after=prev_as_of, until=data.as_of),
        participation_changes=_participation_changes(
            data.participation, previous.get("statuses") or {}
        ),
    )
    return replace(data, changes=changes)


def _requirement_changes(*, after: date, until: date) -> pd.DataFrame:
    """set, version, status, effective, change: each non-draft version taking effect in (after, until]."""
    versions = (
        RequirementSetVersion.objects.filter(effective_on__gt=after, effective_on__lte=until)
        .exclude(status=RequirementSetVersion.Status.DRAFT)
        .select_related("requirement_set")
        .order_by("effective_on", "requirement_set__code")
    )
    req_rows = []
    for v in versions:
        relations = dict(v.requirements.values_list("relation").annotate(n=Count("id")).order_by())
        removed = v.removals.count()
        summary = ", ".join(f"{n} {rel}" for rel, n in sorted(relations.items()) if rel != "same")
        if removed:
            summary = f"{summary}, {removed} removed" if summary else f"{removed} removed"
        req_rows.append(
            {
                "set": v.requirement_set.code,
                "version": v.version,
                "status": v.status,
                "effective": v.effective_on.isoformat(),
                "change": summary or "no requirement changed",
            }
        )
    return pd.DataFrame(req_rows, columns=["set", "version", "status", "effective", "change"])


def _participation_changes(participation: pd.DataFrame, before: dict) -> pd.DataFrame:
    """agency, from_status, to_status, changed_on: each agency whose status differs from ``before``."""
    now_statuses = dict(zip(participation["agency"], participation["status"], strict=True))
    part_rows = [
        {
            "agency": name,
            "from_status": before.get(name, "(not listed)"),
            "to_status": status,
            "changed_on": _since_for(participation, name),
        }
        for name, status in sorted(now_statuses.items())
        if before.get(name) != status
    ]
    return pd.DataFrame(part_rows, columns=["agency", "from_status", "to_status", "changed_on"])


def _since_for(participation: pd.DataFrame, agency: str) -> str:
    found = participation.loc[participation["agency"] == agency, "since"]
    if found.empty:
        return ""
    value = found.iloc[0]
    return value.isoformat() if hasattr(value, "isoformat") else ""
