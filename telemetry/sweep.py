"""The stale sweep: silent devices go late, then offline (or into maintenance), with alerts.

Beat runs `mark_stale_devices()` every 30 s (`telemetry.tasks`). `plan_sweep()` decides the
moves from plain values (the level rule's SQL from `telemetry.levels`, ``now`` and the
maintenance filter); each move is then one conditional UPDATE ... RETURNING
(`telemetry.flips.apply_move`) over one level's rows, read through the level index, never
a read followed by a write, so two sweepers running at once flip (and alert) each device
once (Healthchecks' ``handle_going_down`` pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from devices.models import Device
from telemetry import alerts, maintenance
from telemetry.flips import Move, apply_move, db_datetime, silence_detail
from telemetry.levels import level_from_deadlines_sql, level_sql_params
from telemetry.models import AlertCause, FlipCause, HealthLevel

# The level the deadlines give a row, as SQL over its own columns (`telemetry.levels`).
_RULE = level_from_deadlines_sql(
    now="%s",
    late_after="late_after",
    offline_after="offline_after",
    last_reading_at="last_reading_at",
)


@dataclass
class SweepResult:
    late: int = 0
    offline: int = 0
    to_maintenance: int = 0
    from_maintenance: int = 0
    alerts_opened: int = 0


def _maintenance_subquery(now: datetime) -> tuple[str, list[object]] | None:
    """SQL selecting the ids of devices in an active window, or None when none is active."""
    q = maintenance.device_q(maintenance.active_windows(now))
    if q is None:
        return None
    sql, params = Device.objects.filter(q).values("pk").query.sql_with_params()
    return sql, list(params)


def _rule_is(level: str, at: object, *, negate: bool = False) -> tuple[str, tuple[object, ...]]:
    return f"{_RULE} {'<>' if negate else '='} %s", (*level_sql_params(at), level)


def _leaving_maintenance(at: object, not_in: tuple[str, tuple[object, ...]]) -> list[Move]:
    # 1. Windows that ended: back to the level the deadlines give.
    moves = []
    for target in (HealthLevel.OFFLINE, HealthLevel.LATE, HealthLevel.ONLINE):
        rule, rule_params = _rule_is(target, at)
        moves.append(
            Move(
                old=HealthLevel.MAINTENANCE,
                new=target,
                cause=FlipCause.MAINTENANCE,
                where=rule + not_in[0],
                params=(*rule_params, *not_in[1]),
                detail="maintenance window ended",
            )
        )
    return moves


def _entering_maintenance(at: object, maint: tuple[str, list[object]]) -> list[Move]:
    # 2. Silent devices inside a window: maintenance (an online one once it is past its
    # late deadline, a late or offline one at once).
    in_maint = f"device_id IN ({maint[0]})"
    silent, silent_params = _rule_is(HealthLevel.ONLINE, at, negate=True)
    return [
        Move(
            old=old,
            new=HealthLevel.MAINTENANCE,
            cause=FlipCause.MAINTENANCE,
            where=f"{silent} AND {in_maint}" if old == HealthLevel.ONLINE else in_maint,
            params=(*(silent_params if old == HealthLevel.ONLINE else ()), *maint[1]),
            detail="silent inside a maintenance window",
        )
        for old in (HealthLevel.ONLINE, HealthLevel.LATE, HealthLevel.OFFLINE)
    ]


def _going_silent(at: object, not_in: tuple[str, tuple[object, ...]]) -> list[Move]:
    # 3. Past the grace: offline (from online or late), then 4. past the interval: late.
    offline, offline_params = _rule_is(HealthLevel.OFFLINE, at)
    late, late_params = _rule_is(HealthLevel.LATE, at)
    return [
        Move(
            old=old,
            new=HealthLevel.OFFLINE,
            cause=FlipCause.SILENCE,
            where=offline + not_in[0],
            params=(*offline_params, *not_in[1]),
        )
        for old in (HealthLevel.ONLINE, HealthLevel.LATE)
    ] + [
        Move(
            old=HealthLevel.ONLINE,
            new=HealthLevel.LATE,
            cause=FlipCause.SILENCE,
            where=late + not_in[0],
            params=(*late_params, *not_in[1]),
        )
    ]


def plan_sweep(*, now: datetime, maint: tuple[str, list[object]] | None) -> list[Move]:
    """The sweep's moves at ``now``, in the order they must run. Pure.

    ``maint`` is SQL (and its parameters) selecting the device ids inside an active
    maintenance window, None when no window is active.
    """
    at = db_datetime(now)
    not_in: tuple[str, tuple[object, ...]] = (
        ("", ()) if maint is None else (f" AND device_id NOT IN ({maint[0]})", tuple(maint[1]))
    )
    entering = [] if maint is None else _entering_maintenance(at, maint)
    return [*_leaving_maintenance(at, not_in), *entering, *_going_silent(at, not_in)]


def mark_stale_devices(*, now: datetime) -> SweepResult:
    """Move silent devices to late / offline (or maintenance), record flips, open alerts.

    Each move is one conditional UPDATE ... RETURNING (`plan_sweep`), so two sweepers
    running at once flip (and alert) each device once. Devices that entered maintenance
    have their silence alerts resolved; devices that went offline get one alert each.
    Idempotent: a second call at the same ``now`` changes nothing. One transaction.
    """
    result = SweepResult()
    with transaction.atomic():
        moves = plan_sweep(now=now, maint=_maintenance_subquery(now))
        entered: list[int] = []
        went_offline: list[tuple[int, datetime | None]] = []
        for move in moves:
            rows = apply_move(move, now=now)
            if move.old == HealthLevel.MAINTENANCE:
                result.from_maintenance += len(rows)
            if move.new == HealthLevel.MAINTENANCE:
                entered += [device_id for device_id, _ in rows]
            elif move.new == HealthLevel.OFFLINE:
                went_offline += rows
            elif move.new == HealthLevel.LATE and move.old == HealthLevel.ONLINE:
                result.late += len(rows)
        alerts.resolve_device_alerts(
            device_ids=entered,
            causes=[AlertCause.DEVICE_OFFLINE],
            now=now,
            resolution="a maintenance window began",
        )
        result.to_maintenance = len(entered)
        result.offline = len(went_offline)
        opened = alerts.open_device_alerts(
            details={d: f"offline: {silence_detail(last)}" for d, last in went_offline},
            cause=AlertCause.DEVICE_OFFLINE,
            now=now,
        )
        result.alerts_opened = len(opened)
    return result
