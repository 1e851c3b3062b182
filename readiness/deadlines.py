"""Requirement due dates that count: the day arithmetic, and who still fails each deadline.

Pure functions first (they take ``today``; nothing here reads the clock): ``days_left`` and
``due_label`` turn a due date into "due in N days" or "overdue by N days". Then
``deadline_rows`` counts, from one evaluation's results, the devices still failing each
requirement that has a due date, statewide or per agency, for the overview, the agency page,
the what-if page and the briefings to show the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd


def days_left(due_on: date, today: date) -> int:
    """Days from ``today`` to ``due_on``: positive ahead of it, 0 on the day, negative after."""
    return (due_on - today).days


def due_label(due_on: date, today: date) -> str:
    """ "due in N days", "due today" or "overdue by N days" (singular for one day)."""
    left = days_left(due_on, today)
    if left == 0:
        return "due today"
    n = abs(left)
    days = "day" if n == 1 else "days"
    return f"due in {n} {days}" if left > 0 else f"overdue by {n} {days}"


@dataclass(frozen=True)
class DeadlineRow:
    """One requirement with a due date, in one scope: how far off, and how many still fail it."""

    key: str
    code: str
    title: str
    due_on: date
    days_left: int
    label: str
    failing: int
    agency_id: int | None = None  # None: the whole scope

    @property
    def is_overdue(self) -> bool:
        return self.days_left < 0


def deadline_rows(
    results: pd.DataFrame,
    requirements: pd.DataFrame,
    due: dict[str, date],
    *,
    today: date,
    per_agency: bool = False,
) -> list[DeadlineRow]:
    """Requirements with a due date, soonest (most overdue) first, with failing device counts.

    ``results``: device_id, agency_id, stable_key, status (one evaluation, waivers applied: a
    waived device does not fail). ``requirements``: stable_key, code, title. ``due``: due date
    by key. ``per_agency``: one row per agency and requirement instead of one per requirement.
    """
    if not due:
        return []
    failing = results[(results["status"].astype(str) == "fail")]
    failing = failing[failing["stable_key"].astype(str).isin(due)]
    meta = requirements.set_index(requirements["stable_key"].astype(str))
    group = ["stable_key", "agency_id"] if per_agency else ["stable_key"]
    counts = (
        failing.assign(stable_key=failing["stable_key"].astype(str))
        .groupby(group)["device_id"]
        .nunique()
    )
    rows: list[DeadlineRow] = []
    for key, due_on in due.items():
        if key not in meta.index:
            continue

        def row(
            failing: int, agency_id: int | None = None, *, key: str = key, due_on: date = due_on
        ) -> DeadlineRow:
            return DeadlineRow(
                key=key,
                code=str(meta.at[key, "code"]),
                title=str(meta.at[key, "title"]),
                due_on=due_on,
                days_left=days_left(due_on, today),
                label=due_label(due_on, today),
                failing=failing,
                agency_id=agency_id,
            )

        if not per_agency:
            rows.append(row(int(counts.get(key, 0))))
        elif key in counts.index.get_level_values(0):
            per = counts.xs(key, level="stable_key")
            rows += [row(int(n), int(a)) for a, n in per.items()]
    return sorted(rows, key=lambda r: (r.due_on, r.code, r.agency_id or 0))


def due_dates(version_id: int) -> dict[str, date]:
    """Due date by requirement key of one version (requirements without one left out)."""
    from readiness.models import Requirement

    rows = (
        Requirement.objects.filter(version_id=version_id, due_on__isnull=False)
        .order_by("due_on", "key")
        .values_list("key", "due_on")
    )
    return {key: due_on for key, due_on in rows if due_on is not None}


def rows_from_counts(
    counts: pd.DataFrame, due: dict[str, date], *, today: date, failing_column: str = "failed"
) -> list[DeadlineRow]:
    """Deadline rows from a per-requirement table already counted (key, code, title and a
    failing count), as the overview and the agency page read it from their snapshot."""
    if not due or counts.empty:
        return []
    rows = [
        DeadlineRow(
            key=str(r["key"]),
            code=str(r["code"]),
            title=str(r["title"]),
            due_on=due[str(r["key"])],
            days_left=days_left(due[str(r["key"])], today),
            label=due_label(due[str(r["key"])], today),
            failing=int(r[failing_column] or 0),
            agency_id=int(r["agency_id"])
            if "agency_id" in r and pd.notna(r["agency_id"])
            else None,
        )
        for r in counts.to_dict("records")
        if str(r["key"]) in due
    ]
    return sorted(rows, key=lambda r: (r.due_on, r.code, r.agency_id or 0))


@dataclass(frozen=True)
class AgencyFailing:
    slug: str
    name: str
    failing: int


@dataclass(frozen=True)
class ScopeDeadline:
    """One requirement's deadline in a scope: the scope's row and the agencies still failing it."""

    row: DeadlineRow
    agencies: list[AgencyFailing]


def scope_deadlines(
    *,
    set_code: str,
    version: str,
    snapshot_date: date | None,
    agency_ids: list[int] | None,
    requirements: pd.DataFrame,
    today: date,
    evaluation_id: int | None = None,
) -> list[ScopeDeadline]:
    """The deadlines of the version a page shows, from the figures it read.

    ``requirements`` is the page's per-requirement table (key, code, title, failed); the
    per-agency counts come from the same source, scoped to ``agency_ids``: the snapshot of
    ``snapshot_date``, or else the evaluation of record ``evaluation_id`` (live figures give
    statewide counts only).
    """
    from readiness import evaluation_store, results
    from readiness.models import ReadinessEvaluation, RequirementSetVersion

    found = RequirementSetVersion.objects.filter(
        requirement_set__code=set_code, version=version
    ).first()
    if found is None:
        return []
    due = due_dates(found.pk)
    rows = rows_from_counts(requirements, due, today=today)
    evaluation = (
        ReadinessEvaluation.objects.filter(pk=evaluation_id).first()
        if snapshot_date is None and evaluation_id is not None
        else None
    )
    if not rows or (snapshot_date is None and evaluation is None):
        return [ScopeDeadline(r, []) for r in rows]
    if snapshot_date is not None:
        counts = results.snapshot_counts(found, on=snapshot_date, agency_ids=agency_ids)
    else:
        assert evaluation is not None  # checked above
        counts = evaluation_store.evaluation_counts(
            evaluation, version=found, agency_ids=agency_ids
        )
    counts = counts[counts["key"].isin(due) & (counts["n_fail"] > 0)]
    meta = results.agency_meta(agency_ids).set_index("agency_id")
    by_key: dict[str, list[AgencyFailing]] = {}
    for r in counts.sort_values(["key", "n_fail"], ascending=[True, False]).to_dict("records"):
        agency = int(r["agency_id"])
        if agency in meta.index:
            by_key.setdefault(str(r["key"]), []).append(
                AgencyFailing(
                    str(meta.at[agency, "slug"]), str(meta.at[agency, "name"]), int(r["n_fail"])
                )
            )
    return [ScopeDeadline(r, by_key.get(r.key, [])) for r in rows]
