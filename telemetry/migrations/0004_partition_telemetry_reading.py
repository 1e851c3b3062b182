"""Turn the reading history into a native partitioned table by range of ts (PostgreSQL only).

The table is rebuilt under the same name with the same columns, primary key (device_id, ts),
and indexes (same names, so later migrations still find them), plus a DEFAULT partition
and one partition per UTC day from the oldest kept day to a week ahead; the rows are copied
across. On SQLite this does nothing. Self-contained on purpose: later changes to
`telemetry.partitions` must not change what this migration did.
"""

from datetime import UTC, date, datetime, timedelta

from django.db import migrations

TABLE = "telemetry_telemetryreading"
OLD = f"{TABLE}_unpartitioned"
KEEP_DAYS = 90
AHEAD_DAYS = 7


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE])
        if cursor.fetchone()[0] == "p":
            return
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid), x.indisprimary FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s",
            [TABLE],
        )
        indexes = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        for name, _, _ in indexes:
            cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name[:40]}_unpart"')
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (ts)"
        )
        for name, definition, is_primary in indexes:
            if is_primary:
                cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" PRIMARY KEY (device_id, ts)')
            else:
                # "CREATE [UNIQUE] INDEX name ON public.<old> USING ..." as it was, on the new table.
                columns = definition[definition.index(" USING ") :]
                unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
                cursor.execute(f'CREATE {unique}INDEX "{name}" ON {TABLE}{columns}')
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")

        today = datetime.now(UTC).date()
        cursor.execute(f"SELECT min(ts) FROM {OLD}")
        oldest = cursor.fetchone()[0]
        first = today
        if oldest is not None:
            first = max(oldest.astimezone(UTC).date(), today - timedelta(days=KEEP_DAYS))
        day = first
        while day <= today + timedelta(days=AHEAD_DAYS):
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
                [_day_start(day), _day_start(day + timedelta(days=1))],
            )
            day += timedelta(days=1)
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
        cursor.execute(f"DROP TABLE {OLD}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE])
        if cursor.fetchone()[0] != "p":
            return
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid), x.indisprimary FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s",
            [TABLE],
        )
        indexes = cursor.fetchall()
        cursor.execute(f"CREATE TABLE {OLD} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(f"INSERT INTO {OLD} SELECT * FROM {TABLE}")
        cursor.execute(f"DROP TABLE {TABLE} CASCADE")
        cursor.execute(f"ALTER TABLE {OLD} RENAME TO {TABLE}")
        for name, definition, is_primary in indexes:
            if is_primary:
                cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" PRIMARY KEY (device_id, ts)')
            else:
                columns = definition[definition.index(" USING ") :]
                cursor.execute(f'CREATE INDEX "{name}" ON {TABLE}{columns}')


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0003_health_flips_alerts_maintenance_notifications"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
