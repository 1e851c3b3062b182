"""Admin for the requirement catalog: read-mostly, because the TOML files are the source."""

from __future__ import annotations

from django.contrib import admin

from readiness.models import (
    Requirement,
    RequirementRemoval,
    RequirementSet,
    RequirementSetVersion,
    VersionStatus,
)

# Shown and read-only alike: the inlines display what load_requirements wrote.
_REQUIREMENT_FIELDS = (
    "code",
    "section",
    "key",
    "title",
    "severity",
    "weight",
    "relation",
    "applies_to",
)
_REMOVAL_FIELDS = ("key", "previous", "note")


class RequirementInline(admin.TabularInline):
    model = Requirement
    fk_name = "version"
    fields = _REQUIREMENT_FIELDS
    readonly_fields = _REQUIREMENT_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True


class RequirementRemovalInline(admin.TabularInline):
    model = RequirementRemoval
    fk_name = "version"
    fields = _REMOVAL_FIELDS
    readonly_fields = _REMOVAL_FIELDS
    extra = 0
    can_delete = False


@admin.register(RequirementSet)
class RequirementSetAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "publisher"]
    search_fields = ["code", "name", "publisher"]


@admin.register(RequirementSetVersion)
class RequirementSetVersionAdmin(admin.ModelAdmin):
    list_display = [
        "requirement_set",
        "version",
        "status",
        "effective_on",
        "issuing_authority",
        "supersedes",
    ]
    list_filter = ["status", "requirement_set"]
    search_fields = ["version", "title", "issuing_authority", "source_note"]
    # Content changes go through the files and load_requirements, which validates them.
    readonly_fields = ["source_file", "content_hash", "created_at", "updated_at"]
    inlines = [RequirementInline, RequirementRemovalInline]


@admin.register(Requirement)
class RequirementAdmin(admin.ModelAdmin):
    # Only a draft's requirements may change (readiness.models.require_draft_version refuses
    # the rest); the admin shows the others read-only instead of failing on save.
    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        editable = obj is None or obj.version.status == VersionStatus.DRAFT
        return editable and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        editable = obj is None or obj.version.status == VersionStatus.DRAFT
        return editable and super().has_delete_permission(request, obj)

    list_display = ["code", "section", "key", "title", "version", "severity", "weight", "relation"]
    list_filter = ["severity", "relation", "version__requirement_set"]
    search_fields = ["code", "key", "title", "explanation"]
    raw_id_fields = ["previous"]
