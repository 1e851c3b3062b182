"""Demo gateways: `python manage.py simulate_gateways [--speed 10] [--duration 0]`.

Publishes realistic telemetry for the fleet in the database through the MQTT contract, so
the pages show health changing within a minute of `make run`:

* each active gateway connects with its Last Will (retained ``offline``) and publishes a
  retained ``online``; an agency's devices report through its gateways (round robin);
* every device reports at its model's interval (divided by ``--speed``), a few readings per
  message; about 5% drain their battery until they die, about 3% go silent after a while;
* one gateway drops off every ``--drop-every`` seconds without DISCONNECT (the broker fires
  its Last Will) and comes back ``--drop-for`` seconds later with a new session;
* about one message in ``--malformed-every`` is malformed, to show the dead letters.

With the embedded broker there is no authentication. Against Mosquitto with the generated
password file, pass ``--password-file gateway-secrets.csv`` (written by
``mosquitto_auth --issue-missing``); gateways without a line there are skipped. ``mqtts://``
trusts MQTT_CA_FILE, as the ingest does.
"""

from __future__ import annotations

import csv
import json
import random
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.models import Device, Gateway
from telemetry.mqtt import MqttTlsError, MqttUrl, Publisher, mqtt_tls_context, parse_mqtt_url
from telemetry.payloads import build_message
from telemetry.topics import state_topic, telemetry_topic

MAX_READINGS_PER_MESSAGE = 50


@dataclass
class SimDevice:
    serial: str
    interval_s: float
    profile: str  # "normal", "drainer" or "silent"
    battery: float
    firmware: str
    next_at: float
    sent: int = 0

    def reading(self, rng: random.Random, now: datetime) -> dict[str, Any] | None:
        """The next reading, or None once this device has died or gone quiet."""
        if self.profile == "silent" and self.sent >= 5:
            return None
        if self.profile == "drainer":
            self.battery = max(0.0, self.battery - rng.uniform(4, 9))
            if self.battery <= 0:
                return None
        else:
            self.battery = min(100.0, max(20.0, self.battery + rng.uniform(-3, 3)))
        self.sent += 1
        return {
            "device": self.serial,
            "ts": now.isoformat(timespec="milliseconds"),
            "battery_pct": round(self.battery, 1),
            "rsrp_dbm": round(rng.gauss(-95, 8), 1),
            "firmware": self.firmware,
            "storage_pct": round(rng.uniform(10, 80), 1),
            "gps_fix": rng.random() > 0.1,
            "temperature_c": round(rng.gauss(30, 4), 1),
            "status": rng.choice(["idle", "idle", "recording", "docked"]),
        }


