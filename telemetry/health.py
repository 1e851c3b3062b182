"""Device health: deadlines, classification, and what a committed batch changes.

The ingest (`telemetry.ingest`) calls `deadlines()` for every device's newest reading and
`apply_batch_effects()` inside the batch's transaction; the sweep calls `mark_stale_devices()`.

Contract with the ingest (the latest-state upsert):

* The upsert writes the measurements, ``last_reading_at``, ``last_received_at``, ``gateway``
  and the deadlines from `deadlines()`, never ``problems``. For ``level`` either way works:
  (a) leave the level of an existing row alone (a new row gets ``never_seen``), and
  `apply_batch_effects()` moves it; or (b) set it from the deadlines and set
  ``level_changed_at`` to the batch's ``now`` only when it changed (what `telemetry.ingest`
  does). In case (b) the old level is the one the device's last flip recorded, so rows whose
  ``level_changed_at >= now`` get one indexed look-up each; the others cost nothing extra.
* Then, in the same transaction, it calls ``apply_batch_effects(device_ids=..., now=...)``
  with the devices whose row the batch touched (duplicates allowed). That call is
  set-based: one read of those rows, writes only for the rows whose level or problems
  changed, so a batch of thousands of devices costs a few queries.
* ``gateway_state_changed(gateway_id=..., is_online=..., at=..., cause=...)`` is called after
  the ingest has updated ``GatewayStatus`` for a retained ``online`` or a Last Will
  ``offline`` message.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils.dateparse import parse_datetime

from devices.models import Device, Gateway
from telemetry import alerts, maintenance
from telemetry.models import (
    AlertCause,
    DeviceFirmware,
    DeviceHealth,
    FlipCause,
    HealthFlip,
    HealthLevel,
)

if TYPE_CHECKING:
    import pandas as pd

# A device is late once its expected interval has passed without a reading, and offline
# once a grace period more has passed (Healthchecks' period + grace).
MIN_GRACE = timedelta(minutes=2)

# When a gateway comes back, its devices get this long to report before the sweep may call
# them offline, so a gateway's return does not raise one alert per device (settings override).
DEFAULT_RECONNECT_GRACE_S = 300


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


def level_from_deadlines(
    *,
    now: datetime,
    last_reading_at: datetime | None,
    late_after: datetime | None,
    offline_after: datetime | None,
) -> str:
    """online / late / offline from the deadlines alone; never_seen without a reading."""
    if last_reading_at is None:
        return HealthLevel.NEVER_SEEN
    if offline_after is not None and offline_after <= now:
        return HealthLevel.OFFLINE
    if late_after is not None and late_after <= now:
        return HealthLevel.LATE
    return HealthLevel.ONLINE


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


# ---------------------------------------------------------------------------------------
# Writes: the sweep, the ingest's batch effects, gateways' state.

_TABLE = DeviceHealth._meta.db_table


def _db_dt(value: datetime) -> object:
    # Raw SQL needs the backend's datetime form (SQLite stores naive UTC text).
    return connection.ops.adapt_datetimefield_value(value)


def _aware(value: object) -> datetime | None:
    # RETURNING gives aware datetimes on PostgreSQL and naive UTC (or text) on SQLite.
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _maintenance_subquery(now: datetime) -> tuple[str, list[object]] | None:
    """SQL selecting the ids of devices in an active window, or None when none is active."""
    q = maintenance.device_q(maintenance.active_windows(now))
    if q is None:
        return None
    sql, params = Device.objects.filter(q).values("pk").query.sql_with_params()
    return sql, list(params)


def _conditional_update(
    *,
    set_level: str,
    now: datetime,
    where: str,
    params: Sequence[object],
    extra_set: str = "",
    extra_params: Sequence[object] = (),
) -> list[tuple[int, datetime | None]]:
    """UPDATE the health rows matching ``where`` to ``set_level``; return (device, last reading).

    The WHERE always re-states the old level, so of two processes racing for a row exactly
    one updates it (PostgreSQL re-checks the WHERE after waiting for the row lock; SQLite
    serialises writers): the caller records flips only for the rows returned.
    """
    sql = (
        f"UPDATE {_TABLE} SET level = %s, level_changed_at = %s{extra_set} "
        f"WHERE {where} RETURNING device_id, last_reading_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [set_level, _db_dt(now), *extra_params, *params])
        return [(row[0], _aware(row[1])) for row in cursor.fetchall()]


def _silence_detail(last_reading_at: datetime | None) -> str:
    if last_reading_at is None:
        return "no reading yet"
    return f"no reading since {last_reading_at.astimezone(ZoneInfo(settings.TIME_ZONE)):%Y-%m-%d %H:%M:%S %Z}"


def _record_flips(
    rows: Iterable[tuple[int, datetime | None]],
    *,
    old: str,
    new: str,
    cause: str,
    now: datetime,
    detail: str | None = None,
) -> list[int]:
    at = _db_dt(now)
    values = [
        (device_id, at, old, new, cause, detail if detail is not None else _silence_detail(last))
        for device_id, last in rows
    ]
    _insert_rows(HealthFlip, ("device_id", "at", "old_level", "new_level", "cause", "detail"), values)
    return [v[0] for v in values]


# Above this many rows PostgreSQL gets a COPY instead of a pipelined executemany.
_COPY_FROM_ROWS = 200


def _insert_rows(model: type[Any], columns: Sequence[str], values: list[tuple[Any, ...]], *, suffix: str = "") -> None:
    """INSERT plain tuples (values already in the database's form); ``suffix`` is an
    ``ON CONFLICT`` clause.

    ``bulk_create`` spends about 25 µs a row building model instances and preparing each
    field, and psycopg's pipelined ``executemany`` still about as much; a first reading of
    10,000 devices (or their return after an outage) records 10,000 flips and firmware rows.
    So many rows go by COPY on PostgreSQL: straight into the table, or through a temporary
    table when an ON CONFLICT clause must apply.
    """
    if not values:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    cols = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(values) < _COPY_FROM_ROWS:
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))}){suffix}", values)
            return
        raw = cursor.cursor
        target = table
        if suffix:
            target = quote(f"insert_stage_{model._meta.db_table}")
            raw.execute(f"CREATE TEMP TABLE {target} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
        with raw.copy(f"COPY {target} ({cols}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        if suffix:
            raw.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {target}{suffix}")
            raw.execute(f"DROP TABLE {target}")


@dataclass
class SweepResult:
    late: int = 0
    offline: int = 0
    to_maintenance: int = 0
    from_maintenance: int = 0
    alerts_opened: int = 0


def mark_stale_devices(*, now: datetime) -> SweepResult:
    """Move silent devices to late / offline (or maintenance), record flips, open alerts.

    Each step is one conditional UPDATE ... RETURNING (one level's rows, read through the
    level index), never a read followed by a write, so two sweepers running at once flip
    (and alert) each device once.
    Idempotent: a second call at the same ``now`` changes nothing. One transaction.
    """
    result = SweepResult()
    t = _db_dt(now)
    with transaction.atomic():
        maint = _maintenance_subquery(now)
        not_in_maint, not_in_params = (
            ("", []) if maint is None else (f" AND device_id NOT IN ({maint[0]})", maint[1])
        )

        # 1. Windows that ended: back to the level the deadlines give.
        if maint is None:
            leave_where, leave_params = "level = %s", [HealthLevel.MAINTENANCE]
        else:
            leave_where, leave_params = (
                "level = %s" + not_in_maint,
                [HealthLevel.MAINTENANCE, *not_in_params],
            )
        went_offline_rows: list[tuple[int, datetime | None]] = []
        for target, band, band_params in (
            (HealthLevel.OFFLINE, "offline_after <= %s", [t]),
            (HealthLevel.LATE, "late_after <= %s AND offline_after > %s", [t, t]),
            (HealthLevel.ONLINE, "late_after > %s", [t]),
        ):
            rows = _conditional_update(
                set_level=target,
                now=now,
                where=f"{leave_where} AND {band}",
                params=[*leave_params, *band_params],
            )
            _record_flips(
                rows,
                old=HealthLevel.MAINTENANCE,
                new=target,
                cause=FlipCause.MAINTENANCE,
                now=now,
                detail="maintenance window ended",
            )
            result.from_maintenance += len(rows)
            if target == HealthLevel.OFFLINE:
                went_offline_rows += rows

        # 2. Silent devices inside a window: maintenance, and their silence alerts resolved.
        if maint is not None:
            in_maint = f" AND device_id IN ({maint[0]})"
            entered: list[int] = []
            for old, cond, cond_params in (
                (HealthLevel.ONLINE, "late_after <= %s", [t]),
                (HealthLevel.LATE, "1 = 1", []),
                (HealthLevel.OFFLINE, "1 = 1", []),
            ):
                rows = _conditional_update(
                    set_level=HealthLevel.MAINTENANCE,
                    now=now,
                    where=f"level = %s AND {cond}{in_maint}",
                    params=[old, *cond_params, *maint[1]],
                )
                entered += _record_flips(
                    rows,
                    old=old,
                    new=HealthLevel.MAINTENANCE,
                    cause=FlipCause.MAINTENANCE,
                    now=now,
                    detail="silent inside a maintenance window",
                )
            alerts.resolve_device_alerts(
                device_ids=entered,
                causes=[AlertCause.DEVICE_OFFLINE],
                now=now,
                resolution="a maintenance window began",
            )
            result.to_maintenance = len(entered)

        # 3. Past the grace: offline (from online or late), then 4. past the interval: late.
        for old in (HealthLevel.ONLINE, HealthLevel.LATE):
            rows = _conditional_update(
                set_level=HealthLevel.OFFLINE,
                now=now,
                where=f"level = %s AND offline_after <= %s{not_in_maint}",
                params=[old, t, *not_in_params],
            )
            _record_flips(rows, old=old, new=HealthLevel.OFFLINE, cause=FlipCause.SILENCE, now=now)
            went_offline_rows += rows
        rows = _conditional_update(
            set_level=HealthLevel.LATE,
            now=now,
            where=f"level = %s AND late_after <= %s{not_in_maint}",
            params=[HealthLevel.ONLINE, t, *not_in_params],
        )
        _record_flips(
            rows, old=HealthLevel.ONLINE, new=HealthLevel.LATE, cause=FlipCause.SILENCE, now=now
        )
        result.late = len(rows)

        result.offline = len(went_offline_rows)
        opened = alerts.open_device_alerts(
            details={d: f"offline: {_silence_detail(last)}" for d, last in went_offline_rows},
            cause=AlertCause.DEVICE_OFFLINE,
            now=now,
        )
        result.alerts_opened = len(opened)
    return result


def _batch_rows(ids: list[int], now: datetime, thresholds: Thresholds) -> list[tuple[Any, ...]]:
    """The touched rows that may change, with their level from the deadlines computed in SQL.

    Each row: (device id, level, level changed by this batch's upsert, level from the
    deadlines, problems, battery, storage, signal, firmware, firmware seen, seen since).

    The CASE mirrors `level_from_deadlines`; doing it in the database saves converting four
    timestamps per row. The outer WHERE keeps only rows for which the loop in
    `apply_batch_effects` can do something: the upsert moved the level, the deadlines say
    online (or a first level) while the row says otherwise, the firmware changed or has
    grown old, a threshold is breached, or problems are recorded (they may clear). A batch
    of online, healthy devices with unchanged firmware reads no row at all.

    Raw SQL for the join: the ORM reaches the firmware row through the device table, and
    PostgreSQL then hashed all of ``devices_device`` for every batch (20 ms for 2,000 ids at
    100,000 devices). On PostgreSQL the ids go as one array (``= ANY``): an IN list of
    thousands of ids costs Django several microseconds per id to build.
    """
    postgres = connection.vendor == "postgresql"
    if postgres:
        # An array literal built by str.join: psycopg's list adapter costs ~2 µs an element.
        id_filter, id_params = "h.device_id = ANY(%s::bigint[])", ["{" + ",".join(map(str, map(int, ids))) + "}"]
        has_problems = "h.problems <> '[]'::jsonb"
    else:
        id_filter, id_params = f"h.device_id IN ({', '.join(['%s'] * len(ids))})", list(ids)
        has_problems = "h.problems <> '[]'"
    at = _db_dt(now)
    # (now - since).days > max_age  <=>  since <= now - (max_age + 1) days
    firmware_old = _db_dt(now - timedelta(days=thresholds.firmware_max_age_days + 1))
    sql = (
        "SELECT device_id, level, changed_now, computed, problems, battery_pct, storage_pct, rsrp_dbm, "
        "firmware, seen_firmware, seen_since FROM ("
        "SELECT h.device_id, h.level, h.level_changed_at >= %s AS changed_now, "
        "CASE WHEN h.last_reading_at IS NULL THEN %s WHEN h.offline_after <= %s THEN %s "
        "WHEN h.late_after <= %s THEN %s ELSE %s END AS computed, "
        f"{has_problems} AS has_problems, h.problems, h.battery_pct, h.storage_pct, h.rsrp_dbm, "
        "h.firmware, f.firmware AS seen_firmware, f.since AS seen_since "
        f"FROM {_TABLE} h LEFT JOIN {DeviceFirmware._meta.db_table} f ON f.device_id = h.device_id "
        f"WHERE {id_filter}) b "
        "WHERE changed_now OR (computed = %s AND level <> %s) OR (level = %s AND computed <> %s) "
        "OR (firmware <> '' AND (seen_firmware IS NULL OR seen_firmware <> firmware)) "
        "OR (firmware <> '' AND seen_since <= %s) OR has_problems "
        "OR battery_pct < %s OR storage_pct > %s OR rsrp_dbm < %s"
    )
    online, never = HealthLevel.ONLINE.value, HealthLevel.NEVER_SEEN.value
    params = [
        at, never, at, HealthLevel.OFFLINE.value, at, HealthLevel.LATE.value, online, *id_params,
        online, online, never, never, firmware_old,
        thresholds.battery_min_pct, thresholds.storage_max_pct, thresholds.rsrp_min_dbm,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # JSON comes as text (Django's connection leaves jsonb unparsed); on SQLite booleans
    # come as 0/1 and timestamps as naive UTC text.
    return [
        (d, level, bool(changed), computed, json.loads(problems) if isinstance(problems, str) else problems or [],
         *measures, seen_firmware, seen_since if postgres else _aware(seen_since))
        for d, level, changed, computed, problems, *measures, seen_firmware, seen_since in rows
    ]


# Bounded so the IN list stays far below every backend's parameter limit.
_READ_CHUNK = 5000


def apply_batch_effects(*, device_ids: list[int], now: datetime) -> None:
    """Flips, threshold problems and alerts for devices a batch just touched.

    Called by the ingest inside the batch's transaction, after the latest-state upsert (see
    the module docstring for the contract). Set-based: one read of the touched rows (a join
    to the firmware table), then writes only for what changed: level updates grouped by old
    level, one bulk update of problems, bulk inserts of flips and alerts. A batch in which
    every device was already online and healthy costs that one read. Idempotent.
    """
    ids = list(dict.fromkeys(device_ids))
    if not ids:
        return
    thresholds = thresholds_from_settings()
    level_moves: dict[tuple[str, str], list[int]] = defaultdict(list)
    new_problems: dict[int, list[str]] = {}
    went_unhealthy: dict[int, str] = {}
    went_healthy: list[int] = []
    firmware_rows: list[tuple[int, str, object]] = []
    upsert_moved: dict[int, str] = {}

    for start in range(0, len(ids), _READ_CHUNK):
        rows = _batch_rows(ids[start : start + _READ_CHUNK], now, thresholds)
        for (
            device_id,
            level,
            changed_now,
            computed,
            problems,
            battery,
            storage,
            rsrp,
            firmware,
            seen_firmware,
            seen_since,
        ) in rows:
            if changed_now:
                # The upsert itself set the level in this batch: the old level is the one
                # the last flip recorded (looked up below, for these rows only).
                upsert_moved[device_id] = level
            else:
                # Fresh readings bring any device back online; a first reading decides the
                # level of a never-seen device. Going late or offline is the sweep's job.
                is_back = computed == HealthLevel.ONLINE and level != HealthLevel.ONLINE
                is_first = level == HealthLevel.NEVER_SEEN and computed != HealthLevel.NEVER_SEEN
                if is_back or is_first:
                    level_moves[(level, computed)].append(device_id)

            since = seen_since
            if firmware and firmware != seen_firmware:
                since = now
                firmware_rows.append((device_id, firmware, _db_dt(since)))
            found = threshold_problems(
                battery_pct=battery,
                storage_pct=storage,
                rsrp_dbm=rsrp,
                firmware=firmware,
                firmware_since=since,
                now=now,
                thresholds=thresholds,
            )
            if found != (problems or []):
                new_problems[device_id] = found
                if found and not problems:
                    went_unhealthy[device_id] = "; ".join(found)
                elif problems and not found:
                    went_healthy.append(device_id)

    recorded = _recorded_levels(list(upsert_moved))
    for device_id, level in upsert_moved.items():
        old = recorded.get(device_id, HealthLevel.NEVER_SEEN)
        if old != level:
            level_moves[(old, level)].append(device_id)

    back_online: list[int] = []
    went_offline: list[int] = []
    for (old, new), moved in level_moves.items():
        moved_ids = [d for d in moved if d not in upsert_moved]
        if moved_ids:
            # Conditional on the old level: a sweep that got there first is not overwritten.
            DeviceHealth.objects.filter(device_id__in=moved_ids, level=old).update(
                level=new, level_changed_at=now
            )
        if new == HealthLevel.ONLINE:
            cause, detail = FlipCause.BACK_ONLINE, "reading received"
            back_online += moved
        else:
            # Only a first reading already past its deadlines lands here (or, with an upsert
            # that sets the level, a reading that is not fresh).
            cause, detail = FlipCause.SILENCE, "newest reading already past its deadline"
            if new == HealthLevel.OFFLINE:
                went_offline += moved
        _record_flips(
            [(d, None) for d in moved], old=old, new=new, cause=cause, now=now, detail=detail
        )
    if back_online:
        alerts.resolve_device_alerts(
            device_ids=back_online,
            causes=[AlertCause.DEVICE_OFFLINE],
            now=now,
            resolution="back online",
        )
    if went_offline:
        alerts.open_device_alerts(
            details=dict.fromkeys(
                went_offline, "offline: newest reading already past its deadline"
            ),
            cause=AlertCause.DEVICE_OFFLINE,
            now=now,
        )

    if firmware_rows:
        _insert_rows(
            DeviceFirmware, ("device_id", "firmware", "since"), firmware_rows,
            suffix=" ON CONFLICT (device_id) DO UPDATE SET firmware = EXCLUDED.firmware, since = EXCLUDED.since",
        )
    if new_problems:
        DeviceHealth.objects.bulk_update(
            [DeviceHealth(device_id=d, problems=p) for d, p in new_problems.items()],
            ["problems"],
            batch_size=500,
        )
        _threshold_flips_and_alerts(
            went_unhealthy=went_unhealthy, went_healthy=went_healthy, now=now
        )


def _recorded_levels(device_ids: list[int]) -> dict[int, str]:
    """The level each device's last flip recorded (one query, an index probe per device)."""
    if not device_ids:
        return {}
    last = (
        HealthFlip.objects.filter(device_id=OuterRef("pk"))
        .order_by("-at", "-id")
        .values("new_level")[:1]
    )
    found: dict[int, str] = {}
    for start in range(0, len(device_ids), _READ_CHUNK):
        rows = (
            Device.objects.filter(pk__in=device_ids[start : start + _READ_CHUNK])
            .annotate(recorded=Subquery(last))
            .values_list("pk", "recorded")
        )
        found.update({pk: level for pk, level in rows if level is not None})
    return found


