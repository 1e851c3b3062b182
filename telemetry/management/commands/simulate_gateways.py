"""Demo gateways: `python manage.py simulate_gateways [--speed 10] [--duration 0]`.

Publishes realistic telemetry for the fleet in the database through the MQTT contract
(``telemetry.simulator`` says how: reporting intervals, draining and silent devices,
gateway drop-offs and malformed messages), until SIGTERM or ``--duration``.

With the embedded broker there is no authentication. Against Mosquitto with the generated
password file, pass ``--password-file gateway-secrets.csv`` (written by
``mosquitto_auth --issue-missing``); gateways without a line there are skipped. ``mqtts://``
trusts MQTT_CA_FILE, as the ingest does.
"""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.mqtt import MqttTlsError, parse_mqtt_url
from telemetry.simulator import SimulationError, SimulationOptions, Simulator


class Command(BaseCommand):
    help = "Publish realistic demo telemetry for the gateways and devices in the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default=None, help="Broker URL (default: MQTT_URL).")
        parser.add_argument(
            "--speed",
            type=float,
            default=10.0,
            help="Time speed-up: intervals are divided by this (default 10).",
        )
        parser.add_argument(
            "--duration",
            type=float,
            default=0,
            help="Stop after this many seconds (0: run until SIGTERM).",
        )
        parser.add_argument(
            "--max-gateways", type=int, default=100, help="Simulate at most this many gateways."
        )
        parser.add_argument(
            "--drop-every",
            type=float,
            default=120,
            help="Seconds between gateway drop-offs (0: never).",
        )
        parser.add_argument(
            "--drop-for", type=float, default=30, help="Seconds a dropped gateway stays away."
        )
        parser.add_argument(
            "--malformed-every", type=int, default=500, help="One malformed message in N (0: none)."
        )
        parser.add_argument(
            "--password-file",
            default=None,
            help="CSV agency,gateway,username,secret from mosquitto_auth.",
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["speed"] <= 0:
            raise CommandError("--speed must be above 0")
        url = parse_mqtt_url(options["url"] or settings.MQTT_URL)
        sim_options = SimulationOptions(
            speed=options["speed"],
            duration=options["duration"],
            max_gateways=options["max_gateways"],
            drop_every=options["drop_every"],
            drop_for=options["drop_for"],
            malformed_every=options["malformed_every"],
            password_file=options["password_file"],
            seed=options["seed"],
        )
        try:
            simulator = Simulator(url, sim_options, log=self._log)
        except MqttTlsError as exc:
            raise CommandError(str(exc)) from None
        signal.signal(signal.SIGTERM, simulator.stop)
        signal.signal(signal.SIGINT, simulator.stop)
        try:
            published = simulator.run()
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"published {published} messages")

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # read live by `make run` and the tests
