"""History partitions (PostgreSQL) and retention (every backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from telemetry import partitions
from telemetry.models import TelemetryReading
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def readings(device, *stamps):
    TelemetryReading.objects.bulk_create(
        [TelemetryReading(device=device, ts=ts, received_at=ts, battery_pct=50.0) for ts in stamps]
    )


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("native partitioning is PostgreSQL behaviour")


@pytest.mark.postgres
def test_history_is_partitioned_by_day_with_a_default_and_the_same_keys(postgres_only):
    assert partitions.is_partitioned()
    assert partitions.DEFAULT_PARTITION in partitions.list_partitions()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
            [partitions.TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    assert "telemetry_telemetryreading_pkey" in names
    assert "telemetry_reading_ts" in names


@pytest.mark.postgres
def test_inserts_land_in_their_days_partition_or_default(postgres_only):
    device = DeviceFactory()
    assert partitions.ensure_partitions(ahead=2, now=NOW) == [
        "telemetry_telemetryreading_p20260510",
        "telemetry_telemetryreading_p20260511",
        "telemetry_telemetryreading_p20260512",
    ]
    assert partitions.ensure_partitions(ahead=2, now=NOW) == []  # idempotent
    far = datetime(2030, 1, 1, tzinfo=UTC)
    readings(device, NOW, NOW + timedelta(days=1, hours=3), far)
    assert partitions.partition_of_row(device.pk, NOW) == "telemetry_telemetryreading_p20260510"
    assert (
        partitions.partition_of_row(device.pk, NOW + timedelta(days=1, hours=3))
        == "telemetry_telemetryreading_p20260511"
    )
    assert partitions.partition_of_row(device.pk, far) == partitions.DEFAULT_PARTITION
    # The primary key still makes a redelivered reading a conflict, across partitions.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {partitions.TABLE} (device_id, ts, received_at, firmware, status, extra) "
            "VALUES (%s, %s, %s, '', '', '{}') ON CONFLICT DO NOTHING",
            [device.pk, NOW, NOW],
        )
        assert cursor.rowcount == 0


@pytest.mark.postgres
def test_a_partition_created_late_takes_its_rows_out_of_default(postgres_only):
    device = DeviceFactory()
    day = datetime(2031, 3, 4, 8, 0, tzinfo=UTC)
    readings(device, day, day + timedelta(hours=1))
    assert partitions.partition_of_row(device.pk, day) == partitions.DEFAULT_PARTITION
    assert partitions.create_partition(day.date()) is True
    assert partitions.partition_of_row(device.pk, day) == "telemetry_telemetryreading_p20310304"
    assert TelemetryReading.objects.filter(device=device).count() == 2


@pytest.mark.postgres
def test_retention_drops_whole_expired_partitions_and_trims_default(postgres_only):
    device = DeviceFactory()
    old_day = NOW - timedelta(days=100)
    partitions.create_partition(old_day.date())
    partitions.ensure_partitions(ahead=0, now=NOW)
    very_old = datetime(2020, 1, 1, tzinfo=UTC)  # no partition: lands in DEFAULT
    readings(device, old_day, old_day + timedelta(hours=5), very_old, NOW)
    result = partitions.apply_retention(retention_days=90, now=NOW)
    assert result["dropped_partitions"] == [partitions.partition_name(old_day.date())]
    assert result["deleted_rows"] == 1
    assert partitions.partition_name(old_day.date()) not in partitions.list_partitions()
    assert list(TelemetryReading.objects.values_list("ts", flat=True)) == [NOW]


def test_retention_deletes_expired_rows_in_bounded_chunks():
    device = DeviceFactory()
    start = NOW - timedelta(days=120)
    readings(
        device, *[start + timedelta(minutes=i) for i in range(1203)], NOW - timedelta(days=1), NOW
    )
    deleted = partitions.delete_expired_rows(cutoff=NOW - timedelta(days=90), chunk=500)
    assert deleted == 1203
    assert TelemetryReading.objects.count() == 2
