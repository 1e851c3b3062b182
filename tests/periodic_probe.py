"""A periodic task for tests/test_periodic.py, and the worker that runs it in a subprocess.

``python -m tests.periodic_probe QUEUE`` starts a worker of the project's Celery app on
CELERY_BROKER_URL and DATABASE_URL, consuming QUEUE only. The broker hands an unacknowledged
message on after TASK_VISIBILITY_TIMEOUT_S, and the worker looks for such messages every
second (kombu looks every 100 s by default), so a killed worker's task comes back in seconds.

The probe's work writes lines to files in a folder the test reads: ``started`` when the work
begins, ``done`` when it ends, ``skipped`` when the slot was not this delivery's. While a
``hold`` file exists the work waits, so a test can kill the worker in the middle of it.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

from django.db import OperationalError

from config.celery import app

PROBE_TASK = "tests.periodic_probe"


def _append(path: Path, line: str) -> int:
    with open(path, "a") as f:
        f.write(line + "\n")
    return len(path.read_text().splitlines())


@app.task(
    bind=True,
    name=PROBE_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    default_retry_delay=0,
    max_retries=3,
    soft_time_limit=50,
    time_limit=60,
    ignore_result=True,
)
def periodic_probe_task(self, folder: str, now: str, fail_times: int = 0) -> None:  # noqa: ANN001
    """Run the probe's work once per daily slot of ``now``; fail its first ``fail_times`` runs."""
    from config.periodic import run_periodic_task

    base = Path(folder)

    def work() -> None:
        attempt = _append(base / "started", self.request.id)
        while (base / "hold").exists():
            time.sleep(0.05)
        if attempt <= fail_times:
            raise OperationalError(f"probe run {attempt} lost its database connection")
        _append(base / "done", self.request.id)

    ran = run_periodic_task(
        self, every_seconds=24 * 3600, now=datetime.fromisoformat(now), work=work
    )
    if ran is None:
        _append(base / "skipped", self.request.id)


def main(queue: str) -> None:
    import django

    django.setup()
    app.conf.broker_transport_options = {
        "visibility_timeout": int(os.environ["TASK_VISIBILITY_TIMEOUT_S"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1])
