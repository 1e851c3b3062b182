"""Level changes and their record: conditional moves of health rows, and the flip rows.

The sweep (`telemetry.sweep`) and a gateway's state change (`telemetry.effects`) decide
their changes as `Move` values and apply each with `apply_move()`: one conditional UPDATE
... RETURNING that re-states the old level, then one flip per row it returned. The batch
effects record their flips with `record_flips()` directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils.dateparse import parse_datetime

from config.bulk import copy_rows, copy_types
from telemetry.models import DeviceHealth, HealthFlip

HEALTH_TABLE = DeviceHealth._meta.db_table


def db_datetime(value: datetime) -> object:
    # Raw SQL needs the backend's datetime form (SQLite stores naive UTC text).
    return connection.ops.adapt_datetimefield_value(value)


def aware(value: object) -> datetime | None:
    # RETURNING gives aware datetimes on PostgreSQL and naive UTC (or text) on SQLite.
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Move:
    """Health rows at level ``old`` that match ``where`` go to ``new``, with a flip each.

    ``where`` and ``params`` are SQL added to ``level = old`` (datetimes in the database's
    form, `db_datetime`); ``extra_set`` more assignments for the same UPDATE. ``detail``
    None records the silence since each row's last reading.
    """

    old: str
    new: str
    cause: str
    where: str = ""
    params: tuple[object, ...] = ()
    detail: str | None = None
    extra_set: str = ""
    extra_params: tuple[object, ...] = ()


def apply_move(move: Move, *, now: datetime) -> list[tuple[int, datetime | None]]:
    """Apply one `Move` at ``now``; return (device id, last reading) of the rows it moved.

    The WHERE always re-states the old level, so of two processes racing for a row exactly
    one updates it (PostgreSQL re-checks the WHERE after waiting for the row lock; SQLite
    serialises writers): flips are recorded only for the rows returned. Runs in the
    caller's transaction.
    """
    where = "level = %s" + (f" AND {move.where}" if move.where else "")
    sql = (
        f"UPDATE {HEALTH_TABLE} SET level = %s, level_changed_at = %s{move.extra_set} "
        f"WHERE {where} RETURNING device_id, last_reading_at"
    )
    params: list[Any] = [move.new, db_datetime(now), *move.extra_params, move.old, *move.params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [(row[0], aware(row[1])) for row in cursor.fetchall()]
    record_flips(rows, old=move.old, new=move.new, cause=move.cause, now=now, detail=move.detail)
    return rows


def silence_detail(last_reading_at: datetime | None) -> str:
    if last_reading_at is None:
        return "no reading yet"
    local = last_reading_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    return f"no reading since {local:%Y-%m-%d %H:%M:%S %Z}"


_FLIP_COLUMNS = ("device_id", "at", "old_level", "new_level", "cause", "detail")


def record_flips(
    rows: Iterable[tuple[int, datetime | None]],
    *,
    old: str,
    new: str,
    cause: str,
    now: datetime,
    detail: str | None = None,
) -> list[int]:
    """Insert one flip per (device id, last reading) row; return the device ids.

    ``detail`` None records the silence since each row's last reading. Runs in the
    caller's transaction.
    """
    at = db_datetime(now)
    values = [
        (device_id, at, old, new, cause, detail if detail is not None else silence_detail(last))
        for device_id, last in rows
    ]
    insert_rows(HealthFlip, _FLIP_COLUMNS, values)
    return [v[0] for v in values]


# Above this many rows PostgreSQL gets a COPY instead of a pipelined executemany.
_COPY_FROM_ROWS = 200


def insert_rows(
    model: type[Any], columns: Sequence[str], values: list[tuple[Any, ...]], *, suffix: str = ""
) -> None:
    """INSERT plain tuples (values already in the database's form); ``suffix`` is an
    ``ON CONFLICT`` clause.

    ``bulk_create`` spends about 25 µs a row building model instances and preparing each
    field, and psycopg's pipelined ``executemany`` still about as much; a first reading of
    10,000 devices (or their return after an outage) records 10,000 flips and firmware rows.
    So many rows go by binary COPY (`config.bulk`) on PostgreSQL: straight into the table,
    or through a temporary table when an ON CONFLICT clause must apply.
    """
    if not values:
        return
    quote = connection.ops.quote_name
    table = model._meta.db_table
    cols = ", ".join(quote(c) for c in columns)
    if connection.vendor != "postgresql" or len(values) < _COPY_FROM_ROWS:
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks}){suffix}", values
            )
        return
    types = copy_types(model, columns)
    if not suffix:
        copy_rows(table=table, columns=columns, types=types, rows=values)
        return
    stage = f"insert_stage_{table}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {quote(stage)} ON COMMIT DROP AS "
            f"SELECT {cols} FROM {quote(table)} WITH NO DATA"
        )
        copy_rows(table=stage, columns=columns, types=types, rows=values)
        cursor.execute(
            f"INSERT INTO {quote(table)} ({cols}) SELECT {cols} FROM {quote(stage)}{suffix}"
        )
        cursor.execute(f"DROP TABLE {quote(stage)}")
