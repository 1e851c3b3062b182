"""Health API: alerts (list, read, acknowledge), a device's health, flips and uptime,
maintenance windows and notification channels.

Thin operations: scope through `telemetry.scoping` (another agency's object answers 404),
call one core function, return what the response schema shapes. Mounted by `telemetry.api`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status

from config.api import NOT_FOUND_ERRORS, WRITE_ERRORS
from config.errors import InvalidInput
from config.pagination import paginated
from config.proxies import client_address
from config.typing import AuthedRequest
from devices.models import Agency, Device, DeviceKind, User
from devices.scoping import visible_agencies, visible_devices
from telemetry import alerts, maintenance, notify, scoping, selectors
from telemetry.models import (
    Alert,
    AlertCause,
    ChannelKind,
    FlipCause,
    HealthFlip,
    HealthLevel,
    MaintenanceRecurrence,
    NotificationChannel,
)

router = Router(tags=["health"])

MAX_ID = 2**63 - 1
Id = Path(..., ge=1, le=MAX_ID)
NO_CONTENT: dict[int, Any] = {204: None, **WRITE_ERRORS}


# --- alerts ------------------------------------------------------------------------------


class AlertOut(Schema):
    id: int
    cause: AlertCause
    cause_display: str = Field(..., alias="get_cause_display")
    state: Literal["open", "acknowledged", "resolved"]
    detail: str
    agency: str = Field(..., alias="agency.slug")
    device_id: int | None
    device_serial: str | None = None
    gateway_id: int | None
    gateway_name: str | None = None
    opened_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None
    resolution: str

    @staticmethod
    def resolve_device_serial(obj: Alert) -> str | None:
        return obj.device.serial if obj.device else None

    @staticmethod
    def resolve_gateway_name(obj: Alert) -> str | None:
        return obj.gateway.name if obj.gateway else None

    @staticmethod
    def resolve_acknowledged_by(obj: Alert) -> str | None:
        return obj.acknowledged_by.get_username() if obj.acknowledged_by else None


class AlertFilter(Schema):
    state: Literal["open", "acknowledged", "resolved", "active", "all"] = Field(
        "active", description="active = open or acknowledged (not yet resolved)."
    )
    cause: AlertCause | None = None
    agency: str | None = Field(None, max_length=64, description="Agency slug (state staff).")
    device_id: int | None = Field(None, ge=1, le=MAX_ID)
    gateway_id: int | None = Field(None, ge=1, le=MAX_ID)


@router.get("/alerts", response={200: list[AlertOut], **NOT_FOUND_ERRORS}, tags=["alerts"])
@paginated
def list_alerts(request: AuthedRequest, filters: Query[AlertFilter]):
    """Alerts you can see, newest first; by default the ones not yet resolved."""
    return alerts.filter_alerts(scoping.visible_alerts(request.user), **filters.dict())


@router.get("/alerts/{int:alert_id}", response={200: AlertOut, **NOT_FOUND_ERRORS}, tags=["alerts"])
def get_alert(request: AuthedRequest, alert_id: int = Id):
    return get_object_or_404(scoping.visible_alerts(request.user), pk=alert_id)


@router.post(
    "/alerts/{int:alert_id}/acknowledge", response={200: AlertOut, **WRITE_ERRORS}, tags=["alerts"]
)
def acknowledge_alert(request: AuthedRequest, alert_id: int = Id):
    """Take an alert on (agency admins for their agency, state staff for any). 409 if resolved
    or already acknowledged."""
    alert = get_object_or_404(scoping.visible_alerts(request.user), pk=alert_id)
    scoping.require_alert_handler(request.user)
    return alerts.acknowledge_alert(alert=alert, user=request.user, request=request)


# --- device health -----------------------------------------------------------------------


class FlipOut(Schema):
    at: dt.datetime
    old_level: HealthLevel
    new_level: HealthLevel
    cause: FlipCause
    cause_display: str = Field(..., alias="get_cause_display")
    detail: str


class DeviceHealthOut(Schema):
    device_id: int
    serial: str
    level: HealthLevel
    since: dt.datetime | None = Field(None, description="When the device reached this level.")
    why: FlipOut | None = Field(None, description="The flip that set the current level.")
    problems: list[str]
    is_in_maintenance: bool
    uptime_this_month: float | None
    last_reading_at: dt.datetime | None = None
    last_received_at: dt.datetime | None = None
    gateway: str | None = None
    battery_pct: float | None = None
    rsrp_dbm: float | None = None
    storage_pct: float | None = None
    firmware: str = ""
    gps_fix: bool | None = None
    temperature_c: float | None = None
    open_alerts: list[AlertOut]


def _device(request: AuthedRequest, device_id: int) -> Device:
    return get_object_or_404(visible_devices(request.user), pk=device_id)


@router.get(
    "/devices/{int:device_id}/health",
    response={200: DeviceHealthOut, **NOT_FOUND_ERRORS},
    tags=["health"],
)
def get_device_health(request: AuthedRequest, device_id: int = Id):
    """Level, since when and why, readable problems, last values and open alerts."""
    card = selectors.device_health_card(device=_device(request, device_id), now=timezone.now())
    h = card.health
    values = (
        {
            f: getattr(h, f)
            for f in (
                "last_reading_at",
                "last_received_at",
                "battery_pct",
                "rsrp_dbm",
                "storage_pct",
                "firmware",
                "gps_fix",
                "temperature_c",
            )
        }
        if h
        else {}
    )
    return {
        "device_id": card.device.pk,
        "serial": card.device.serial,
        "level": card.level,
        "since": card.since,
        "why": card.why,
        "problems": card.problems,
        "is_in_maintenance": card.is_in_maintenance,
        "uptime_this_month": card.uptime_this_month,
        "gateway": str(h.gateway) if h and h.gateway else None,
        "open_alerts": card.open_alerts,
        **values,
    }


@router.get(
    "/devices/{int:device_id}/flips",
    response={200: list[FlipOut], **NOT_FOUND_ERRORS},
    tags=["health"],
)
@paginated
def list_device_flips(request: AuthedRequest, device_id: int = Id):
    """Every change of the device's health, newest first, with its cause."""
    device = _device(request, device_id)
    return HealthFlip.objects.filter(device=device).order_by("-at", "-id")


