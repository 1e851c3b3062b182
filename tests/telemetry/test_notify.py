"""Notifications: a signed webhook to a real local HTTP receiver, e-mail through Django's mail."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from telemetry import notify
from telemetry.models import Alert, Notification, NotificationChannel
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-key-shared-with-the-receiver"


@dataclass
class Receiver:
    """A webhook receiver outside the product: records what it got, answers ``status``."""

    url: str
    status: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tracker"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert(agency_a) -> Alert:
    device = DeviceFactory(agency=agency_a, serial="BWC-0042")
    return Alert.objects.create(
        agency=agency_a,
        device=device,
        cause="device_offline",
        detail="offline: no reading since 07:55",
    )


def webhook(agency, url, secret=SECRET) -> NotificationChannel:
    return NotificationChannel.objects.create(
        agency=agency, kind="webhook", name="SOC", target=url, secret=secret
    )


def test_webhook_body_is_signed_with_hmac_sha256_the_receiver_can_verify(alert, receiver):
    webhook(alert.agency, receiver.url)
    [notification_id] = notify.dispatch(alert_ids=[alert.pk], event="opened")
    assert notify.deliver(notification_id=notification_id) is True

    [(headers, body)] = receiver.requests
    expected = hmac.new(
        SECRET.encode(), headers["x-tracker-timestamp"].encode() + b"." + body, hashlib.sha256
    )
    assert headers["x-tracker-signature"] == f"sha256={expected.hexdigest()}"
    assert (headers["x-tracker-event"], headers["x-tracker-delivery"]) == (
        "alert.opened",
        str(notification_id),
    )
    sent = json.loads(body)
    assert (
        sent["event"],
        sent["alert"]["id"],
        sent["subject"]["serial"],
        sent["agency"]["slug"],
    ) == (
        "opened",
        alert.pk,
        "BWC-0042",
        "ksp",
    )
    # A receiver with the wrong key rejects it.
    forged = hmac.new(
        b"wrong", headers["x-tracker-timestamp"].encode() + b"." + body, hashlib.sha256
    )
    assert headers["x-tracker-signature"] != f"sha256={forged.hexdigest()}"
    n = Notification.objects.get()
    assert (n.status, n.attempts) == ("sent", 1)


def test_email_goes_out_through_djangos_mail(alert, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationChannel.objects.create(
        agency=alert.agency, kind="email", name="Duty", target="duty@ksp.example"
    )
    [notification_id] = notify.dispatch(alert_ids=[alert.pk], event="opened")
    notify.deliver(notification_id=notification_id)
    [message] = mail.outbox
    assert message.to == ["duty@ksp.example"]
    assert (
        message.subject
        == "[Readiness Tracker] Alert: Device offline - BWC-0042 (Kentucky State Police)"
    )
    assert "offline: no reading since 07:55" in message.body


def test_a_sent_notification_is_never_sent_twice(alert, receiver):
    webhook(alert.agency, receiver.url)
    [notification_id] = notify.dispatch(alert_ids=[alert.pk], event="opened")
    notify.deliver(notification_id=notification_id)
    assert notify.deliver(notification_id=notification_id) is False
    # A redelivered dispatch finds nothing left to send.
    assert notify.dispatch(alert_ids=[alert.pk], event="opened") == []
    assert len(receiver.requests) == 1


def test_a_failing_receiver_is_recorded_and_raised_for_the_retry(alert, receiver):
    receiver.status = 503
    webhook(alert.agency, receiver.url)
    [notification_id] = notify.dispatch(alert_ids=[alert.pk], event="opened")
    with pytest.raises(notify.DeliveryFailed, match="answered 503"):
        notify.deliver(notification_id=notification_id)
    n = Notification.objects.get()
    assert (n.status, n.attempts, n.last_error) == (
        "pending",
        1,
        f"webhook {receiver.url} answered 503",
    )

    receiver.status = 200
    assert notify.deliver(notification_id=notification_id) is True
    n.refresh_from_db()
    assert (n.status, n.attempts, n.last_error) == ("sent", 2, "")


def test_an_unreachable_receiver_is_a_delivery_failure(alert):
    webhook(alert.agency, "http://127.0.0.1:9/closed")
    [notification_id] = notify.dispatch(alert_ids=[alert.pk], event="opened")
    with pytest.raises(notify.DeliveryFailed, match="unreachable"):
        notify.deliver(notification_id=notification_id)
    notify.mark_failed(notification_id=notification_id, error="gave up")
    assert Notification.objects.get().status == "failed"


def test_channels_of_the_alerts_agency_and_state_wide_ones_are_notified(alert, agency_b):
    mine = webhook(alert.agency, "https://soc.ksp.example/hook")
    state_wide = NotificationChannel.objects.create(
        kind="email", name="COT NOC", target="noc@ky.example"
    )
    webhook(agency_b, "https://lex.example/hook")
    NotificationChannel.objects.create(
        agency=alert.agency, kind="email", name="Off", target="x@ksp.example", is_active=False
    )
    ids = notify.dispatch(alert_ids=[alert.pk], event="opened")
    assert set(Notification.objects.filter(pk__in=ids).values_list("channel_id", flat=True)) == {
        mine.pk,
        state_wide.pk,
    }


def test_channels_are_managed_per_agency_through_the_api(admin_a, viewer_a, admin_b, state_staff):
    response = admin_a.client.post(
        "/api/notification-channels",
        {"kind": "webhook", "name": "SOC", "target": "https://soc.ksp.example/hook"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["agency"], len(body["secret"])) == ("ksp", 64)
    assert "secret" not in admin_a.client.get("/api/notification-channels").json()["items"][0]
    assert admin_b.client.get("/api/notification-channels").json()["count"] == 0
    assert admin_b.client.delete(f"/api/notification-channels/{body['id']}").status_code == 404
    assert (
        viewer_a.client.post(
            "/api/notification-channels",
            {"kind": "email", "name": "x", "target": "a@b.example"},
            content_type="application/json",
        ).status_code
        == 403
    )
    bad = admin_a.client.post(
        "/api/notification-channels",
        {"kind": "email", "name": "x", "target": "not-an-address"},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "target")
    # Only state staff add a state-wide channel (no agency).
    staff = state_staff.client.post(
        "/api/notification-channels",
        {"kind": "email", "name": "NOC", "target": "noc@ky.example"},
        content_type="application/json",
    )
    assert (staff.status_code, staff.json()["agency"]) == (201, None)
    assert admin_a.client.delete(f"/api/notification-channels/{body['id']}").status_code == 204
