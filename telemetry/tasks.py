"""Celery tasks of the health side: thin wrappers that take ids and call one core function.

Periodic tasks run their work through `config.periodic.run_periodic_task`: a second beat
process started by mistake cannot make them run a slot twice, while a retry or a redelivery
of a failed run still does the work; the work they call is idempotent anyway. Retried tasks
keep their backoff below the Redis visibility timeout (settings.TASK_VISIBILITY_TIMEOUT_S),
because a countdown longer than it makes the task run twice.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from config.periodic import delete_old_runs, run_periodic_task
from telemetry.alerts import DISPATCH_NOTIFICATIONS_TASK

SWEEP_EVERY_S = 30
DAILY_S = 24 * 3600


@shared_task(
    bind=True,
    name="telemetry.sweep_stale_devices",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=25,
    ignore_result=True,
)
def sweep_stale_devices_task(self) -> dict[str, object]:  # noqa: ANN001 - Celery's bound task
    """Beat, every 30 s: late / offline / maintenance flips and offline alerts."""
    from telemetry import sweep

    now = timezone.now()
    ran = run_periodic_task(
        self,
        every_seconds=SWEEP_EVERY_S,
        now=now,
        work=lambda: asdict(sweep.mark_stale_devices(now=now)),
    )
    return ran.result if ran else {"skipped": True}


@shared_task(
    bind=True,
    name="telemetry.ensure_partitions",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def ensure_partitions_task(self) -> dict[str, object]:  # noqa: ANN001 - Celery's bound task
    """Beat, daily: create the history table's partitions for the days ahead (PostgreSQL)."""
    from telemetry import partitions

    ran = run_periodic_task(
        self,
        every_seconds=DAILY_S,
        now=timezone.now(),
        work=lambda: partitions.ensure_partitions(ahead=partitions.DEFAULT_AHEAD_DAYS),
    )
    return {"created": ran.result} if ran else {"skipped": True}


@shared_task(
    bind=True,
    name="telemetry.apply_retention",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=3000,
    time_limit=3300,
    ignore_result=True,
)
def apply_retention_task(self) -> dict[str, object]:  # noqa: ANN001 - Celery's bound task
    """Beat, daily: drop history older than the retention (whole partitions on PostgreSQL)."""
    from telemetry import partitions

    now = timezone.now()
    days = int(getattr(settings, "TELEMETRY_RETENTION_DAYS", partitions.DEFAULT_RETENTION_DAYS))
    ran = run_periodic_task(
        self,
        every_seconds=DAILY_S,
        now=now,
        work=lambda: partitions.apply_retention(retention_days=days, now=now),
    )
    if ran is None:
        return {"skipped": True}
    # The sweep claims a slot every 30 s; a week of claims is plenty to diagnose beat.
    delete_old_runs(name_prefix="telemetry.", before=now - timedelta(days=7))
    return ran.result


@shared_task(
    name=DISPATCH_NOTIFICATIONS_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def dispatch_alert_notifications_task(alert_ids: list[int], event: str) -> int:
    """One alert event → one delivery task per matching channel."""
    from telemetry import notify

    ids = notify.dispatch(alert_ids=alert_ids, event=event)
    for notification_id in ids:
        deliver_notification_task.delay(notification_id)
    return len(ids)


@shared_task(
    bind=True,
    name="telemetry.deliver_notification",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=60,
    ignore_result=True,
)
def deliver_notification_task(self, notification_id: int) -> bool:  # noqa: ANN001 - Celery's bound task
    """Send one notification; retried with exponential backoff, then kept as failed."""
    from telemetry import notify

    try:
        return notify.deliver(notification_id=notification_id)
    except notify.DeliveryFailed as exc:
        if self.request.retries >= self.max_retries:
            notify.mark_failed(notification_id=notification_id, error=str(exc))
            return False
        countdown = min(600, 2 ** (self.request.retries + 1) * 5)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(
    name="telemetry.build_readings_export",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=5,
    soft_time_limit=1500,
    time_limit=1800,
    ignore_result=True,
)
def build_readings_export_task(job_id: str) -> dict:
    """Build one large readings export. Safe to run twice: a finished or claimed job is left."""
    from telemetry.readings_jobs import build_readings_export

    job = build_readings_export(job_id)
    return {"id": job_id, "status": job.status if job else "missing"}
