"""The one place that decides which telemetry a user may see.

Same rule as the inventory (`devices.scoping`): state staff see every agency, agency users
see only their own, and anything else answers 404 so another agency's rows cannot even be
confirmed to exist. Every telemetry read (API, pages, health panel, alerts, maintenance
windows, notification channels) goes through `scope_telemetry` or one of the named helpers
below; none re-checks roles by hand.

Who may change telemetry settings is decided here too, at the interface, before the core
runs: agency admins for their own agency and state staff for every agency
(`devices.scoping.can_manage`) manage maintenance windows and notification channels, and
acknowledge alerts. The core functions (`telemetry.maintenance`, `telemetry.notify`,
`telemetry.alerts`) take the already-checked actor for the audit record only.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from config.errors import Forbidden
from devices.models import Agency, User
from devices.scoping import can_manage, get_visible_or_404, require_writer, scope_to_user
from telemetry.models import (
    Alert,
    DeadLetter,
    DeviceHealth,
    GatewayStatus,
    MaintenanceWindow,
    NotificationChannel,
    TelemetryReading,
)

M = TypeVar("M", bound=Model)

__all__ = [
    "can_acknowledge_alerts",
    "get_visible_or_404",
    "require_alert_handler",
    "require_channel_manager",
    "require_window_manager",
    "scope_telemetry",
    "visible_alerts",
    "visible_channels",
    "visible_dead_letters",
    "visible_device_health",
    "visible_gateway_status",
    "visible_readings",
    "visible_windows",
]


def scope_telemetry(queryset: QuerySet[M], user: User, *, agency_field: str) -> QuerySet[M]:
    """Filter any telemetry queryset to what ``user`` may see.

    ``agency_field`` is the lookup path to the owning agency, e.g. ``"device__agency"`` for
    a per-device row, ``"gateway__agency"`` for a per-gateway row or ``"agency"`` for a
    dead letter. Delegates to the inventory rule so both apps answer the same way.
    """
    return scope_to_user(queryset, user, agency_field=agency_field)


def visible_dead_letters(user: User) -> QuerySet[DeadLetter]:
    # A dead letter whose topic named no known agency has agency NULL: only state staff see it.
    return scope_telemetry(DeadLetter.objects.select_related("agency"), user, agency_field="agency")


def visible_gateway_status(user: User) -> QuerySet[GatewayStatus]:
    return scope_telemetry(
        GatewayStatus.objects.select_related("gateway", "gateway__agency"),
        user,
        agency_field="gateway__agency",
    )


def visible_device_health(user: User) -> QuerySet[DeviceHealth]:
    return scope_telemetry(
        DeviceHealth.objects.select_related("device", "device__agency", "device__model"),
        user,
        agency_field="device__agency",
    )


def visible_readings(user: User) -> QuerySet[TelemetryReading]:
    return scope_telemetry(TelemetryReading.objects.all(), user, agency_field="device__agency")


def visible_alerts(user: User) -> QuerySet[Alert]:
    """Alerts ``user`` may see (state staff: all; agency users: their agency's)."""
    return scope_telemetry(
        Alert.objects.select_related(
            "agency", "device", "device__model", "gateway", "gateway__agency", "acknowledged_by"
        ),
        user,
        agency_field="agency",
    )


def visible_windows(user: User) -> QuerySet[MaintenanceWindow]:
    return scope_telemetry(
        MaintenanceWindow.objects.select_related("agency", "device", "created_by"),
        user,
        agency_field="agency",
    )


def visible_channels(user: User) -> QuerySet[NotificationChannel]:
    """Agency users see their agency's channels; state staff see all, state-wide ones included."""
    # A state-wide channel has agency NULL: the inventory rule shows it to state staff only.
    return scope_telemetry(
        NotificationChannel.objects.select_related("agency"), user, agency_field="agency"
    )


# --- who may change what ---------------------------------------------------------------------


def can_acknowledge_alerts(user: User) -> bool:
    """Whether pages offer ``user`` the acknowledge button on the alerts they can see."""
    return user.can_manage_inventory


def require_alert_handler(user: User) -> None:
    """Refuse a read-only role (403) before an alert it can see is acknowledged."""
    require_writer(user)


def require_window_manager(user: User, agency: Agency | int) -> None:
    """Agency admins manage their own agency's maintenance windows; state staff every agency's."""
    if not can_manage(user, agency):
        raise Forbidden(
            "Only state staff and this agency's admins can manage its maintenance windows."
        )


def require_channel_manager(user: User, agency: Agency | int | None, *, action: str) -> None:
    """Agency admins ``action`` ("add", "remove") their agency's notification channels; state
    staff any, and only they the state-wide ones (``agency`` None)."""
    if user.is_state_staff or (agency is not None and can_manage(user, agency)):
        return
    raise Forbidden(
        f"Only state staff, or an agency's admins for their agency, can {action} notification channels."
    )
