"""Evaluations of record: the fleet's readiness at one moment, which "now" reads everywhere.

- ``record_evaluation(now=, trigger=)``: evaluates today's fleet at ``now`` against every
  version in effect on ``now``'s date (``readiness.results.versions_in_effect``), with the
  waivers that count at ``now``, and stores it (``readiness.evaluation_store``).
- ``current_evaluation(now=)``: the latest evaluation; on a fresh install (none yet) it records
  one first, so the first request of a new site says its figures were just evaluated.
- ``run_scheduled(now=)``: the periodic task's work (record, then prune the days before).

The dashboards, the API and briefings read the latest evaluation for "now", so they show the
same figures and the same hash until the next one, whatever device health does in between.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from django.utils import timezone

from readiness.evaluation_store import (
    ROW_COLUMNS,
    latest_evaluation,
    prune_evaluations,
    store_evaluation,
)
from readiness.fleet import Evaluation, compile_version, fleet_frame
from readiness.models import ReadinessEvaluation
from readiness.results import agency_counts, finish_results, versions_in_effect
from readiness.scoring import evaluate


@dataclass
class Timings:
    """Where a recording's time went (seconds): the bench prints these."""

    frame: float = 0.0
    evaluate: float = 0.0
    write: float = 0.0


def evaluation_frame(now: datetime, timings: Timings | None = None) -> pd.DataFrame:
    """ROW_COLUMNS for every version in effect on ``now``'s date, evaluated at ``now``. Read-only.

    The fleet frame is built once for all versions: every version judges the same fleet
    (health changing between two versions' reads would make them disagree), and the frame
    is most of the cost.
    """
    timings = timings if timings is not None else Timings()
    started = time.perf_counter()
    fleet = fleet_frame(now=now)
    timings.frame = time.perf_counter() - started
    started = time.perf_counter()
    frames = []
    for version in versions_in_effect(on=timezone.localdate(now)):
        reqs = compile_version(version)
        raw = Evaluation(
            version=version,
            now=now,
            frame=fleet,
            requirements=reqs,
            results=evaluate(fleet, reqs, now),
        )
        counts = agency_counts(finish_results(raw, waivers_at=now))
        frames.append(
            pd.DataFrame(
                {
                    "version_id": version.pk,
                    "agency_id": counts["agency_id"].astype("int64"),
                    "requirement_key": counts["key"].astype(str),
                    "weight": counts["weight"].astype("int64").clip(lower=1),
                    "is_mandatory": counts["is_mandatory"].astype(bool),
                    **{
                        c: counts[c].astype("int64")
                        for c in ("n_pass", "n_fail", "n_waived", "n_na", "n_reporting")
                    },
                },
                columns=ROW_COLUMNS,
            )
        )
    timings.evaluate = time.perf_counter() - started
    if not frames:
        return pd.DataFrame(columns=ROW_COLUMNS)
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["version_id", "agency_id", "requirement_key"])
        .reset_index(drop=True)
    )


def record_evaluation(
    *,
    now: datetime,
    trigger: str = ReadinessEvaluation.Trigger.SCHEDULED,
    timings: Timings | None = None,
) -> ReadinessEvaluation:
    """Evaluate the fleet at ``now`` and store it as the evaluation of record."""
    timings = timings if timings is not None else Timings()
    started = time.perf_counter()
    frame = evaluation_frame(now, timings)
    written = time.perf_counter()
    record = store_evaluation(frame, now=now, trigger=trigger, started=started)
    timings.write = time.perf_counter() - written
    return record


def current_evaluation(*, now: datetime) -> ReadinessEvaluation:
    """The latest evaluation; on a fresh install (none yet) one is recorded at ``now``."""
    found = latest_evaluation()
    if found is not None:
        return found
    return record_evaluation(now=now, trigger=ReadinessEvaluation.Trigger.FIRST_READ)


def run_scheduled(*, now: datetime) -> ReadinessEvaluation:
    """The periodic task's work: record an evaluation, then prune the days before today."""
    evaluation = record_evaluation(now=now)
    prune_evaluations(now=now)
    return evaluation
