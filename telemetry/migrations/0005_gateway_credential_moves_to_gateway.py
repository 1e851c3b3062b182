from django.db import migrations


def copy_broker_hashes(apps, schema_editor):
    # Keep gateways' existing MQTT credentials working: the hash now lives on the gateway.
    GatewayCredential = apps.get_model("telemetry", "GatewayCredential")
    Gateway = apps.get_model("devices", "Gateway")
    for credential in GatewayCredential.objects.all().iterator():
        Gateway.objects.filter(pk=credential.gateway_id).update(broker_password_hash=credential.mosquitto_hash)


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0004_gateway_broker_password_hash"),
        ("telemetry", "0004_partition_telemetry_reading"),
    ]

    operations = [
        migrations.RunPython(copy_broker_hashes, migrations.RunPython.noop),
        migrations.DeleteModel(name="GatewayCredential"),
    ]
