"""The one place that decides which telemetry a user may see.

Same rule as the inventory (`devices.scoping`): state staff see every agency, agency users
see only their own, and anything else answers 404 so another agency's rows cannot even be
confirmed to exist. Every telemetry read (API, pages, health panel, alerts) goes through
`scope_telemetry` or one of the named helpers below; none re-checks roles by hand.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from devices.models import User
from devices.scoping import get_visible_or_404, scope_to_user
from telemetry.models import DeadLetter, DeviceHealth, GatewayStatus, TelemetryReading

M = TypeVar("M", bound=Model)

__all__ = [
    "get_visible_or_404",
    "scope_telemetry",
    "visible_dead_letters",
    "visible_device_health",
    "visible_gateway_status",
    "visible_readings",
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


