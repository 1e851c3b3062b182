"""Evaluations of record, stored and read: no evaluating here (``readiness.evaluations`` does).

- ``store_evaluation(frame, now=, trigger=)``: one ``ReadinessEvaluation`` and its count rows
  (per agency, version in effect and requirement key, the columns of a snapshot row), with
  the SHA-256 of those rows, in one transaction (a reader sees a whole evaluation or none),
  written set-based with one ``executemany``.
- ``latest_evaluation()``, ``get_evaluation(id)``, ``evaluations_since(start)``.
- ``evaluation_counts(evaluation, version=, agency_ids=)``: one version's counts
  (``COUNT_COLUMNS``), as ``readiness.results.snapshot_counts`` reads a date's snapshot.
- ``prune_evaluations(now=)``: evaluations from before ``now``'s local date go (the nightly
  snapshot stays the day's record); the latest is always kept, so "now" never disappears.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

import pandas as pd
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from readiness.models import EvaluationCount, ReadinessEvaluation, RequirementSetVersion

# The stored columns of one count row, after the evaluation id, in order.
ROW_COLUMNS = [
    "version_id",
    "agency_id",
    "requirement_key",
    "weight",
    "is_mandatory",
    "n_pass",
    "n_fail",
    "n_waived",
    "n_na",
    "n_reporting",
]
# Per agency and requirement key, the counts a snapshot or an evaluation keeps (the frame
# stored_counts returns; readiness.results.COUNT_COLUMNS is this list).
COUNT_COLUMNS = [
    "agency_id",
    "key",
    "weight",
    "is_mandatory",
    "n_pass",
    "n_fail",
    "n_waived",
    "n_na",
    "n_reporting",
    "n_devices",
]


def counts_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the count rows in a canonical order and text: the evaluation's data hash."""
    canonical = frame[ROW_COLUMNS].sort_values(["version_id", "agency_id", "requirement_key"])
    text = canonical.astype({"is_mandatory": "int64"}).to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def _insert_counts(evaluation_id: int, frame: pd.DataFrame) -> int:
    """One ``executemany`` (the ORM's bulk_create is several times slower at this size)."""
    if frame.empty:
        return 0
    table = EvaluationCount._meta.db_table
    cols = ", ".join(["evaluation_id", *ROW_COLUMNS])
    marks = ", ".join(["%s"] * (len(ROW_COLUMNS) + 1))
    rows = [
        (
            evaluation_id,
            int(v),
            int(a),
            k,
            int(w),
            bool(m),
            int(p),
            int(f),
            int(wv),
            int(na),
            int(r),
        )
        for v, a, k, w, m, p, f, wv, na, r in frame[ROW_COLUMNS].itertuples(index=False, name=None)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
    return len(rows)


def store_evaluation(
    frame: pd.DataFrame, *, now: datetime, trigger: str, started: float | None = None
) -> ReadinessEvaluation:
    """Write one evaluation of ``frame`` (ROW_COLUMNS) in one transaction."""
    totals = frame[frame["requirement_key"].eq("")]
    devices = (
        int((totals["n_pass"] + totals["n_fail"]).groupby(totals["version_id"]).sum().max())
        if not totals.empty
        else 0
    )
    with transaction.atomic():
        evaluation = ReadinessEvaluation.objects.create(
            evaluated_at=now,
            trigger=trigger,
            data_hash=counts_hash(frame),
            devices=devices,
        )
        _insert_counts(evaluation.pk, frame)
        if started is not None:
            evaluation.duration_ms = int(1000 * (time.perf_counter() - started))
            ReadinessEvaluation.objects.filter(pk=evaluation.pk).update(
                duration_ms=evaluation.duration_ms
            )
    return evaluation


def latest_evaluation() -> ReadinessEvaluation | None:
    return ReadinessEvaluation.objects.order_by("-evaluated_at", "-id").first()


def get_evaluation(evaluation_id: int) -> ReadinessEvaluation | None:
    return ReadinessEvaluation.objects.filter(pk=evaluation_id).first()


def has_version(evaluation: ReadinessEvaluation, version: RequirementSetVersion) -> bool:
    """Whether ``version`` was in effect (so evaluated) when ``evaluation`` was recorded."""
    return EvaluationCount.objects.filter(evaluation=evaluation, version=version).exists()


def evaluation_counts(
    evaluation: ReadinessEvaluation,
    *,
    version: RequirementSetVersion,
    agency_ids: list[int] | None,
) -> pd.DataFrame:
    """One version's counts in ``evaluation`` (``results.COUNT_COLUMNS``), for ``agency_ids``."""
    qs = EvaluationCount.objects.filter(evaluation=evaluation, version=version)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return stored_counts(qs)


def stored_counts(rows: QuerySet) -> pd.DataFrame:
    """Stored count rows (an evaluation's or a snapshot's: both keep ``requirement_key`` and
    the counts) as a COUNT_COLUMNS frame, ``n_devices`` derived as the results do."""
    fields = [c for c in COUNT_COLUMNS if c not in ("key", "n_devices")]
    frame = pd.DataFrame(
        list(rows.values_list(*fields, "requirement_key")), columns=[*fields, "key"]
    )
    if frame.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    frame["n_devices"] = frame["n_pass"] + frame["n_fail"] + frame["n_waived"]
    return frame[COUNT_COLUMNS]


def evaluations_since(day_start: datetime) -> list[ReadinessEvaluation]:
    """Evaluations recorded since ``day_start``, newest first (the briefing form's choices)."""
    return list(ReadinessEvaluation.objects.filter(evaluated_at__gte=day_start)[:200])


def prune_evaluations(*, now: datetime) -> int:
    """Delete evaluations recorded before ``now``'s local date, except the latest. Idempotent."""
    start = timezone.make_aware(datetime.combine(timezone.localdate(now), datetime.min.time()))
    latest = latest_evaluation()
    old = ReadinessEvaluation.objects.filter(evaluated_at__lt=start)
    if latest is not None:
        old = old.exclude(pk=latest.pk)
    deleted, _ = old.delete()
    return deleted
