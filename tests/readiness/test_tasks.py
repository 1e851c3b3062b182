"""Readiness task wiring with a real worker on the configured broker (Redis in CI).

The `worker` fixture (tests/conftest.py) routes the tasks to a queue of this run only, so
another worker on the same broker cannot take them.
"""

from __future__ import annotations

from datetime import date

import pytest

from config.celery import app
from readiness.models import ReadinessSnapshot
from readiness.tasks import compute_nightly_snapshots_task
from tests.conftest import wait_for
from tests.readiness.catalog_helpers import MDM, make_requirement, make_set, make_version, phone

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_beat_schedule_names_the_registered_snapshot_task():
    entry = app.conf.beat_schedule["readiness-nightly-snapshots"]
    assert entry["task"] == compute_nightly_snapshots_task.name
    assert entry["task"] in app.tasks


def test_worker_writes_the_snapshot_of_the_date_it_is_sent(worker, agency_a):
    v1 = make_version(make_set(), "5.9", effective_on=date(2020, 1, 1))
    make_requirement(v1, "cjis.mdm", "MDM-1", MDM)
    phone(agency_a)
    day = date(2026, 3, 2)
    compute_nightly_snapshots_task.delay(day.isoformat())
    wait_for(
        lambda: ReadinessSnapshot.objects.filter(date=day).exists(), timeout=30, what="the snapshot"
    )
    assert ReadinessSnapshot.objects.filter(date=day, requirement_key="").get().n_pass == 1
