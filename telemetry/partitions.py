"""The history table's partitions (PostgreSQL) and retention (every backend).

On PostgreSQL `telemetry_telemetryreading` is a native, declaratively partitioned table by
range of ``ts`` (migration 0004): one partition per UTC day named
``telemetry_telemetryreading_pYYYYMMDD``, plus a DEFAULT partition so an insert whose day
has no partition (far past, far future, or a missed beat) never fails. Daily partitions
keep each one small at fleet scale (100,000 devices a minute is 144 M rows a day) and make
retention a ``DROP TABLE`` of whole days instead of a huge DELETE.

`ensure_partitions()` (beat, daily) creates the days ahead; `apply_retention()` (beat,
daily) drops whole expired days, then trims expired rows that landed in DEFAULT in bounded
chunks. On SQLite (and an unpartitioned table) retention deletes in chunks of
``RETENTION_CHUNK`` rows per statement, so no single statement holds the write lock long.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from telemetry.models import TelemetryReading

TABLE = TelemetryReading._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
DEFAULT_AHEAD_DAYS = 7
DEFAULT_RETENTION_DAYS = 90
RETENTION_CHUNK = 5000
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def is_partitioned() -> bool:
    """True on PostgreSQL once migration 0004 has turned the table into a partitioned one."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relkind FROM pg_class WHERE relname = %s AND relkind IN ('p', 'r')", [TABLE]
        )
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def list_partitions() -> list[str]:
    """Names of the attached partitions (the DEFAULT one included)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY c.relname",
            [TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


def partition_of_row(device_id: int, ts: datetime) -> str | None:
    """Which partition holds a reading (PostgreSQL; for checks and tests)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {TABLE} WHERE device_id = %s AND ts = %s",
            [device_id, ts],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def create_partition(day: date) -> bool:
    """Create the partition of one UTC day if missing; True if created. One transaction.

    Rows of that day already in DEFAULT (written while the partition was missing) are moved
    into it first: PostgreSQL refuses a partition whose rows would still sit in DEFAULT.
    """
    name = partition_name(day)
    start, end = _day_bounds(day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_class WHERE relname = %s", [name])
        if cursor.fetchone():
            return False
        # A lock wait must not stall the ingest behind a long queue: give up, beat retries.
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        cursor.execute(
            f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE ts >= %s AND ts < %s LIMIT 1", [start, end]
        )
        if cursor.fetchone() is None:
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
                [start, end],
            )
            return True
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE ts >= %s AND ts < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
    return True


def ensure_partitions(*, ahead: int = DEFAULT_AHEAD_DAYS, now: datetime | None = None) -> list[str]:
    """Create the partitions of today and the next ``ahead`` days (UTC); return those created.

    Idempotent; a no-op (empty list) on SQLite or an unpartitioned table.
    """
    if not is_partitioned():
        return []
    today = (now or timezone.now()).astimezone(UTC).date()
    created = []
    for offset in range(ahead + 1):
        day = today + timedelta(days=offset)
        if create_partition(day):
            created.append(partition_name(day))
    return created


def drop_expired_partitions(
    *, retention_days: int = DEFAULT_RETENTION_DAYS, now: datetime | None = None
) -> list[str]:
    """Drop every daily partition whose whole day is older than the retention; return names."""
    if not is_partitioned():
        return []
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    dropped = []
    for name in list_partitions():
        match = _NAME.match(name)
        if not match:
            continue  # DEFAULT, or a partition someone made by hand: never dropped blindly
        day = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date()
        if _day_bounds(day)[1] <= cutoff:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '10s'")
                cursor.execute(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped


def delete_expired_rows(*, cutoff: datetime, chunk: int = RETENTION_CHUNK) -> int:
    """Delete readings older than ``cutoff`` in bounded chunks; return how many.

    Each chunk is its own short transaction. On a partitioned table only DEFAULT can still
    hold expired rows once whole days are dropped, so only it is scanned.
    """
    if connection.vendor == "postgresql":
        table = DEFAULT_PARTITION if is_partitioned() else TABLE
        sql = f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE ts < %s LIMIT %s)"
        param: datetime | str | None = cutoff
    else:
        sql = (
            f"DELETE FROM {TABLE} WHERE rowid IN (SELECT rowid FROM {TABLE} WHERE ts < %s LIMIT %s)"
        )
        param = connection.ops.adapt_datetimefield_value(cutoff)
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [param, chunk])
            deleted = cursor.rowcount
        total += deleted
        if deleted < chunk:
            return total


def apply_retention(
    *, retention_days: int = DEFAULT_RETENTION_DAYS, now: datetime | None = None
) -> dict[str, object]:
    """Keep ``retention_days`` of history: drop whole partitions, then trim the rest in chunks."""
    now = now or timezone.now()
    dropped = drop_expired_partitions(retention_days=retention_days, now=now)
    deleted = delete_expired_rows(cutoff=now - timedelta(days=retention_days))
    return {"dropped_partitions": dropped, "deleted_rows": deleted}
