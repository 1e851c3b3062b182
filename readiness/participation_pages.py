"""The data of the FirstNet participation page and the participation headline of the others.

Statuses and expectations come from `readiness.participation` (agencies' status history,
federal expectations, each versioned); this module shapes them for the pages and the
briefings. Every function takes the scope (its agency ids) already resolved by
`readiness.scoping`, never a user. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from devices.models import FirstNetStatus, FirstNetStatusChange
from readiness import participation
from readiness.models import FederalExpectation
from readiness.pages import choice_label
from readiness.scoping import Scope


@dataclass(frozen=True)
class ParticipationHeadline:
    agencies: int
    participating: int
    expectation_label: str
    expectation_actual: float | None  # in % of the expectation's metric
    expectation_target: float | None  # in %
    expectation_source: str
    is_illustrative: bool

    @property
    def met(self) -> bool | None:
        if self.expectation_actual is None or self.expectation_target is None:
            return None
        return self.expectation_actual >= self.expectation_target


def participation_headline(scope: Scope, *, as_of: date) -> ParticipationHeadline:
    """Agencies subscribed to FirstNet in the scope on ``as_of``, against the expectation then in effect.

    Statuses only (``readiness.participation.statuses_on`` over the agencies' history): no
    device counts, so the overview stays a few small queries.
    """
    agencies = participation._agencies(scope.agency_ids)
    statuses = (
        participation.statuses_on(agencies, participation._changes(scope.agency_ids), as_of)
        if not agencies.empty
        else pd.Series(dtype=object)
    )
    total = len(statuses)
    subscribed = int(statuses.isin(participation.SUBSCRIBED).sum())
    expectation = participation.expectations_in_effect(on=as_of).get(
        FederalExpectation.Metric.AGENCIES_SUBSCRIBED
    )
    if expectation is None:
        return ParticipationHeadline(total, subscribed, "", None, None, "", False)
    return ParticipationHeadline(
        agencies=total,
        participating=subscribed,
        expectation_label=(
            f"{expectation.target_value:.0%} of agencies subscribed by "
            f"{expectation.target_by:%Y-%m-%d} (version {expectation.version})"
        ),
        expectation_actual=round(100.0 * subscribed / total, 1) if total else 0.0,
        expectation_target=round(100.0 * expectation.target_value, 1),
        expectation_source=expectation.source,
        is_illustrative=expectation.is_illustrative,
    )


PARTICIPATION_START = date(2017, 1, 1)  # the opt-in year: history starts there


@dataclass
class ParticipationPage:
    as_of: date
    history: pd.DataFrame  # participation.history columns
    funnel: object  # participation.Funnel (statewide)
    statewide: list[dict[str, object]]  # one per expectation version
    by_cabinet: list[dict[str, object]]  # cabinet x current expectations
    expectation_versions: list[dict[str, object]]
    agencies: pd.DataFrame  # agency, cabinet, status, since
    changes: list[dict]  # recent status changes


def participation_page(scope: Scope, *, as_of: date, today: date) -> ParticipationPage:
    """Every agency's status over time, actual against each expectation version, and what changed."""
    history = participation.history(
        agency_ids=scope.agency_ids, start=PARTICIPATION_START, end=as_of
    )
    funnel = participation.funnels(agency_ids=scope.agency_ids, as_of=as_of, today=today)[0]
    statewide = _comparison_rows(
        participation.compare_with_expectations(
            agency_ids=scope.agency_ids, as_of=as_of, today=today
        ),
        current_only=False,
    )
    by_cabinet = _comparison_rows(
        participation.compare_with_expectations(
            agency_ids=scope.agency_ids, as_of=as_of, today=today, by="cabinet"
        ),
        current_only=True,
    )
    timeline = participation.status_timeline(agency_ids=scope.agency_ids)
    recent = sorted(timeline, key=lambda c: c["changed_on"], reverse=True)[:30]
    return ParticipationPage(
        as_of=as_of,
        history=history,
        funnel=funnel,
        statewide=statewide,
        by_cabinet=by_cabinet,
        expectation_versions=_expectation_versions(),
        agencies=participation_table(scope, as_of=as_of, today=today),
        changes=recent,
    )


def _comparison_rows(comparisons: list, *, current_only: bool) -> list[dict[str, object]]:
    """Actual against target, one row per comparison (only current expectations if asked)."""
    return [
        {
            "scope": c.name,
            "metric": c.expectation.get_metric_display(),
            "version": c.expectation.version,
            "target_pct": round(100 * c.expectation.target_value, 1),
            "by": c.expectation.target_by,
            "actual_pct": None if c.actual is None else round(100 * c.actual, 1),
            "gap_pct": None if c.gap is None else round(100 * c.gap, 1),
            "met": c.is_met,
            "current": c.is_current,
            "illustrative": c.expectation.is_illustrative,
        }
        for c in comparisons
        if c.is_current or not current_only
    ]


def _expectation_versions() -> list[dict[str, object]]:
    """Every version of every federal expectation, by metric then date."""
    return [
        {
            "metric": e.get_metric_display(),
            "version": e.version,
            "target_pct": round(100 * e.target_value, 1),
            "by": e.target_by,
            "effective_from": e.effective_from,
            "source": e.source,
            "source_url": e.source_url,
            "change_note": e.change_note,
            "supersedes": e.supersedes.version if e.supersedes else "",
            "illustrative": e.is_illustrative,
        }
        for e in FederalExpectation.objects.select_related("supersedes").order_by(
            "metric", "effective_from"
        )
    ]


def participation_table(scope: Scope, *, as_of: date, today: date) -> pd.DataFrame:
    """agency, cabinet, status, since: each agency's FirstNet status on ``as_of``
    (``readiness.participation.participation_frame``) and the date of its last change by then."""
    frame, _ = participation.participation_frame(
        agency_ids=scope.agency_ids, as_of=as_of, today=today
    )
    if frame.empty:
        return pd.DataFrame(columns=["agency", "cabinet", "status", "since"])
    frame = frame.sort_values("name")
    since: dict[int, date] = {}
    changes = FirstNetStatusChange.objects.filter(changed_on__lte=as_of).order_by(
        "agency_id", "changed_on"
    )
    if scope.agency_ids is not None:
        changes = changes.filter(agency_id__in=scope.agency_ids)
    for agency_id, changed_on in changes.values_list("agency_id", "changed_on"):
        since[agency_id] = changed_on  # the last change on or before as_of wins
    fallback = dict(zip(frame["agency_id"], frame["firstnet_status_changed_on"], strict=True))
    return pd.DataFrame(
        {
            "agency": list(frame["name"]),
            "cabinet": list(frame["cabinet"]),
            "status": [choice_label(FirstNetStatus, str(s)) for s in frame["status"]],
            "since": [
                since.get(pk) or (fallback[pk] if fallback[pk] <= as_of else None)
                for pk in frame["agency_id"]
            ],
        },
        columns=["agency", "cabinet", "status", "since"],
    )


EXPECTATION_COLUMNS = [
    "label",
    "version",
    "metric",
    "target",
    "actual",
    "by_date",
    "source",
    "met",
    "current",
]


def expectations_table(scope: Scope, *, as_of: date, today: date) -> pd.DataFrame:
    """Actual against every federal expectation version (``participation.compare_with_expectations``).

    Columns: label, version, metric, target, actual, by_date, source, met; target and actual
    in percent of the metric.
    """
    rows = []
    for c in participation.compare_with_expectations(
        agency_ids=scope.agency_ids, as_of=as_of, today=today
    ):
        exp = c.expectation
        if exp.effective_from > as_of:
            continue
        rows.append(
            {
                "label": f"{exp.get_metric_display()} ({exp.version})",
                "version": exp.version,
                "metric": exp.metric,
                "target": round(100.0 * exp.target_value, 1),
                "actual": round(100.0 * c.actual, 1) if c.actual is not None else 0.0,
                "by_date": exp.target_by,
                "source": exp.source + (" (illustrative)" if exp.is_illustrative else ""),
                "met": bool(c.is_met),
                "current": bool(c.is_current),
            }
        )
    frame = pd.DataFrame(rows, columns=EXPECTATION_COLUMNS)
    return (
        frame.sort_values(["by_date", "metric"]).reset_index(drop=True)
        if not frame.empty
        else frame
    )
