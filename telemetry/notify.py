"""Alert notifications: e-mail through Django's mail, and a webhook signed with HMAC-SHA256.

Delivery is two steps, both Celery tasks (`telemetry.tasks`): `dispatch()` turns an alert
event into one `Notification` row per matching channel (unique by alert, channel and event,
so a redelivered task creates nothing twice) and enqueues one delivery per row; `deliver()`
sends one row and marks it sent. A failure raises `DeliveryFailed` so the task retries with
backoff; a row already sent is never sent again.

Webhook receivers verify ``X-Tracker-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<X-Tracker-Timestamp>.<raw body>`` under the channel's secret (`signature()`); the
timestamp is inside the signed text so an old delivery cannot be replayed later unnoticed.
``X-Tracker-Delivery`` (the notification id) lets a receiver drop a duplicate.

An e-mail carries an absolute link to the page about the alert, built from TRACKER_BASE_URL:
the worker that sends it has no request to take the site's address from. A failed send is
recorded in words that name the setting to check (`config.email.describe_failure`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from config.email import describe_failure
from config.errors import InvalidInput
from devices import audit
from devices.models import Agency, User
from telemetry.models import Alert, ChannelKind, Notification, NotificationChannel

WEBHOOK_TIMEOUT_S = 10


class DeliveryFailed(Exception):
    """A channel could not be reached; the task retries."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Tracker-Signature`` value for a body sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def payload(alert: Alert, event: str) -> dict[str, Any]:
    """What a receiver gets: the alert, its subject and the event, in plain JSON types."""
    subject: dict[str, Any]
    if alert.device is not None:
        subject = {"type": "device", "id": alert.device_id, "serial": alert.device.serial}
    else:
        subject = {"type": "gateway", "id": alert.gateway_id, "name": str(alert.gateway)}
    return {
        "event": event,
        "alert": {
            "id": alert.pk,
            "cause": alert.cause,
            "cause_display": alert.get_cause_display(),
            "detail": alert.detail,
            "state": alert.state,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "resolution": alert.resolution,
        },
        "agency": {"id": alert.agency_id, "slug": alert.agency.slug, "name": alert.agency.name},
        "subject": subject,
    }


def _summary(alert: Alert, event: str) -> str:
    subject = alert.device.serial if alert.device is not None else str(alert.gateway)
    verb = "Resolved" if event == Notification.Event.RESOLVED else "Alert"
    return (
        f"[Readiness Tracker] {verb}: {alert.get_cause_display()} - {subject} ({alert.agency.name})"
    )


def alert_url(alert: Alert) -> str:
    """The absolute address of the page about ``alert``, for a link in a message.

    A device's alert opens the device's page (its health panel says why and since when); a
    gateway's opens the alert list narrowed to its agency and cause.
    """
    if alert.device_id:
        path = reverse("device_detail", args=[alert.device_id])
    else:
        query = {"state": "all", "cause": alert.cause, "agency": alert.agency.slug}
        path = f"{reverse('telemetry:alert_list')}?{urlencode(query)}"
    return f"{settings.TRACKER_BASE_URL}{path}"


def dispatch(*, alert_ids: Sequence[int], event: str) -> list[int]:
    """Create the pending notifications of these alerts' event; return the ids to deliver.

    Channels: active ones of the alert's agency, plus state-wide ones (no agency).
    Idempotent: existing rows are kept (unique constraint), only unsent ones are returned.
    """
    alerts = list(Alert.objects.filter(pk__in=list(alert_ids)).only("pk", "agency_id"))
    if not alerts:
        return []
    agencies = {a.agency_id for a in alerts}
    channels = list(
        NotificationChannel.objects.filter(
            Q(agency__isnull=True) | Q(agency_id__in=agencies), is_active=True
        )
    )
    rows = [
        Notification(alert_id=a.pk, channel_id=c.pk, event=event)
        for a in alerts
        for c in channels
        if c.agency_id is None or c.agency_id == a.agency_id
    ]
    with transaction.atomic():
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        return list(
            Notification.objects.filter(
                alert_id__in=[a.pk for a in alerts], event=event, status=Notification.Status.PENDING
            ).values_list("pk", flat=True)
        )


