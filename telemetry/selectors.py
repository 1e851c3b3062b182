"""Reads for the device health pages and the health API: a device's card, its readings
for the charts, its monthly uptime. Each is a few indexed queries, whatever the history's
length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from django.conf import settings
from django.db.models import F

from devices.models import Device
from telemetry import maintenance, readings
from telemetry.health import month_bounds, uptime_fraction
from telemetry.models import Alert, DeviceHealth, HealthFlip, HealthLevel, TelemetryReading


def monthly_uptime(*, device_id: int, year: int, month: int, now: datetime) -> float | None:
    """Uptime of a device over a calendar month (up to ``now`` for the current month).

    Two indexed queries on the flips: the level at the month's start and the changes in it.
    """
    start, end = month_bounds(year, month, settings.TIME_ZONE)
    end = min(end, now)
    if end <= start:
        return None
    before = (
        HealthFlip.objects.filter(device_id=device_id, at__lte=start)
        .exclude(old_level=F("new_level"))
        .order_by("-at", "-id")
        .values_list("new_level", flat=True)
        .first()
    )
    changes = list(
        HealthFlip.objects.filter(device_id=device_id, at__gt=start, at__lt=end)
        .exclude(old_level=F("new_level"))
        .order_by("at", "id")
        .values_list("at", "new_level")
    )
    return uptime_fraction(
        initial_level=before or HealthLevel.NEVER_SEEN, changes=changes, start=start, end=end
    )


@dataclass
class DeviceHealthCard:
    """Everything the health panel and ``GET /devices/{id}/health`` show for one device."""

    device: Device
    health: DeviceHealth | None
    level: str
    since: datetime | None
    why: HealthFlip | None  # the flip that set the current level
    problems: list[str]
    flips: list[HealthFlip]
    open_alerts: list[Any]
    is_in_maintenance: bool
    uptime_this_month: float | None


def device_health_card(*, device: Device, now: datetime, flips_limit: int = 20) -> DeviceHealthCard:
    """The device's level, since when and why, its problems, recent flips and open alerts.

    A handful of indexed queries, whatever the device's history length.
    """
    health = DeviceHealth.objects.select_related("gateway").filter(device=device).first()
    flips = list(HealthFlip.objects.filter(device=device).order_by("-at", "-id")[:flips_limit])
    why = (
        HealthFlip.objects.filter(device=device)
        .exclude(old_level=F("new_level"))
        .order_by("-at", "-id")
        .first()
    )
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    return DeviceHealthCard(
        device=device,
        health=health,
        level=health.level if health else HealthLevel.NEVER_SEEN,
        since=health.level_changed_at if health and health.last_reading_at else None,
        why=why,
        problems=list(health.problems) if health else [],
        flips=flips,
        open_alerts=list(
            Alert.objects.filter(device=device, resolved_at__isnull=True).order_by("-opened_at")
        ),
        is_in_maintenance=bool(maintenance.devices_in_maintenance([device.pk], now)),
        uptime_this_month=monthly_uptime(
            device_id=device.pk, year=local.year, month=local.month, now=now
        ),
    )


def recent_readings_frame(*, device_id: int, since: datetime) -> pd.DataFrame:
    """The device's readings since ``since`` as a DataFrame for `telemetry.charts`.

    Reads the primary key (device_id, ts) range, which on PostgreSQL touches only the
    partitions of those days.
    """
    rows = (
        TelemetryReading.objects.filter(device_id=device_id, ts__gte=since)
        .order_by("ts")
        .values_list("ts", "battery_pct", "storage_pct", "rsrp_dbm")
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["ts", "battery_pct", "storage_pct", "rsrp_dbm"]
    )
    for column in ("battery_pct", "storage_pct", "rsrp_dbm"):
        frame[column] = frame[column].astype("float64")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


@dataclass(frozen=True)
class HistoryRange:
    """A range the device page's history chart offers, with the bucket that draws it."""

    key: str
    span: timedelta
    bucket: str
    label: str


HISTORY_RANGES = {
    r.key: r
    for r in (
        HistoryRange("24h", timedelta(hours=24), "5m", "last 24 hours"),
        HistoryRange("7d", timedelta(days=7), "1h", "last 7 days"),
        HistoryRange("30d", timedelta(days=30), "1h", "last 30 days"),
    )
}
DEFAULT_HISTORY_RANGE = "7d"


def history_frame(*, device_id: int, span: timedelta, bucket: str, now: datetime) -> pd.DataFrame:
    """The device's bucketed means over ``span`` up to ``now``, as a DataFrame for the chart.

    The same database-side buckets as ``GET /api/devices/{id}/readings?bucket=``: a month of
    minute readings is 720 rows, not 43,200.
    """
    columns = ["battery_pct", "storage_pct", "rsrp_dbm"]
    series = readings.bucketed_series(
        TelemetryReading.objects.filter(device_id=device_id, ts__gte=now - span, ts__lt=now),
        seconds=readings.BUCKETS[bucket],
        fields=columns,
    )
    frame = pd.DataFrame.from_records(
        [
            {"ts": item["start"], **{c: item["measurements"][c]["mean"] for c in columns}}
            for item in series
        ],
        columns=["ts", *columns],
    )
    for column in columns:
        frame[column] = frame[column].astype("float64")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
