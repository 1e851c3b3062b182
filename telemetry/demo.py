"""Demo telemetry: a recent history for the demo fleet, stored through the real ingest.

Runs once (a second run finds readings and changes nothing); after that the gateway
simulator keeps the fleet's health moving. Readings go through `telemetry.ingest` exactly as
a gateway's would, so history, latest state, flips and alerts are the product's own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from devices.models import Device, Gateway
from telemetry import sweep
from telemetry.ingest import InboundMessage, ingest_batch
from telemetry.models import TelemetryReading
from telemetry.payloads import build_message
from telemetry.topics import state_topic, telemetry_topic

READINGS_PER_DEVICE = 8
READINGS_PER_MESSAGE = 50
MESSAGES_PER_BATCH = 200
# Shares of the deployed fleet by behaviour; the rest report normally.
SILENT_SHARE = 0.06  # last heard from one to three days ago: offline
NEVER_SHARE = 0.04  # deployed but never reported: never seen
LOW_BATTERY_SHARE = 0.03


def load_telemetry_demo(
    *, seed: int, log: Callable[[str], object] = print, now: datetime | None = None
) -> None:
    """Give the deployed demo fleet eight readings each over the last hours (idempotent)."""
    if TelemetryReading.objects.exists():
        log("telemetry: history present, unchanged")
        return
    now = now or timezone.now()
    gateways = {
        g.agency_id: g
        for g in Gateway.objects.select_related("agency").order_by("agency_id", "name")
    }
    devices = (
        Device.objects.filter(status=Device.Status.DEPLOYED, agency_id__in=gateways.keys())
        .values_list("id", "agency_id", "serial", "firmware_version", "model__telemetry_interval_s")
        .order_by("id")
    )
    per_gateway = _demo_readings(devices.iterator(), random.Random(seed), now=now)
    messages = _demo_messages(per_gateway, gateways, now=now)
    stored = 0
    for start in range(0, len(messages), MESSAGES_PER_BATCH):
        stored += ingest_batch(
            messages[start : start + MESSAGES_PER_BATCH], now=now
        ).readings_stored
    sweep.mark_stale_devices(now=now)
    log(f"telemetry: {stored} demo readings stored for {len(per_gateway)} gateways")


def _demo_readings(
    devices: Iterable[tuple[int, int, str, str, int]], rng: random.Random, *, now: datetime
) -> dict[int, list[dict]]:
    """Readings per agency (its gateway): some devices never report, some went silent."""
    per_gateway: dict[int, list[dict]] = {}
    for _, agency_id, serial, firmware, interval_s in devices:
        roll = rng.random()
        if roll < NEVER_SHARE:
            continue
        silent = roll < NEVER_SHARE + SILENT_SHARE
        newest = now - (
            timedelta(hours=rng.uniform(24, 72))
            if silent
            else timedelta(seconds=rng.uniform(0, interval_s * 0.8))
        )
        battery = rng.uniform(5, 12) if rng.random() < LOW_BATTERY_SHARE else rng.uniform(45, 100)
        step = timedelta(seconds=max(interval_s, 1800))
        for k in range(READINGS_PER_DEVICE):
            per_gateway.setdefault(agency_id, []).append(
                {
                    "device": serial,
                    "ts": (newest - k * step).isoformat(),
                    "battery_pct": round(min(100.0, battery + k * 1.5), 1),
                    "rsrp_dbm": round(rng.uniform(-112, -78), 1),
                    "storage_pct": round(rng.uniform(10, 70), 1),
                    "firmware": firmware or "1.0.0",
                    "gps_fix": True,
                }
            )
    return per_gateway


def _demo_messages(
    per_gateway: dict[int, list[dict]], gateways: dict[int, Gateway], *, now: datetime
) -> list[InboundMessage]:
    """Each gateway's retained "online", then its readings as numbered telemetry messages."""
    messages: list[InboundMessage] = []
    root = settings.MQTT_TOPIC_ROOT
    for agency_id, readings in per_gateway.items():
        gateway = gateways[agency_id]
        messages.append(
            InboundMessage(
                state_topic(gateway.agency.slug, gateway.name, root=root), b"online", now
            )
        )
        topic = telemetry_topic(gateway.agency.slug, gateway.name, root=root)
        for seq, start in enumerate(range(0, len(readings), READINGS_PER_MESSAGE), start=1):
            body = build_message(
                gateway=gateway.name,
                seq=seq,
                sent_at=now,
                readings=readings[start : start + READINGS_PER_MESSAGE],
            )
            messages.append(InboundMessage(topic, json.dumps(body).encode(), now))
    return messages
