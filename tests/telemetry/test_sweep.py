"""The beat sweep: late / offline / maintenance by conditional UPDATEs, flips and alerts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, connections

from telemetry.health import deadlines
from telemetry.models import Alert, DeviceHealth, HealthFlip, MaintenanceWindow
from telemetry.selectors import monthly_uptime
from telemetry.sweep import mark_stale_devices
from tests.factories import AgencyFactory, DeviceFactory, DeviceHealthFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def make_health(
    *,
    agency=None,
    level="online",
    last_ago=timedelta(seconds=10),
    interval_s=60,
    kind=None,
    **values,
):
    model = DeviceModelFactory(telemetry_interval_s=interval_s, **({"kind": kind} if kind else {}))
    device = DeviceFactory(agency=agency or AgencyFactory(), model=model)
    last = NOW - last_ago
    late_after, offline_after = deadlines(last, interval_s)
    return DeviceHealthFactory(
        device=device,
        level=level,
        last_reading_at=last,
        late_after=late_after,
        offline_after=offline_after,
        level_changed_at=last,
        **values,
    )


def test_device_past_its_interval_becomes_late_without_an_alert():
    h = make_health(last_ago=timedelta(seconds=90))
    result = mark_stale_devices(now=NOW)
    h.refresh_from_db()
    assert (h.level, result.late, result.offline) == ("late", 1, 0)
    flip = HealthFlip.objects.get(device=h.device)
    assert (flip.old_level, flip.new_level, flip.cause, flip.at) == (
        "online",
        "late",
        "silence",
        NOW,
    )
    assert flip.detail.startswith("no reading since 2026-05-01 07:58:30")  # New York time
    assert not Alert.objects.exists()


def test_device_past_its_grace_goes_offline_once_with_one_alert():
    h = make_health(last_ago=timedelta(minutes=10))
    fresh = make_health(last_ago=timedelta(seconds=5))
    first = mark_stale_devices(now=NOW)
    second = mark_stale_devices(now=NOW + timedelta(seconds=30))
    h.refresh_from_db()
    fresh.refresh_from_db()
    assert (h.level, fresh.level) == ("offline", "online")
    assert (first.offline, first.alerts_opened, second.offline, second.alerts_opened) == (
        1,
        1,
        0,
        0,
    )
    assert list(HealthFlip.objects.values_list("old_level", "new_level", "cause")) == [
        ("online", "offline", "silence")
    ]
    alert = Alert.objects.get()
    assert (alert.device_id, alert.agency_id, alert.cause, alert.state) == (
        h.device_id,
        h.device.agency_id,
        "device_offline",
        "open",
    )
    assert alert.detail.startswith("offline: no reading since")


def test_late_device_goes_offline_when_grace_passes():
    h = make_health(level="late", last_ago=timedelta(seconds=200))
    mark_stale_devices(now=NOW)
    h.refresh_from_db()
    assert h.level == "offline"
    assert HealthFlip.objects.get().old_level == "late"


def test_never_seen_unreachable_and_offline_devices_are_left_alone():
    make_health(level="never_seen", last_ago=timedelta(hours=1))
    make_health(level="unreachable", last_ago=timedelta(hours=1))
    make_health(level="offline", last_ago=timedelta(hours=1))
    result = mark_stale_devices(now=NOW)
    assert (result.late, result.offline) == (0, 0)
    assert not HealthFlip.objects.exists()


def test_silent_device_in_a_maintenance_window_is_maintenance_not_alerted_until_the_window_ends():
    agency = AgencyFactory()
    camera = make_health(agency=agency, kind="body_camera", last_ago=timedelta(minutes=10))
    router = make_health(agency=agency, kind="in_vehicle_router", last_ago=timedelta(minutes=10))
    MaintenanceWindow.objects.create(
        agency=agency,
        device_kind="body_camera",
        title="Docked overnight",
        recurrence="once",
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=1),
    )
    mark_stale_devices(now=NOW)
    camera.refresh_from_db()
    router.refresh_from_db()
    assert (camera.level, router.level) == ("maintenance", "offline")
    assert list(Alert.objects.values_list("device_id", flat=True)) == [router.device_id]
    assert HealthFlip.objects.get(device=camera.device).cause == "maintenance"

    # Still silent when the window ends: offline now, and alerted.
    result = mark_stale_devices(now=NOW + timedelta(hours=1, seconds=1))
    camera.refresh_from_db()
    assert camera.level == "offline"
    assert result.from_maintenance == 1
    assert Alert.objects.filter(device=camera.device, cause="device_offline").count() == 1


def test_window_start_moves_an_offline_device_to_maintenance_and_resolves_its_alert():
    agency = AgencyFactory()
    h = make_health(agency=agency, last_ago=timedelta(minutes=10))
    mark_stale_devices(now=NOW)
    assert Alert.objects.get().state == "open"
    MaintenanceWindow.objects.create(
        agency=agency,
        device=h.device,
        title="Repair",
        recurrence="daily",
        daily_start=time(8, 0),
        daily_end=time(9, 0),
        time_zone="America/New_York",
    )
    mark_stale_devices(now=NOW + timedelta(seconds=30))  # 08:00:30 in New York
    h.refresh_from_db()
    alert = Alert.objects.get()
    assert h.level == "maintenance"
    assert (alert.state, alert.resolution) == ("resolved", "a maintenance window began")


def test_monthly_uptime_counts_the_flips_of_the_month():
    h = make_health(last_ago=timedelta(seconds=10))
    device = h.device
    may = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)  # midnight in New York
    HealthFlip.objects.create(
        device=device,
        at=may - timedelta(days=3),
        old_level="never_seen",
        new_level="online",
        cause="back_online",
    )
    HealthFlip.objects.create(
        device=device,
        at=may + timedelta(days=10),
        old_level="online",
        new_level="offline",
        cause="silence",
    )
    HealthFlip.objects.create(
        device=device,
        at=may + timedelta(days=13),
        old_level="offline",
        new_level="online",
        cause="back_online",
    )
    # A threshold flip keeps the level and does not count.
    HealthFlip.objects.create(
        device=device,
        at=may + timedelta(days=14),
        old_level="online",
        new_level="online",
        cause="threshold",
    )
    assert monthly_uptime(
        device_id=device.pk, year=2026, month=5, now=may + timedelta(days=40)
    ) == pytest.approx(28 / 31)
    # The current month counts only up to now.
    assert monthly_uptime(
        device_id=device.pk, year=2026, month=5, now=may + timedelta(days=12)
    ) == pytest.approx(10 / 12)
    assert monthly_uptime(device_id=device.pk, year=2026, month=6, now=may) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_flip_and_alert_each_device_once():
    if connection.vendor != "postgresql":
        pytest.skip(
            "row locking between two sweepers is PostgreSQL behaviour; SQLite serialises writers"
        )
    agency = AgencyFactory()
    stale = [
        make_health(agency=agency, last_ago=timedelta(minutes=10)).device_id for _ in range(150)
    ]
    stale += [
        make_health(agency=agency, last_ago=timedelta(seconds=90)).device_id for _ in range(150)
    ]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(mark_stale_devices(now=NOW))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(r.offline for r in results) == 150
    assert sum(r.late for r in results) == 150
    assert HealthFlip.objects.count() == 300
    assert HealthFlip.objects.values("device").distinct().count() == 300
    assert Alert.objects.count() == 150
    assert set(
        DeviceHealth.objects.filter(device_id__in=stale).values_list("level", flat=True)
    ) == {"offline", "late"}
