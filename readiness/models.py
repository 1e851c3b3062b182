"""Readiness: versioned requirement sets, waivers, snapshots, participation targets.

The requirement catalog (this block) is loaded from the TOML files in
``readiness/requirement_sets/`` by ``manage.py load_requirements`` (``readiness.loader``);
nothing edits it by hand. A requirement keeps a stable ``key`` across versions while its
``section`` may be renumbered; each requirement records how it relates to the previous
version, and ``RequirementRemoval`` records what a version dropped, so a what-if between two
versions never has to guess.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class RequirementSet(models.Model):
    """A family of requirements with versions, e.g. the CJIS mobile-device controls."""

    code = models.SlugField(max_length=64, unique=True, help_text="Stable code, e.g. cjis-mobile.")
    name = models.CharField(max_length=200)
    publisher = models.CharField(max_length=200, help_text="Who publishes the set, e.g. FBI CJIS Division.")
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

    requirement_set = models.ForeignKey(RequirementSet, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=32, help_text='As the publisher numbers it, e.g. "5.9" or "6.0".')
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
                condition=Q(status__in=[c.value for c in VersionStatus]), name="readiness_version_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(supersedes=F("id")), name="readiness_version_not_superseding_itself"
            ),
        ]
        indexes = [
            # version_in_effect(): the latest non-draft version of a set on or before a date.
            models.Index(fields=["requirement_set", "status", "effective_on"], name="readiness_version_in_effect"),
        ]

    def __str__(self) -> str:
        return f"{self.requirement_set.code} {self.version} ({self.status})"


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

    version = models.ForeignKey(RequirementSetVersion, on_delete=models.CASCADE, related_name="requirements")
    key = models.CharField(
        max_length=100, help_text="Stable across versions, e.g. cjis.mdm.enrolled."
    )
    code = models.CharField(max_length=40, help_text="Short code, unique within the version.")
    section = models.CharField(max_length=40, blank=True, help_text="Section number in this version.")
    title = models.CharField(max_length=300)
    explanation = models.TextField(help_text="What the requirement asks, in plain language.")
    # Device kinds (devices.models.DeviceKind values); empty means every kind.
    applies_to = models.JSONField(default=list, blank=True)
    applies_when = models.JSONField(
        null=True, blank=True, help_text="Optional rule: the requirement applies only where it holds."
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
            models.UniqueConstraint(fields=["version", "key"], name="readiness_requirement_key_unique_per_version"),
            models.UniqueConstraint(fields=["version", "code"], name="readiness_requirement_code_unique_per_version"),
            models.CheckConstraint(
                condition=Q(severity__in=[c.value for c in Severity]), name="readiness_requirement_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(relation__in=[c.value for c in Relation]), name="readiness_requirement_relation_valid"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=100), name="readiness_requirement_weight_1_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class RequirementRemoval(models.Model):
    """A requirement of the superseded version that this version no longer contains."""

    version = models.ForeignKey(RequirementSetVersion, on_delete=models.CASCADE, related_name="removals")
    key = models.CharField(max_length=100)
    previous = models.ForeignKey(
        Requirement, on_delete=models.CASCADE, related_name="removals", help_text="The dropped requirement."
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["version", "key"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="readiness_removal_key_unique_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.version}: removed {self.key}"