def deliver(*, notification_id: int) -> bool:
    """Send one notification; True if sent now, False if there was nothing to do.

    Raises `DeliveryFailed` (after recording the error) so the task retries it.
    """
    failure: DeliveryFailed | None = None
    # The row stays locked while sending, so two workers holding the same task (a redelivery)
    # cannot both send it.
    with transaction.atomic():
        n = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("alert", "alert__agency", "alert__device", "alert__gateway", "channel")
            .filter(pk=notification_id)
            .first()
        )
        if n is None or n.status == Notification.Status.SENT:
            return False
        n.attempts += 1
        try:
            _send(n)
        except DeliveryFailed as exc:
            # Committed before the retry, so the attempt count and error are visible.
            n.last_error = str(exc)[:500]
            n.save(update_fields=["attempts", "last_error"])
            failure = exc
        else:
            n.status = Notification.Status.SENT
            n.sent_at = timezone.now()
            n.last_error = ""
            n.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    if failure is not None:
        raise failure
    return True


def mark_failed(*, notification_id: int, error: str) -> None:
    """The task gave up retrying: keep the row as failed, with the last error, for the page."""
    Notification.objects.filter(pk=notification_id).exclude(status=Notification.Status.SENT).update(
        status=Notification.Status.FAILED, last_error=error[:500]
    )


def _send(n: Notification) -> None:
    if n.channel.kind == ChannelKind.EMAIL:
        _send_email(n)
    else:
        _send_webhook(n)


def _send_email(n: Notification) -> None:
    body = json.dumps(payload(n.alert, n.event), indent=2)
    summary = _summary(n.alert, n.event)
    text = f"{summary}\n\n{n.alert.detail}\n\nOpen: {alert_url(n.alert)}\n\n{body}\n"
    try:
        send_mail(summary, text, settings.DEFAULT_FROM_EMAIL, [n.channel.target])
    except OSError as exc:  # smtplib's and ssl's errors are all OSErrors
        raise DeliveryFailed(
            f"e-mail to {n.channel.target} failed: {describe_failure(exc)}"
        ) from exc


def _send_webhook(n: Notification) -> None:
    body = json.dumps(payload(n.alert, n.event), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - the URL is an admin-configured http(s) channel
        n.channel.target,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "readiness-tracker",
            "X-Tracker-Event": f"alert.{n.event}",
            "X-Tracker-Delivery": str(n.pk),
            "X-Tracker-Timestamp": timestamp,
            "X-Tracker-Signature": signature(n.channel.secret, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"webhook {n.channel.target} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"webhook {n.channel.target} unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"webhook {n.channel.target} answered {status}")


def create_channel(
    *,
    actor: User,
    agency: Agency | None,
    kind: str,
    name: str,
    target: str,
    secret: str = "",
    remote_addr: str | None = None,
) -> NotificationChannel:
    """Add where alerts go; audited. A webhook without a secret gets a random one (shown once).

    The caller has checked ``actor`` may (`telemetry.scoping.require_channel_manager`:
    state-wide channels, no agency, are for state staff). One transaction; not idempotent.
    """
    if kind == ChannelKind.EMAIL:
        try:
            validate_email(target)
        except ValidationError as exc:
            raise InvalidInput("target: not a valid e-mail address", field="target") from exc
        secret = ""
    elif kind == ChannelKind.WEBHOOK:
        try:
            URLValidator(schemes=["http", "https"])(target)
        except ValidationError as exc:
            raise InvalidInput("target: not a valid http(s) URL", field="target") from exc
        secret = secret or secrets.token_hex(32)
    else:
        raise InvalidInput("kind: use 'email' or 'webhook'", field="kind")
    with transaction.atomic():
        channel = NotificationChannel.objects.create(
            agency=agency, kind=kind, name=name, target=target, secret=secret
        )
        audit.record(
            actor=actor,
            action="create",
            obj=channel,
            object_type="notification_channel",
            agency_id=agency.pk if agency else None,
            after=audit.snapshot(channel) | {"secret": "***"},
            message=f"Notification channel added: {name}",
            remote_addr=remote_addr,
        )
    return channel


def delete_channel(
    *, actor: User, channel: NotificationChannel, remote_addr: str | None = None
) -> None:
    """Remove a channel; audited, one transaction. The caller has checked ``actor`` may
    (`telemetry.scoping.require_channel_manager`)."""
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="delete",
            obj=channel,
            object_type="notification_channel",
            agency_id=channel.agency_id,
            before=audit.snapshot(channel) | {"secret": "***"},
            message=f"Notification channel removed: {channel.name}",
            remote_addr=remote_addr,
        )
        channel.delete()
