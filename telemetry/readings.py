"""Reading the history back: a time range of readings, paged by keyset, or bucketed.

The contract, shared by the readings API, the exports and the device page's chart:

- A range is ``[start, end)`` in UTC, at most `MAX_RANGE` (31 days); ``start`` after ``end``,
  a longer range, an unknown field, bucket, order or cursor is `InvalidInput` naming the field
  (the API answers 422), checked before any query runs.
- Raw readings come in (ts, device_id) order, oldest or newest first. A page ends with an
  opaque cursor (the last row's ts and device id); the next page starts strictly after it, so
  pages never repeat or skip a reading, also when many devices share a timestamp.
- Buckets (`BUCKETS`) give min, max, mean and count per bucket and measurement, computed by
  the database in one GROUP BY. `TimeBucket` is the one dialect-specific piece: ``date_bin``
  on PostgreSQL, integer epoch arithmetic on SQLite; both align buckets to the Unix epoch.

Functions take an already scoped queryset (`telemetry.scoping.visible_readings` or one
device's readings): the scope is decided at the interface.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, DateTimeField, F, Func, Max, Min, Q, QuerySet

from config.errors import InvalidInput
from devices.models import DeviceKind
from telemetry.models import TelemetryReading

MAX_RANGE = timedelta(days=31)
DEFAULT_RANGE = timedelta(hours=24)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000

# Each measurement a reading can carry, with its unit ("" when it has none). The exports
# write these units into the CSV header and the Parquet schema.
UNITS: dict[str, str] = {
    "battery_pct": "percent",
    "rsrp_dbm": "dBm",
    "storage_pct": "percent",
    "temperature_c": "degree Celsius",
    "gps_fix": "",
    "firmware": "",
    "status": "",
}
FIELDS = tuple(UNITS)
# Only numbers have a min, max and mean.
NUMERIC_FIELDS = ("battery_pct", "rsrp_dbm", "storage_pct", "temperature_c")
BUCKETS: dict[str, int] = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Cursor:
    ts: datetime
    device_id: int

    def encode(self) -> str:
        raw = f"{self.ts.astimezone(UTC).isoformat()}|{self.device_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            ts, device_id = base64.urlsafe_b64decode(padded).decode().split("|")
            return cls(ts=datetime.fromisoformat(ts).astimezone(UTC), device_id=int(device_id))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise InvalidInput(
                "cursor: not a cursor this API gave out; pass next_cursor unchanged.",
                field="cursor",
            ) from None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _aware(value: datetime) -> datetime:
    # A time without an offset is read as UTC, the time zone the API speaks.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_range(start: datetime | None, end: datetime | None, *, now: datetime) -> TimeRange:
    """The range asked for, defaulting to the last 24 hours; at most 31 days, start before end."""
    end = _aware(end) if end else now
    start = _aware(start) if start else end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput(
            f"from ({start.isoformat()}) must be before to ({end.isoformat()}).", field="from"
        )
    if end - start > MAX_RANGE:
        raise InvalidInput(
            f"to: the range is {(end - start).days} days and more; ask for at most "
            f"{MAX_RANGE.days} days per request and page through longer periods.",
            field="to",
        )
    return TimeRange(start=start, end=end)


def check_fields(raw: str | None, *, numeric_only: bool = False) -> tuple[str, ...]:
    """The comma-separated ``fields`` asked for, in the order given; every field when empty."""
    allowed = NUMERIC_FIELDS if numeric_only else FIELDS
    if not raw:
        return allowed
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        what = "bucketed series have only the numeric fields " if numeric_only else ""
        raise InvalidInput(
            f"fields: unknown field {', '.join(unknown) or raw!r}; {what}choose from "
            f"{', '.join(allowed)}.",
            field="fields",
        )
    return names


def check_bucket(raw: str) -> int:
    if raw not in BUCKETS:
        raise InvalidInput(
            f"bucket: unknown bucket {raw!r}; use one of {', '.join(BUCKETS)}.", field="bucket"
        )
    return BUCKETS[raw]


def check_order(raw: str) -> str:
    if raw not in ORDERS:
        raise InvalidInput(f"order: use asc or desc, not {raw!r}.", field="order")
    return raw


def check_kind(raw: str | None) -> str | None:
    if raw and raw not in DeviceKind.values:
        raise InvalidInput(
            f"kind: unknown device kind {raw!r}; use one of {', '.join(DeviceKind.values)}.",
            field="kind",
        )
    return raw or None


def filter_fleet(
    readings: QuerySet[TelemetryReading], *, agency: str | None = None, kind: str | None = None
) -> QuerySet[TelemetryReading]:
    """Narrow a fleet-wide scope to one agency (slug) and one device kind."""
    if agency:
        readings = readings.filter(device__agency__slug=agency)
    if kind:
        readings = readings.filter(device__model__kind=kind)
    return readings


def page_of_readings(
    readings: QuerySet[TelemetryReading],
    *,
    fields: Iterable[str],
    order: str = "asc",
    limit: int = DEFAULT_LIMIT,
    after: Cursor | None = None,
) -> Page:
    """One page of ``readings`` in (ts, device_id) order, starting strictly after ``after``.

    Reads ``limit + 1`` rows to know whether another page follows, without a COUNT.
    """
    if after is not None:
        if order == "asc":
            readings = readings.filter(
                Q(ts__gt=after.ts) | Q(ts=after.ts, device_id__gt=after.device_id)
            )
        else:
            readings = readings.filter(
                Q(ts__lt=after.ts) | Q(ts=after.ts, device_id__lt=after.device_id)
            )
    ordering = ("ts", "device_id") if order == "asc" else ("-ts", "-device_id")
    rows = list(readings.order_by(*ordering).values("device_id", "ts", *fields)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = Cursor(ts=rows[-1]["ts"], device_id=rows[-1]["device_id"]) if more else None
    return Page(rows=rows, next_cursor=cursor.encode() if cursor else None)


class TimeBucket(Func):
    """The start of the ``seconds``-long bucket holding a timestamp, aligned to the Unix epoch."""

    output_field = DateTimeField()

    def __init__(self, expression: Any, *, seconds: int) -> None:
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_postgresql(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"date_bin(make_interval(secs => %s), {sql}, TIMESTAMPTZ '1970-01-01 00:00:00+00')",
            (self.seconds, *params),
        )

    def as_sqlite(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        # Django stores an aware datetime as UTC text; strftime('%s') reads it as epoch
        # seconds, whole buckets are counted by integer division and turned back into text.
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"datetime((CAST(strftime('%%s', {sql}) AS INTEGER) / %s) * %s, 'unixepoch')",
            (*params, self.seconds, self.seconds),
        )


def bucketed_series(
    readings: QuerySet[TelemetryReading], *, seconds: int, fields: Iterable[str], order: str = "asc"
) -> list[dict[str, Any]]:
    """Min, max, mean and count of each of ``fields`` per bucket, oldest bucket first (or last).

    One query: the database groups the rows, so a month of minute readings is a few hundred
    rows on the wire. A bucket with no value of a field has count 0 and nulls for it.
    """
    fields = tuple(fields)
    aggregates: dict[str, Any] = {}
    for name in fields:
        aggregates[f"m_{name}_min"] = Min(name)
        aggregates[f"m_{name}_max"] = Max(name)
        aggregates[f"m_{name}_mean"] = Avg(name)
        aggregates[f"m_{name}_count"] = Count(name)
    rows: Any = (
        readings.order_by()
        .annotate(bucket=TimeBucket(F("ts"), seconds=seconds))
        .values("bucket")
        .annotate(readings=Count("ts"), **aggregates)
        .order_by("bucket" if order == "asc" else "-bucket")
    )
    return [
        {
            "start": row["bucket"],
            "readings": row["readings"],
            "measurements": {
                name: {stat: row[f"m_{name}_{stat}"] for stat in ("min", "max", "mean", "count")}
                for name in fields
            },
        }
        for row in rows
    ]
