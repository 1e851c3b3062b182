"""Readiness: versioned requirement sets, waivers, snapshots, participation targets.

The requirement catalog (this block) is loaded from the TOML files in
``readiness/requirement_sets/`` by ``manage.py load_requirements`` (``readiness.loader``);
nothing edits it by hand. A requirement keeps a stable ``key`` across versions while its
``section`` may be renumbered; each requirement records how it relates to the previous
version, and ``RequirementRemoval`` records what a version dropped, so a what-if between two
versions never has to guess.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from config.errors import Conflict


class PublishedVersionError(Conflict):
    """A write to a version that is no longer a draft (409): published versions never change."""


def require_draft_version(version_id: int | None) -> None:
    """Refuse any change to the requirements of a version that is not a draft.

    The one home of the immutability rule: the requirement and removal models call it on
    every save and delete, the draft editor (``readiness.drafts``) before every write, and
    the file loader refuses a changed file of a published version before reaching it. A
    published version is changed by publishing a new version that supersedes it.
    """
    if version_id is None:
        return
    row = RequirementSetVersion.objects.filter(pk=version_id).values_list(
        "status", "version", "requirement_set__code"
    )
    found = row.first()
    if found is not None and found[0] != VersionStatus.DRAFT:
        status, number, code = found
        raise PublishedVersionError(
            f"Version {number} of {code} is {status} and cannot change; create a draft from it "
            "and publish that instead.",
            field="version",
        )


class RequirementSet(models.Model):
    """A family of requirements with versions, e.g. the CJIS mobile-device controls."""

    code = models.SlugField(max_length=64, unique=True, help_text="Stable code, e.g. cjis-mobile.")
    name = models.CharField(max_length=200)
    publisher = models.CharField(
        max_length=200, help_text="Who publishes the set, e.g. FBI CJIS Division."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class RequirementSetVersion(models.Model):
    """One version of a requirement set, as issued on a date by an authority (one TOML file)."""

    Status = VersionStatus

    requirement_set = models.ForeignKey(
        RequirementSet, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.CharField(
        max_length=32, help_text='As the publisher numbers it, e.g. "5.9" or "6.0".'
    )
    title = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    effective_on = models.DateField(help_text="The date from which this version applies.")
    published_on = models.DateField(null=True, blank=True)
    issuing_authority = models.CharField(max_length=200)
    source_url = models.URLField(max_length=500, blank=True)
    source_note = models.TextField(
        help_text="Where the content comes from; secondary sources are marked as such."
    )
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    # The file it was loaded from and the SHA-256 of its content: a reload of an unchanged
    # file is recognised and changes nothing.
    source_file = models.CharField(max_length=300, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["requirement_set__code", "effective_on", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["requirement_set", "version"], name="readiness_version_unique_per_set"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[c.value for c in VersionStatus]),
                name="readiness_version_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(supersedes=F("id")), name="readiness_version_not_superseding_itself"
            ),
        ]
        indexes = [
            # version_in_effect(): the latest non-draft version of a set on or before a date.
            models.Index(
                fields=["requirement_set", "status", "effective_on"],
                name="readiness_version_in_effect",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requirement_set.code} {self.version} ({self.status})"


def drafts_in_progress() -> Q:
    """Drafts being written in the product (not loaded from a publisher's file): only state
    staff see them (``readiness.scoping.visible_versions``). A publisher's draft, loaded
    from its file, is public like the rest of the catalog."""
    return Q(status=VersionStatus.DRAFT, source_file="")


class Severity(models.TextChoices):
    MANDATORY = "mandatory", "Mandatory"
    RECOMMENDED = "recommended", "Recommended"


class Relation(models.TextChoices):
    """How a requirement relates to the requirement with the same key in the superseded version."""

    SAME = "same", "Same"
    RENUMBERED = "renumbered", "Renumbered"
    TIGHTENED = "tightened", "Tightened"
    RELAXED = "relaxed", "Relaxed"
    NEW = "new", "New"


class Requirement(models.Model):
    """One requirement of one version: who it applies to, how much it counts and its rule.

    ``rule`` (and the optional ``applies_when``) are in the rule language of
    ``readiness.rules``; they were validated against ``readiness.attributes`` when loaded.
    """

    Severity = Severity

    Relation = Relation

    version = models.ForeignKey(
        RequirementSetVersion, on_delete=models.CASCADE, related_name="requirements"
    )
    key = models.CharField(
        max_length=100, help_text="Stable across versions, e.g. cjis.mdm.enrolled."
    )
    code = models.CharField(max_length=40, help_text="Short code, unique within the version.")
    section = models.CharField(
        max_length=40, blank=True, help_text="Section number in this version."
    )
    title = models.CharField(max_length=300)
    explanation = models.TextField(help_text="What the requirement asks, in plain language.")
    # Device kinds (devices.models.DeviceKind values); empty means every kind.
    applies_to = models.JSONField(default=list, blank=True)
    applies_when = models.JSONField(
        null=True,
        blank=True,
        help_text="Optional rule: the requirement applies only where it holds.",
    )
    severity = models.CharField(max_length=12, choices=Severity.choices, default=Severity.MANDATORY)
    weight = models.PositiveSmallIntegerField(default=1)
    due_on = models.DateField(null=True, blank=True)
    rule = models.JSONField()
    relation = models.CharField(max_length=12, choices=Relation.choices, default=Relation.NEW)
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="successors",
        help_text="The requirement with the same key in the superseded version.",
    )
    change_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["version", "section", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "key"], name="readiness_requirement_key_unique_per_version"
            ),
            models.UniqueConstraint(
                fields=["version", "code"], name="readiness_requirement_code_unique_per_version"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=[c.value for c in Severity]),
                name="readiness_requirement_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(relation__in=[c.value for c in Relation]),
                name="readiness_requirement_relation_valid",
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=100),
                name="readiness_requirement_weight_1_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        require_draft_version(self.version_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        require_draft_version(self.version_id)
        return super().delete(*args, **kwargs)


class RequirementRemoval(models.Model):
    """A requirement of the superseded version that this version no longer contains."""

    version = models.ForeignKey(
        RequirementSetVersion, on_delete=models.CASCADE, related_name="removals"
    )
    key = models.CharField(max_length=100)
    previous = models.ForeignKey(
        Requirement,
        on_delete=models.CASCADE,
        related_name="removals",
        help_text="The dropped requirement.",
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["version", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "key"], name="readiness_removal_key_unique_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version}: removed {self.key}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        require_draft_version(self.version_id)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        require_draft_version(self.version_id)
        return super().delete(*args, **kwargs)


# --- Waivers, snapshots and participation targets -----------------------------------------
# Written by readiness.waivers / readiness.snapshots / readiness.demo; read by readiness.results,
# readiness.portfolios and readiness.participation.


class WaiverQuerySet(models.QuerySet["Waiver"]):
    def approved(self) -> WaiverQuerySet:
        """Waivers that were approved: still so, or revoked after approval (see ``was_approved``)."""
        return self.filter(
            Q(status=Waiver.Status.APPROVED)
            | Q(status=Waiver.Status.REVOKED, decided_at__isnull=False)
        )

    def pending(self) -> WaiverQuerySet:
        return self.filter(status=Waiver.Status.PENDING)


class Waiver(models.Model):
    """A requirement excused for one device, or a whole agency, until an expiry.

    Named by the requirement's stable key within its set, so a waiver outlives a
    renumbering. Two people: an agency admin (or state staff) requests it, and a state staff
    member other than the requester approves or rejects it. Only an approved waiver counts,
    and whether it counts is decided at evaluation time (``starts_at <= at < expires_at`` and
    not revoked by then): nothing has to flip it when it expires. A revoked waiver that had
    been approved keeps ``decided_at``, so an "as of" before the revocation still counts it.
    Requested, decided and revoked only through ``readiness.waivers``, which audits every change.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"

    requirement_set = models.ForeignKey(
        RequirementSet, on_delete=models.PROTECT, related_name="waivers"
    )
    requirement_key = models.CharField(max_length=100)
    agency = models.ForeignKey(
        "devices.Agency", on_delete=models.PROTECT, related_name="readiness_waivers"
    )
    # Null: the waiver covers every device of the agency for this requirement.
    device = models.ForeignKey(
        "devices.Device",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="readiness_waivers",
    )
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requested_waivers",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # The decision (approval or rejection): who, when and why. A revocation is not a decision.
    decided_by = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="decided_waivers",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    # Set on approval only: the second person of the two-person rule (see the constraints).
    approved_by = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="approved_waivers",
    )
    # The approver's username, kept if the user is deleted; empty until approved.
    approver_name = models.CharField(max_length=150, blank=True)
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revoked_waivers",
    )
    revoke_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_waivers",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("starts_at")),
                name="readiness_waiver_expires_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""), name="readiness_waiver_reason_not_blank"
            ),
            models.CheckConstraint(
                condition=~Q(requirement_key=""), name="readiness_waiver_key_not_blank"
            ),
            # Two-person rule: nobody approves their own request. The core refuses it first,
            # with a message; this is the backstop for any other writer.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(requested_by__isnull=True)
                | ~Q(approved_by=F("requested_by")),
                name="readiness_waiver_approver_not_requester",
            ),
            # Approved and rejected waivers carry their decision time; a pending one has none.
            models.CheckConstraint(
                condition=Q(status__in=["approved", "rejected"], decided_at__isnull=False)
                | Q(status="pending", decided_at__isnull=True)
                | Q(status="revoked"),
                name="readiness_waiver_decision_matches_status",
            ),
        ]
        indexes = [
            # Waivers of an agency that may count at a date (results, ceiling check, portfolios).
            models.Index(fields=["agency", "expires_at"], name="readiness_waiver_agency_expiry"),
            # The pending-approvals page (readiness.waivers.list_waivers, status=pending).
            models.Index(
                fields=["requested_at"],
                condition=Q(status="pending"),
                name="readiness_waiver_pending",
            ),
        ]

    def __str__(self) -> str:
        target = f"device {self.device_id}" if self.device_id else "whole agency"
        return f"{self.requirement_key} waived for {target} until {self.expires_at:%Y-%m-%d}"

    @property
    def was_approved(self) -> bool:
        """Approved, now or before a revocation (a pending request revoked was never approved)."""
        return self.status == self.Status.APPROVED or (
            self.status == self.Status.REVOKED and self.decided_at is not None
        )

    def is_active_at(self, at: datetime.datetime) -> bool:
        """Whether the waiver counts at ``at`` (approved, started, not expired, not revoked by then)."""
        return (
            self.was_approved
            and self.starts_at <= at < self.expires_at
            and (self.revoked_at is None or self.revoked_at > at)
        )


