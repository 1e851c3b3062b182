"""The health model: deadlines, thresholds, classification and uptime, from plain values.

Pure: values and ``now`` in, levels, problems and fractions out; nothing here reads or
writes the database. The online/late/offline rule itself is `telemetry.levels`; what a
batch or a gateway changes is `telemetry.effects`, the stale sweep `telemetry.sweep`, and
the reads for the pages `telemetry.selectors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from telemetry.levels import level_from_deadlines
from telemetry.models import HealthLevel

# A device is late once its expected interval has passed without a reading, and offline
# once a grace period more has passed (Healthchecks' period + grace).
MIN_GRACE = timedelta(minutes=2)


def grace_for(interval_s: int) -> timedelta:
    return max(timedelta(seconds=2 * interval_s), MIN_GRACE)


def deadlines(reading_at: datetime, interval_s: int) -> tuple[datetime, datetime]:
    """(late_after, offline_after) for a device whose newest reading is at ``reading_at``."""
    late_after = reading_at + timedelta(seconds=interval_s)
    return late_after, late_after + grace_for(interval_s)


# ---------------------------------------------------------------------------------------
# Pure classification: plain values and ``now`` in, level and readable problems out.


@dataclass(frozen=True)
class Thresholds:
    """Limits a healthy device stays within. Defaults are conservative field values."""

    battery_min_pct: float = 15.0
    storage_max_pct: float = 90.0  # storage_pct is the share of storage used
    rsrp_min_dbm: float = -110.0  # below about -110 dBm LTE service becomes unreliable
    firmware_max_age_days: int = 365  # days the reported firmware has stayed unchanged


def thresholds_from_settings() -> Thresholds:
    """Thresholds from the ``HEALTH_*`` settings, each falling back to its default."""
    d = Thresholds()
    return Thresholds(
        battery_min_pct=float(getattr(settings, "HEALTH_BATTERY_MIN_PCT", d.battery_min_pct)),
        storage_max_pct=float(getattr(settings, "HEALTH_STORAGE_MAX_PCT", d.storage_max_pct)),
        rsrp_min_dbm=float(getattr(settings, "HEALTH_RSRP_MIN_DBM", d.rsrp_min_dbm)),
        firmware_max_age_days=int(
            getattr(settings, "HEALTH_FIRMWARE_MAX_AGE_DAYS", d.firmware_max_age_days)
        ),
    )


def _num(value: float) -> str:
    # 8.0 reads "8", 7.5 reads "7.5".
    return f"{value:g}"


def threshold_problems(
    *,
    battery_pct: float | None,
    storage_pct: float | None,
    rsrp_dbm: float | None,
    firmware: str,
    firmware_since: datetime | None,
    now: datetime,
    thresholds: Thresholds,
) -> list[str]:
    """Each breached threshold as a sentence a person can read; empty when healthy."""
    problems: list[str] = []
    if battery_pct is not None and battery_pct < thresholds.battery_min_pct:
        problems.append(
            f"battery {_num(battery_pct)}% is below {_num(thresholds.battery_min_pct)}%"
        )
    if storage_pct is not None and storage_pct > thresholds.storage_max_pct:
        problems.append(
            f"storage {_num(storage_pct)}% full is above {_num(thresholds.storage_max_pct)}%"
        )
    if rsrp_dbm is not None and rsrp_dbm < thresholds.rsrp_min_dbm:
        problems.append(f"signal {_num(rsrp_dbm)} dBm is below {_num(thresholds.rsrp_min_dbm)} dBm")
    if firmware and firmware_since is not None:
        age_days = (now - firmware_since).days
        if age_days > thresholds.firmware_max_age_days:
            problems.append(
                f"firmware {firmware} unchanged for {age_days} days "
                f"(more than {thresholds.firmware_max_age_days})"
            )
    return problems


@dataclass(frozen=True)
class HealthState:
    level: str
    problems: list[str]


def classify_health(
    *,
    now: datetime,
    last_reading_at: datetime | None,
    late_after: datetime | None,
    offline_after: datetime | None,
    is_gateway_online: bool | None = None,
    is_in_maintenance: bool = False,
    battery_pct: float | None = None,
    storage_pct: float | None = None,
    rsrp_dbm: float | None = None,
    firmware: str = "",
    firmware_since: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> HealthState:
    """The level and problems of one device from plain values.

    Precedence: a device with fresh readings is online whatever else is true; a silent device
    in a maintenance window is "maintenance"; a device that was still reporting (online or
    late) when its gateway went offline is "unreachable"; otherwise the deadlines decide.
    ``is_gateway_online`` None means unknown (treated as online).
    """
    level = level_from_deadlines(
        now=now, last_reading_at=last_reading_at, late_after=late_after, offline_after=offline_after
    )
    if level in (HealthLevel.LATE, HealthLevel.OFFLINE) and is_in_maintenance:
        level = HealthLevel.MAINTENANCE
    elif level in (HealthLevel.ONLINE, HealthLevel.LATE) and is_gateway_online is False:
        level = HealthLevel.UNREACHABLE
    problems = threshold_problems(
        battery_pct=battery_pct,
        storage_pct=storage_pct,
        rsrp_dbm=rsrp_dbm,
        firmware=firmware,
        firmware_since=firmware_since,
        now=now,
        thresholds=thresholds or Thresholds(),
    )
    return HealthState(level=level, problems=problems)


# Uptime: online and late count as up (late is still inside the grace), offline and
# unreachable as down; time never seen or in maintenance is left out of the month.
UP_LEVELS = frozenset({HealthLevel.ONLINE, HealthLevel.LATE})
DOWN_LEVELS = frozenset({HealthLevel.OFFLINE, HealthLevel.UNREACHABLE})


def uptime_fraction(
    *, initial_level: str, changes: Sequence[tuple[datetime, str]], start: datetime, end: datetime
) -> float | None:
    """Share of the counted time in [start, end) spent up; None when nothing was counted.

    ``changes`` are (at, new_level) level changes; ``initial_level`` is the level at ``start``.
    """
    up = down = 0.0
    level, cursor = initial_level, start
    for at, new_level in sorted(changes):
        if at <= start:
            level = new_level
            continue
        if at >= end:
            break
        span = (at - cursor).total_seconds()
        if level in UP_LEVELS:
            up += span
        elif level in DOWN_LEVELS:
            down += span
        level, cursor = new_level, at
    if end > cursor:
        span = (end - cursor).total_seconds()
        if level in UP_LEVELS:
            up += span
        elif level in DOWN_LEVELS:
            down += span
    total = up + down
    return None if total == 0 else up / total


def month_bounds(year: int, month: int, time_zone: str) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next, in ``time_zone`` (a person's month)."""
    tz = ZoneInfo(time_zone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end
