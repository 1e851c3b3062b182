"""Trigram indexes for the inventory search (`q`: part of a serial or asset tag), PostgreSQL only.

`filter_devices` searches with icontains, which PostgreSQL runs as
UPPER(col::text) LIKE UPPER('%…%'): a sequential scan over 100,000 devices unless a
trigram index on that exact expression exists. SQLite has no such index type, and a
database where the pg_trgm extension cannot be created keeps working without it.
The indexes are not in Meta.indexes because their operator class is PostgreSQL-only.
"""

from django.db import DatabaseError, migrations, transaction

INDEXES = {
    "devices_device_serial_trgm": "serial",
    "devices_device_asset_tag_trgm": "asset_tag",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError:
            return  # no permission to add the extension: the search stays a sequential scan
        for name, column in INDEXES.items():
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON devices_device "
                f"USING gin (UPPER({column}::text) gin_trgm_ops)"
            )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0002_model_kind_check_uses_device_kinds"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
