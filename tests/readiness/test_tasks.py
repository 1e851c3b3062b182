"""Readiness task wiring with a real worker on the configured broker (Redis in CI).

The readiness tasks are routed to a queue of this run only, so another worker on the same
broker cannot take them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from config.celery import app
from readiness.models import ReadinessSnapshot
from readiness.tasks import compute_nightly_snapshots_task
from tests.conftest import skip_or_fail
from tests.readiness.catalog_helpers import MDM, make_requirement, make_set, make_version, phone

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

QUEUE = f"test-readiness-{uuid.uuid4().hex[:8]}"


def _reroute(routes: object) -> None:
    app.conf.task_routes = routes
    app.amqp.flush_routes()
    # The publishing router is a cached property holding the old routes table: once any task
    # has been sent in this process, flush_routes() alone does not reach it.
    app.amqp.__dict__.pop("router", None)


@pytest.fixture
def worker() -> Iterator[None]:
    saved = app.conf.task_routes
    _reroute({"readiness.*": {"queue": QUEUE}})
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any broker failure means the service is missing
        skip_or_fail(f"Celery broker {app.conf.broker_url} unreachable: {exc}")
    try:
        with start_worker(app, queues=[QUEUE], perform_ping_check=False, pool="solo", shutdown_timeout=10):
            yield
    finally:
        _reroute(saved)


def test_beat_schedule_names_the_registered_snapshot_task():
    entry = app.conf.beat_schedule["readiness-nightly-snapshots"]
    assert entry["task"] == compute_nightly_snapshots_task.name
    assert entry["task"] in app.tasks


def test_worker_writes_the_snapshot_of_the_date_it_is_sent(worker, agency_a):
    v1 = make_version(make_set(), "5.9", effective_on=date(2020, 1, 1))
    make_requirement(v1, "cjis.mdm", "MDM-1", MDM)
    phone(agency_a)
    day = timezone.localdate() - timedelta(days=1)
    compute_nightly_snapshots_task.delay(day.isoformat())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not ReadinessSnapshot.objects.filter(date=day).exists():
        time.sleep(0.1)
    assert ReadinessSnapshot.objects.filter(date=day, requirement_key="").get().n_pass == 1
