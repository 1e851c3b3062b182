"""Telemetry fixtures: a small fleet with unique names, contract messages, real brokers.

Broker fixtures (see `tests/telemetry/brokers.py`): `mqtt_broker` is the broker of MQTT_URL
when it is set (CI: the machine's Mosquitto), otherwise an embedded iotcore broker started
on a free loopback port; `mosquitto` starts a private Mosquitto with the project's
configuration for the tests that need Mosquitto itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings

from devices.models import Agency, Device, Gateway
from telemetry import ingest
from telemetry.ingest import InboundMessage
from telemetry.topics import state_topic, telemetry_topic
from tests.factories import AgencyFactory, DeviceFactory, DeviceModelFactory, GatewayFactory
from tests.telemetry.brokers import (  # noqa: F401  (fixtures)
    backlog_broker,
    ingest_process,
    mosquitto,
    mqtt_broker,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Fleet:
    agency: Agency
    gateway: Gateway
    devices: list[Device]
    seq: int = 0
    extra_gateways: list[Gateway] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return telemetry_topic(self.agency.slug, self.gateway.name, root=settings.MQTT_TOPIC_ROOT)

    @property
    def state(self) -> str:
        return state_topic(self.agency.slug, self.gateway.name, root=settings.MQTT_TOPIC_ROOT)

    def body(
        self,
        readings: list[dict[str, Any]],
        *,
        seq: int | None = None,
        sent_at: datetime = NOW,
        gateway: str | None = None,
    ) -> dict[str, Any]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return {
            "schema": 1,
            "gateway": gateway or self.gateway.name,
            "seq": seq,
            "sent_at": sent_at.isoformat(),
            "readings": readings,
        }

    def message(
        self,
        readings: list[dict[str, Any]],
        *,
        seq: int | None = None,
        sent_at: datetime = NOW,
        received_at: datetime = NOW,
        topic: str | None = None,
    ) -> InboundMessage:
        payload = json.dumps(self.body(readings, seq=seq, sent_at=sent_at)).encode()
        return InboundMessage(topic=topic or self.topic, payload=payload, received_at=received_at)


def reading(serial: str, ts: datetime, **measurements: Any) -> dict[str, Any]:
    return {"device": serial, "ts": ts.isoformat(), **measurements}


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_fleet(*, devices: int = 3, interval_s: int = 60, agency_slug: str | None = None) -> Fleet:
    agency = AgencyFactory(slug=agency_slug or unique_slug("ag"))
    model = DeviceModelFactory(telemetry_interval_s=interval_s)
    gateway = GatewayFactory(agency=agency, name=unique_slug("gw"))
    devs = [
        DeviceFactory(agency=agency, model=model, serial=f"{agency.slug}-D{i:04d}")
        for i in range(devices)
    ]
    return Fleet(agency=agency, gateway=gateway, devices=devs)


@pytest.fixture(autouse=True)
def _fresh_ingest_caches() -> Iterator[None]:
    # The caches are per process; each test creates its own rows (and may reuse ids after a
    # rollback), so start every test with empty ones.
    ingest.clear_caches()
    yield
    ingest.clear_caches()


@pytest.fixture
def fleet(db) -> Fleet:
    return make_fleet()


@pytest.fixture
def topic_root(settings) -> str:
    """A topic root of this test's own, so tests sharing a broker never see each other."""
    settings.MQTT_TOPIC_ROOT = f"t-{uuid.uuid4().hex[:10]}/v1"
    return settings.MQTT_TOPIC_ROOT


@pytest.fixture
def now() -> datetime:
    return NOW


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
