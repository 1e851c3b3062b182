from datetime import timedelta

from django.db import migrations, models
from django.db.models import F, Q
from django.utils import timezone

# Tokens issued before expiry existed get the default lifetime counted from this migration,
# not from their creation: counting from created_at would expire most of them on deploy day
# and break every script using one without notice. From the migration, their owners see the
# date in the token list and have a full default lifetime to replace them.
EXISTING_TOKEN_DAYS = 90


def expire_existing_tokens_later(apps, schema_editor):
    ApiToken = apps.get_model("devices", "ApiToken")
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(days=EXISTING_TOKEN_DAYS))


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0005_periodic_run_lease_and_completion"),
    ]

    operations = [
        # Existing tokens could write before scopes existed: they keep read_write, so no
        # integration breaks; new tokens default to read (the AlterField below).
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "Read"), ("read_write", "Read and write")],
                default="read_write",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "Read"), ("read_write", "Read and write")],
                default="read",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(expire_existing_tokens_later, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="last_used_ip",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="devices_apitoken_expires_after_created",
            ),
        ),
        migrations.AddConstraint(
            model_name="apitoken",
            constraint=models.CheckConstraint(
                condition=Q(scope__in=["read", "read_write"]),
                name="devices_apitoken_scope_in_choices",
            ),
        ),
    ]