def _threshold_flips_and_alerts(
    *, went_unhealthy: dict[int, str], went_healthy: list[int], now: datetime
) -> None:
    changed = [*went_unhealthy, *went_healthy]
    if not changed:
        return
    level_of = dict(
        DeviceHealth.objects.filter(device_id__in=changed).values_list("device_id", "level")
    )
    HealthFlip.objects.bulk_create(
        [
            HealthFlip(
                device_id=d,
                at=now,
                old_level=level_of[d],
                new_level=level_of[d],
                cause=FlipCause.THRESHOLD,
                detail=text[:500],
            )
            for d, text in went_unhealthy.items()
        ]
        + [
            HealthFlip(
                device_id=d,
                at=now,
                old_level=level_of[d],
                new_level=level_of[d],
                cause=FlipCause.THRESHOLD,
                detail="every threshold met again",
            )
            for d in went_healthy
        ],
        batch_size=1000,
    )
    # Expected trouble inside a maintenance window (a camera draining on its dock) is not alerted.
    quiet = maintenance.devices_in_maintenance(went_unhealthy, now)
    alerts.open_device_alerts(
        details={d: text for d, text in went_unhealthy.items() if d not in quiet},
        cause=AlertCause.DEVICE_UNHEALTHY,
        now=now,
    )
    alerts.resolve_device_alerts(
        device_ids=went_healthy,
        causes=[AlertCause.DEVICE_UNHEALTHY],
        now=now,
        resolution="every threshold met again",
    )


