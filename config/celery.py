"""The Celery app. Periodic work is listed here, one comment per entry.

Beat guard: every periodic task takes a short-lived lock in the database
(`config.periodic.run_once`) keyed by its name and its slot in time, so a second beat
process started by mistake cannot apply a run twice.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

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
}
