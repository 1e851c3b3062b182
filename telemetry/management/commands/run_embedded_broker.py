"""The embedded MQTT broker for a single machine: `python manage.py run_embedded_broker`.

iotcore runs rumqttd (a Rust broker compiled into the wheel) from a TOML file written to
VAR_DIR. rumqttd speaks one protocol version per listener, so it declares two on loopback:
MQTT 5 (MQTT_EMBEDDED_PORT, the ingest's) and MQTT 3.1.1 (MQTT_EMBEDDED_V311_PORT, for
gateways the contract lets speak 3.1.1); one router joins them, so a 3.1.1 publish reaches
the ingest's MQTT 5 shared subscription. iotcore's defaults would open only MQTT 3.1.1 and
cap payloads at 20 KiB. Sessions live in memory: a broker restart loses them, which is why
production runs Mosquitto (deploy/mosquitto/).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Above the ingest's own cap (telemetry.payloads.MAX_MESSAGE_BYTES), so an oversized message
# reaches the ingest and is dead-lettered with its reason instead of vanishing at the broker.
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
# QoS 1 messages in flight per connection: the ingest acknowledges a whole batch at a time,
# so this must exceed its batch size or deliveries stall until the batch timer fires.
MAX_INFLIGHT = 10_000


def broker_config(*, host: str, port: int, v311_port: int) -> str:
    """A rumqttd 0.20 TOML configuration: an MQTT 5 and an MQTT 3.1.1 listener."""
    return f"""# Written by manage.py run_embedded_broker; edits are overwritten.
id = 0

[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 1000
max_segment_size = {8 * MAX_PAYLOAD_BYTES}
max_segment_count = 10

[v5.1]
name = "tracker-v5"
listen = "{host}:{port}"
next_connection_delay_ms = 1
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = {MAX_PAYLOAD_BYTES}
    max_inflight_count = {MAX_INFLIGHT}

[v4.1]
name = "tracker-v311"
listen = "{host}:{v311_port}"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = {MAX_PAYLOAD_BYTES}
    max_inflight_count = {MAX_INFLIGHT}
"""


def write_config(*, host: str, port: int, v311_port: int, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"rumqttd-{port}.toml"
    path.write_text(broker_config(host=host, port=port, v311_port=v311_port))
    return path


class Command(BaseCommand):
    help = "Run the embedded MQTT broker (iotcore/rumqttd: MQTT 5 and 3.1.1) on loopback until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=settings.MQTT_EMBEDDED_PORT, help="The MQTT 5 port."
        )
        parser.add_argument(
            "--v311-port",
            type=int,
            default=settings.MQTT_EMBEDDED_V311_PORT,
            help="The MQTT 3.1.1 port.",
        )
        parser.add_argument(
            "--host", default="127.0.0.1", help="Listen address (default loopback only)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from iotcore import Broker
        from iotcore.broker import port_in_use

        host, port, v311_port = options["host"], options["port"], options["v311_port"]
        for taken in (port, v311_port):
            if port_in_use(taken, host):
                raise CommandError(f"port {taken} is already in use; is a broker running?")
        path = write_config(
            host=host, port=port, v311_port=v311_port, directory=Path(settings.VAR_DIR)
        )
        # rumqttd reports every packet as an ERROR-level tracing span; keep the log readable.
        for name in ("rumqttd", "tracing"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.stdout.write(
            f"embedded MQTT broker: MQTT 5 on {host}:{port}, MQTT 3.1.1 on {host}:{v311_port} (config {path})"
        )
        self.stdout.flush()
        # Runs in this process until a signal ends it (SIGTERM's default action is fine:
        # the broker keeps nothing on disk to flush).
        Broker(config_path=str(path)).run_forever()