@dataclass
class SimGateway:
    agency: str
    name: str
    username: str | None
    password: str | None
    devices: list[SimDevice] = field(default_factory=list)
    publisher: Publisher | None = None
    seq: int = 0
    down_until: float = 0.0

    @property
    def topic(self) -> str:
        return telemetry_topic(self.agency, self.name, root=settings.MQTT_TOPIC_ROOT)

    @property
    def state(self) -> str:
        return state_topic(self.agency, self.name, root=settings.MQTT_TOPIC_ROOT)


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
        try:
            # One context (MQTT_CA_FILE ...) for every gateway's connection.
            self.tls = mqtt_tls_context(url)
        except MqttTlsError as exc:
            raise CommandError(str(exc)) from None
        rng = random.Random(options["seed"])
        gateways = self._load(options, rng)
        if not gateways:
            raise CommandError(
                "no active gateway with devices in the database; run `manage.py load_demo` first"
            )
        stopping = {"flag": False}

        def stop(*_: Any) -> None:
            stopping["flag"] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._wait_for_broker(url, stopping)
        for gw in gateways:
            self._connect(gw, url)
        devices = sum(len(g.devices) for g in gateways)
        self.stdout.write(
            f"simulating {len(gateways)} gateways and {devices} devices at {options['speed']}x on {url}"
        )
        self.stdout.flush()

        started = time.monotonic()
        next_drop = started + options["drop_every"] if options["drop_every"] else float("inf")
        published = 0
        while not stopping["flag"]:
            now_mono = time.monotonic()
            if options["duration"] and now_mono - started > options["duration"]:
                break
            if now_mono >= next_drop:
                victim = gateways[0]
                if victim.publisher is not None:
                    self.stdout.write(
                        f"gateway {victim.agency}/{victim.name} drops off (no DISCONNECT: Last Will)"
                    )
                    victim.publisher.cut()
                    victim.publisher = None
                    victim.down_until = now_mono + options["drop_for"]
                next_drop = now_mono + options["drop_every"]
            for gw in gateways:
                if gw.publisher is None:
                    if now_mono >= gw.down_until:
                        self.stdout.write(f"gateway {gw.agency}/{gw.name} is back")
                        self._connect(gw, url)
                    continue
                published += self._tick(gw, rng, now_mono, options)
            time.sleep(0.2)
        for gw in gateways:
            if gw.publisher is not None:
                # A clean stop: say so, then DISCONNECT (no Last Will).
                gw.publisher.publish(gw.state, b"offline", retain=True)
                gw.publisher.flush(5)
                gw.publisher.close()
        self.stdout.write(f"published {published} messages")

    def _load(self, options: dict[str, Any], rng: random.Random) -> list[SimGateway]:
        secrets: dict[tuple[str, str], tuple[str, str]] = {}
        if options["password_file"]:
            with open(options["password_file"], newline="") as f:
                for row in csv.DictReader(f):
                    secrets[(row["agency"], row["gateway"])] = (row["username"], row["secret"])
        gateways: dict[int, list[SimGateway]] = {}
        count = 0
        for gw in (
            Gateway.objects.filter(is_active=True)
            .select_related("agency")
            .order_by("agency_id", "name")
        ):
            if count >= options["max_gateways"]:
                break
            creds = secrets.get((gw.agency.slug, gw.name))
            if options["password_file"] and creds is None:
                continue
            sim = SimGateway(gw.agency.slug, gw.name, *(creds or (None, None)))
            gateways.setdefault(gw.agency_id, []).append(sim)
            count += 1
        speed = options["speed"]
        now = time.monotonic()
        devices = (
            Device.objects.in_service()
            .filter(agency_id__in=gateways)
            .values_list("agency_id", "serial", "model__telemetry_interval_s", "firmware_version")
        )
        index: dict[int, int] = {}
        for agency_id, serial, interval, firmware in devices.iterator():
            sims = gateways[agency_id]
            i = index.get(agency_id, 0)
            index[agency_id] = i + 1
            roll = rng.random()
            profile = "drainer" if roll < 0.05 else "silent" if roll < 0.08 else "normal"
            interval_s = max(interval / speed, 0.5)
            sims[i % len(sims)].devices.append(
                SimDevice(
                    serial=serial,
                    interval_s=interval_s,
                    profile=profile,
                    battery=rng.uniform(55, 100),
                    firmware=firmware or "1.0.0",
                    next_at=now + rng.uniform(0, interval_s),
                )
            )
        return [g for sims in gateways.values() for g in sims if g.devices]

    def _wait_for_broker(
        self, url: MqttUrl, stopping: dict[str, bool], timeout: float = 120.0
    ) -> None:
        """Started beside the broker (`make run`), the simulator may come up first: wait for it."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while not stopping["flag"]:
            try:
                with socket.create_connection((url.host, url.port), timeout=2):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"MQTT broker {url.host}:{url.port} unreachable: {exc}"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _connect(self, gw: SimGateway, url: MqttUrl) -> None:
        gw_url = MqttUrl(
            url.host, url.port, gw.username or url.username, gw.password or url.password, url.tls
        )
        # A new connection is a new gateway session: numbering starts again at 0.
        gw.seq = 0
        gw.publisher = Publisher(
            url=gw_url,
            client_id=f"sim-{gw.agency}-{gw.name}"[:64],
            will=(gw.state, b"offline"),
            max_in_flight=500,
            tls=self.tls,
        ).connect()
        gw.publisher.publish(gw.state, b"online", retain=True)

    def _tick(
        self, gw: SimGateway, rng: random.Random, now_mono: float, options: dict[str, Any]
    ) -> int:
        now = datetime.now(UTC)
        due = []
        for device in gw.devices:
            if device.next_at <= now_mono:
                device.next_at = now_mono + device.interval_s * rng.uniform(0.95, 1.05)
                r = device.reading(rng, now)
                if r is not None:
                    due.append(r)
        sent = 0
        for start in range(0, len(due), MAX_READINGS_PER_MESSAGE):
            payload = json.dumps(
                build_message(
                    gateway=gw.name,
                    seq=gw.seq,
                    sent_at=now,
                    readings=due[start : start + MAX_READINGS_PER_MESSAGE],
                )
            )
            gw.seq += 1
            every = options["malformed_every"]
            if every and rng.randrange(every) == 0:
                payload = rng.choice(
                    [
                        payload[: len(payload) // 2],  # cut short: not JSON
                        payload.replace('"battery_pct": ', '"battery_pct": "', 1).replace(
                            ', "rsrp_dbm"', '", "rsrp_dbm"', 1
                        ),
                    ]
                )
            assert gw.publisher is not None
            gw.publisher.publish(gw.topic, payload)
            sent += 1
        return sent
