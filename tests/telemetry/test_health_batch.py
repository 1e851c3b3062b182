"""What a committed ingest batch changes in health: back online, thresholds, alerts, gateways.

Driven through the real ingest (`ingest_batch`), which calls `apply_batch_effects` and
`gateway_state_changed` inside its transaction, so these also check the contract between them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from telemetry.effects import apply_batch_effects
from telemetry.health import deadlines
from telemetry.ingest import InboundMessage, ingest_batch
from telemetry.models import Alert, DeviceHealth, HealthFlip, MaintenanceWindow
from telemetry.sweep import mark_stale_devices
from tests.factories import DeviceFactory, DeviceHealthFactory, DeviceModelFactory
from tests.telemetry.conftest import NOW, make_fleet, minutes, reading

pytestmark = pytest.mark.django_db


def flips(device):
    return list(
        HealthFlip.objects.filter(device=device)
        .order_by("at", "id")
        .values_list("old_level", "new_level", "cause")
    )


def test_first_reading_brings_a_never_seen_device_online_with_a_flip(fleet):
    device = fleet.devices[0]
    ingest_batch([fleet.message([reading(device.serial, NOW, battery_pct=80.0)])], now=NOW)
    health = DeviceHealth.objects.get(device=device)
    assert (health.level, health.problems) == ("online", [])
    assert flips(device) == [("never_seen", "online", "back_online")]


def test_reading_after_silence_flips_back_online_and_resolves_the_offline_alert(fleet):
    device = fleet.devices[0]
    ingest_batch([fleet.message([reading(device.serial, NOW)])], now=NOW)
    later = NOW + minutes(10)
    mark_stale_devices(now=later)
    assert DeviceHealth.objects.get(device=device).level == "offline"
    assert Alert.objects.get(device=device).state == "open"

    ingest_batch([fleet.message([reading(device.serial, later)])], now=later)
    health = DeviceHealth.objects.get(device=device)
    alert = Alert.objects.get(device=device)
    assert health.level == "online"
    assert (alert.state, alert.resolved_at, alert.resolution) == ("resolved", later, "back online")
    assert flips(device) == [
        ("never_seen", "online", "back_online"),
        ("online", "offline", "silence"),
        ("offline", "online", "back_online"),
    ]


def test_redelivered_batch_records_no_second_flip(fleet):
    message = fleet.message([reading(d.serial, NOW) for d in fleet.devices])
    ingest_batch([message], now=NOW)
    ingest_batch([message], now=NOW + timedelta(seconds=5))
    assert HealthFlip.objects.count() == len(fleet.devices)


def test_low_battery_opens_one_unhealthy_alert_and_recovery_resolves_it(fleet):
    device = fleet.devices[0]
    ingest_batch(
        [fleet.message([reading(device.serial, NOW, battery_pct=8.0, rsrp_dbm=-95.0)])], now=NOW
    )
    ingest_batch(
        [fleet.message([reading(device.serial, NOW + minutes(1), battery_pct=7.0)])],
        now=NOW + minutes(1),
    )
    health = DeviceHealth.objects.get(device=device)
    assert health.problems == ["battery 7% is below 15%"]
    alert = Alert.objects.get(device=device)
    assert (alert.cause, alert.state, alert.detail) == (
        "device_unhealthy",
        "open",
        "battery 8% is below 15%",
    )
    threshold_flip = HealthFlip.objects.get(device=device, cause="threshold")
    assert (threshold_flip.old_level, threshold_flip.new_level, threshold_flip.detail) == (
        "online",
        "online",
        "battery 8% is below 15%",
    )

    ingest_batch(
        [fleet.message([reading(device.serial, NOW + minutes(2), battery_pct=95.0)])],
        now=NOW + minutes(2),
    )
    health.refresh_from_db()
    alert.refresh_from_db()
    assert health.problems == []
    assert (alert.state, alert.resolution) == ("resolved", "every threshold met again")
    assert HealthFlip.objects.filter(device=device, cause="threshold").count() == 2


def test_unhealthy_device_inside_a_maintenance_window_is_not_alerted(fleet):
    device = fleet.devices[0]
    MaintenanceWindow.objects.create(
        agency=fleet.agency,
        device=device,
        title="Charging",
        recurrence="once",
        starts_at=NOW - minutes(5),
        ends_at=NOW + minutes(60),
    )
    ingest_batch([fleet.message([reading(device.serial, NOW, battery_pct=3.0)])], now=NOW)
    assert DeviceHealth.objects.get(device=device).problems == ["battery 3% is below 15%"]
    assert not Alert.objects.exists()


def test_firmware_unchanged_past_the_limit_is_a_problem(fleet, settings):
    settings.HEALTH_FIRMWARE_MAX_AGE_DAYS = 30
    device = fleet.devices[0]
    ingest_batch([fleet.message([reading(device.serial, NOW, firmware="4.2.0")])], now=NOW)
    later = NOW + timedelta(days=31)
    ingest_batch([fleet.message([reading(device.serial, later, firmware="4.2.0")])], now=later)
    assert DeviceHealth.objects.get(device=device).problems == [
        "firmware 4.2.0 unchanged for 31 days (more than 30)"
    ]
    # An update clears it: the age counts from the new version's first reading.
    newer = later + minutes(1)
    ingest_batch([fleet.message([reading(device.serial, newer, firmware="4.3.0")])], now=newer)
    assert DeviceHealth.objects.get(device=device).problems == []


def test_an_upsert_that_leaves_the_level_alone_is_handled_too():
    # Contract (a) in telemetry.effects: the latest state advanced, the level was not touched.
    device = DeviceFactory(model=DeviceModelFactory(telemetry_interval_s=60))
    late_after, offline_after = deadlines(NOW, 60)
    DeviceHealthFactory(
        device=device,
        level="offline",
        level_changed_at=NOW - minutes(30),
        last_reading_at=NOW,
        late_after=late_after,
        offline_after=offline_after,
    )
    apply_batch_effects(device_ids=[device.pk, device.pk], now=NOW + timedelta(seconds=2))
    assert DeviceHealth.objects.get(device=device).level == "online"
    assert flips(device) == [("offline", "online", "back_online")]


def test_a_batch_of_healthy_online_devices_costs_one_query(django_assert_num_queries):
    model = DeviceModelFactory(telemetry_interval_s=60)
    late_after, offline_after = deadlines(NOW, 60)
    ids = []
    for _ in range(300):
        device = DeviceFactory(model=model)
        DeviceHealthFactory(
            device=device,
            level="online",
            level_changed_at=NOW - minutes(5),
            last_reading_at=NOW,
            late_after=late_after,
            offline_after=offline_after,
            battery_pct=90.0,
        )
        ids.append(device.pk)
    with django_assert_num_queries(1):
        apply_batch_effects(device_ids=ids, now=NOW + timedelta(seconds=1))


def test_gateway_last_will_makes_its_devices_unreachable_with_one_alert(fleet):
    ingest_batch([fleet.message([reading(d.serial, NOW) for d in fleet.devices])], now=NOW)
    ingest_batch([InboundMessage(fleet.state, b"online", NOW)], now=NOW)
    at = NOW + minutes(1)
    ingest_batch([InboundMessage(fleet.state, b"offline", at)], now=at)

    levels = set(
        DeviceHealth.objects.filter(device__in=fleet.devices).values_list("level", flat=True)
    )
    assert levels == {"unreachable"}
    assert HealthFlip.objects.filter(cause="gateway_last_will").count() == len(fleet.devices)
    alert = Alert.objects.get()
    assert (alert.gateway_id, alert.device_id, alert.cause) == (
        fleet.gateway.pk,
        None,
        "gateway_offline",
    )
    # Unreachable devices are not the sweep's: no per-device offline alert, however long.
    mark_stale_devices(now=NOW + minutes(30))
    assert Alert.objects.count() == 1

    back = NOW + minutes(31)
    ingest_batch([InboundMessage(fleet.state, b"online", back)], now=back)
    alert.refresh_from_db()
    assert alert.state == "resolved"
    # Their deadlines passed while the gateway was away: late, with a grace to report.
    health = DeviceHealth.objects.get(device=fleet.devices[0])
    assert (health.level, health.offline_after) == ("late", back + timedelta(seconds=300))
    assert mark_stale_devices(now=back + minutes(1)).offline == 0
    assert mark_stale_devices(now=back + minutes(6)).offline == len(fleet.devices)


def test_gateway_back_before_deadlines_returns_devices_online():
    fleet = make_fleet(devices=2, interval_s=600)
    ingest_batch([fleet.message([reading(d.serial, NOW) for d in fleet.devices])], now=NOW)
    ingest_batch([InboundMessage(fleet.state, b"offline", NOW + minutes(1))], now=NOW + minutes(1))
    ingest_batch([InboundMessage(fleet.state, b"online", NOW + minutes(2))], now=NOW + minutes(2))
    assert set(DeviceHealth.objects.values_list("level", flat=True)) == {"online"}
    assert flips(fleet.devices[0])[-1] == ("unreachable", "online", "gateway_back")


def test_gateway_offline_inside_an_agency_wide_window_opens_no_alert(fleet):
    ingest_batch([fleet.message([reading(d.serial, NOW) for d in fleet.devices])], now=NOW)
    MaintenanceWindow.objects.create(
        agency=fleet.agency,
        title="Network work",
        recurrence="once",
        starts_at=NOW,
        ends_at=NOW + timedelta(hours=2),
    )
    ingest_batch([InboundMessage(fleet.state, b"online", NOW)], now=NOW)
    ingest_batch([InboundMessage(fleet.state, b"offline", NOW + minutes(1))], now=NOW + minutes(1))
    assert not Alert.objects.exists()
