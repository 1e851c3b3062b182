"""The two-person rule and status consistency as constraints, and the pending-list index.

After 0004 filled every existing waiver (see its docstring for the self-approved legacy rows).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("readiness", "0004_waiver_approvals"),
    ]

    operations = [
        migrations.AddIndex(
            model_name='waiver',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['requested_at'], name='readiness_waiver_pending'),
        ),
        migrations.AddConstraint(
            model_name='waiver',
            constraint=models.CheckConstraint(condition=models.Q(('approved_by__isnull', True), ('requested_by__isnull', True), models.Q(('approved_by', models.F('requested_by')), _negated=True), _connector='OR'), name='readiness_waiver_approver_not_requester'),
        ),
        migrations.AddConstraint(
            model_name='waiver',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('decided_at__isnull', False), ('status__in', ['approved', 'rejected'])), models.Q(('decided_at__isnull', True), ('status', 'pending')), ('status', 'revoked'), _connector='OR'), name='readiness_waiver_decision_matches_status'),
        ),
    ]
