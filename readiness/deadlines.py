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
