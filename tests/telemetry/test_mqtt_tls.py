"""MQTT over TLS against a real Mosquitto with the project's TLS listeners (conf.d/tls.conf).

Certificates come from `manage.py issue_certificates`; the ingest is the real
`manage.py ingest_mqtt`; gateways are plain paho clients configured by hand, not the
product's client factory.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from telemetry.credentials import set_gateway_credential
from telemetry.models import DeadLetter, TelemetryReading
from tests.conftest import skip_or_fail, wait_for
from tests.telemetry.brokers import MOSQUITTO, IngestProcess, MosquittoProcess
from tests.telemetry.conftest import make_fleet, reading

pytestmark = [pytest.mark.mqtt, pytest.mark.mosquitto, pytest.mark.django_db(transaction=True)]

INGEST_USER, INGEST_PASSWORD = "ingest-user", "ingest-pass"


def issue(out: Path, *args: str) -> Path:
    call_command("issue_certificates", "--out", str(out), *args)
    return out


@pytest.fixture
def tls_broker(tmp_path, settings, topic_root) -> Iterator[tuple[MosquittoProcess, Path]]:
    """A Mosquitto with passwords, the generated ACL and the TLS listeners, and its certificates.

    Built when the test calls it, after it made its gateways: the ACL lists them."""
    if MOSQUITTO is None:
        skip_or_fail("Mosquitto is not installed (apt-get install mosquitto)")
    started: list[MosquittoProcess] = []

    def start(*gateways: str) -> tuple[MosquittoProcess, Path]:
        certs = issue(
            tmp_path / "tls",
            "--broker-host",
            "127.0.0.1",
            "--client",
            INGEST_USER,
            *[arg for gw in gateways for arg in ("--gateway", gw)],
        )
        auth = tmp_path / "auth"
        call_command(
            "mosquitto_auth",
            "--out",
            str(auth),
            "--ingest-user",
            INGEST_USER,
            "--ingest-password",
            INGEST_PASSWORD,
        )
        broker = MosquittoProcess(
            tmp_path / "mq", password_file=auth / "passwords", acl_file=auth / "acl", tls_dir=certs
        ).start()
        started.append(broker)
        return broker, certs

    yield start  # type: ignore[misc]
    for broker in started:
        broker.stop()


def tls_ingest(tmp_path: Path, url: str, **env: str) -> IngestProcess:
    ingest = IngestProcess(tmp_path, url, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    ingest.env.update(env)
    return ingest.start()


def tls_gateway(
    port: int,
    ca: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    cert: Path | None = None,
) -> paho.Client:
    """A gateway as a vendor would write it: paho, MQTT 5, TLS with the private CA."""
    connected = threading.Event()
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=f"gw-{uuid.uuid4().hex[:6]}",
        protocol=paho.MQTTv5,
    )
    client.tls_set(
        ca_certs=str(ca),
        certfile=str(cert) if cert else None,
        keyfile=str(cert.with_suffix(".key")) if cert else None,
    )
    if username:
        client.username_pw_set(username, password)
    client.on_connect = lambda c, u, flags, rc, props: rc.is_failure or connected.set()
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    assert connected.wait(10), "the broker refused the gateway"
    return client


def publish_reading(client: paho.Client, fleet, ts: datetime) -> None:
    body = fleet.body([reading(fleet.devices[0].serial, ts, battery_pct=55.0)])
    client.publish(fleet.topic, json.dumps(body), qos=1).wait_for_publish(10)


def close(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_the_ingest_over_mqtts_with_a_password_stores_a_tls_gateways_reading(tmp_path, tls_broker):
    fleet = make_fleet(devices=1)
    secret = set_gateway_credential(fleet.gateway)
    broker, certs = tls_broker()
    url = f"mqtts://{INGEST_USER}:{INGEST_PASSWORD}@127.0.0.1:{broker.tls_port}"
    ingest = tls_ingest(tmp_path, url, MQTT_CA_FILE=str(certs / "ca.crt"))
    try:
        ingest.wait_connected()
        gateway = tls_gateway(
            broker.tls_port,
            certs / "ca.crt",
            username=f"{fleet.agency.slug}/{fleet.gateway.name}",
            password=secret,
        )
        ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
        publish_reading(gateway, fleet, ts)
        wait_for(
            lambda: TelemetryReading.objects.filter(device=fleet.devices[0], ts=ts).exists(),
            what="the reading sent over TLS",
        )
        close(gateway)
        assert ingest.terminate() == 0
    finally:
        ingest.close()


def test_a_certificate_gateway_publishes_under_its_own_topic_only(tmp_path, tls_broker):
    own = make_fleet(devices=1)
    other = make_fleet(devices=1)
    identity = f"{own.agency.slug}/{own.gateway.name}"  # no password: the certificate is all it has
    broker, certs = tls_broker(identity)
    # The ingest authenticates by certificate too (CN ingest-user, the ACL's reader).
    ingest = tls_ingest(
        tmp_path, f"mqtts://127.0.0.1:{broker.cert_port}", MQTT_CA_FILE=str(certs / "ca.crt"),
        MQTT_CLIENT_CERT_FILE=str(certs / "clients" / f"{INGEST_USER}.crt"),
        MQTT_CLIENT_KEY_FILE=str(certs / "clients" / f"{INGEST_USER}.key"),
    )  # fmt: skip
    try:
        ingest.wait_connected()
        gateway = tls_gateway(
            broker.cert_port, certs / "ca.crt", cert=certs / "gateways" / f"{identity}.crt"
        )
        ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
        publish_reading(gateway, other, ts)  # another agency's topic: refused by the ACL
        publish_reading(gateway, own, ts)
        wait_for(
            lambda: TelemetryReading.objects.filter(device=own.devices[0], ts=ts).exists(),
            what="the certificate gateway's own reading",
        )
        # Mosquitto delivers one client's messages in order and the ingest stores a batch at a
        # time: had the foreign message been let through, it would be stored by now.
        assert not TelemetryReading.objects.filter(device=other.devices[0]).exists()
        assert not DeadLetter.objects.filter(topic=other.topic).exists()
        close(gateway)

        with pytest.raises(AssertionError, match="refused"):  # no certificate: no connection
            tls_gateway(broker.cert_port, certs / "ca.crt", username=identity, password="guess")
        assert ingest.terminate() == 0
    finally:
        ingest.close()


@pytest.mark.parametrize(("content", "problem"), [
    (b"not a certificate\n", "not a PEM CA certificate"),
    (None, "No such file or directory"),
])  # fmt: skip
def test_an_unusable_ca_file_stops_the_ingest_with_one_line_naming_it(tmp_path, content, problem):
    ca = tmp_path / "ca.crt"
    if content is not None:
        ca.write_bytes(content)
    ingest = IngestProcess(tmp_path, "mqtts://127.0.0.1:8883", client_id="ingest-bad-ca")
    done = subprocess.run(
        ingest.args,
        env={**ingest.env, "MQTT_CA_FILE": str(ca)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert f"MQTT_CA_FILE={ca}" in lines[0]
    assert problem in lines[0]


def test_check_deploy_fails_on_a_ca_file_that_does_not_parse(tmp_path, settings):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\ntruncated\n")
    settings.MQTT_URL = "mqtts://127.0.0.1:8883"
    settings.MQTT_CA_FILE = str(ca)
    with pytest.raises(SystemCheckError, match=r"telemetry\.E002.*MQTT_CA_FILE="):
        call_command("check", "--deploy")


def test_a_broker_certificate_from_another_ca_is_refused_with_a_clear_log_line(
    tmp_path, tls_broker
):
    broker, _ = tls_broker()
    stranger = issue(tmp_path / "other-ca", "--broker-host", "127.0.0.1")
    url = f"mqtts://{INGEST_USER}:{INGEST_PASSWORD}@127.0.0.1:{broker.tls_port}"
    ingest = tls_ingest(tmp_path, url, MQTT_CA_FILE=str(stranger / "ca.crt"))
    try:
        line = wait_for(
            lambda: next((x for x in ingest.log().splitlines() if "could not connect" in x), None),
            timeout=30,
            what="the ingest to log the refused certificate",
        )
        assert "the broker's certificate was refused" in line
        assert "MQTT_CA_FILE" in line
        assert "session present" not in ingest.log()
        assert ingest.terminate() == 0
    finally:
        ingest.close()