class UptimeOut(Schema):
    device_id: int
    month: str
    uptime: float | None = Field(
        ...,
        description="Share of the month up (online or late); null when never counted. "
        "Maintenance and never-seen time are left out.",
    )


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@router.get(
    "/devices/{int:device_id}/uptime",
    response={200: UptimeOut, **NOT_FOUND_ERRORS},
    tags=["health"],
)
def get_device_uptime(
    request: AuthedRequest,
    device_id: int = Id,
    month: str | None = Query(None, description="YYYY-MM; the current month if left out."),
):
    device = _device(request, device_id)
    now = timezone.localtime()
    if month is None:
        year, number = now.year, now.month
    else:
        match = _MONTH.match(month)
        if not match:
            raise InvalidInput("month: use YYYY-MM, e.g. 2026-05", field="month")
        year, number = int(match.group(1)), int(match.group(2))
    value = selectors.monthly_uptime(device_id=device.pk, year=year, month=number, now=now)
    return {"device_id": device.pk, "month": f"{year:04d}-{number:02d}", "uptime": value}


# --- maintenance windows -----------------------------------------------------------------


class WindowOut(Schema):
    id: int
    agency: str = Field(..., alias="agency.slug")
    title: str
    recurrence: MaintenanceRecurrence
    device_kind: str
    device_id: int | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    daily_start: dt.time | None
    daily_end: dt.time | None
    time_zone: str
    created_at: dt.datetime


class WindowIn(Schema):
    agency: str | None = Field(
        None, max_length=64, description="Agency slug; your own agency if left out."
    )
    title: str = Field(..., min_length=1, max_length=200)
    recurrence: MaintenanceRecurrence
    device_kind: str = Field(
        "",
        max_length=24,
        description=f"Only devices of this kind ({', '.join(DeviceKind.values)}); empty for every kind.",
    )
    device_id: int | None = Field(None, ge=1, le=MAX_ID, description="Only this device.")
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    daily_start: dt.time | None = Field(None, description="Local time, e.g. 23:00 (daily windows).")
    daily_end: dt.time | None = Field(
        None, description="Local time, e.g. 06:00; before the start wraps midnight."
    )
    time_zone: str | None = Field(
        None, max_length=64, description="IANA zone; the server's if left out."
    )


