"""The generated password file and ACL, enforced by a real Mosquitto with the project's configuration."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core.management import call_command

from telemetry.credentials import check_mosquitto_hash, mosquitto_hash, set_gateway_credential
from telemetry.mqtt import Publisher, connect_properties, make_client
from tests.conftest import wait_for
from tests.factories import GatewayFactory
from tests.telemetry.brokers import MosquittoProcess
from tests.telemetry.conftest import make_fleet

pytestmark = [pytest.mark.mqtt, pytest.mark.mosquitto, pytest.mark.django_db]


def test_the_mosquitto_hash_checks_its_own_secret_only():
    encoded = mosquitto_hash("s3cret", salt=b"0123456789ab")
    assert encoded.startswith("$7$20000$")
    assert check_mosquitto_hash("s3cret", encoded)
    assert not check_mosquitto_hash("s3cret!", encoded)


def test_a_gateway_cannot_publish_under_another_agencys_topic(tmp_path, topic_root, settings):
    from tests.telemetry.brokers import MOSQUITTO

    if MOSQUITTO is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("Mosquitto is not installed")
    own = make_fleet(devices=1)
    other = make_fleet(devices=1)
    secret = set_gateway_credential(own.gateway)
    GatewayFactory(agency=other.agency, name="no-credential")  # skipped: cannot connect
    settings.MQTT_URL = "mqtt://ingest-user:ingest-pass@127.0.0.1:1883"
    auth_dir = tmp_path / "auth"
    call_command("mosquitto_auth", "--out", str(auth_dir))
    assert (auth_dir / "passwords").stat().st_mode & 0o777 == 0o600
    broker = MosquittoProcess(
        tmp_path / "mq", password_file=auth_dir / "passwords", acl_file=auth_dir / "acl"
    ).start()
    try:
        received: list[str] = []
        ready = threading.Event()
        sub = make_client(
            client_id=f"ingest-{uuid.uuid4().hex[:6]}", url=broker.url("ingest-user", "ingest-pass")
        )
        sub.on_connect = lambda c, *a: c.subscribe(f"{topic_root}/#", qos=1)
        sub.on_subscribe = lambda *a: ready.set()
        sub.on_message = lambda c, u, m: received.append(m.topic)
        sub.connect(
            "127.0.0.1",
            broker.port,
            clean_start=True,
            properties=connect_properties(session_expiry_s=0),
        )
        sub.loop_start()
        assert ready.wait(10)

        username = f"{own.agency.slug}/{own.gateway.name}"
        gateway = Publisher(
            url=broker.url(username, secret), client_id=f"gw-{uuid.uuid4().hex[:6]}"
        ).connect()
        gateway.publish(other.topic, b"{}")  # another agency's topic: refused by the ACL
        gateway.publish(own.topic, b"{}")
        assert gateway.flush(10)
        wait_for(lambda: own.topic in received, what="the gateway's own message")
        # Mosquitto delivers one client's messages in order: had the foreign one been let
        # through, it would have arrived before the gateway's own.
        assert received == [own.topic]
        gateway.close()

        with pytest.raises(ConnectionError):
            Publisher(url=broker.url(username, secret + "x"), client_id="gw-wrong").connect(
                timeout=5
            )
        sub.disconnect()
        sub.loop_stop()
    finally:
        broker.stop()


def test_mosquitto_auth_lists_gateways_without_a_credential_and_can_issue_them(
    tmp_path, capsys, db
):
    fleet = make_fleet(devices=0)
    call_command(
        "mosquitto_auth", "--out", str(tmp_path), "--ingest-user", "ing", "--ingest-password", "pw"
    )
    assert f"{fleet.agency.slug}/{fleet.gateway.name}" in capsys.readouterr().out
    call_command(
        "mosquitto_auth",
        "--out",
        str(tmp_path),
        "--ingest-user",
        "ing",
        "--ingest-password",
        "pw",
        "--issue-missing",
    )
    secrets_csv = (tmp_path / "gateway-secrets.csv").read_text()
    assert f"{fleet.agency.slug}/{fleet.gateway.name}" in secrets_csv
    assert (
        f"topic write tracker/v1/{fleet.agency.slug}/{fleet.gateway.name}/#"
        in (tmp_path / "acl").read_text()
    )
