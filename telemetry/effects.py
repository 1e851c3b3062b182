"""What the ingest's messages change in health: a batch's flips, firmware rows and alerts,
and a gateway's state.

The ingest (`telemetry.ingest`) calls `apply_batch_effects()` inside the batch's
transaction and `gateway_state_changed()` for a gateway's state message.

Contract with the ingest (the latest-state upsert):

* The upsert writes the measurements, ``last_reading_at``, ``last_received_at``, ``gateway``
  and the deadlines from `telemetry.health.deadlines`, never ``problems``. For ``level``
  either way works: (a) leave the level of an existing row alone (a new row gets
  ``never_seen``), and `apply_batch_effects()` moves it; or (b) set it from the deadlines
  and set ``level_changed_at`` to the batch's ``now`` only when it changed (what
  `telemetry.ingest` does). In case (b) the old level is the one the device's last flip
  recorded, so rows whose ``level_changed_at >= now`` get one indexed look-up each; the
  others cost nothing extra.
* Then, in the same transaction, it calls ``apply_batch_effects(device_ids=..., now=...)``
  with the devices whose row the batch touched (duplicates allowed). That call is
  set-based: one read of those rows, writes only for the rows whose level or problems
  changed, so a batch of thousands of devices costs a few queries.
* ``gateway_state_changed(gateway_id=..., is_online=..., at=..., cause=...)`` is called after
  the ingest has updated ``GatewayStatus`` for a retained ``online`` or a Last Will
  ``offline`` message.

Each entry point decides first, from plain values (`plan_batch`, `plan_gateway_offline`,
`plan_gateway_back`), then writes what was decided.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from devices.models import Device, Gateway
from telemetry import alerts, maintenance
from telemetry.flips import (
    HEALTH_TABLE,
    Move,
    apply_move,
    aware,
    db_datetime,
    insert_rows,
    record_flips,
)
from telemetry.health import Thresholds, threshold_problems, thresholds_from_settings
from telemetry.levels import level_from_deadlines_sql, level_sql_params
from telemetry.models import (
    AlertCause,
    DeviceFirmware,
    DeviceHealth,
    FlipCause,
    HealthFlip,
    HealthLevel,
)

# When a gateway comes back, its devices get this long to report before the sweep may call
# them offline, so a gateway's return does not raise one alert per device (settings override).
DEFAULT_RECONNECT_GRACE_S = 300

# Bounded so the IN list stays far below every backend's parameter limit.
_READ_CHUNK = 5000

# ---------------------------------------------------------------------------------------
# A batch's effects: read the touched rows that may change, decide, write.


class BatchRow(NamedTuple):
    """A touched health row that may change, as `_batch_rows` reads it."""

    device_id: int
    level: str
    changed_now: bool  # the upsert set the level in this batch
    computed: str  # the level the deadlines give
    problems: list[str]
    battery_pct: float | None
    storage_pct: float | None
    rsrp_dbm: float | None
    firmware: str
    seen_firmware: str | None
    seen_since: datetime | None


def _batch_sql(id_filter: str, has_problems: str) -> str:
    computed = level_from_deadlines_sql(
        now="%s",
        late_after="h.late_after",
        offline_after="h.offline_after",
        last_reading_at="h.last_reading_at",
    )
    return (
        "SELECT device_id, level, changed_now, computed, problems, battery_pct, storage_pct, "
        "rsrp_dbm, firmware, seen_firmware, seen_since FROM ("
        f"SELECT h.device_id, h.level, h.level_changed_at >= %s AS changed_now, "
        f"{computed} AS computed, "
        f"{has_problems} AS has_problems, h.problems, h.battery_pct, h.storage_pct, h.rsrp_dbm, "
        "h.firmware, f.firmware AS seen_firmware, f.since AS seen_since "
        f"FROM {HEALTH_TABLE} h LEFT JOIN {DeviceFirmware._meta.db_table} f "
        f"ON f.device_id = h.device_id WHERE {id_filter}) b "
        "WHERE changed_now OR (computed = %s AND level <> %s) OR (level = %s AND computed <> %s) "
        "OR (firmware <> '' AND (seen_firmware IS NULL OR seen_firmware <> firmware)) "
        "OR (firmware <> '' AND seen_since <= %s) OR has_problems "
        "OR battery_pct < %s OR storage_pct > %s OR rsrp_dbm < %s"
    )


def _batch_rows(ids: list[int], now: datetime, thresholds: Thresholds) -> list[BatchRow]:
    """The touched rows that may change, with their level from the deadlines computed in SQL.

    The level comes from the rule's SQL (`telemetry.levels`); doing it in the database
    saves converting four timestamps per row. The outer WHERE keeps only rows for which
    `plan_batch` can do something: the upsert moved the level, the deadlines say online
    (or a first level) while the row says otherwise, the firmware changed or has grown old,
    a threshold is breached, or problems are recorded (they may clear). A batch of online,
    healthy devices with unchanged firmware reads no row at all.

    Raw SQL for the join: the ORM reaches the firmware row through the device table, and
    PostgreSQL then hashed all of ``devices_device`` for every batch (20 ms for 2,000 ids at
    100,000 devices). On PostgreSQL the ids go as one array (``= ANY``): an IN list of
    thousands of ids costs Django several microseconds per id to build.
    """
    postgres = connection.vendor == "postgresql"
    if postgres:
        # An array literal built by str.join: psycopg's list adapter costs ~2 µs an element.
        id_filter = "h.device_id = ANY(%s::bigint[])"
        id_params: list[object] = ["{" + ",".join(map(str, map(int, ids))) + "}"]
        has_problems = "h.problems <> '[]'::jsonb"
    else:
        id_filter, id_params = f"h.device_id IN ({', '.join(['%s'] * len(ids))})", list(ids)
        has_problems = "h.problems <> '[]'"
    at = db_datetime(now)
    # (now - since).days > max_age  <=>  since <= now - (max_age + 1) days
    firmware_old = db_datetime(now - timedelta(days=thresholds.firmware_max_age_days + 1))
    online, never = HealthLevel.ONLINE.value, HealthLevel.NEVER_SEEN.value
    params: list[Any] = [
        at, *level_sql_params(at), *id_params,
        online, online, never, never, firmware_old,
        thresholds.battery_min_pct, thresholds.storage_max_pct, thresholds.rsrp_min_dbm,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_batch_sql(id_filter, has_problems), params)
        rows = cursor.fetchall()
    # JSON comes as text (Django's connection leaves jsonb unparsed); on SQLite booleans
    # come as 0/1 and timestamps as naive UTC text.
    return [
        BatchRow._make((
            d, level, bool(changed), computed,
            json.loads(problems) if isinstance(problems, str) else problems or [],
            *measures, seen_firmware, seen_since if postgres else aware(seen_since),
        ))
        for d, level, changed, computed, problems, *measures, seen_firmware, seen_since in rows
    ]  # fmt: skip


@dataclass
class BatchPlan:
    """What a batch changes, decided from its rows (`plan_batch`)."""

    level_moves: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    upsert_moved: dict[int, str] = field(default_factory=dict)  # level the upsert set
    new_problems: dict[int, list[str]] = field(default_factory=dict)
    went_unhealthy: dict[int, str] = field(default_factory=dict)
    went_healthy: list[int] = field(default_factory=list)
    firmware_rows: list[tuple[int, str, datetime]] = field(default_factory=list)


def _plan_level(row: BatchRow, plan: BatchPlan) -> None:
    if row.changed_now:
        # The upsert itself set the level in this batch: the old level is the one the last
        # flip recorded (`plan_upsert_moves`, for these rows only).
        plan.upsert_moved[row.device_id] = row.level
        return
    # Fresh readings bring any device back online; a first reading decides the level of a
    # never-seen device. Going late or offline is the sweep's job.
    is_back = row.computed == HealthLevel.ONLINE and row.level != HealthLevel.ONLINE
    is_first = row.level == HealthLevel.NEVER_SEEN and row.computed != HealthLevel.NEVER_SEEN
    if is_back or is_first:
        plan.level_moves[(row.level, row.computed)].append(row.device_id)


def _plan_problems(row: BatchRow, plan: BatchPlan, now: datetime, thresholds: Thresholds) -> None:
    since = row.seen_since
    if row.firmware and row.firmware != row.seen_firmware:
        since = now
        plan.firmware_rows.append((row.device_id, row.firmware, since))
    found = threshold_problems(
        battery_pct=row.battery_pct,
        storage_pct=row.storage_pct,
        rsrp_dbm=row.rsrp_dbm,
        firmware=row.firmware,
        firmware_since=since,
        now=now,
        thresholds=thresholds,
    )
    if found == (row.problems or []):
        return
    plan.new_problems[row.device_id] = found
    if found and not row.problems:
        plan.went_unhealthy[row.device_id] = "; ".join(found)
    elif row.problems and not found:
        plan.went_healthy.append(row.device_id)


def plan_batch(rows: Iterable[BatchRow], *, now: datetime, thresholds: Thresholds) -> BatchPlan:
    """Level moves, firmware rows and problem changes for these rows at ``now``. Pure."""
    plan = BatchPlan()
    for row in rows:
        _plan_level(row, plan)
        _plan_problems(row, plan, now, thresholds)
    return plan


def plan_upsert_moves(plan: BatchPlan, recorded: dict[int, str]) -> None:
    """Add the moves the upsert made, from the level each device's last flip ``recorded``
    (never seen without a flip). Pure."""
    for device_id, level in plan.upsert_moved.items():
        old = recorded.get(device_id, HealthLevel.NEVER_SEEN)
        if old != level:
            plan.level_moves[(old, level)].append(device_id)


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


def _write_level_moves(plan: BatchPlan, now: datetime) -> None:
    back_online: list[int] = []
    went_offline: list[int] = []
    for (old, new), moved in plan.level_moves.items():
        moved_ids = [d for d in moved if d not in plan.upsert_moved]
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
        record_flips(
            [(d, None) for d in moved], old=old, new=new, cause=cause, now=now, detail=detail
        )
    alerts.resolve_device_alerts(
        device_ids=back_online,
        causes=[AlertCause.DEVICE_OFFLINE],
        now=now,
        resolution="back online",
    )
    alerts.open_device_alerts(
        details=dict.fromkeys(went_offline, "offline: newest reading already past its deadline"),
        cause=AlertCause.DEVICE_OFFLINE,
        now=now,
    )


def _write_firmware(rows: list[tuple[int, str, datetime]]) -> None:
    insert_rows(
        DeviceFirmware,
        ("device_id", "firmware", "since"),
        [(device_id, firmware, db_datetime(since)) for device_id, firmware, since in rows],
        suffix=" ON CONFLICT (device_id) DO UPDATE "
        "SET firmware = EXCLUDED.firmware, since = EXCLUDED.since",
    )


def _write_problems(plan: BatchPlan, now: datetime) -> None:
    if not plan.new_problems:
        return
    DeviceHealth.objects.bulk_update(
        [DeviceHealth(device_id=d, problems=p) for d, p in plan.new_problems.items()],
        ["problems"],
        batch_size=500,
    )
    _threshold_flips_and_alerts(
        went_unhealthy=plan.went_unhealthy, went_healthy=plan.went_healthy, now=now
    )


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
    rows = [
        row
        for start in range(0, len(ids), _READ_CHUNK)
        for row in _batch_rows(ids[start : start + _READ_CHUNK], now, thresholds)
    ]
    plan = plan_batch(rows, now=now, thresholds=thresholds)
    plan_upsert_moves(plan, _recorded_levels(list(plan.upsert_moved)))
    _write_level_moves(plan, now)
    _write_firmware(plan.firmware_rows)
    _write_problems(plan, now)


def _threshold_flips_and_alerts(
    *, went_unhealthy: dict[int, str], went_healthy: list[int], now: datetime
) -> None:
    changed = [*went_unhealthy, *went_healthy]
    if not changed:
        return
    level_of = dict(
        DeviceHealth.objects.filter(device_id__in=changed).values_list("device_id", "level")
    )
    details = [(d, text[:500]) for d, text in went_unhealthy.items()] + [
        (d, "every threshold met again") for d in went_healthy
    ]
    HealthFlip.objects.bulk_create(
        [
            HealthFlip(
                device_id=d,
                at=now,
                old_level=level_of[d],
                new_level=level_of[d],
                cause=FlipCause.THRESHOLD,
                detail=detail,
            )
            for d, detail in details
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


# ---------------------------------------------------------------------------------------
# A gateway's state: its devices become unreachable together, and come back together.


def reconnect_grace() -> timedelta:
    return timedelta(
        seconds=int(
            getattr(settings, "HEALTH_GATEWAY_RECONNECT_GRACE_S", DEFAULT_RECONNECT_GRACE_S)
        )
    )


def plan_gateway_offline(*, gateway_id: int, detail: str) -> list[Move]:
    """Devices of the gateway that were online or late become unreachable. Pure."""
    return [
        Move(
            old=old,
            new=HealthLevel.UNREACHABLE,
            cause=FlipCause.GATEWAY_LAST_WILL,
            where="gateway_id = %s",
            params=(gateway_id,),
            detail=detail,
        )
        for old in (HealthLevel.ONLINE, HealthLevel.LATE)
    ]


def plan_gateway_back(
    *, gateway_id: int, at: datetime, grace: timedelta, detail: str
) -> list[Move]:
    """Unreachable devices of the gateway go back: online when still inside their interval,
    else late, with the offline deadline pushed to at least ``at + grace``. Pure."""
    grace_end = db_datetime(at + grace)
    rule = level_from_deadlines_sql(
        now="%s", late_after="late_after", offline_after="offline_after"
    )
    return [
        Move(
            old=HealthLevel.UNREACHABLE,
            new=HealthLevel.ONLINE,
            cause=FlipCause.GATEWAY_BACK,
            where=f"gateway_id = %s AND {rule} = %s",
            params=(gateway_id, *level_sql_params(db_datetime(at)), HealthLevel.ONLINE.value),
            detail=detail,
        ),
        Move(
            old=HealthLevel.UNREACHABLE,
            new=HealthLevel.LATE,
            cause=FlipCause.GATEWAY_BACK,
            where="gateway_id = %s",
            params=(gateway_id,),
            detail=f"{detail}; waiting for a reading",
            extra_set=(
                ", offline_after = CASE WHEN offline_after > %s THEN offline_after ELSE %s END"
            ),
            extra_params=(grace_end, grace_end),
        ),
    ]


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
    with transaction.atomic():
        if not is_online:
            detail = f"gateway {gateway} offline ({cause})"
            for move in plan_gateway_offline(gateway_id=gateway_id, detail=detail):
                apply_move(move, now=at)
            if not maintenance.agency_in_maintenance(gateway.agency_id, at):
                alerts.open_gateway_alert(gateway=gateway, detail=detail, now=at)
            return
        moves = plan_gateway_back(
            gateway_id=gateway_id,
            at=at,
            grace=reconnect_grace(),
            detail=f"gateway {gateway} back online ({cause})",
        )
        for move in moves:
            apply_move(move, now=at)
        alerts.resolve_gateway_alert(
            gateway_id=gateway_id, now=at, resolution=f"gateway back online ({cause})"
        )
