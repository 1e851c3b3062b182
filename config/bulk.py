"""One binary COPY helper for every bulk writer on PostgreSQL.

Used by the ingest's writer (`telemetry.writers`), the health side's flips and firmware
rows and the inventory import's new devices: whatever writes thousands of rows at once.

Contract of `copy_rows()`:

* PostgreSQL only (it raises elsewhere); the caller keeps its own path for SQLite.
* It runs on Django's default connection inside the caller's transaction: it neither
  commits nor opens a transaction, so a rolled-back batch leaves no row behind, and a
  temporary staging table the caller created is visible to it.
* The rows are plain sequences in ``columns`` order, with Python values psycopg dumps for
  the declared ``types`` (int, float, str, bool, datetime, dict/list or ``Jsonb`` for
  jsonb, None for NULL). `copy_types()` gives the types of a model's columns.
* It inserts only: no ``ON CONFLICT``. A caller that needs one copies into a temporary
  table and inserts from there (as the ingest and the health side's firmware upsert do).

Why COPY, and why binary (FINDINGS.md, a 2-core machine like the development one):
psycopg 3 writes about 152,000 rows/s by COPY, about 119,000 by its pipelined
``executemany`` and about 36,000 by one big multi-row ``VALUES``; Django's ``bulk_create``
reaches about 18,000 (it builds a model instance and prepares each field, about 25 µs a
row). With the column types declared the COPY is binary and psycopg's C dumpers encode the
tuples as they are, about 1 µs a row; the CSV text this replaced in the ingest cost about
6 µs a row to format. The ingest's writer reaches 0.76 (3,700-row batches) to 0.95
(50,000-row batches) of a raw binary COPY of the same rows (README, bench/ingest.py).
A COPY's fixed cost makes a pipelined ``executemany`` as good for a few hundred rows or
fewer, so callers keep a threshold of their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

# "varchar(64)" -> "varchar", "numeric(10, 2)" -> "numeric": psycopg looks types up by name.
_MODIFIERS = re.compile(r"\(.*\)")


def copy_types(model: type[Model], columns: Sequence[str]) -> list[str]:
    """PostgreSQL type names of ``model``'s ``columns``, for `copy_rows(types=...)`."""
    by_column = {f.column: f for f in model._meta.concrete_fields}
    types = []
    for column in columns:
        db_type = by_column[column].db_type(connection)
        if db_type is None:
            raise ValueError(f"{model.__name__}.{column} has no database type")
        types.append(_MODIFIERS.sub("", db_type).strip())
    return types


def copy_rows(
    *,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """Binary COPY of ``rows`` into ``table``; returns how many rows were sent.

    Not idempotent on its own (a plain insert: a duplicate key fails the COPY and with it
    the caller's transaction). No transaction of its own: the caller's applies.
    """
    if connection.vendor != "postgresql":
        raise NotImplementedError(f"binary COPY needs PostgreSQL, not {connection.vendor}")
    if len(types) != len(columns):
        raise ValueError(f"{len(columns)} columns but {len(types)} types")
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN (FORMAT binary)"
    with connection.cursor() as django_cursor, django_cursor.cursor.copy(sql) as copy:
        copy.set_types(types)
        write_row = copy.write_row
        for row in rows:
            write_row(row)
    return len(rows)
