"""The ingest's database writers: a batch's history rows and latest states, one per backend.

`telemetry.ingest` plans the rows (plain tuples, see `Row`) and calls `get_writer().write()`
inside the batch's transaction. Both writers insert history idempotently (unique by device
and reading time, duplicates ignored) and advance a device's latest state only forward in
time (newest reading per device wins inside the batch; an older reading never overwrites
a newer one across batches and processes). The level of a new latest state comes from
`telemetry.levels`, the deadlines from the offsets the ingest planned.

These are the raw-driver paths: per-row ORM saves, and Django's ``bulk_create``, reach
about 0.2 of them (FINDINGS.md). PostgreSQL goes by binary COPY (`config.bulk`); SQLite by
``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Model

from config import bulk
from telemetry import levels
from telemetry.models import DeviceHealth, TelemetryReading

# A planned history row: device id, reading time, received time (in the writer's form: a
# datetime for PostgreSQL, text for SQLite), gateway id, the seven measurements, extra (JSON
# text), and the device's late and offline deadline offsets in seconds (for the latest
# state; not stored in history).
Row = tuple[Any, ...]

HISTORY_COLUMNS = (
    "device_id",
    "ts",
    "received_at",
    "gateway_id",
    "battery_pct",
    "rsrp_dbm",
    "firmware",
    "storage_pct",
    "gps_fix",
    "temperature_c",
    "status",
    "extra",
)
MEASUREMENTS = (
    "battery_pct",
    "rsrp_dbm",
    "firmware",
    "storage_pct",
    "gps_fix",
    "temperature_c",
    "status",
)
# Latest-state columns the ingest owns; anything else on DeviceHealth is the health side's.
LATEST_COLUMNS = (
    "device_id",
    "level",
    "level_changed_at",
    "last_reading_at",
    "last_received_at",
    "late_after",
    "offline_after",
    "gateway_id",
    *MEASUREMENTS,
)


def _other_columns(model: type[Model], handled: Iterable[str]) -> tuple[list[str], list[Any]]:
    """Columns a raw INSERT must still fill, with each field's default.

    Keeps the raw writers correct when a column is added to the model later (a NOT NULL
    column with a Python-side default would otherwise break the INSERT).
    """
    handled = set(handled)
    columns, values = [], []
    for f in model._meta.concrete_fields:
        column = getattr(f, "column", None)
        if not column or column in handled:
            continue
        columns.append(column)
        values.append(f.get_db_prep_save(f.get_default(), connection))
    return columns, values


class PostgresWriter:
    """One COPY of the batch into a session-temporary staging table, then two statements
    reading it: the history insert and the latest-state upsert (newest row per device by
    DISTINCT ON, deadlines and level computed in SQL).

    The COPY is binary with the column types declared, so psycopg's C dumpers encode the
    tuples as they are (about 1 µs a row; the CSV text this replaced cost 6 µs a row to
    format). Missing measurements go as NULL; the SELECTs turn NULL text back into "".
    ``extra`` is staged as text (the JSON the ingest already serialised) and cast to jsonb
    by the history insert.
    """

    STAGE = "ingest_stage"
    STAGE_COLUMNS = (*HISTORY_COLUMNS, "late_s", "offline_s")
    STAGE_TYPES = (
        "int8",
        "timestamptz",
        "timestamptz",
        "int8",
        "float8",
        "float8",
        "text",
        "float8",
        "bool",
        "float8",
        "text",
        "text",
        "int4",
        "int4",
    )

    def __init__(self) -> None:
        cols = ", ".join(HISTORY_COLUMNS)
        staged = cols.replace("extra", "extra::text AS extra")
        # Run in every batch (one round trip): a rolled-back first batch also rolls back the
        # CREATE, so remembering "created" per connection would be wrong. ON COMMIT empties
        # the table, but a caller's outer transaction (tests, ATOMIC_REQUESTS) would carry
        # rows over from an earlier batch, hence the DELETE.
        self.prepare_sql = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.STAGE} ON COMMIT DELETE ROWS AS "
            f"SELECT {staged}, 0 AS late_s, 0 AS offline_s FROM telemetry_telemetryreading WITH NO DATA; "
            f"DELETE FROM {self.STAGE}"
        )
        values = {c: c for c in HISTORY_COLUMNS} | {
            "firmware": "COALESCE(firmware, '')",
            "status": "COALESCE(status, '')",
            "extra": "extra::jsonb",
        }
        others, self.history_defaults = _other_columns(TelemetryReading, HISTORY_COLUMNS)
        # Inserted in key order: two ingest processes then take row locks in the same order.
        self.history_sql = (
            f"INSERT INTO telemetry_telemetryreading ({', '.join((*HISTORY_COLUMNS, *others))}) "
            f"SELECT {', '.join((*values.values(), *(['%s'] * len(others))))} FROM {self.STAGE} "
            "ORDER BY device_id, ts ON CONFLICT DO NOTHING"
        )
        late = "ts + late_s * INTERVAL '1 second'"
        offline = "ts + offline_s * INTERVAL '1 second'"
        latest = {
            "device_id": "device_id",
            "level": levels.level_from_deadlines_sql(
                now="%(now)s", late_after=late, offline_after=offline
            ),
            "level_changed_at": "%(now)s",
            "last_reading_at": "ts",
            "last_received_at": "received_at",
            "late_after": late,
            "offline_after": offline,
            "gateway_id": "gateway_id",
            **{c: values[c] for c in MEASUREMENTS},
        }
        assert tuple(latest) == LATEST_COLUMNS
        others, defaults = _other_columns(DeviceHealth, LATEST_COLUMNS)
        self.latest_defaults = {f"d{i}": value for i, value in enumerate(defaults)}
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in LATEST_COLUMNS[3:])
        self.latest_sql = (
            f"INSERT INTO telemetry_devicehealth AS h ({', '.join((*LATEST_COLUMNS, *others))}) "
            f"SELECT {', '.join((*latest.values(), *(f'%({k})s' for k in self.latest_defaults)))} "
            f"FROM (SELECT DISTINCT ON (device_id) * FROM {self.STAGE} ORDER BY device_id, ts DESC) AS newest "
            "ORDER BY device_id "
            "ON CONFLICT (device_id) DO UPDATE SET level = EXCLUDED.level, "
            "level_changed_at = CASE WHEN h.level = EXCLUDED.level THEN h.level_changed_at "
            f"ELSE EXCLUDED.level_changed_at END, {updates} "
            # Only forward in time: an older reading never overwrites a newer one.
            "WHERE h.last_reading_at IS NULL OR EXCLUDED.last_reading_at > h.last_reading_at "
            "RETURNING h.device_id"
        )

    @staticmethod
    def time_value(value: datetime) -> datetime:
        return value

    def write(self, rows: list[Row], *, now: datetime) -> tuple[int, list[int]]:
        """Store history rows and advance latest states; (rows inserted, devices advanced)."""
        with connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            cursor.execute(self.prepare_sql)
            bulk.copy_rows(
                table=self.STAGE, columns=self.STAGE_COLUMNS, types=self.STAGE_TYPES, rows=rows
            )
            cursor.execute(self.history_sql, self.history_defaults)
            inserted = cursor.rowcount
            cursor.execute(self.latest_sql, {"now": now, **self.latest_defaults})
            return inserted, [r[0] for r in cursor.fetchall()]


def _sqlite_ts(value: datetime) -> str:
    # Django's own SQLite format for aware datetimes (UTC, no offset), so ORM lookups match.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


class SqliteWriter:
    """executemany INSERT OR IGNORE / UPSERT; SQLite has one writer at a time, so the
    read-then-write below is safe inside the (IMMEDIATE) transaction."""

    # SQLite 3.32+ allows 32,766 bound parameters.
    CHUNK = 10_000

    time_value = staticmethod(_sqlite_ts)

    def write(self, rows: list[Row], *, now: datetime) -> tuple[int, list[int]]:
        """Store history rows and advance latest states; (rows inserted, devices advanced)."""
        # Each reading time is turned into text once, for both tables (the conversion was
        # most of this writer's Python time).
        ts_texts = [_sqlite_ts(r[1]) for r in rows]
        return self._write_history(rows, ts_texts), self._upsert_latest(rows, ts_texts, now=now)

    def _write_history(self, rows: list[Row], ts_texts: list[str]) -> int:
        others, defaults = _other_columns(TelemetryReading, HISTORY_COLUMNS)
        cols = ", ".join((*HISTORY_COLUMNS, *others))
        # firmware and status: None becomes "" (the columns are NOT NULL).
        marks = ", ".join(
            ["?"] * 6
            + ["COALESCE(?, '')"]
            + ["?"] * 3
            + ["COALESCE(?, '')", "?"]
            + ["?"] * len(others)
        )
        tail = tuple(defaults)
        data = [(r[0], t, *r[2:12], *tail) for r, t in zip(rows, ts_texts, strict=True)]
        cursor = connection.connection.cursor()
        try:
            before = connection.connection.total_changes
            cursor.executemany(
                f"INSERT OR IGNORE INTO telemetry_telemetryreading ({cols}) VALUES ({marks})", data
            )
            stored: int = connection.connection.total_changes - before
            return stored
        finally:
            cursor.close()

    def _upsert_latest(self, rows: list[Row], ts_texts: list[str], *, now: datetime) -> list[int]:
        newest = _newest_per_device(rows, ts_texts)
        cursor = connection.connection.cursor()
        try:
            current_at = self._current_reading_times(cursor, list(newest))
            now_s = _sqlite_ts(now)
            now_naive = now.astimezone(UTC).replace(tzinfo=None)
            data, advanced = [], []
            for device_id, index in newest.items():
                previous = current_at.get(device_id, "")
                if previous and ts_texts[index] <= previous:
                    continue  # only forward in time
                data.append(
                    _latest_row(rows[index], ts_texts[index], now_s=now_s, now_naive=now_naive)
                )
                advanced.append(device_id)
            if data:
                others, defaults = _other_columns(DeviceHealth, LATEST_COLUMNS)
                tail = tuple(defaults)
                cursor.executemany(
                    _sqlite_upsert_sql(others), [(*row, *tail) for row in data] if tail else data
                )
            return advanced
        finally:
            cursor.close()

    def _current_reading_times(self, cursor: Any, ids: list[int]) -> dict[int, str | None]:
        current_at: dict[int, str | None] = {}
        for start in range(0, len(ids), self.CHUNK):
            chunk = ids[start : start + self.CHUNK]
            cursor.execute(
                "SELECT device_id, CAST(last_reading_at AS TEXT) FROM telemetry_devicehealth "
                f"WHERE device_id IN ({', '.join(['?'] * len(chunk))})",
                chunk,
            )
            current_at.update(cursor.fetchall())
        return current_at


def _newest_per_device(rows: list[Row], ts_texts: list[str]) -> dict[int, int]:
    """Device id -> index of its newest row in the batch."""
    # Naive UTC text orders like the instants it names (Django's own format, which the
    # comparisons with stored values rely on too).
    newest: dict[int, int] = {}
    for index, (r, t) in enumerate(zip(rows, ts_texts, strict=True)):
        current = newest.get(r[0])
        if current is None or t > ts_texts[current]:
            newest[r[0]] = index
    return newest


def _latest_row(r: Row, ts_s: str, *, now_s: str, now_naive: datetime) -> tuple[Any, ...]:
    """A latest-state row in LATEST_COLUMNS order; deadlines and level from the planned row."""
    at = r[1].astimezone(UTC).replace(tzinfo=None)
    late_after = at + timedelta(seconds=r[12])
    offline_after = at + timedelta(seconds=r[13])
    level = levels.level_from_deadlines(
        now=now_naive, last_reading_at=at, late_after=late_after, offline_after=offline_after
    )
    return (
        r[0],
        level,
        now_s,
        ts_s,
        r[2],
        late_after.isoformat(sep=" "),
        offline_after.isoformat(sep=" "),
        r[3],
        r[4],
        r[5],
        r[6] or "",
        r[7],
        r[8],
        r[9],
        r[10] or "",
    )


def _sqlite_upsert_sql(others: list[str]) -> str:
    cols = ", ".join((*LATEST_COLUMNS, *others))
    marks = ", ".join(["?"] * (len(LATEST_COLUMNS) + len(others)))
    updates = ", ".join(f"{c} = excluded.{c}" for c in LATEST_COLUMNS[3:])
    return (
        f"INSERT INTO telemetry_devicehealth ({cols}) VALUES ({marks}) "
        "ON CONFLICT (device_id) DO UPDATE SET level = excluded.level, "
        "level_changed_at = CASE WHEN telemetry_devicehealth.level = excluded.level "
        "THEN telemetry_devicehealth.level_changed_at ELSE excluded.level_changed_at END, "
        f"{updates} WHERE telemetry_devicehealth.last_reading_at IS NULL "
        # Only forward in time: an older reading never overwrites a newer one.
        "OR excluded.last_reading_at > telemetry_devicehealth.last_reading_at"
    )


Writer = PostgresWriter | SqliteWriter
_writers: dict[str, Writer] = {}


def get_writer() -> Writer:
    """The writer for the default connection's database (one per process and backend)."""
    vendor = connection.vendor
    writer = _writers.get(vendor)
    if writer is None:
        if vendor == "postgresql":
            writer = PostgresWriter()
        elif vendor == "sqlite":
            writer = SqliteWriter()
        else:
            raise NotImplementedError(f"no telemetry writer for {vendor}")
        _writers[vendor] = writer
    return writer
