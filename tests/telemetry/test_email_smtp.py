"""E-mail for real: alert notifications through a real SMTP server (aiosmtpd) started here.

Three servers, as a state's relay may be: STARTTLS with a login required, implicit TLS
(port 465 style), and plain. Their certificates come from a private CA made with openssl for
this module; the product trusts it through EMAIL_SSL_CAFILE, exactly as it would a state's CA.
Nothing of the product is replaced: the alert is opened by the sweep or the alert code, the
notification is dispatched and delivered by `telemetry.notify`, and the message is read back
from what the server received.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from telemetry import alerts, notify, tasks
from telemetry.health import deadlines
from telemetry.models import Notification, NotificationChannel
from telemetry.sweep import mark_stale_devices
from tests.conftest import wait_for
from tests.factories import DeviceFactory, DeviceHealthFactory, DeviceModelFactory, GatewayFactory

# The implicit-TLS server requires a login without STARTTLS, which aiosmtpd warns about: its
# socket is TLS from the first byte, which aiosmtpd cannot see.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ROOT = Path(__file__).resolve().parents[2]
USER = "tracker"
PASSWORD = "relay-password-4-tests"  # noqa: S105 - the test server's own
BASE_URL = "https://tracker.example.gov"
TO = "duty@ksp.example"


@dataclass(frozen=True)
class Pki:
    """A private CA, a server certificate it issued, and one from a CA nobody configured."""

    ca: Path
    server: tuple[Path, Path]  # certificate, key
    stranger: tuple[Path, Path]


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _make_ca(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip


def _issue(folder: Path, ca: str, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by ``ca``."""
    (folder / f"{name}.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        cwd=folder,
    )  # fmt: skip
    return folder / f"{name}.pem", folder / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    _make_ca(folder, "state-ca")
    _make_ca(folder, "other-ca")
    return Pki(
        ca=folder / "state-ca.pem",
        server=_issue(folder, "state-ca", "smtp"),
        stranger=_issue(folder, "other-ca", "impostor"),
    )


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it accepted."""

    port: int
    security: str  # as EMAIL_SECURITY: starttls, tls or none
    received: list[Envelope] = field(default_factory=list)

    def only_message(self) -> tuple[Envelope, EmailMessage]:
        [envelope] = self.received
        raw = envelope.original_content or b""
        return envelope, message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


class _Inbox:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook
        self.server.received.append(envelope)
        return "250 Message accepted for delivery"


def _check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers the failure itself (535); True would leave the client waiting.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    return context


@pytest.fixture
def smtp(pki) -> Iterator[Callable[..., SmtpServer]]:
    """Start an SMTP server: ``smtp("starttls")`` (login required), ``"tls"`` or ``"none"``."""
    started: list[Controller] = []

    def start(security: str, *, cert: tuple[Path, Path] | None = None) -> SmtpServer:
        server = SmtpServer(port=_free_port(), security=security)
        context = _server_context(cert or pki.server)
        options: dict[str, object] = {}
        if security == "starttls":
            options = {"tls_context": context, "require_starttls": True, "auth_required": True}
        elif security == "tls":
            # The socket is TLS from the first byte; aiosmtpd only knows about STARTTLS, so
            # it is told not to wait for one before accepting a login.
            options = {"ssl_context": context, "auth_required": True, "auth_require_tls": False}
        controller = Controller(
            _Inbox(server), hostname="127.0.0.1", port=server.port,
            authenticator=_check_login, **options,
        )  # fmt: skip
        controller.start()
        started.append(controller)
        return server

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def send_through(settings, pki) -> Callable[..., None]:
    """Point the product's mail at ``server``, as EMAIL_SECURITY and friends would."""

    def configure(server: SmtpServer, *, password: str = PASSWORD) -> None:
        settings.EMAIL_BACKEND = "config.email.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = server.security == "starttls"
        settings.EMAIL_USE_SSL = server.security == "tls"
        secured = server.security != "none"
        settings.EMAIL_HOST_USER = USER if secured else ""
        settings.EMAIL_HOST_PASSWORD = password if secured else ""
        settings.EMAIL_TIMEOUT = 5
        settings.EMAIL_SSL_CAFILE = str(pki.ca)
        settings.DEFAULT_FROM_EMAIL = "alerts@tracker.example.gov"
        settings.TRACKER_BASE_URL = BASE_URL

    return configure


def _silent_device(agency, now, *, serial: str):
    """A device whose last reading is long past its offline deadline."""
    device = DeviceFactory(
        agency=agency, model=DeviceModelFactory(telemetry_interval_s=60), serial=serial
    )
    last = now - timedelta(minutes=30)
    late_after, offline_after = deadlines(last, 60)
    DeviceHealthFactory(
        device=device,
        level="online",
        last_reading_at=last,
        late_after=late_after,
        offline_after=offline_after,
        level_changed_at=last,
    )
    return device


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_device_going_offline_is_emailed_with_a_link_to_its_page(
    worker, smtp, send_through, agency_a, clock
):
    server = smtp("starttls")
    send_through(server)
    NotificationChannel.objects.create(agency=agency_a, kind="email", name="Duty", target=TO)
    device = _silent_device(agency_a, clock.now, serial="BWC-0042")

    # The sweep opens the alert; the worker dispatches and delivers it after the commit.
    assert mark_stale_devices(now=clock.now).alerts_opened == 1
    wait_for(lambda: server.received, what="the alert e-mail at the SMTP server")

    envelope, message = server.only_message()
    assert (envelope.mail_from, envelope.rcpt_tos) == ("alerts@tracker.example.gov", [TO])
    assert message["Subject"] == (
        "[Readiness Tracker] Alert: Device offline - BWC-0042 (Kentucky State Police)"
    )
    assert f"Open: {BASE_URL}/devices/{device.pk}/" in message.get_content().splitlines()
    assert wait_for(lambda: Notification.objects.filter(status="sent", attempts=1).exists())