def reconnect_grace() -> timedelta:
    return timedelta(
        seconds=int(
            getattr(settings, "HEALTH_GATEWAY_RECONNECT_GRACE_S", DEFAULT_RECONNECT_GRACE_S)
        )
    )


def gateway_state_changed(*, gateway_id: int, is_online: bool, at: datetime, cause: str) -> None:
    """A gateway went offline (Last Will) or came back (retained ``online``).

    Offline: its devices that were online or late become unreachable (one flip each, cause
    gateway Last Will) and ONE alert opens for the gateway, not one per device. Online: they
    return to the level their deadlines give, the alert resolves; a device whose deadline
    passed while the gateway was away is late (not offline) for a reconnect grace, so it can
    report before the sweep judges it. Idempotent: a repeated message changes nothing.
    Called by the ingest after it has updated `GatewayStatus`; runs in one transaction.
    """
    gateway = Gateway.objects.select_related("agency").get(pk=gateway_id)
    t = _db_dt(at)
    with transaction.atomic():
        if not is_online:
            for old in (HealthLevel.ONLINE, HealthLevel.LATE):
                rows = _conditional_update(
                    set_level=HealthLevel.UNREACHABLE,
                    now=at,
                    where="gateway_id = %s AND level = %s",
                    params=[gateway_id, old],
                )
                _record_flips(
                    rows,
                    old=old,
                    new=HealthLevel.UNREACHABLE,
                    cause=FlipCause.GATEWAY_LAST_WILL,
                    now=at,
                    detail=f"gateway {gateway} offline ({cause})",
                )
            if not maintenance.agency_in_maintenance(gateway.agency_id, at):
                alerts.open_gateway_alert(
                    gateway=gateway, detail=f"gateway {gateway} offline ({cause})", now=at
                )
            return

        rows = _conditional_update(
            set_level=HealthLevel.ONLINE,
            now=at,
            where="gateway_id = %s AND level = %s AND late_after > %s",
            params=[gateway_id, HealthLevel.UNREACHABLE, t],
        )
        _record_flips(
            rows,
            old=HealthLevel.UNREACHABLE,
            new=HealthLevel.ONLINE,
            cause=FlipCause.GATEWAY_BACK,
            now=at,
            detail=f"gateway {gateway} back online ({cause})",
        )
        grace_end = _db_dt(at + reconnect_grace())
        rows = _conditional_update(
            set_level=HealthLevel.LATE,
            now=at,
            where="gateway_id = %s AND level = %s",
            params=[gateway_id, HealthLevel.UNREACHABLE],
            extra_set=", offline_after = CASE WHEN offline_after > %s THEN offline_after ELSE %s END",
            extra_params=[grace_end, grace_end],
        )
        _record_flips(
            rows,
            old=HealthLevel.UNREACHABLE,
            new=HealthLevel.LATE,
            cause=FlipCause.GATEWAY_BACK,
            now=at,
            detail=f"gateway {gateway} back online ({cause}); waiting for a reading",
        )
        alerts.resolve_gateway_alert(
            gateway_id=gateway_id, now=at, resolution=f"gateway back online ({cause})"
        )


# ---------------------------------------------------------------------------------------
# Reads for the device health panel and the API.


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
    from telemetry.models import Alert

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
    import pandas as pd  # only the pages need it; the ingest imports this module too

    from telemetry.models import TelemetryReading

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
