"""The ingest's bulk write path: what goes through COPY (PostgreSQL) or executemany (SQLite)
comes back exactly as sent, in history and in the latest state."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from telemetry import health
from telemetry.ingest import ingest_batch
from telemetry.models import DeviceFirmware, DeviceHealth, HealthFlip, TelemetryReading
from tests.telemetry.conftest import NOW, make_fleet, minutes, reading

pytestmark = pytest.mark.django_db

AWKWARD = [
    'v4,2 "beta"',
    "line one\nline two\r\nthree",
    "tab\there",
    "back\\slash \\N \\.",
    "ünïcødé ✓",
    "'single' ; DROP TABLE x",
    " padded ",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_text_with_separators_quotes_newlines_and_backslashes_is_stored_verbatim(fleet, text):
    device = fleet.devices[0]
    ts = NOW - minutes(1)
    extra = {"note": text, "nested": {"list": [1, "a,b", None]}}
    result = ingest_batch(
        [
            fleet.message(
                [reading(device.serial, ts, firmware=text[:64], status=text[:64], extra=extra)]
            )
        ],
        now=NOW,
    )

    assert (result.readings_stored, result.dead_letters) == (1, 0)
    row = TelemetryReading.objects.get(device=device)
    assert (row.firmware, row.status, row.extra) == (text[:64], text[:64], extra)
    state = DeviceHealth.objects.get(device=device)
    assert (state.firmware, state.status) == (text[:64], text[:64])


def test_blank_and_missing_measurements_are_stored_as_blank_text_and_nulls(fleet):
    blank, missing = fleet.devices[0], fleet.devices[1]
    ts = NOW - minutes(1)
    ingest_batch(
        [
            fleet.message(
                [
                    reading(blank.serial, ts, firmware="", status="", battery_pct=0, gps_fix=False),
                    reading(missing.serial, ts),
                ]
            )
        ],
        now=NOW,
    )

    rows = {r.device_id: r for r in TelemetryReading.objects.all()}
    assert (
        rows[blank.pk].firmware,
        rows[blank.pk].status,
        rows[blank.pk].battery_pct,
        rows[blank.pk].gps_fix,
    ) == ("", "", 0.0, False)
    assert (rows[missing.pk].firmware, rows[missing.pk].battery_pct, rows[missing.pk].gps_fix) == (
        "",
        None,
        None,
    )
    assert rows[missing.pk].extra == {}
    state = DeviceHealth.objects.get(device=missing)
    assert (state.firmware, state.status, state.battery_pct) == ("", "", None)


def test_the_same_reading_twice_in_one_batch_is_stored_once_and_counted_as_a_duplicate(fleet):
    device = fleet.devices[0]
    twice = reading(device.serial, NOW - minutes(1), battery_pct=50)
    result = ingest_batch([fleet.message([twice]), fleet.message([twice])], now=NOW)

    assert (result.readings_stored, result.readings_duplicate, result.devices_advanced) == (1, 1, 1)
    assert TelemetryReading.objects.filter(device=device).count() == 1


@pytest.mark.parametrize(
    ("age", "level"),
    [(minutes(0.5), "online"), (minutes(2), "late"), (minutes(10), "offline")],
)
def test_the_latest_state_takes_deadlines_and_level_from_the_device_interval(db, age, level):
    fleet = make_fleet(devices=1, interval_s=90)
    device = fleet.devices[0]
    ts = NOW - age
    ingest_batch([fleet.message([reading(device.serial, ts)])], now=NOW)

    state = DeviceHealth.objects.get(device=device)
    assert (state.late_after, state.offline_after) == health.deadlines(ts, 90)
    assert (state.level, state.last_reading_at, state.last_received_at) == (level, ts, NOW)


def test_readings_with_other_utc_offsets_are_the_same_instants(fleet):
    device = fleet.devices[0]
    ts = NOW - minutes(3)
    body = reading(device.serial, ts)
    body["ts"] = ts.astimezone(ZoneInfo("America/Chicago")).isoformat()
    ingest_batch([fleet.message([body])], now=NOW)

    assert TelemetryReading.objects.get(device=device).ts == ts
    assert DeviceHealth.objects.get(device=device).last_reading_at == ts


def test_a_large_batch_of_many_devices_advances_each_to_its_newest_reading(db):
    fleet = make_fleet(devices=40)
    messages = []
    for k in range(5):
        for start in range(0, 40, 10):
            messages.append(
                fleet.message(
                    [
                        reading(d.serial, NOW - minutes(10 - k), battery_pct=float(k))
                        for d in fleet.devices[start : start + 10]
                    ]
                )
            )
    messages.reverse()  # newest first: the oldest readings arrive last and must not win
    result = ingest_batch(messages, now=NOW)

    assert (result.readings_stored, result.devices_advanced) == (200, 40)
    states = DeviceHealth.objects.filter(device__in=fleet.devices)
    assert {(s.last_reading_at, s.battery_pct) for s in states} == {(NOW - minutes(6), 4.0)}


def test_a_first_reading_of_hundreds_of_devices_records_one_flip_and_one_firmware_row_each(db):
    # Past the size where the health side switches to COPY on PostgreSQL.
    fleet = make_fleet(devices=260)
    messages = [
        fleet.message([reading(d.serial, NOW - minutes(0.5), firmware="7.1")])
        for d in fleet.devices
    ]
    ingest_batch(messages, now=NOW)
    ingest_batch(messages, now=NOW)  # redelivered: nothing new

    ids = [d.pk for d in fleet.devices]
    flips = HealthFlip.objects.filter(device_id__in=ids)
    assert set(flips.values_list("old_level", "new_level")) == {("never_seen", "online")}
    assert flips.count() == 260
    firmware = DeviceFirmware.objects.filter(device_id__in=ids)
    assert (firmware.count(), set(firmware.values_list("firmware", "since"))) == (
        260,
        {("7.1", NOW)},
    )

    # A new version reported later moves every device's firmware row through the upsert.
    later = NOW + minutes(5)
    ingest_batch(
        [
            fleet.message([reading(d.serial, later - minutes(0.5), firmware="7.2")])
            for d in fleet.devices
        ],
        now=later,
    )
    assert set(firmware.values_list("firmware", "since")) == {("7.2", later)}
