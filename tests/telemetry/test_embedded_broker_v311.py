"""The embedded broker's MQTT 3.1.1 listener: a 3.1.1 gateway reaches the MQTT 5 ingest."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as paho
import pytest

from telemetry.models import GatewayStatus, TelemetryReading
from telemetry.mqtt import MqttUrl
from tests.conftest import wait_for
from tests.telemetry.brokers import Broker, EmbeddedBroker
from tests.telemetry.conftest import make_fleet, reading

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def embedded(tmp_path):
    broker = EmbeddedBroker(tmp_path / "embedded").start()
    try:
        yield broker
    finally:
        broker.stop()


def v311_gateway(port: int, *, will: tuple[str, bytes]) -> paho.Client:
    """A plain paho MQTT 3.1.1 client, configured by hand (not the product's factory)."""
    connected = threading.Event()
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=f"gw311-{uuid.uuid4().hex[:6]}",
        protocol=paho.MQTTv311,
        clean_session=True,
    )
    client.will_set(will[0], will[1], qos=1, retain=True)
    client.on_connect = lambda c, u, flags, rc, props: rc.is_failure or connected.set()
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    assert connected.wait(10), "the 3.1.1 listener refused the connection"
    return client


def test_a_mqtt_311_gateway_reaches_the_ingests_shared_subscription(
    embedded, ingest_process, topic_root
):
    fleet = make_fleet(devices=1)
    broker = Broker(url=MqttUrl("127.0.0.1", embedded.port, None, None, False), kind="embedded")
    ingest = ingest_process(broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}", shared="ingest")
    ingest.wait_connected()

    gateway = v311_gateway(embedded.v311_port, will=(fleet.state, b"offline"))
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    gateway.publish(fleet.state, b"online", qos=1, retain=True).wait_for_publish(10)
    body = fleet.body([reading(fleet.devices[0].serial, ts, battery_pct=71.0)])
    info = gateway.publish(fleet.topic, json.dumps(body), qos=1)
    info.wait_for_publish(10)
    assert info.is_published()

    wait_for(
        lambda: TelemetryReading.objects.filter(device=fleet.devices[0], ts=ts).exists(),
        what="the 3.1.1 gateway's reading",
    )
    wait_for(
        lambda: GatewayStatus.objects.filter(gateway=fleet.gateway, is_online=True).exists(),
        what="the 3.1.1 gateway online",
    )
    gateway.disconnect()
    gateway.loop_stop()
    assert ingest.terminate() == 0
