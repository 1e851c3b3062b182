"""Through a real broker and a real ingest process (manage.py ingest_mqtt)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from telemetry.models import DeadLetter, DeviceHealth, GatewayStatus, TelemetryReading
from telemetry.mqtt import Publisher
from tests.conftest import wait_for
from tests.telemetry.conftest import make_fleet, reading

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]


def publisher(broker, **kwargs) -> Publisher:
    return Publisher(
        url=broker.url, client_id=f"test-pub-{uuid.uuid4().hex[:8]}", **kwargs
    ).connect()


def stream(
    fleet, count: int, *, start: datetime | None = None, per_message: int = 1
) -> list[bytes]:
    """``count`` messages cycling over the fleet's devices, each reading a second apart."""
    start = start or datetime.now(UTC) - timedelta(hours=6)
    out = []
    n = 0
    for seq in range(1, count + 1):
        readings = []
        for _ in range(per_message):
            device = fleet.devices[n % len(fleet.devices)]
            readings.append(
                reading(device.serial, start + timedelta(seconds=n), battery_pct=float(n % 100))
            )
            n += 1
        out.append(json.dumps(fleet.body(readings, seq=seq, sent_at=datetime.now(UTC))).encode())
    return out


def test_a_published_reading_reaches_the_devices_health_and_history(
    mqtt_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=1)
    ingest = ingest_process(mqtt_broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    ingest.wait_connected()
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    pub = publisher(mqtt_broker)
    pub.publish(
        fleet.topic,
        json.dumps(fleet.body([reading(fleet.devices[0].serial, ts, battery_pct=64.5)])),
    )
    pub.close()

    health = wait_for(
        lambda: DeviceHealth.objects.filter(device=fleet.devices[0]).first(),
        what="the device's health",
    )
    assert (health.level, health.last_reading_at, health.battery_pct) == ("online", ts, 64.5)
    assert TelemetryReading.objects.filter(device=fleet.devices[0], ts=ts).count() == 1
    assert ingest.terminate() == 0


def test_a_gateway_cut_off_without_disconnect_shows_offline(
    mqtt_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=1)
    ingest = ingest_process(mqtt_broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    ingest.wait_connected()
    gateway = publisher(mqtt_broker, will=(fleet.state, b"offline"))
    gateway.publish(fleet.state, b"online", retain=True)

    wait_for(
        lambda: GatewayStatus.objects.filter(gateway=fleet.gateway, is_online=True).exists(),
        what="online",
    )
    gateway.cut()
    status = wait_for(
        lambda: GatewayStatus.objects.filter(
            gateway=fleet.gateway, is_online=False, changed_at__isnull=False
        ).first(),
        timeout=30,
        what="the Last Will to mark the gateway offline",
    )
    assert status.changed_at <= datetime.now(UTC)
    cleanup = publisher(mqtt_broker)
    cleanup.publish(fleet.state, b"", retain=True)  # clear the retained state on a shared broker
    cleanup.flush(5)
    cleanup.close()


def test_messages_published_while_the_ingest_is_down_are_all_stored_and_the_session_resumed(
    backlog_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=50)
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    ingest = ingest_process(backlog_broker, client_id=client_id, batch_size=2000)
    ingest.wait_connected()
    assert ingest.terminate() == 0  # a clean stop keeps the session on the broker

    pub = publisher(backlog_broker)
    for payload in stream(fleet, 20_000):
        pub.publish(fleet.topic, payload)
    assert pub.flush(60)
    pub.close()

    ingest.start()
    assert ingest.wait_connected().group(1) == "True"
    wait_for(
        lambda: TelemetryReading.objects.filter(device__agency=fleet.agency).count() >= 20_000,
        timeout=60,
        what="20,000 readings",
    )
    assert TelemetryReading.objects.filter(device__agency=fleet.agency).count() == 20_000
    assert GatewayStatus.objects.get(gateway=fleet.gateway).gaps_total == 0
    assert ingest.terminate() == 0


def test_sigterm_commits_the_batch_in_hand_and_exits_zero(
    backlog_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=5)
    # A batch that never fills and a long wait: only the stop can commit what is in hand.
    ingest = ingest_process(
        backlog_broker,
        client_id=f"ingest-{uuid.uuid4().hex[:8]}",
        batch_size=100_000,
        extra_args=["--batch-wait", "600"],
    )
    ingest.wait_connected()
    pub = publisher(backlog_broker)
    for payload in stream(fleet, 200):
        pub.publish(fleet.topic, payload)
    assert pub.flush(20)
    pub.close()
    assert not TelemetryReading.objects.filter(device__agency=fleet.agency).exists()

    assert ingest.terminate() == 0
    committed_at_stop = TelemetryReading.objects.filter(device__agency=fleet.agency).count()
    assert committed_at_stop > 0
    # Whatever had not reached it yet is still queued in its session: nothing lost.
    ingest.start()
    ingest.wait_connected()
    wait_for(
        lambda: TelemetryReading.objects.filter(device__agency=fleet.agency).count() == 200,
        timeout=30,
        what="all 200 readings",
    )
    assert ingest.terminate() == 0


def test_bad_messages_through_the_broker_are_dead_lettered_and_the_ingest_keeps_going(
    mqtt_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=1)
    ingest = ingest_process(mqtt_broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    ingest.wait_connected()
    pub = publisher(mqtt_broker)
    pub.publish(fleet.topic, b"\xff\xfe not json")
    pub.publish(f"{topic_root}/not a slug/{fleet.gateway.name}/telemetry", b"{}")
    ts = datetime.now(UTC).replace(microsecond=0)
    pub.publish(fleet.topic, json.dumps(fleet.body([reading(fleet.devices[0].serial, ts)])))
    assert pub.flush(10)
    pub.close()

    wait_for(
        lambda: TelemetryReading.objects.filter(device=fleet.devices[0]).exists(),
        what="the good reading",
    )
    wait_for(lambda: DeadLetter.objects.count() >= 2, what="two dead letters")
    assert sorted(DeadLetter.objects.values_list("reason", flat=True)) == [
        "not_json",
        "unknown_topic",
    ]
    assert ingest.process.poll() is None