class SnapshotSource(models.TextChoices):
    COMPUTED = "computed", "Computed from the fleet"
    DEMO = "demo", "Demo history (synthesised)"


class ReadinessSnapshot(models.Model):
    """Counts for one agency, version and requirement on one date: the trend's raw material.

    ``requirement_key`` empty is the agency's whole-version row: ``n_pass`` counts its
    devices that are ready (every applicable mandatory requirement passes or is waived, and
    the device reports), ``n_fail`` those that are not. Re-running a date replaces its rows.
    """

    TOTAL_KEY = ""

    Source = SnapshotSource

    date = models.DateField()
    agency = models.ForeignKey(
        "devices.Agency", on_delete=models.CASCADE, related_name="readiness_snapshots"
    )
    version = models.ForeignKey(
        RequirementSetVersion, on_delete=models.CASCADE, related_name="snapshots"
    )
    requirement_key = models.CharField(max_length=100, blank=True)
    weight = models.PositiveSmallIntegerField(default=1)
    is_mandatory = models.BooleanField(default=True)
    n_pass = models.PositiveIntegerField(default=0)
    n_fail = models.PositiveIntegerField(default=0)
    n_waived = models.PositiveIntegerField(default=0)
    n_na = models.PositiveIntegerField(default=0)
    # Applicable devices that reported within their expected interval at the time.
    n_reporting = models.PositiveIntegerField(default=0)
    score = models.FloatField(help_text="Share passing or waived of the applicable results, 0-100.")
    coverage = models.FloatField(help_text="Share of applicable devices reporting, 0-1.")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.COMPUTED)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "agency_id", "version_id", "requirement_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "agency", "version", "requirement_key"],
                name="readiness_snapshot_unique_per_day",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="readiness_snapshot_score_0_100"
            ),
            models.CheckConstraint(
                condition=Q(coverage__gte=0) & Q(coverage__lte=1),
                name="readiness_snapshot_coverage_0_1",
            ),
            models.CheckConstraint(
                condition=Q(source__in=[c.value for c in SnapshotSource]),
                name="readiness_snapshot_source_valid",
            ),
        ]
        indexes = [
            # The trend: one version's totals over a date range.
            models.Index(
                fields=["version", "requirement_key", "date"], name="readiness_snapshot_trend"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.agency_id} {self.version_id} {self.requirement_key or '(total)'}: {self.score:.1f}"

    @property
    def n_applicable(self) -> int:
        return self.n_pass + self.n_fail + self.n_waived


class ParticipationMetric(models.TextChoices):
    AGENCIES_ENGAGED = (
        "agencies_engaged",
        "Share of eligible agencies engaged (evaluating, pilot or subscribed)",
    )
    AGENCIES_SUBSCRIBED = "agencies_subscribed", "Share of eligible agencies subscribed"
    DEVICES_FIRSTNET = "devices_firstnet", "Share of cellular devices on FirstNet"
    DEVICES_BAND14 = "devices_band14", "Share of cellular devices Band 14 capable"


class FederalExpectation(models.Model):
    """One version of a federal participation target: a metric, a value, a date and a source.

    Targets change "rather frequently"; each version says what changed from the one it
    supersedes, so a chart can show actual participation against every expectation in turn.
    Targets without a public source are flagged ``is_illustrative`` and shown as such.
    """

    Metric = ParticipationMetric

    metric = models.CharField(max_length=32, choices=Metric.choices)
    version = models.CharField(max_length=32, help_text='e.g. "2021".')
    target_value = models.FloatField(help_text="A share, 0-1.")
    target_by = models.DateField(help_text="The date by which the target should be met.")
    effective_from = models.DateField(help_text="From when this expectation applies.")
    source = models.CharField(max_length=300)
    source_url = models.URLField(max_length=500, blank=True)
    change_note = models.CharField(
        max_length=500, blank=True, help_text="What changed from the previous version."
    )
    is_illustrative = models.BooleanField(default=False)
    scope = models.CharField(
        max_length=80,
        default="state",
        help_text='Whom the target is for: "state" (the whole state) or "cabinet:<slug>".',
    )
    supersedes = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["metric", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "version"], name="readiness_expectation_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(target_value__gte=0) & Q(target_value__lte=1),
                name="readiness_expectation_target_0_1",
            ),
            models.CheckConstraint(
                condition=Q(metric__in=[c.value for c in ParticipationMetric]),
                name="readiness_expectation_metric_valid",
            ),
            models.CheckConstraint(
                condition=Q(scope="state") | Q(scope__startswith="cabinet:"),
                name="readiness_expectation_scope_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.version}: {self.target_value:.0%} by {self.target_by}"


class ParticipationSnapshot(models.Model):
    """One agency's FirstNet participation on one date (device counts are not kept elsewhere)."""

    date = models.DateField()
    agency = models.ForeignKey(
        "devices.Agency", on_delete=models.CASCADE, related_name="participation_snapshots"
    )
    firstnet_status = models.CharField(max_length=16)
    devices_cellular = models.PositiveIntegerField(default=0)
    devices_firstnet = models.PositiveIntegerField(default=0)
    devices_band14 = models.PositiveIntegerField(default=0)
    source = models.CharField(
        max_length=12, choices=SnapshotSource.choices, default=SnapshotSource.COMPUTED
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "agency_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "agency"], name="readiness_participation_unique_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.agency_id}: {self.firstnet_status}"


# --- Briefing exports -----------------------------------------------------------------------
# Written by readiness.exports (request_briefing_export / build_briefing_export); the
# briefing page polls a row's status and progress.


class BriefingFormat(models.TextChoices):
    PPTX = "pptx", "PowerPoint (PPTX)"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF (two pages)"


class BriefingStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Building"
    DONE = "done", "Ready to download"
    FAILED = "failed", "Failed"


class BriefingExport(models.Model):
    """One briefing file: what was asked, what it was built from, and the file once built.

    ``parameters`` is the request (scope, set, version, comparison version, as-of, the earlier
    briefing to compare with); ``versions_in_effect``, ``as_of`` and ``data_hash`` say what the
    figures were built from, and ``figures`` keeps the headline figures and each agency's
    FirstNet status so a later briefing can say what changed since this one.
    """

    Format = BriefingFormat

    Status = BriefingStatus

    requested_by = models.ForeignKey(
        "devices.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="briefing_exports",
    )
    # Set for an agency-scoped briefing: its users may see it (tenancy goes by this field).
    agency = models.ForeignKey(
        "devices.Agency",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="briefing_exports",
    )
    scope = models.CharField(
        max_length=80, help_text='"state", "cabinet:<slug>" or "agency:<slug>".'
    )
    scope_label = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=8, choices=Format.choices)
    parameters = models.JSONField(default=dict)
    compare_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="compared_by",
        help_text="The earlier briefing this one reports changes since.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    as_of = models.DateField()
    versions_in_effect = models.JSONField(default=list, blank=True)
    data_hash = models.CharField(max_length=64, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="briefings/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=[c.value for c in BriefingFormat]),
                name="readiness_briefing_format_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[c.value for c in BriefingStatus]),
                name="readiness_briefing_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="readiness_briefing_progress_0_100"
            ),
            # A finished briefing always says what it was built from.
            models.CheckConstraint(
                condition=~Q(status="done") | (~Q(data_hash="") & ~Q(file="")),
                name="readiness_briefing_done_has_file_and_hash",
            ),
        ]
        indexes = [
            # The briefing page: an agency's (or everyone's) briefings, newest first.
            models.Index(fields=["agency", "-created_at"], name="readiness_briefing_agency"),
        ]

    def __str__(self) -> str:
        return f"Briefing #{self.pk} {self.scope} {self.format} ({self.status})"

    @property
    def filename(self) -> str:
        params = self.parameters or {}
        scope = self.scope.replace(":", "-")
        return f"briefing-{self.pk}-{scope}-{params.get('set', '')}-{self.as_of:%Y-%m-%d}.{self.format}"


