"""Django admin for the inventory. The audit log is read-only here as everywhere."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest

from devices import audit
from devices.models import (
    Agency,
    ApiToken,
    AuditRecord,
    Cabinet,
    Device,
    DeviceModel,
    DeviceStatusChange,
    FirstNetStatusChange,
    Gateway,
    PeriodicRun,
    User,
)


def _actor(request: HttpRequest) -> User | None:
    # The admin site lets only signed-in staff this far; the check narrows the type.
    return request.user if request.user.is_authenticated else None


class AuditedAdmin(admin.ModelAdmin):
    """Edits made in the admin land in the audit log like every other change."""

    def save_model(self, request: HttpRequest, obj: Model, form: object, change: bool) -> None:
        with transaction.atomic():
            before = audit.snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
            super().save_model(request, obj, form, change)
            audit.record(
                actor=_actor(request),
                action="update" if change else "create",
                obj=obj,
                before=before,
                after=audit.snapshot(obj),
                message="admin",
                request=request,
            )

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        with transaction.atomic():
            audit.record(
                actor=_actor(request),
                action="delete",
                obj=obj,
                before=audit.snapshot(obj),
                message="admin",
                request=request,
            )
            super().delete_model(request, obj)

    def get_actions(self, request: HttpRequest) -> dict:
        # Bulk delete skips delete_model, and with it the audit log.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Cabinet)
class CabinetAdmin(AuditedAdmin):
    list_display = ["name", "slug", "brm"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class FirstNetStatusChangeInline(admin.TabularInline):
    model = FirstNetStatusChange
    extra = 0


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    list_display = [
        "name",
        "slug",
        "kind",
        "cabinet",
        "county",
        "firstnet_status",
        "firstnet_status_changed_on",
    ]
    list_filter = ["kind", "firstnet_status", "cabinet"]
    search_fields = ["name", "slug", "county", "ori"]
    list_select_related = ["cabinet"]
    inlines = [FirstNetStatusChangeInline]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "agency", "is_active", "is_staff"]
    list_filter = ["role", "agency", "is_active", "is_staff"]
    list_select_related = ["agency"]
    fieldsets = [*(BaseUserAdmin.fieldsets or ()), ("Tracker", {"fields": ["role", "agency"]})]
    add_fieldsets = [*BaseUserAdmin.add_fieldsets, ("Tracker", {"fields": ["role", "agency"]})]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "user",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope", "revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    # Tokens are issued by `create_api_token` or the API (the token is shown once there);
    # the admin can only look and set revoked_at (a longer life or a wider scope is a new token).
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(DeviceModel)
class DeviceModelAdmin(AuditedAdmin):
    list_display = [
        "manufacturer",
        "name",
        "kind",
        "has_band14",
        "firstnet_program",
        "fips_140_level",
        "is_cellular",
        "unit_cost",
    ]
    list_filter = ["kind", "manufacturer", "has_band14", "firstnet_program", "is_cellular"]
    search_fields = ["manufacturer", "name"]


class DeviceStatusChangeInline(admin.TabularInline):
    model = DeviceStatusChange
    extra = 0
    readonly_fields = ["from_status", "to_status", "changed_at", "changed_by"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(AuditedAdmin):
    list_display = [
        "serial",
        "asset_tag",
        "agency",
        "model",
        "status",
        "network",
        "status_changed_at",
    ]
    list_filter = ["status", "network", "model__kind", "agency"]
    search_fields = ["serial", "asset_tag", "imei", "iccid"]
    list_select_related = ["agency", "model"]
    raw_id_fields = ["agency", "model"]
    # The lifecycle moves through the API and pages, which keep its history.
    readonly_fields = ["manufacturer", "status", "status_changed_at", "created_at", "updated_at"]
    list_per_page = 100
    # Counting 100,000 rows for every filtered page is the slow part of a big changelist.
    show_full_result_count = False
    inlines = [DeviceStatusChangeInline]


@admin.register(Gateway)
class GatewayAdmin(AuditedAdmin):
    list_display = ["name", "agency", "is_active", "created_at"]
    list_filter = ["is_active", "agency"]
    search_fields = ["name", "description"]
    list_select_related = ["agency"]
    # Set through the API or the gateway page, where the secret is generated and shown once.
    readonly_fields = ["credential_hash"]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "actor_name",
        "action",
        "object_type",
        "object_repr",
        "agency",
        "remote_addr",
    ]
    list_filter = ["action", "object_type", "agency"]
    search_fields = ["object_repr", "object_id", "actor_name", "message"]
    list_select_related = ["agency"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PeriodicRun)
class PeriodicRunAdmin(admin.ModelAdmin):
    list_display = ["name", "slot", "claimed_at"]
    list_filter = ["name"]
