"""Celery tasks of readiness: thin wrappers over the core functions, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from config.periodic import run_periodic_task
from readiness.exports import BUILD_BRIEFING_EXPORT_TASK, build_briefing_export

SNAPSHOT_EVERY_SECONDS = 24 * 3600


@shared_task(
    bind=True,
    name="readiness.compute_nightly_snapshots",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=1800,
    time_limit=1900,
)
def compute_nightly_snapshots_task(self, as_of: str | None = None) -> dict:  # noqa: ANN001 - Celery's bound task
    """Snapshot yesterday (or ``as_of``, an ISO date) once per day, whatever beat does.

    Run shortly after midnight it describes the day that just ended. The slot guard makes a
    second beat process a no-op and lets a retry of a failed run do the work; the snapshot
    itself replaces its date, so running it again is safe. An explicit ``as_of`` always runs.
    """
    from datetime import date, timedelta

    from readiness.snapshots import compute_snapshots

    day = date.fromisoformat(as_of) if as_of else timezone.localdate() - timedelta(days=1)
    if as_of is not None:
        run = compute_snapshots(as_of=day)
    else:
        ran = run_periodic_task(
            self,
            every_seconds=SNAPSHOT_EVERY_SECONDS,
            now=timezone.now(),
            work=lambda: compute_snapshots(as_of=day),
        )
        if ran is None:
            return {"skipped": True, "date": day.isoformat()}
        run = ran.result
    return {
        "date": day.isoformat(),
        "readiness_rows": run.readiness_rows,
        "participation_rows": run.participation_rows,
    }


@shared_task(
    bind=True,
    name="readiness.record_evaluation",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=240,
    time_limit=300,
)
def record_evaluation_task(self) -> dict:  # noqa: ANN001 - Celery's bound task
    """Record the evaluation of record once per TRACKER_EVALUATION_MINUTES slot, then prune
    the days before today. A second beat's delivery of the same slot does nothing."""
    from django.conf import settings

    from readiness.evaluations import run_scheduled

    now = timezone.now()
    ran = run_periodic_task(
        self,
        every_seconds=60 * settings.TRACKER_EVALUATION_MINUTES,
        now=now,
        work=lambda: run_scheduled(now=now),
    )
    if ran is None:
        return {"skipped": True}
    return {
        "evaluation": ran.result.pk,
        "evaluated_at": ran.result.evaluated_at.isoformat(),
        "devices": ran.result.devices,
        "data_hash": ran.result.data_hash,
    }


@shared_task(
    name=BUILD_BRIEFING_EXPORT_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=240,
    time_limit=300,
)
def build_briefing_export_task(export_id: int) -> dict:
    """Build one briefing file. Safe to run twice: a finished or claimed export is left alone."""
    export = build_briefing_export(export_id)
    return {"id": export_id, "status": export.status if export else "missing"}
