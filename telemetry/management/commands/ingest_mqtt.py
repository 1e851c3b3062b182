"""The long-running MQTT subscriber: `python manage.py ingest_mqtt`.

Reads MQTT_URL (``mqtt://user:pass@host:1883``, ``mqtts://`` for TLS) and MQTT_CLIENT_ID.
Run several with ``--shared ingest --client-id tracker-ingest-2`` to split the load; each
needs its own client id (it names its persistent session on the broker). With ``mqtts://``,
MQTT_CA_FILE and (optionally) MQTT_CLIENT_CERT_FILE / MQTT_CLIENT_KEY_FILE are read before
anything connects: a bad file ends the command at once with one line naming the variable.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.ingest import WARM_DEVICES_MAX
from telemetry.mqtt import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BATCH_WAIT_S,
    IngestSubscriber,
    MqttTlsError,
    MqttUrlError,
    mqtt_tls_context,
    parse_mqtt_url,
)


class Command(BaseCommand):
    help = "Subscribe to gateway telemetry and state over MQTT 5 and store it (runs until SIGTERM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default=None, help="Broker URL (default: MQTT_URL).")
        parser.add_argument(
            "--client-id", default=None, help="Stable client id (default: MQTT_CLIENT_ID)."
        )
        parser.add_argument(
            "--shared",
            metavar="GROUP",
            default=None,
            help="Subscribe through $share/GROUP/... so several processes split the load.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Messages per transaction at most (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--batch-wait",
            type=float,
            default=DEFAULT_BATCH_WAIT_S,
            help=f"Seconds to wait for a batch to fill (default {DEFAULT_BATCH_WAIT_S}).",
        )
        parser.add_argument(
            "--warm-devices",
            type=int,
            default=WARM_DEVICES_MAX,
            metavar="N",
            help=f"Devices to load into the look-up cache before subscribing (default {WARM_DEVICES_MAX:,}; 0: none).",
        )
        parser.add_argument(
            "--latency-log",
            default=None,
            help="Append per-batch publish-to-commit latencies (JSON lines) to this file; for bench/.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("telemetry").setLevel(logging.INFO)
        try:
            url = parse_mqtt_url(options["url"] or settings.MQTT_URL)
            tls = mqtt_tls_context(url)
        except (MqttUrlError, MqttTlsError) as exc:
            raise CommandError(str(exc)) from None
        if options["batch_size"] < 1 or options["batch_wait"] <= 0:
            raise CommandError("--batch-size must be at least 1 and --batch-wait above 0")
        on_batch = _latency_logger(options["latency_log"]) if options["latency_log"] else None
        subscriber = IngestSubscriber(
            url=url,
            client_id=options["client_id"] or settings.MQTT_CLIENT_ID,
            shared_group=options["shared"],
            topic_root=settings.MQTT_TOPIC_ROOT,
            batch_size=options["batch_size"],
            batch_wait_s=options["batch_wait"],
            on_batch=on_batch,
            tls=tls,
            warm_devices=options["warm_devices"],
        )
        code = subscriber.run()
        if code:
            raise SystemExit(code)


def _latency_logger(path: str):  # noqa: ANN202  (internal)
    out = open(path, "a", buffering=1)  # noqa: SIM115  (open for the life of the process)

    def log_batch(result, batch, committed: float) -> None:  # noqa: ANN001
        # Publish time is the message's sent_at; the difference is publish-to-commit.
        latencies = [round(committed - s.timestamp(), 4) for s in result.sent_at]
        out.write(json.dumps({"t": committed, "n": len(batch), "lat": latencies}) + "\n")

    return log_batch