# --- Evaluations of record --------------------------------------------------------------------
# Written by readiness.evaluations (the periodic task, the "re-evaluate now" button, the first
# request of a fresh install); "now" on every page, the API and briefings reads the latest.


class EvaluationTrigger(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    REQUESTED = "requested", "Re-evaluated on request"
    FIRST_READ = "first_read", "First request (none recorded yet)"
    DEMO = "demo", "Demo load"


class ReadinessEvaluation(models.Model):
    """The fleet evaluated against every version in effect at one moment: "now" for everyone.

    ``data_hash`` is the SHA-256 of its count rows (``readiness.evaluations.counts_hash``):
    the dashboard, the API and every briefing file built from it print the same hash.
    """

    Trigger = EvaluationTrigger

    evaluated_at = models.DateTimeField()
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    data_hash = models.CharField(max_length=64)
    devices = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(trigger__in=[c.value for c in EvaluationTrigger]),
                name="readiness_evaluation_trigger_valid",
            ),
            models.CheckConstraint(
                condition=~Q(data_hash=""), name="readiness_evaluation_hash_not_blank"
            ),
        ]
        indexes = [
            models.Index(fields=["-evaluated_at"], name="readiness_evaluation_latest"),
        ]

    def __str__(self) -> str:
        return f"Evaluation #{self.pk} at {self.evaluated_at:%Y-%m-%d %H:%M} ({self.trigger})"


