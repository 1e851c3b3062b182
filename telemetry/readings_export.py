"""Readings exports: CSV (streamed row by row) and Parquet (pyarrow), with time zone and units.

Both carry the same columns in the same (ts, device_id) order as the readings API: device_id,
serial, ts (UTC), then the measurements asked for. The CSV says the time zone and each unit in
``#`` comment lines before its header row; the Parquet file says them in its schema metadata
(``time_zone``, ``units``) and in each column's field metadata (``unit``), and stores ``ts`` as
a UTC timestamp. Rows are read from the database in chunks, never all at once into a list of
model instances.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import QuerySet

from config.errors import InvalidInput
from telemetry.models import TelemetryReading
from telemetry.readings import UNITS, TimeRange

FORMATS = ("csv", "parquet")
CHUNK_ROWS = 5000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "battery_pct": pa.float64(),
    "rsrp_dbm": pa.float64(),
    "storage_pct": pa.float64(),
    "temperature_c": pa.float64(),
    "gps_fix": pa.bool_(),
    "firmware": pa.string(),
    "status": pa.string(),
}


def check_format(raw: str) -> str:
    if raw not in FORMATS:
        raise InvalidInput(f"format: use csv or parquet, not {raw!r}.", field="format")
    return raw


def export_rows(
    readings: QuerySet[TelemetryReading], *, fields: Iterable[str]
) -> Iterator[tuple[Any, ...]]:
    """(device_id, serial, ts, *fields) in (ts, device_id) order, fetched in chunks."""
    return (
        readings.order_by("ts", "device_id")
        .values_list("device_id", "device__serial", "ts", *fields)
        .iterator(chunk_size=CHUNK_ROWS)
    )


def filename(*, label: str, span: TimeRange, fmt: str) -> str:
    return f"readings-{label}-{span.start:%Y%m%dT%H%M}Z-{span.end:%Y%m%dT%H%M}Z.{fmt}"


def _header_comments(fields: tuple[str, ...], span: TimeRange) -> list[str]:
    units = "; ".join(f"{name} in {UNITS[name]}" for name in fields if UNITS[name])
    return [
        "# Device readings. Time zone: UTC (ts is ISO 8601 with +00:00).",
        f"# Range: from {span.start.astimezone(UTC).isoformat()} "
        f"to {span.end.astimezone(UTC).isoformat()} (end excluded).",
        f"# Units: {units or 'none'}.",
    ]


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return "" if value is None else value


class _Line:
    """A file-like sink that hands back what csv.writer wrote for one row."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    readings: QuerySet[TelemetryReading], *, fields: Iterable[str], span: TimeRange
) -> Iterator[str]:
    """The CSV export as lines, for a StreamingHttpResponse: memory stays flat at any size."""
    fields = tuple(fields)
    for comment in _header_comments(fields, span):
        yield comment + "\r\n"
    writer = csv.writer(_Line())
    yield writer.writerow(["device_id", "serial", "ts", *fields])
    for row in export_rows(readings, fields=fields):
        yield writer.writerow([_csv_value(v) for v in row])


def arrow_schema(fields: Iterable[str], span: TimeRange) -> pa.Schema:
    fields = tuple(fields)
    columns = [
        pa.field("device_id", pa.int64(), nullable=False),
        pa.field("serial", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        *(
            pa.field(
                name, _ARROW_TYPES[name], metadata={"unit": UNITS[name]} if UNITS[name] else None
            )
            for name in fields
        ),
    ]
    metadata = {
        "time_zone": "UTC",
        "units": json.dumps({name: UNITS[name] for name in fields if UNITS[name]}),
        "range_start": span.start.astimezone(UTC).isoformat(),
        "range_end": span.end.astimezone(UTC).isoformat(),
    }
    return pa.schema(columns, metadata=metadata)


def write_parquet(
    readings: QuerySet[TelemetryReading],
    *,
    fields: Iterable[str],
    span: TimeRange,
    sink: Any,
    progress: Any = None,
    total: int | None = None,
) -> int:
    """Write the Parquet export to ``sink`` (a path or binary file) one row group per chunk.

    ``progress(done, total)`` is called after each chunk when given. Returns the row count.
    """
    fields = tuple(fields)
    schema = arrow_schema(fields, span)
    names = ["device_id", "serial", "ts", *fields]
    written = 0
    with pq.ParquetWriter(sink, schema) as writer:
        chunk: list[tuple[Any, ...]] = []
        for row in export_rows(readings, fields=fields):
            chunk.append(row)
            if len(chunk) == CHUNK_ROWS:
                writer.write_table(_table(chunk, names, schema))
                written += len(chunk)
                chunk = []
                if progress:
                    progress(written, total)
        if chunk or not written:
            writer.write_table(_table(chunk, names, schema))
            written += len(chunk)
    return written


def _table(rows: list[tuple[Any, ...]], names: list[str], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=schema.field(i).type) for i, col in enumerate(columns)],
        schema=schema,
    )


def parquet_bytes(
    readings: QuerySet[TelemetryReading], *, fields: Iterable[str], span: TimeRange
) -> bytes:
    buffer = io.BytesIO()
    write_parquet(readings, fields=fields, span=span, sink=buffer)
    return buffer.getvalue()
