"""Waivers need a second person: a status, the requester and the decision (who, when, why).

Every existing waiver was granted in one step by whoever created it, naming an approver, so
it becomes ``approved`` (or ``revoked``, if it was) with the creator as requester, the named
approver as decider and the creation time as both request and decision time.

Old data may hold waivers whose creator named themselves as approver (an agency admin could
not, but state staff could). Those stay approved, because they counted until now and
un-approving them would change past and present scores without anyone deciding it; the
decider keeps the truth (``decided_by`` is the same person as ``requested_by``) and the
comment says so, but ``approved_by`` is left empty for them. ``approved_by`` is the column the
two-person constraint (0005) checks, so the constraint holds for every row without an
exemption for legacy rows, and a list of self-approved legacy waivers is one query:
``status in (approved, revoked), approved_by null, decided_by = requested_by``.

The constraints come in 0005, a separate migration: on PostgreSQL, adding a CHECK after
updating rows with deferred foreign keys in one transaction fails ("pending trigger events").
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


LEGACY_COMMENT = "Granted before waivers needed a second person; recorded as approved."
SELF_APPROVED_COMMENT = (
    "Granted before waivers needed a second person, by its own requester; kept approved, "
    "never approved by a second person."
)


def legacy_waivers_approved(apps, schema_editor):
    """Every existing waiver was granted in one step: approved (or revoked) by its approver."""
    Waiver = apps.get_model("readiness", "Waiver")
    for waiver in Waiver.objects.all().iterator():
        self_approved = (
            waiver.approved_by_id is not None and waiver.approved_by_id == waiver.created_by_id
        )
        waiver.status = "revoked" if waiver.revoked_at is not None else "approved"
        waiver.requested_by_id = waiver.created_by_id
        waiver.requested_at = waiver.created_at
        waiver.decided_by_id = waiver.approved_by_id
        waiver.decided_at = waiver.created_at
        waiver.decision_comment = SELF_APPROVED_COMMENT if self_approved else LEGACY_COMMENT
        if self_approved:
            waiver.approved_by_id = None
        waiver.save(
            update_fields=[
                "status",
                "requested_by",
                "requested_at",
                "decided_by",
                "decided_at",
                "decision_comment",
                "approved_by",
            ]
        )


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0006_api_token_expiry_and_scope'),
        ('readiness', '0003_briefing_exports'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='waiver',
            name='decided_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='waiver',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='decided_waivers', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='waiver',
            name='decision_comment',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='waiver',
            name='requested_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name='waiver',
            name='requested_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='requested_waivers', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='waiver',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('revoked', 'Revoked')], default='pending', max_length=16),
        ),
        migrations.AlterField(
            model_name='waiver',
            name='approver_name',
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunPython(legacy_waivers_approved, migrations.RunPython.noop),
    ]