class EvaluationCount(models.Model):
    """One agency's counts for one version and requirement in an evaluation (as a snapshot row).

    ``requirement_key`` empty is the agency's whole-version row (``n_pass`` ready devices,
    ``n_fail`` not ready), exactly as in ``ReadinessSnapshot``.
    """

    evaluation = models.ForeignKey(
        ReadinessEvaluation, on_delete=models.CASCADE, related_name="counts"
    )
    version = models.ForeignKey(
        RequirementSetVersion, on_delete=models.CASCADE, related_name="evaluation_counts"
    )
    agency = models.ForeignKey(
        "devices.Agency", on_delete=models.CASCADE, related_name="evaluation_counts"
    )
    requirement_key = models.CharField(max_length=100, blank=True)
    weight = models.PositiveSmallIntegerField(default=1)
    is_mandatory = models.BooleanField(default=True)
    n_pass = models.PositiveIntegerField(default=0)
    n_fail = models.PositiveIntegerField(default=0)
    n_waived = models.PositiveIntegerField(default=0)
    n_na = models.PositiveIntegerField(default=0)
    n_reporting = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["evaluation_id", "version_id", "agency_id", "requirement_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "version", "agency", "requirement_key"],
                name="readiness_evaluation_count_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluation_id} {self.version_id} {self.agency_id} {self.requirement_key}"
