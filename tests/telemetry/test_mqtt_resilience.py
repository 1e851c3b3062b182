"""Crashes, restarts and shared subscriptions: nothing lost, nothing stored twice."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db.models import Count

from telemetry.models import TelemetryReading
from tests.conftest import wait_for
from tests.telemetry.brokers import Broker
from tests.telemetry.conftest import make_fleet
from tests.telemetry.test_mqtt_roundtrip import publisher, stream

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]

TOTAL = 20_000


def stored(fleet) -> int:
    return TelemetryReading.objects.filter(device__agency=fleet.agency).count()


def assert_each_reading_once(fleet, expected: int) -> None:
    assert stored(fleet) == expected
    # The primary key makes a second row impossible; check the distinct times anyway.
    per_device = (
        TelemetryReading.objects.filter(device__agency=fleet.agency)
        .values("device")
        .annotate(n=Count("ts"))
    )
    assert sum(row["n"] for row in per_device) == expected


def publish_in_background(broker: Broker, fleet, payloads: list[bytes]) -> threading.Thread:
    def run() -> None:
        pub = publisher(broker)
        for payload in payloads:
            pub.publish(fleet.topic, payload)
        pub.flush(120)
        pub.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_ingest_killed_mid_stream_and_restarted_stores_every_reading_once(
    backlog_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=50)
    ingest = ingest_process(
        backlog_broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}", batch_size=1000
    )
    ingest.wait_connected()
    thread = publish_in_background(backlog_broker, fleet, stream(fleet, TOTAL))
    wait_for(lambda: stored(fleet) >= 3000, timeout=60, what="the stream to be under way")
    ingest.kill()  # SIGKILL: no chance to commit or acknowledge what it holds
    killed_at = stored(fleet)
    assert killed_at < TOTAL

    ingest.start()
    assert ingest.wait_connected().group(1) == "True"
    thread.join(120)
    wait_for(lambda: stored(fleet) >= TOTAL, timeout=90, what="all 20,000 readings")
    assert_each_reading_once(fleet, TOTAL)
    assert ingest.terminate() == 0


@pytest.mark.mosquitto
def test_the_broker_restarted_with_sigterm_mid_stream_loses_nothing(
    mosquitto, ingest_process, topic_root
):
    fleet = make_fleet(devices=50)
    broker = Broker(url=mosquitto.url(), kind="mosquitto")
    payloads = stream(fleet, TOTAL)
    ingest = ingest_process(broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}", batch_size=500)
    ingest.wait_connected()
    first = publisher(broker)
    for payload in payloads[: TOTAL // 2]:
        first.publish(fleet.topic, payload)
    assert first.flush(60)
    first.close()
    wait_for(lambda: stored(fleet) >= 1000, timeout=30, what="the ingest to be under way")

    mosquitto.stop()  # SIGTERM: Mosquitto saves its sessions and queues
    mosquitto.start()
    second = publisher(broker)
    for payload in payloads[TOTAL // 2 :]:
        second.publish(fleet.topic, payload)
    assert second.flush(60)
    second.close()

    wait_for(
        lambda: stored(fleet) >= TOTAL, timeout=90, what="all 20,000 readings after the restart"
    )
    assert_each_reading_once(fleet, TOTAL)
    assert ingest.log().count("session present") >= 2  # it reconnected by itself
    assert ingest.terminate() == 0


def test_two_ingests_on_one_shared_subscription_one_killed_and_restarted_store_every_reading_once(
    backlog_broker, ingest_process, topic_root
):
    fleet = make_fleet(devices=50)
    group = f"g{uuid.uuid4().hex[:6]}"
    a = ingest_process(backlog_broker, client_id=f"ingest-a-{group}", shared=group, batch_size=500)
    b = ingest_process(backlog_broker, client_id=f"ingest-b-{group}", shared=group, batch_size=500)
    a.wait_connected()
    b.wait_connected()
    thread = publish_in_background(backlog_broker, fleet, stream(fleet, TOTAL))
    wait_for(lambda: stored(fleet) >= 3000, timeout=60, what="both ingests to be under way")
    b.kill()
    b.start()  # Mosquitto keeps routing to B's offline session; B must come back for its share
    b.wait_connected()
    thread.join(120)

    wait_for(lambda: stored(fleet) >= TOTAL, timeout=90, what="all 20,000 readings")
    assert_each_reading_once(fleet, TOTAL)
    assert a.terminate() == 0
    assert b.terminate() == 0
