"""Demo gateways publishing realistic telemetry through the MQTT contract.

Run by ``manage.py simulate_gateways``, so the pages show health changing within a minute
of `make run`:

* each active gateway connects with its Last Will (retained ``offline``) and publishes a
  retained ``online``; an agency's devices report through its gateways (round robin);
* every device reports at its model's interval (divided by ``speed``), a few readings per
  message; about 5% drain their battery until they die, about 3% go silent after a while;
* one gateway drops off every ``drop_every`` seconds without DISCONNECT (the broker fires
  its Last Will) and comes back ``drop_for`` seconds later with a new session;
* about one message in ``malformed_every`` is malformed, to show the dead letters.

Against Mosquitto with the generated password file, ``password_file`` names
``gateway-secrets.csv`` (written by ``mosquitto_auth --issue-missing``); gateways without a
line there are skipped. ``mqtts://`` trusts MQTT_CA_FILE, as the ingest does.
"""

from __future__ import annotations

import csv
import json
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from devices.models import Device, Gateway
from telemetry.mqtt import MqttUrl, Publisher, mqtt_tls_context
from telemetry.payloads import build_message
from telemetry.topics import state_topic, telemetry_topic

MAX_READINGS_PER_MESSAGE = 50


class SimulationError(Exception):
    """The simulation cannot start: no gateway to simulate, or no broker to reach."""


@dataclass(frozen=True)
class SimulationOptions:
    speed: float = 10.0  # intervals are divided by this
    duration: float = 0  # seconds; 0: until stopped
    max_gateways: int = 100
    drop_every: float = 120  # seconds between gateway drop-offs; 0: never
    drop_for: float = 30  # seconds a dropped gateway stays away
    malformed_every: int = 500  # one malformed message in N; 0: none
    password_file: str | None = None
    seed: int = 7


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


class Simulator:
    """The simulated gateways of the fleet in the database, publishing until ``stop()``.

    Raises MqttTlsError when ``url`` asks for TLS that cannot be set up.
    """

    def __init__(
        self, url: MqttUrl, options: SimulationOptions, *, log: Callable[[str], object]
    ) -> None:
        self.url = url
        self.options = options
        self.log = log
        # One context (MQTT_CA_FILE ...) for every gateway's connection.
        self.tls = mqtt_tls_context(url)
        self.rng = random.Random(options.seed)
        self.stopping = False

    def stop(self, *_: Any) -> None:
        """Finish the current round, then stop cleanly (usable as a signal handler)."""
        self.stopping = True

    def run(self) -> int:
        """Publish until stopped (or ``duration`` is up); the number of messages published."""
        gateways = self.load()
        if not gateways:
            raise SimulationError(
                "no active gateway with devices in the database; run `manage.py load_demo` first"
            )
        self.wait_for_broker()
        for gw in gateways:
            self.connect(gw)
        devices = sum(len(g.devices) for g in gateways)
        self.log(
            f"simulating {len(gateways)} gateways and {devices} devices at {self.options.speed}x on {self.url}"
        )
        started = time.monotonic()
        drop_every = self.options.drop_every
        next_drop = started + drop_every if drop_every else float("inf")
        published = 0
        while not self.stopping:
            now_mono = time.monotonic()
            if self.options.duration and now_mono - started > self.options.duration:
                break
            if now_mono >= next_drop:
                self._drop(gateways[0], now_mono)
                next_drop = now_mono + drop_every
            for gw in gateways:
                if gw.publisher is None:
                    if now_mono >= gw.down_until:
                        self.log(f"gateway {gw.agency}/{gw.name} is back")
                        self.connect(gw)
                    continue
                published += self.tick(gw, now_mono)
            time.sleep(0.2)
        for gw in gateways:
            if gw.publisher is not None:
                # A clean stop: say so, then DISCONNECT (no Last Will).
                gw.publisher.publish(gw.state, b"offline", retain=True)
                gw.publisher.flush(5)
                gw.publisher.close()
        return published

    def _drop(self, victim: SimGateway, now_mono: float) -> None:
        if victim.publisher is not None:
            self.log(f"gateway {victim.agency}/{victim.name} drops off (no DISCONNECT: Last Will)")
            victim.publisher.cut()
            victim.publisher = None
            victim.down_until = now_mono + self.options.drop_for

    def load(self) -> list[SimGateway]:
        """The active gateways (at most ``max_gateways``) with the in-service devices of their agency."""
        gateways = self._gateways(self._secrets())
        speed = self.options.speed
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
            roll = self.rng.random()
            profile = "drainer" if roll < 0.05 else "silent" if roll < 0.08 else "normal"
            interval_s = max(interval / speed, 0.5)
            sims[i % len(sims)].devices.append(
                SimDevice(
                    serial=serial,
                    interval_s=interval_s,
                    profile=profile,
                    battery=self.rng.uniform(55, 100),
                    firmware=firmware or "1.0.0",
                    next_at=now + self.rng.uniform(0, interval_s),
                )
            )
        return [g for sims in gateways.values() for g in sims if g.devices]

    def _secrets(self) -> dict[tuple[str, str], tuple[str, str]]:
        secrets: dict[tuple[str, str], tuple[str, str]] = {}
        if self.options.password_file:
            with open(self.options.password_file, newline="") as f:
                for row in csv.DictReader(f):
                    secrets[(row["agency"], row["gateway"])] = (row["username"], row["secret"])
        return secrets

    def _gateways(
        self, secrets: dict[tuple[str, str], tuple[str, str]]
    ) -> dict[int, list[SimGateway]]:
        gateways: dict[int, list[SimGateway]] = {}
        count = 0
        for gw in (
            Gateway.objects.filter(is_active=True)
            .select_related("agency")
            .order_by("agency_id", "name")
        ):
            if count >= self.options.max_gateways:
                break
            creds = secrets.get((gw.agency.slug, gw.name))
            if self.options.password_file and creds is None:
                continue
            sim = SimGateway(gw.agency.slug, gw.name, *(creds or (None, None)))
            gateways.setdefault(gw.agency_id, []).append(sim)
            count += 1
        return gateways

    def wait_for_broker(self, timeout: float = 120.0) -> None:
        """Started beside the broker (`make run`), the simulator may come up first: wait for it."""
        url = self.url
        deadline = time.monotonic() + timeout
        delay = 0.2
        while not self.stopping:
            try:
                with socket.create_connection((url.host, url.port), timeout=2):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise SimulationError(
                        f"MQTT broker {url.host}:{url.port} unreachable: {exc}"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def connect(self, gw: SimGateway) -> None:
        url = self.url
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

    def tick(self, gw: SimGateway, now_mono: float) -> int:
        """Publish the readings of ``gw``'s devices that are due; the number of messages sent."""
        rng = self.rng
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
            every = self.options.malformed_every
            if every and rng.randrange(every) == 0:
                payload = _malformed(payload, rng)
            assert gw.publisher is not None
            gw.publisher.publish(gw.topic, payload)
            sent += 1
        return sent


def _malformed(payload: str, rng: random.Random) -> str:
    return rng.choice(
        [
            payload[: len(payload) // 2],  # cut short: not JSON
            payload.replace('"battery_pct": ', '"battery_pct": "', 1).replace(
                ', "rsrp_dbm"', '", "rsrp_dbm"', 1
            ),
        ]
    )
