"""The Celery app. Periodic work is listed here, one comment per entry.

Beat guard: every periodic task takes a short-lived lock in the database
(`config.periodic.run_once`) keyed by its name and its slot in time, so a second beat
process started by mistake cannot apply a run twice.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Readiness: snapshot the day that just ended (trends and "as of" views read these).
    "readiness-nightly-snapshots": {
        "task": "readiness.compute_nightly_snapshots",
        "schedule": crontab(hour=0, minute=15),
    },
    # Readiness: the evaluation of record "now" reads everywhere (every
    # TRACKER_EVALUATION_MINUTES; the task's slot guard makes a second beat a no-op).
    "readiness-evaluation-of-record": {
        "task": "readiness.record_evaluation",
        "schedule": 60.0 * settings.TRACKER_EVALUATION_MINUTES,
        "options": {"expires": 55.0 * settings.TRACKER_EVALUATION_MINUTES},
    },
    # Health: mark silent devices late / offline (or maintenance) and open offline alerts.
    # Expires before the next run so a backlog after a worker outage is not replayed.
    "telemetry-sweep-stale-devices": {
        "task": "telemetry.sweep_stale_devices",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # History: create the next week's daily partitions of the reading table (PostgreSQL).
    "telemetry-ensure-partitions": {
        "task": "telemetry.ensure_partitions",
        "schedule": crontab(hour=0, minute=5),
    },
    # History: drop readings older than TELEMETRY_RETENTION_DAYS (whole partitions first).
    "telemetry-apply-retention": {
        "task": "telemetry.apply_retention",
        "schedule": crontab(hour=3, minute=30),
    },
}