@pytest.mark.django_db
@pytest.mark.parametrize("security", ["starttls", "tls", "none"])
def test_a_gateway_alert_arrives_with_its_link_over_each_kind_of_connection(
    smtp, send_through, agency_a, clock, security, django_capture_on_commit_callbacks
):
    server = smtp(security)
    send_through(server)
    NotificationChannel.objects.create(agency=agency_a, kind="email", name="Duty", target=TO)
    gateway = GatewayFactory(agency=agency_a, name="gw-frankfort-1")
    with django_capture_on_commit_callbacks() as enqueued:
        alert_id = alerts.open_gateway_alert(gateway=gateway, detail="Last Will", now=clock.now)
    assert len(enqueued) == 1  # the dispatch task, which calls the two steps below

    [notification_id] = notify.dispatch(alert_ids=[alert_id], event="opened")
    assert notify.deliver(notification_id=notification_id) is True

    envelope, message = server.only_message()
    assert envelope.rcpt_tos == [TO]
    assert message["Subject"] == (
        "[Readiness Tracker] Alert: Gateway offline - ksp/gw-frankfort-1 (Kentucky State Police)"
    )
    link = f"{BASE_URL}/alerts/?state=all&cause=gateway_offline&agency={agency_a.slug}"
    assert f"Open: {link}" in message.get_content().splitlines()


def _pending_email(agency, now) -> int:
    NotificationChannel.objects.create(agency=agency, kind="email", name="Duty", target=TO)
    device = _silent_device(agency, now, serial="BWC-0043")
    [alert_id] = alerts.open_device_alerts(
        details={device.pk: "offline"}, cause="device_offline", now=now
    )
    [notification_id] = notify.dispatch(alert_ids=[alert_id], event="opened")
    return notification_id


@pytest.mark.django_db
def test_a_wrong_password_is_recorded_with_what_to_check_and_retried_then_failed(
    smtp, send_through, agency_a, clock
):
    server = smtp("starttls")
    send_through(server, password="not-the-password")  # noqa: S106
    notification_id = _pending_email(agency_a, clock.now)
    said = (
        f"e-mail to {TO} failed: the SMTP server 127.0.0.1:{server.port} refused the login of "
        "'tracker' (535 5.7.8 Authentication credentials invalid): check EMAIL_HOST_USER and "
        "EMAIL_HOST_PASSWORD"
    )

    with pytest.raises(notify.DeliveryFailed) as failed:
        notify.deliver(notification_id=notification_id)
    assert str(failed.value) == said
    n = Notification.objects.get(pk=notification_id)
    assert (n.status, n.attempts, n.last_error) == ("pending", 1, said)

    # The task's own retry policy, run in this process: apply() retries at once instead of
    # after the countdowns, until max_retries, then keeps the row as failed with the reason.
    result = tasks.deliver_notification_task.apply(args=[notification_id])
    assert result.get() is False
    n.refresh_from_db()
    max_retries = tasks.deliver_notification_task.max_retries
    assert (n.status, n.attempts, n.last_error) == ("failed", 1 + 1 + max_retries, said)
    assert server.received == []


@pytest.mark.django_db
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_server_certificate_not_issued_by_the_configured_ca_is_refused(
    smtp, send_through, pki, agency_a, clock, security
):
    server = smtp(security, cert=pki.stranger)
    send_through(server)
    notification_id = _pending_email(agency_a, clock.now)

    with pytest.raises(notify.DeliveryFailed, match="does not trust") as failed:
        notify.deliver(notification_id=notification_id)
    assert "set EMAIL_SSL_CAFILE to the CA that issued it" in str(failed.value)
    assert Notification.objects.get(pk=notification_id).status == "pending"
    assert server.received == []


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """manage.py in a fresh process: settings are read once per process, from the environment."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_", "TRACKER_"))
    }
    clean.update({"TRACKER_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_environment_alone_sends_through_starttls_with_a_password_file(smtp, pki, tmp_path):
    server = smtp("starttls")
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    result = _manage(
        tmp_path, "sendtestemail", TO,
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(server.port), EMAIL_SECURITY="starttls",
        EMAIL_HOST_USER=USER, EMAIL_HOST_PASSWORD_FILE=str(secret),
        EMAIL_SSL_CAFILE=str(pki.ca), DEFAULT_FROM_EMAIL="alerts@tracker.example.gov",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    envelope, _ = server.only_message()
    assert (envelope.mail_from, envelope.rcpt_tos) == ("alerts@tracker.example.gov", [TO])


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"EMAIL_SECURITY": "ssl"}, "EMAIL_SECURITY='ssl'"),
        ({"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "EMAIL_USE_TLS is not read"),
        ({"EMAIL_SSL_CAFILE": "manage.py"}, "EMAIL_SSL_CAFILE='manage.py'"),
        ({"EMAIL_SECURITY": "none", "EMAIL_HOST_PASSWORD": "x"}, "in clear text"),
        ({"TRACKER_BASE_URL": "tracker.example.gov"}, "TRACKER_BASE_URL='tracker.example.gov'"),
    ],
    ids=[
        "unknown-security",
        "both-django-switches",
        "ca-not-pem",
        "password-in-clear",
        "no-scheme",
    ],
)
def test_bad_mail_settings_stop_the_start_naming_the_variable(tmp_path, env, named):
    result = _manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert named in result.stderr.strip().splitlines()[-1]
