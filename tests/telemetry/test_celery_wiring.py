"""Task wiring with a real worker on the configured broker (Redis in CI, else the filesystem).

The `worker` fixture (tests/conftest.py) routes the tasks to a queue of this run only, so a
worker of another test run (or `make run`) on the same broker cannot take them.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from devices.models import PeriodicRun
from telemetry import alerts, tasks
from telemetry.models import Alert, Notification, NotificationChannel
from tests.conftest import wait_for
from tests.factories import DeviceFactory

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_an_alert_opened_in_a_transaction_is_emailed_by_the_worker_after_commit(worker, agency_a):
    NotificationChannel.objects.create(
        agency=agency_a, kind="email", name="Duty", target="duty@ksp.example"
    )
    device = DeviceFactory(agency=agency_a, serial="BWC-99")
    with transaction.atomic():
        [alert_id] = alerts.open_device_alerts(
            details={device.pk: "offline"}, cause="device_offline", now=timezone.now()
        )
        # Nothing is enqueued before the commit (delay_on_commit).
        assert not Notification.objects.exists()
    assert wait_for(lambda: Notification.objects.filter(alert_id=alert_id, status="sent").exists())
    [message] = mail.outbox
    assert "BWC-99" in message.subject
    assert Alert.objects.get().state == "open"


def test_a_rolled_back_alert_notifies_nobody(worker, agency_a):
    NotificationChannel.objects.create(
        agency=agency_a, kind="email", name="Duty", target="duty@ksp.example"
    )
    device = DeviceFactory(agency=agency_a)

    def failing_batch() -> None:
        with transaction.atomic():
            alerts.open_device_alerts(
                details={device.pk: "offline"}, cause="device_offline", now=timezone.now()
            )
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        failing_batch()
    # A sentinel task sent afterwards runs; the rolled-back alert's dispatch never existed.
    tasks.sweep_stale_devices_task.delay()
    assert wait_for(
        lambda: PeriodicRun.objects.filter(name="telemetry.sweep_stale_devices").exists()
    )
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_two_sweeps_sent_for_the_same_slot_do_the_work_once(worker):
    first = tasks.sweep_stale_devices_task.delay()
    second = tasks.sweep_stale_devices_task.delay()
    assert first.id != second.id
    assert wait_for(
        lambda: PeriodicRun.objects.filter(name="telemetry.sweep_stale_devices").exists()
    )
    # Direct calls in the same 30 s slot: the claim is taken, the work is skipped.
    assert tasks.sweep_stale_devices_task() == {"skipped": True}
    assert PeriodicRun.objects.filter(name="telemetry.sweep_stale_devices").count() == 1
