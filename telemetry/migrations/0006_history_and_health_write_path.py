"""The ingest's write path pays for fewer indexes.

History: the device index goes (the primary key (device_id, ts) leads with it) and so does
the gateway index (nothing reads the history by gateway). Latest state: the deadline
indexes go, and on PostgreSQL each page keeps 30% free, so the upsert of every reading is a
HOT update that rewrites no index (see DeviceHealth). The fill factor applies to pages
written from now on; ``VACUUM FULL telemetry_devicehealth`` applies it to existing ones.
"""

import django.db.models.deletion
from django.db import migrations, models


def fill_factor(percent):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        setting = "RESET (fillfactor)" if percent is None else f"SET (fillfactor = {int(percent)})"
        schema_editor.execute(f"ALTER TABLE telemetry_devicehealth {setting}")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0004_gateway_broker_password_hash"),
        ("telemetry", "0005_gateway_credential_moves_to_gateway"),
    ]

    operations = [
        migrations.RunPython(fill_factor(70), fill_factor(None)),
        migrations.RemoveIndex(
            model_name="devicehealth",
            name="telemetry_health_offline_due",
        ),
        migrations.RemoveIndex(
            model_name="devicehealth",
            name="telemetry_health_late_due",
        ),
        migrations.AlterField(
            model_name="telemetryreading",
            name="device",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="readings",
                to="devices.device",
            ),
        ),
        migrations.AlterField(
            model_name="telemetryreading",
            name="gateway",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="devices.gateway",
            ),
        ),
    ]
