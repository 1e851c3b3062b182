"""Alerts: opened and resolved by the health code, acknowledged by people.

Opening is ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` against the partial unique
constraints (one open alert per device or gateway and cause), so a second sweeper or a
redelivered message cannot open a duplicate, and only alerts really opened are notified.
Every function here runs inside the caller's transaction; notifications are enqueued once
it commits, so nothing is sent for a rolled-back change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from celery import current_app
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from config.errors import Conflict
from devices import audit
from devices.models import Device, Gateway, User
from telemetry.models import Alert, AlertCause, Notification, NotificationChannel

_CHUNK = 500
# A dispatch task carries at most this many alert ids, so a mass outage is a few messages.
_DISPATCH_CHUNK = 1000
# The registered name of `telemetry.tasks.dispatch_alert_notifications_task`. Sent by name:
# the tasks module imports the sweep, which imports this module, so importing the task
# object here would close a cycle (core never imports its interfaces).
DISPATCH_NOTIFICATIONS_TASK = "telemetry.dispatch_alert_notifications"


def _db_datetime(value: datetime) -> object:
    # Raw SQL needs the backend's datetime form (SQLite stores naive UTC text).
    return connection.ops.adapt_datetimefield_value(value)


def _insert_alerts(
    rows: Sequence[tuple[int, int | None, int | None, str, str]], now: datetime
) -> list[int]:
    """Insert (agency, device, gateway, cause, detail) rows; return ids of those inserted."""
    opened: list[int] = []
    table = Alert._meta.db_table
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, '')"] * len(chunk))
        params: list[Any] = []
        for agency_id, device_id, gateway_id, cause, detail in chunk:
            params += [agency_id, device_id, gateway_id, cause, detail[:500], _db_datetime(now)]
        sql = (
            f"INSERT INTO {table} (agency_id, device_id, gateway_id, cause, detail, opened_at, resolution) "
            f"VALUES {values} ON CONFLICT DO NOTHING RETURNING id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            opened += [row[0] for row in cursor.fetchall()]
    return opened


def open_device_alerts(*, details: dict[int, str], cause: str, now: datetime) -> list[int]:
    """Open one alert per device in ``details`` (device id → detail) unless one is open."""
    if not details:
        return []
    agency_of = dict(Device.objects.filter(pk__in=list(details)).values_list("pk", "agency_id"))
    rows = [(agency_of[d], d, None, cause, text) for d, text in details.items() if d in agency_of]
    opened = _insert_alerts(rows, now)
    notify(opened, Notification.Event.OPENED)
    return opened


def open_gateway_alert(*, gateway: Gateway, detail: str, now: datetime) -> int | None:
    opened = _insert_alerts(
        [(gateway.agency_id, None, gateway.pk, AlertCause.GATEWAY_OFFLINE, detail)], now
    )
    notify(opened, Notification.Event.OPENED)
    return opened[0] if opened else None


def _resolve(ids: list[int], *, now: datetime, resolution: str) -> list[int]:
    if not ids:
        return []
    # Conditional: an alert resolved meanwhile by another process is not resolved (or notified) twice.
    resolved: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        still_open = list(
            Alert.objects.filter(pk__in=chunk, resolved_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        Alert.objects.filter(pk__in=still_open, resolved_at__isnull=True).update(
            resolved_at=now, resolution=resolution[:300]
        )
        resolved += still_open
    notify(resolved, Notification.Event.RESOLVED)
    return resolved


def resolve_device_alerts(
    *, device_ids: Iterable[int], causes: Iterable[str], now: datetime, resolution: str
) -> list[int]:
    """Resolve the open alerts of these devices with these causes; return their ids."""
    ids = list(device_ids)
    if not ids:
        return []
    found: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        found += Alert.objects.filter(
            device_id__in=ids[start : start + _CHUNK],
            cause__in=list(causes),
            resolved_at__isnull=True,
        ).values_list("pk", flat=True)
    return _resolve(found, now=now, resolution=resolution)


def resolve_gateway_alert(*, gateway_id: int, now: datetime, resolution: str) -> list[int]:
    ids = list(
        Alert.objects.filter(
            gateway_id=gateway_id, cause=AlertCause.GATEWAY_OFFLINE, resolved_at__isnull=True
        ).values_list("pk", flat=True)
    )
    return _resolve(ids, now=now, resolution=resolution)


def acknowledge_alert(*, alert: Alert, user: User, request: HttpRequest | None = None) -> Alert:
    """A person takes the alert on. Audited. Refused (409) when resolved or already taken."""
    now = timezone.now()
    with transaction.atomic():
        # Conditional update: two people clicking at once, exactly one wins.
        won = Alert.objects.filter(
            pk=alert.pk, resolved_at__isnull=True, acknowledged_at__isnull=True
        ).update(acknowledged_at=now, acknowledged_by=user)
        alert.refresh_from_db()
        if not won:
            if alert.resolved_at is not None:
                raise Conflict("This alert is already resolved; there is nothing to acknowledge.")
            by = alert.acknowledged_by.get_username() if alert.acknowledged_by else "someone"
            raise Conflict(
                f"This alert was already acknowledged by {by} at {alert.acknowledged_at:%Y-%m-%d %H:%M:%S %Z}."
            )
        audit.record(
            actor=user,
            action="update",
            obj=alert,
            object_type="alert",
            agency_id=alert.agency_id,
            after={"acknowledged_at": now.isoformat(), "acknowledged_by": user.get_username()},
            message=f"Acknowledged alert: {alert}",
            request=request,
        )
    return alert


def notify(alert_ids: Sequence[int], event: str) -> None:
    """Enqueue notifications for these alerts after the transaction commits.

    Skips the broker entirely when no channel is configured (one cheap query), which is the
    common case in development and keeps a mass flip from queueing work nobody will deliver.
    """
    if not alert_ids or not NotificationChannel.objects.filter(is_active=True).exists():
        return
    ids = list(alert_ids)
    for start in range(0, len(ids), _DISPATCH_CHUNK):
        transaction.on_commit(
            partial(
                current_app.send_task,
                DISPATCH_NOTIFICATIONS_TASK,
                args=(ids[start : start + _DISPATCH_CHUNK], event),
            )
        )


ALERT_STATES = ("open", "acknowledged", "resolved", "active", "all")


def filter_alerts(
    alerts: QuerySet[Alert],
    *,
    state: str = "active",
    cause: str | None = None,
    agency: str | None = None,
    device_id: int | None = None,
    gateway_id: int | None = None,
) -> QuerySet[Alert]:
    """Narrow an already scoped queryset. ``active`` = open or acknowledged (not resolved)."""
    if state == "open":
        alerts = alerts.filter(resolved_at__isnull=True, acknowledged_at__isnull=True)
    elif state == "acknowledged":
        alerts = alerts.filter(resolved_at__isnull=True, acknowledged_at__isnull=False)
    elif state == "resolved":
        alerts = alerts.filter(resolved_at__isnull=False)
    elif state == "active":
        alerts = alerts.filter(resolved_at__isnull=True)
    if cause:
        alerts = alerts.filter(cause=cause)
    if agency:
        alerts = alerts.filter(agency__slug=agency)
    if device_id:
        alerts = alerts.filter(device_id=device_id)
    if gateway_id:
        alerts = alerts.filter(gateway_id=gateway_id)
    return alerts
