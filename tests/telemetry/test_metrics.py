"""/metrics (Prometheus text, from the database at scrape time) and the broker check of /readyz."""

from __future__ import annotations

import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from telemetry.ingest import InboundMessage, ingest_batch
from telemetry.metrics import IngestTotals
from tests.telemetry.conftest import NOW, minutes, reading

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_report_what_the_ingest_committed_from_the_database(client, fleet):
    totals = IngestTotals("ingest-a")
    batch = [fleet.message([reading(d.serial, NOW - minutes(1))]) for d in fleet.devices]
    batch += [
        InboundMessage(fleet.topic, b"nope", NOW),
        InboundMessage(fleet.state, b"online", NOW),
    ]
    ingest_batch(batch, now=NOW, stats=totals)
    ingest_batch(
        batch[:1], now=NOW, stats=IngestTotals("ingest-b")
    )  # a second process, a duplicate

    m = scrape(client)
    assert m["tracker_ingest_messages_total{kind=telemetry}"] == 4
    assert m["tracker_ingest_messages_total{kind=state}"] == 1
    assert m["tracker_ingest_readings_total"] == 3
    assert m["tracker_ingest_duplicates_total"] == 1
    assert m["tracker_ingest_rejected_total{reason=not_json}"] == 1
    assert m["tracker_ingest_rejected_total{reason=unknown_device}"] == 0
    assert m["tracker_ingest_batch_size_count"] == 2
    assert m["tracker_ingest_batch_size_bucket{le=10.0}"] == 2
    assert m["tracker_ingest_commit_seconds_count"] == 2
    assert m["tracker_dead_letters{reason=not_json}"] == 1
    assert m["tracker_gateways{state=online}"] == 1
    assert sum(v for k, v in m.items() if k.startswith("tracker_devices_by_health{")) == 3
    assert m["tracker_ingest_lag_seconds"] == 0.0
    assert "tracker_telemetry_gaps_total" in m


def test_metrics_answer_on_an_empty_database(client):
    m = scrape(client)
    assert m["tracker_ingest_readings_total"] == 0
    assert m["tracker_ingest_batch_size_count"] == 0


def test_readyz_is_unavailable_with_the_reason_when_the_broker_is_unreachable(client, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        settings.MQTT_URL = f"mqtt://ingest:secret@127.0.0.1:{port}"
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["mqtt_broker"].startswith(
        f"error: MQTT broker at mqtt://127.0.0.1:{port}"
    )
    assert "secret" not in body["checks"]["mqtt_broker"]


@pytest.mark.mqtt
def test_readyz_is_ready_when_the_broker_answers(client, settings, mqtt_broker):
    settings.MQTT_URL = mqtt_broker.url_string
    response = client.get("/readyz")
    assert (response.status_code, response.json()["checks"]["mqtt_broker"]) == (200, "ok")
