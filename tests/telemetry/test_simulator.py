"""The demo simulator publishes through the contract; the real ingest stores what it sends."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from telemetry.models import DeadLetter, GatewayStatus, TelemetryReading
from tests.conftest import wait_for
from tests.factories import GatewayFactory
from tests.telemetry.brokers import ROOT, test_database_url
from tests.telemetry.conftest import make_fleet

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]


def test_simulated_gateways_report_devices_drop_off_and_send_some_malformed_messages(
    mqtt_broker, ingest_process, topic_root, tmp_path
):
    fleet = make_fleet(devices=20, interval_s=60)
    GatewayFactory(agency=fleet.agency, name="second-gw")
    ingest = ingest_process(mqtt_broker, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
    ingest.wait_connected()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "MQTT_TOPIC_ROOT": settings.MQTT_TOPIC_ROOT,
    }
    sim = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "simulate_gateways",
            "--url",
            mqtt_broker.url_string,
            "--speed",
            "60",
            "--duration",
            "6",
            "--drop-every",
            "2",
            "--drop-for",
            "1",
            "--malformed-every",
            "4",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sim.returncode == 0, sim.stderr
    assert "drops off" in sim.stdout
    assert "is back" in sim.stdout

    wait_for(
        lambda: (
            TelemetryReading.objects.filter(device__agency=fleet.agency)
            .values("device")
            .distinct()
            .count()
            >= 15
        ),
        what="readings of most devices",
    )
    wait_for(
        lambda: DeadLetter.objects.filter(agency=fleet.agency).exists(),
        what="a malformed message's dead letter",
    )
    # After the clean stop every gateway says offline (retained), as a person would expect.
    wait_for(
        lambda: (
            GatewayStatus.objects.filter(gateway__agency=fleet.agency, is_online=False).count() == 2
        ),
        what="both gateways offline after the simulator stopped",
    )
    assert ingest.terminate() == 0