def _agency_for_write(user: User, slug: str | None) -> Agency:
    if slug is None:
        if user.agency is None:
            raise InvalidInput("agency: state staff must name the agency", field="agency")
        return user.agency
    return get_object_or_404(visible_agencies(user), slug=slug)


@router.get(
    "/maintenance-windows",
    response={200: list[WindowOut], **NOT_FOUND_ERRORS},
    tags=["maintenance"],
)
@paginated
def list_maintenance_windows(request: AuthedRequest):
    return scoping.visible_windows(request.user)


@router.post(
    "/maintenance-windows", response={201: WindowOut, **WRITE_ERRORS}, tags=["maintenance"]
)
def create_maintenance_window(request: AuthedRequest, payload: WindowIn):
    """A window in which silence is expected: devices go to "maintenance", no alerts."""
    agency = _agency_for_write(request.user, payload.agency)
    device = _device(request, payload.device_id) if payload.device_id else None
    data = payload.dict(exclude={"agency", "device_id"})
    scoping.require_window_manager(request.user, agency)
    window = maintenance.create_window(
        actor=request.user,
        agency=agency,
        device=device,
        remote_addr=client_address(request),
        **data,
    )
    return Status(201, window)


@router.get(
    "/maintenance-windows/{int:window_id}",
    response={200: WindowOut, **NOT_FOUND_ERRORS},
    tags=["maintenance"],
)
def get_maintenance_window(request: AuthedRequest, window_id: int = Id):
    return get_object_or_404(scoping.visible_windows(request.user), pk=window_id)


@router.delete("/maintenance-windows/{int:window_id}", response=NO_CONTENT, tags=["maintenance"])
def delete_maintenance_window(request: AuthedRequest, window_id: int = Id):
    window = get_object_or_404(scoping.visible_windows(request.user), pk=window_id)
    scoping.require_window_manager(request.user, window.agency_id)
    maintenance.delete_window(
        actor=request.user, window=window, remote_addr=client_address(request)
    )
    return Status(204, None)


# --- notification channels ---------------------------------------------------------------


class ChannelOut(Schema):
    id: int
    agency: str | None = None
    kind: ChannelKind
    name: str
    target: str
    is_active: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_agency(obj: NotificationChannel) -> str | None:
        return obj.agency.slug if obj.agency else None


class ChannelCreatedOut(ChannelOut):
    secret: str = Field(..., description="The webhook's HMAC-SHA256 key; shown only now.")


class ChannelIn(Schema):
    agency: str | None = Field(
        None,
        max_length=64,
        description="Agency slug; left out: your agency, or every agency for state staff.",
    )
    kind: ChannelKind
    name: str = Field(..., min_length=1, max_length=100)
    target: str = Field(
        ..., min_length=3, max_length=500, description="E-mail address or http(s) URL."
    )
    secret: str = Field("", max_length=128, description="Webhook key; a random one if left empty.")


@router.get(
    "/notification-channels",
    response={200: list[ChannelOut], **NOT_FOUND_ERRORS},
    tags=["alerts"],
)
@paginated
def list_notification_channels(request: AuthedRequest):
    return scoping.visible_channels(request.user)


@router.post(
    "/notification-channels", response={201: ChannelCreatedOut, **WRITE_ERRORS}, tags=["alerts"]
)
def create_notification_channel(request: AuthedRequest, payload: ChannelIn):
    """Where alerts are sent: e-mail, or a webhook signed with HMAC-SHA256 (see README)."""
    agency = None
    if payload.agency is not None:
        agency = get_object_or_404(visible_agencies(request.user), slug=payload.agency)
    elif not request.user.is_state_staff:
        agency = request.user.agency
    scoping.require_channel_manager(request.user, agency, action="add")
    channel = notify.create_channel(
        actor=request.user,
        agency=agency,
        kind=payload.kind,
        name=payload.name,
        target=payload.target,
        secret=payload.secret,
        remote_addr=client_address(request),
    )
    return Status(201, channel)


@router.delete("/notification-channels/{int:channel_id}", response=NO_CONTENT, tags=["alerts"])
def delete_notification_channel(request: AuthedRequest, channel_id: int = Id):
    channel = get_object_or_404(scoping.visible_channels(request.user), pk=channel_id)
    scoping.require_channel_manager(request.user, channel.agency_id, action="remove")
    notify.delete_channel(actor=request.user, channel=channel, remote_addr=client_address(request))
    return Status(204, None)
