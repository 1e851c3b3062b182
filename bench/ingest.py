"""Ingest benchmark: drain a broker backlog, live stream latency, and their baselines.

Run by hand (not part of the tests):

    .venv/bin/python bench/ingest.py [--db postgres|sqlite|both] [--readings 200000]
                                     [--members 1,2] [--live-seconds 60]
                                     [--live-rate 16700,22300] [--skip-drain] [--skip-live]

For each database (PostgreSQL: ``tracker_bench_ingest`` on DATABASE_URL's server, default
postgres://postgres@127.0.0.1:5432; SQLite: /tmp/tracker_bench_ingest.sqlite3) it migrates,
bulk-creates a fleet once (5 agencies, 50 gateways, 100,000 devices reporting every 60 s) and
starts its own Mosquitto with the project's configuration (deploy/mosquitto/) on a free
loopback port, with persistence off and no passwords. Then:

1. **drain**, once with 1 reading a message and once with 10: 200,000 readings (10,000
   devices x 20 readings, devices that were seen before the outage) published by 50
   gateways while the ingest is stopped (its
   persistent session was created by a first short start/stop), then the real
   ``manage.py ingest_mqtt`` started: readings/s and messages/s committed (from its
   ``--latency-log`` commit times), lost and duplicated readings (rows in the history table
   against the expected unique (device, ts)), and the process's peak memory (VmHWM);
2. **baselines from the same backlog**: a bare paho subscriber (its own persistent session,
   filled by the same publish) that only validates each message with the same pydantic model
   and counts; and a raw driver write of the same rows in the same batches (PostgreSQL:
   psycopg binary COPY into a staging table, then the history insert and the latest-state upsert;
   SQLite: sqlite3 executemany of both). Each figure is printed with its ratio;
3. **live**, at each ``--live-rate`` in turn (by default 16,700 readings/s, a state the size
   of Kentucky, 100,000 devices, in a 10x burst; then 22,300 readings/s, FirstNet's national
   scale of about 6.7 million connections at one reading each every 5 minutes), 10 readings a
   message from several publisher processes, for ``--live-seconds`` into the running ingest:
   p50/p95/p99 from publish (the message's ``sent_at``) to commit, lost and duplicated, and
   the ingest's memory at the start and the end of the stream.

``--members N`` runs N ingest processes on one MQTT 5 shared subscription
(``$share/bench/...``, client ids ``bench-ingest-1`` ...), as the ``tracker-ingest@N`` units
do; a list (``--members 1,2``) runs every scenario for each count, one after the other on
the same fleet, and prints the 1-reading drain rate of each count against the first's. In a
drain the members' sessions exist before the backlog is published, and Mosquitto deals the
messages round-robin between them, offline or not; each report prints how evenly.

Targets (2 cores, PostgreSQL): 1 reading a message >= 35% of the bare subscriber's rate;
10 a message >= 50,000 readings/s; the ingest's writer (readings / time inside its batch
transactions, rows in hand to commit, on the same messages in the same batches in this
process) >= 70% of the raw driver; live p95 < 1 s and nothing lost at both rates; memory
flat; two members >= 1.3x one member's drain rate at 1 reading a message. SQLite: >= 30% of the bare
subscriber's rate. The same writer figure from the MQTT process's IngestStat row is printed
beside it: there paho's network thread shares the interpreter (and the GIL) with the writer.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_NAME = "tracker_bench_ingest"
SQLITE_PATH = Path(tempfile.gettempdir()) / "tracker_bench_ingest.sqlite3"
MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"  # Debian's mosquitto-clients: the live stream's gateways
PROJECT_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
TOPIC_ROOT = "tracker/v1"

AGENCIES = 5
GATEWAYS = 50  # gateway g belongs to agency g // 10; device i reports through gateway i % 50
FLEET = 100_000
# Devices report every minute in the live stream (every 6 s in its burst); an expected interval
# of 5 minutes keeps a drained backlog's readings (up to a few minutes old by the time they
# are committed) online, as a short outage's would be, rather than late.
INTERVAL_S = 300
SESSION_EXPIRY_S = 3600
BATCH_SIZE = 5000  # the ingest's default --batch-size (the warm-up batches)
# Live rates: a state the size of Kentucky (100,000 devices at one reading a minute) in a 10x
# burst, and FirstNet's national scale (about 6.7 million connections, one reading each
# every 5 minutes), both at 10 readings a message.
KENTUCKY_BURST = 16_700
NATIONAL_RATE = 22_300


# ---------------------------------------------------------------------------------------
# Database and fleet
# ---------------------------------------------------------------------------------------


def database_url(db: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{SQLITE_PATH}"
    server = os.environ.get("DATABASE_URL", PG_SERVER)
    parts = urlparse(server)
    return f"{parts.scheme}://{parts.netloc}/{PG_NAME}"


def setup_django(db: str) -> str:
    url = database_url(db)
    if db == "postgres":
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [PG_NAME]
            ).fetchone():
                conn.execute(f'CREATE DATABASE "{PG_NAME}"')
    os.environ["DATABASE_URL"] = url
    os.environ["MQTT_TOPIC_ROOT"] = TOPIC_ROOT
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def serial(i: int) -> str:
    return f"BN{i:06d}"


def gateway_name(g: int) -> str:
    return f"gw-{g:02d}"


def agency_slug(a: int) -> str:
    return f"bench-{a}"


def ensure_fleet(devices: int = FLEET) -> None:
    """Agencies, gateways and ``devices`` devices, bulk-created once (a rerun reuses them)."""
    from devices.models import Agency, Cabinet, Device, DeviceModel, Gateway

    DeviceModel.objects.filter(manufacturer="BenchCo").update(telemetry_interval_s=INTERVAL_S)
    if Device.objects.filter(serial__startswith="BN").count() >= devices:
        return
    cabinet, _ = Cabinet.objects.get_or_create(slug="bench", defaults={"name": "Bench cabinet"})
    agencies = []
    for a in range(AGENCIES):
        agency, _ = Agency.objects.get_or_create(
            slug=agency_slug(a),
            defaults={"name": f"Bench agency {a}", "kind": "police", "cabinet": cabinet},
        )
        agencies.append(agency)
    model, _ = DeviceModel.objects.update_or_create(
        manufacturer="BenchCo",
        name="Cam 1",
        defaults={"kind": "body_camera", "telemetry_interval_s": INTERVAL_S},
    )
    for g in range(GATEWAYS):
        Gateway.objects.get_or_create(agency=agencies[g // 10], name=gateway_name(g))
    existing = set(Device.objects.filter(serial__startswith="BN").values_list("serial", flat=True))
    rows = [
        Device(
            agency=agencies[(i % GATEWAYS) // 10],
            model=model,
            manufacturer=model.manufacturer,
            serial=serial(i),
            status="deployed",
        )
        for i in range(devices)
        if serial(i) not in existing
    ]
    Device.objects.bulk_create(rows, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        # Statistics as autovacuum would leave them after a bulk load, so plans are realistic.
        cursor.execute("ANALYZE devices_device" if connection.vendor == "postgresql" else "ANALYZE")


def checkpoints() -> tuple[int, int] | None:
    """(timed, requested) checkpoints of the PostgreSQL server so far; None on SQLite.

    A checkpoint requested because WAL outgrew ``max_wal_size`` (1 GB by default) writes
    every dirty page at once and makes the next writes log whole pages: at the national rate
    that came every few seconds and was the live stream's tail (docs/production.md).
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter")
        timed, requested = cursor.fetchone()
    return int(timed), int(requested)


def max_wal_size() -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_wal_size")
        return str(cursor.fetchone()[0])


def reset_telemetry() -> None:
    """Empty every table the ingest writes, so each scenario counts only its own rows."""
    from django.apps import apps
    from django.db import connection

    from telemetry import ingest, partitions

    tables = [
        m._meta.db_table
        for m in apps.get_app_config("telemetry").get_models()
        if m._meta.managed and not m._meta.proxy
    ]
    keep = {"telemetry_notificationchannel", "telemetry_maintenancewindow"}
    tables = [t for t in tables if t not in keep]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    if connection.vendor == "postgresql":
        partitions.ensure_partitions(ahead=1)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE telemetry_devicehealth")
    ingest.clear_caches()


def reset_to_known_fleet(devices: int, *, before: float) -> None:
    """Empty the ingest's tables, then give the first ``devices`` devices a latest state
    (seen a minute before the epoch ``before``, online, firmware on record) and no history.

    A drain is the backlog of an outage: its devices were seen before it. Without this the
    first batches would also measure every device's first reading (a never-seen -> online
    flip and a firmware row each), which neither a running tracker nor the raw baseline does.
    """
    from django.db import connection

    reset_telemetry()
    warm_up_fleet(devices, at=before - 60)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM telemetry_telemetryreading")
    connection.close()


def count_readings() -> tuple[int, int]:
    """(rows, distinct (device, ts)) in the history table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT device_id || ' ' || CAST(ts AS TEXT)) FROM telemetry_telemetryreading"
        )
        rows, distinct = cursor.fetchone()
    return rows, distinct


def latest_state_mismatches() -> int:
    """Devices whose latest state is not their newest stored reading (must be 0)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT device_id, MAX(ts) AS ts FROM telemetry_telemetryreading "
            "GROUP BY device_id) r LEFT JOIN telemetry_devicehealth h ON h.device_id = r.device_id "
            "WHERE h.last_reading_at IS NULL OR h.last_reading_at <> r.ts"
        )
        return cursor.fetchone()[0]


# ---------------------------------------------------------------------------------------
# Workload: contract messages
# ---------------------------------------------------------------------------------------


def reading(i: int, ts: float) -> dict[str, Any]:
    # Healthy values, so a batch costs what a normal batch costs (no alert storms).
    return {
        "device": serial(i),
        "ts": datetime.fromtimestamp(ts, UTC).isoformat(),
        "battery_pct": 50.0 + (i % 50),
        "rsrp_dbm": -90.0 - (i % 20),
        "firmware": "4.2.1",
        "storage_pct": 40.0,
        "gps_fix": True,
        "temperature_c": 31.5,
        "status": "recording",
    }


def drain_messages(
    gateways: list[int], *, devices: int, per_device: int, per_message: int, base: float
) -> list[tuple[str, bytes]]:
    """The backlog of some gateways: each device's ``per_device`` readings, one second apart,
    in time order across the gateways (as an outage's backlog queues up)."""
    out = []
    seqs = dict.fromkeys(gateways, 0)
    members = {g: list(range(g, devices, GATEWAYS)) for g in gateways}
    for k in range(per_device):
        for g in gateways:
            topic = f"{TOPIC_ROOT}/{agency_slug(g // 10)}/{gateway_name(g)}/telemetry"
            for start in range(0, len(members[g]), per_message):
                chunk = members[g][start : start + per_message]
                seqs[g] += 1
                body = {
                    "schema": 1,
                    "gateway": gateway_name(g),
                    "seq": seqs[g],
                    "sent_at": datetime.fromtimestamp(base + k + 0.5, UTC).isoformat(),
                    "readings": [reading(i, base + k + (i % 1000) / 1000) for i in chunk],
                }
                out.append((topic, json.dumps(body, separators=(",", ":")).encode()))
    return out


def drain_rows(
    *,
    devices: int,
    per_device: int,
    base: float,
    device_ids: dict[str, int],
    gateway_ids: dict[str, int],
) -> list[tuple]:
    """The same backlog as history rows, in the order the ingest receives them, for the raw baseline."""
    received = datetime.now(UTC)
    rows = []
    for k in range(per_device):
        for g in range(GATEWAYS):
            gid = gateway_ids[gateway_name(g)]
            for i in range(g, devices, GATEWAYS):
                r = reading(i, base + k + (i % 1000) / 1000)
                rows.append(
                    (
                        device_ids[serial(i)],
                        datetime.fromtimestamp(base + k + (i % 1000) / 1000, UTC),
                        received,
                        gid,
                        r["battery_pct"],
                        r["rsrp_dbm"],
                        r["firmware"],
                        r["storage_pct"],
                        r["gps_fix"],
                        r["temperature_c"],
                        r["status"],
                        "{}",
                    )
                )
    return rows


# ---------------------------------------------------------------------------------------
# Broker
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """The project's Mosquitto configuration on a free loopback port, anonymous, no persistence."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        lines = []
        for line in PROJECT_CONF.read_text().splitlines():
            key = line.split(" ", 1)[0]
            if key == "listener":
                line = f"listener {self.port} 127.0.0.1"
            elif key in (
                "password_file",
                "acl_file",
                "persistence_location",
                "autosave_interval",
                "autosave_on_changes",
            ):
                line = ""
            elif key == "persistence":
                line = "persistence false"
            elif key == "allow_anonymous":
                line = "allow_anonymous true"
            elif key == "max_queued_messages":
                line = "max_queued_messages 2000000"
            lines.append(line)
        lines.append(f"user {getpass.getuser()}")
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = directory / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.3),
            ):
                return self
            time.sleep(0.05)
        raise SystemExit(f"mosquitto did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


# ---------------------------------------------------------------------------------------
# Raw driver baseline: the same rows, the same batches, no ingest code
# ---------------------------------------------------------------------------------------

_RAW_HISTORY = (
    "device_id",
    "ts",
    "received_at",
    "gateway_id",
    "battery_pct",
    "rsrp_dbm",
    "firmware",
    "storage_pct",
    "gps_fix",
    "temperature_c",
    "status",
    "extra",
)
_RAW_MEASURES = (
    "battery_pct",
    "rsrp_dbm",
    "firmware",
    "storage_pct",
    "gps_fix",
    "temperature_c",
    "status",
)
# Binary COPY with declared types: the fastest way psycopg has to send these rows (extra is
# JSON text, staged as text and cast, as the ingest does).
_RAW_TYPES = (
    "int8",
    "timestamptz",
    "timestamptz",
    "int8",
    "float8",
    "float8",
    "text",
    "float8",
    "bool",
    "float8",
    "text",
    "text",
)


def raw_write(rows: list[tuple], *, batch_readings: int) -> float:
    """Write ``rows`` with the bare driver in batches of ``batch_readings``; seconds taken.

    PostgreSQL: binary COPY into a temporary staging table, INSERT ... SELECT into history ON
    CONFLICT DO NOTHING, and the latest-state upsert of the newest row per device (DISTINCT
    ON) forward in time only. SQLite: executemany INSERT OR IGNORE and an executemany
    upsert of the newest row per device. One transaction per batch.
    """
    from django.db import connection

    reset_to_known_fleet(
        len({row[0] for row in rows}), before=min(row[1] for row in rows).timestamp()
    )
    cols = ", ".join(_RAW_HISTORY)
    updates = ", ".join(
        f"{c} = excluded.{c}"
        for c in (
            "last_reading_at",
            "last_received_at",
            "late_after",
            "offline_after",
            "gateway_id",
            *_RAW_MEASURES,
        )
    )
    latest_cols = (
        "device_id, level, level_changed_at, problems, last_reading_at, last_received_at, late_after, "
        f"offline_after, gateway_id, {', '.join(_RAW_MEASURES)}"
    )
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        import psycopg

        with psycopg.connect(database_url("postgres")) as conn:
            conn.execute(
                "CREATE TEMP TABLE raw_stage ON COMMIT DELETE ROWS AS "
                f"SELECT {cols.replace('extra', 'extra::text AS extra')} FROM telemetry_telemetryreading WITH NO DATA"
            )
            conn.commit()
            started = time.perf_counter()
            for start in range(0, len(rows), batch_readings):
                with conn.cursor() as cur:
                    with cur.copy(f"COPY raw_stage ({cols}) FROM STDIN (FORMAT binary)") as copy:
                        copy.set_types(_RAW_TYPES)
                        for row in rows[start : start + batch_readings]:
                            copy.write_row(row)
                    cur.execute(
                        f"INSERT INTO telemetry_telemetryreading ({cols}) "
                        f"SELECT {cols.replace('extra', 'extra::jsonb')} FROM raw_stage "
                        "ON CONFLICT DO NOTHING"
                    )
                    cur.execute(
                        f"INSERT INTO telemetry_devicehealth AS h ({latest_cols}) "
                        "SELECT DISTINCT ON (device_id) device_id, 'online', now(), '[]', ts, received_at, "
                        f"ts + interval '{INTERVAL_S} s', ts + interval '{INTERVAL_S + max(2 * INTERVAL_S, 120)} s', gateway_id, "
                        f"{', '.join(_RAW_MEASURES)} FROM raw_stage ORDER BY device_id, ts DESC "
                        f"ON CONFLICT (device_id) DO UPDATE SET {updates} "
                        "WHERE excluded.last_reading_at > h.last_reading_at"
                    )
                conn.commit()
            return time.perf_counter() - started
    import sqlite3

    connection.close()
    conn = sqlite3.connect(str(SQLITE_PATH), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def text(value: datetime) -> str:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    data = [
        (r[0], text(r[1]), text(r[2]), *r[3:]) for r in rows
    ]  # the driver takes text timestamps
    marks = ", ".join("?" * len(_RAW_HISTORY))
    started = time.perf_counter()
    for start in range(0, len(data), batch_readings):
        chunk = data[start : start + batch_readings]
        newest: dict[int, tuple] = {}
        for r in chunk:
            if r[0] not in newest or r[1] > newest[r[0]][1]:
                newest[r[0]] = r
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT OR IGNORE INTO telemetry_telemetryreading ({cols}) VALUES ({marks})", chunk
        )
        conn.executemany(
            f"INSERT INTO telemetry_devicehealth ({latest_cols}) VALUES (?, 'online', ?, '[]', ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (device_id) DO UPDATE SET {updates} "
            "WHERE excluded.last_reading_at > telemetry_devicehealth.last_reading_at",
            [(r[0], r[2], r[1], r[2], r[1], r[1], r[3], *r[4:11]) for r in newest.values()],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


# ---------------------------------------------------------------------------------------
# MQTT clients (plain paho, no Django: they run in their own processes)
# ---------------------------------------------------------------------------------------


def _client(client_id: str, *, receive_maximum: int | None = None):  # noqa: ANN202
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    return client, props


def _connect(client: Any, port: int, props: Any, *, clean_start: bool) -> None:
    import threading

    ready = threading.Event()
    client.on_connect = lambda *a: ready.set()
    client.connect("127.0.0.1", port, keepalive=60, clean_start=clean_start, properties=props)
    client.loop_start()
    if not ready.wait(10):
        raise SystemExit(f"{client._client_id!r} could not connect to port {port}")


class _Sender:
    """A QoS 1 publisher with at most ``max_in_flight`` unacknowledged messages (paho stalls
    near 65,535; FINDINGS.md)."""

    def __init__(self, port: int, client_id: str, max_in_flight: int = 1000) -> None:
        import threading

        self.client, props = _client(client_id)
        self.client.max_inflight_messages_set(max_in_flight)
        self.slots = threading.BoundedSemaphore(max_in_flight)
        self.limit = max_in_flight
        self.client.on_publish = lambda *a: self.slots.release()
        _connect(self.client, port, props, clean_start=True)

    def send(self, topic: str, payload: bytes) -> None:
        self.slots.acquire()
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        for _ in range(self.limit):  # every message acknowledged by the broker
            self.slots.acquire(timeout=60)
        self.client.disconnect()
        self.client.loop_stop()


def publish_backlog(
    port: int,
    index: int,
    gateways: list[int],
    devices: int,
    per_device: int,
    per_message: int,
    base: float,
    out: Any,
) -> None:
    """Child process: publish the drain backlog of ``gateways``; put the message count on ``out``."""
    messages = drain_messages(
        gateways, devices=devices, per_device=per_device, per_message=per_message, base=base
    )
    sender = _Sender(port, f"bench-pub-{index}")
    for topic, payload in messages:
        sender.send(topic, payload)
    sender.close()
    out.put(len(messages))


def _reading_fragments(devices: list[int]) -> dict[int, tuple[str, str]]:
    """Each device's reading as compact JSON split around its timestamp: (before, after).

    ``before + ts + after`` is byte for byte ``json.dumps(reading(i, ...))``; built once, so
    a live message costs a few string joins instead of ten dicts and a ``json.dumps``.
    """
    marker = "@@ts@@"
    out = {}
    for i in devices:
        body = reading(i, 0.0)
        body["ts"] = marker
        text = json.dumps(body, separators=(",", ":"))
        before, after = text.split(marker)
        out[i] = (before, after)
    return out


def publish_live(
    port: int,
    index: int,
    gateways: list[int],
    rate: float,
    seconds: float,
    client: str,
    ready: Any,
    start_in: Any,
    out: Any,
) -> None:
    """Child process: each device of ``gateways`` reports once per cycle (FLEET / rate seconds),
    10 readings a message, messages evenly spread over the cycle; ``sent_at`` is the time of
    publishing. Puts (messages, readings, seconds taken, CPU seconds of this process and its
    MQTT clients) on ``out``. Everything is prepared (messages' parts, clients connected)
    before it says so on ``ready``; the stream starts at the time it then reads on ``start_in``,
    the same for every publisher, so no preparation competes with the measured stream.

    ``client`` "mosquitto_pub" (the default) hands each line to one ``mosquitto_pub -l`` per
    gateway (C, QoS 1, MQTT 5), as the gateways are separate machines in service: the load
    generator then takes a small share of the 2 cores it shares with what it measures. With
    "paho" this process publishes through paho-mqtt itself, about 0.26 ms of CPU a message
    (the generator then took 58% of the 2 cores at the national rate).
    """
    import resource

    per_message = 10
    cycle = FLEET / rate
    cycles = max(1, round(seconds / cycle))
    members = {g: list(range(g, FLEET, GATEWAYS)) for g in gateways}
    per_gateway = len(members[gateways[0]]) // per_message
    step = cycle / per_gateway
    events = sorted(
        (c * cycle + m * step + (g % GATEWAYS) * step / GATEWAYS, g, m)
        for c in range(cycles)
        for g in gateways
        for m in range(per_gateway)
    )
    fragments = _reading_fragments([i for g in gateways for i in members[g]])
    topics = {
        g: f"{TOPIC_ROOT}/{agency_slug(g // 10)}/{gateway_name(g)}/telemetry" for g in gateways
    }
    heads = {g: f'{{"schema":1,"gateway":"{gateway_name(g)}","seq":' for g in gateways}
    pipes: dict[int, Any] = {}
    sender: _Sender | None = None
    if client == "mosquitto_pub":
        for g in gateways:
            pipes[g] = subprocess.Popen(
                [
                    MOSQUITTO_PUB,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-V",
                    "mqttv5",
                    "-q",
                    "1",
                    "-i",
                    f"bench-live-{g}",
                    "-t",
                    topics[g],
                    "-l",
                ],
                stdin=subprocess.PIPE,
                bufsize=0,
            )
        time.sleep(1.0)  # connected before the stream starts
    else:
        sender = _Sender(port, f"bench-live-{index}")
    ready.put(index)
    start_at = start_in.get(timeout=600)
    seqs = dict.fromkeys(gateways, 0)
    readings = 0
    while time.time() < start_at:
        time.sleep(0.001)
    for offset, g, m in events:
        due = start_at + offset
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        seqs[g] += 1
        chunk = members[g][m * per_message : (m + 1) * per_message]
        parts = []
        for i in chunk:
            before, after = fragments[i]
            parts.append(
                before + datetime.fromtimestamp(due + (i % GATEWAYS) / 1e4, UTC).isoformat() + after
            )
        body = (
            f'{heads[g]}{seqs[g]},"sent_at":"{datetime.now(UTC).isoformat()}",'
            f'"readings":[{",".join(parts)}]}}'
        )
        if sender is None:
            pipes[g].stdin.write(body.encode() + b"\n")
        else:
            sender.send(topics[g], body.encode())
        readings += len(chunk)
    took = time.time() - start_at
    if sender is not None:
        sender.close()
    for proc in pipes.values():
        proc.stdin.close()  # mosquitto_pub sends what it has read, then disconnects
    for proc in pipes.values():
        proc.wait(timeout=120)
    cpu = sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )
    out.put((len(events), readings, took, cpu))


def bare_subscriber(
    port: int, client_id: str, expected: int, receive_maximum: int, out: Any
) -> None:
    """Child process: the baseline. A paho subscriber on a persistent session that validates
    every message with the ingest's pydantic model and counts; ``expected == 0`` only creates
    the session. Puts (messages, seconds from the first to the last message, invalid) on ``out``."""
    import threading

    from telemetry.payloads import TelemetryMessage

    client, props = _client(client_id, receive_maximum=receive_maximum)
    subscribed = threading.Event()
    done = threading.Event()
    state = {"n": 0, "bad": 0, "first": 0.0, "last": 0.0}

    def on_message(c: Any, u: Any, message: Any) -> None:
        now = time.perf_counter()
        if not state["n"]:
            state["first"] = now
        try:
            TelemetryMessage.model_validate_json(message.payload)
        except ValueError:
            state["bad"] += 1
        state["n"] += 1
        state["last"] = now
        if state["n"] >= expected:
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    _connect(client, port, props, clean_start=False)
    client.subscribe(f"{TOPIC_ROOT}/+/+/telemetry", qos=1)
    subscribed.wait(10)
    if expected:
        last_seen, last_n = time.monotonic(), -1
        while not done.wait(1.0):
            if state["n"] != last_n:
                last_seen, last_n = time.monotonic(), state["n"]
            elif time.monotonic() - last_seen > 15:
                break
        time.sleep(0.5)  # let paho send the last acknowledgements
    client.disconnect()
    client.loop_stop()
    out.put((state["n"], state["last"] - state["first"], state["bad"]))


# ---------------------------------------------------------------------------------------
# The ingest process
# ---------------------------------------------------------------------------------------


class Ingest:
    """``manage.py ingest_mqtt`` as a subprocess on the bench database (one member)."""

    CLIENT_ID = "bench-ingest"

    def __init__(
        self,
        directory: Path,
        broker: Mosquitto,
        db: str,
        *,
        client_id: str = CLIENT_ID,
        shared: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.latency_log = directory / f"latency-{client_id}.jsonl"
        self.log_path = directory / f"{client_id}.log"
        self.args = [
            sys.executable,
            str(ROOT / "manage.py"),
            "ingest_mqtt",
            "--url",
            broker.url,
            "--client-id",
            client_id,
            "--latency-log",
            str(self.latency_log),
            *(["--shared", shared] if shared else []),
        ]
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(db),
            "PYTHONUNBUFFERED": "1",
            "MQTT_TOPIC_ROOT": TOPIC_ROOT,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Ingest:
        self.latency_log.unlink(missing_ok=True)
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        self.started_at = time.time()
        return self

    def wait_connected(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"the ingest exited: {self.log_path.read_text()[-2000:]}")
            if "session present" in self.log_path.read_bytes()[self.offset :].decode(
                errors="replace"
            ):
                time.sleep(1.0)  # the SUBSCRIBE follows the CONNACK
                return
            time.sleep(0.1)
        raise SystemExit(f"the ingest did not connect: {self.log_path.read_text()[-2000:]}")

    def memory_kib(self) -> dict[str, int]:
        assert self.process is not None
        found = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0])
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def batches(self) -> list[dict[str, Any]]:
        if not self.latency_log.exists():
            return []
        return [
            json.loads(line) for line in self.latency_log.read_text().splitlines() if line.strip()
        ]


class IngestGroup:
    """``members`` ingest processes on one MQTT 5 shared subscription (``$share/bench/...``),
    each with its own client id and persistent session, as ``tracker-ingest@N`` units run.

    With one member it subscribes without ``$share``, exactly as a single ingest does. The
    interface is Ingest's: start and stop all, batches of all (by commit time), memory summed.
    """

    GROUP = "bench"

    def __init__(self, directory: Path, broker: Mosquitto, db: str, *, members: int) -> None:
        if members == 1:
            self.members = [Ingest(directory, broker, db)]
        else:
            self.members = [
                Ingest(
                    directory, broker, db, client_id=f"{Ingest.CLIENT_ID}-{i}", shared=self.GROUP
                )
                for i in range(1, members + 1)
            ]

    @property
    def client_ids(self) -> list[str]:
        return [member.client_id for member in self.members]

    def start(self) -> IngestGroup:
        for member in self.members:
            member.start()
        return self

    def wait_connected(self, timeout: float = 120) -> None:
        for member in self.members:
            member.wait_connected(timeout)

    def memory_kib(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for member in self.members:
            for key, kib in member.memory_kib().items():
                found[key] = found.get(key, 0) + kib
        return found

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def batches(self) -> list[dict[str, Any]]:
        return sorted((b for m in self.members for b in m.batches()), key=lambda b: b["t"])

    def messages_by_member(self) -> list[int]:
        """Messages each member committed: how evenly the broker split the load."""
        return [sum(b["n"] for b in member.batches()) for member in self.members]


def report_split(report: Report, label: str, ingest: IngestGroup) -> None:
    """Each member's share of the messages, when there is more than one."""
    shares = ingest.messages_by_member()
    total = sum(shares)
    if len(shares) < 2 or not total:
        return
    parts = ", ".join(f"{n:,} ({n / total:.1%})" for n in shares)
    report.add(
        f"{label}: split between {len(shares)} members",
        max(shares) / total,
        "largest share",
        f"({parts}; even is {1 / len(shares):.1%})",
    )


def wait_for_messages(ingest: IngestGroup, expected: int, *, stall_s: float = 20.0) -> None:
    """Wait until the members' latency logs account for ``expected`` messages, or stop growing."""
    last, since = -1, time.monotonic()
    while True:
        done = sum(ingest.messages_by_member())
        if done >= expected:
            return
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return
        time.sleep(0.5)


def wait_for_rows(expected: int, *, stall_s: float = 20.0) -> int:
    """Poll the history table until it holds ``expected`` rows or stops growing."""
    from django.db import connection

    last, since = -1, time.monotonic()
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM telemetry_telemetryreading")
            rows = cursor.fetchone()[0]
        connection.close()  # a fresh snapshot each time, and no transaction held
        if rows >= expected:
            return rows
        if rows != last:
            last, since = rows, time.monotonic()
        elif time.monotonic() - since > stall_s:
            return rows
        time.sleep(0.25)


def ingest_writer_rate(client_ids: list[str]) -> tuple[int, float]:
    """(readings stored, seconds inside batch transactions) from the members' IngestStat rows."""
    from telemetry.models import IngestStat

    stored, seconds = 0, 0.0
    for row in IngestStat.objects.filter(worker__in=client_ids):
        stored += row.readings_total
        seconds += float((row.commit_seconds or {}).get("sum", 0.0))
    return stored, seconds


# ---------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------

BARE_ID = "bench-bare"


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    db: str
    figures: list[Figure] = field(default_factory=list)

    def add(
        self, name: str, value: float | None, unit: str, target: str = "", ok: bool | None = None
    ) -> None:
        self.figures.append(Figure(name, value, unit, target, ok))
        shown = (
            "-" if value is None else (f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}")
        )
        print(f"  [{self.db}] {name}: {shown} {unit} {target}", flush=True)


def _spawn(target: Any, *args: Any) -> tuple[Any, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, out))
    process.start()
    return process, out


def _split(items: list[int], parts: int) -> list[list[int]]:
    return [items[i::parts] for i in range(parts)]


def drain(
    report: Report,
    broker: Mosquitto,
    ingest: IngestGroup,
    *,
    per_message: int,
    readings: int,
    publishers: int,
    device_ids: dict[str, int],
    gateway_ids: dict[str, int],
) -> None:
    devices = 10_000
    per_device = readings // devices
    label = f"drain {per_message}/msg"
    reset_telemetry()
    # Both persistent sessions exist before the backlog is published, so the broker queues
    # the same messages for each.
    ingest.start().wait_connected()
    ingest.stop()
    process, out = _spawn(bare_subscriber, broker.port, BARE_ID, 0, 8000)
    out.get(timeout=60)
    process.join()
    base = time.time() - per_device - 30
    reset_to_known_fleet(devices, before=base)

    started = time.perf_counter()
    procs = [
        _spawn(publish_backlog, broker.port, i, part, devices, per_device, per_message, base)
        for i, part in enumerate(_split(list(range(GATEWAYS)), publishers))
    ]
    published = sum(out.get(timeout=600) for _, out in procs)
    for p, _ in procs:
        p.join()
    print(
        f"  [{report.db}] {label}: published {published:,} messages in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    process, out = _spawn(bare_subscriber, broker.port, BARE_ID, published, 8000)
    bare_n, bare_s, bare_bad = out.get(timeout=900)
    process.join()
    bare_rate = (bare_n - 1) / bare_s if bare_s > 0 else None

    ingest.start().wait_connected()  # a slow start is not a stall of the drain
    rows = wait_for_rows(devices * per_device)
    memory = ingest.memory_kib()
    ingest.stop()
    batches = ingest.batches()
    committed = sum(b["n"] for b in batches)
    span = batches[-1]["t"] - batches[0]["t"] if len(batches) > 1 else 0.0
    msg_rate = (committed - batches[0]["n"]) / span if span > 0 else None
    rows_total, distinct = count_readings()
    expected = devices * per_device
    stored, write_s = ingest_writer_rate(ingest.client_ids)

    report.add(
        f"{label}: bare subscriber (validate + count)",
        bare_rate,
        "msg/s",
        f"({bare_n:,} of {published:,} messages, {bare_bad} invalid)",
    )
    if per_message == 1:
        target = 0.35 if report.db.startswith("postgres") else 0.30
        ratio = msg_rate / bare_rate if msg_rate and bare_rate else None
        report.add(f"{label}: ingest", msg_rate, "msg/s")
        report.add(
            f"{label}: ingest / bare subscriber",
            ratio,
            "",
            f"target >= {target:.2f}",
            ratio is not None and ratio >= target,
        )
    else:
        reading_rate = msg_rate * per_message if msg_rate else None
        report.add(f"{label}: ingest", reading_rate, "readings/s", f"({msg_rate or 0:,.0f} msg/s)")
        report.add(
            f"{label}: ingest / bare subscriber (messages)",
            msg_rate / bare_rate if msg_rate and bare_rate else None,
            "",
        )
        if report.db.startswith("postgres"):
            report.add(
                f"{label}: ingest readings/s vs target",
                reading_rate,
                "readings/s",
                "target >= 50,000",
                reading_rate is not None and reading_rate >= 50_000,
            )
    report_split(report, label, ingest)
    report.add(
        f"{label}: batches",
        len(batches),
        "",
        f"(mean {committed / max(1, len(batches)):,.0f} messages)",
    )
    report.add(f"{label}: lost", expected - distinct, "readings", "target 0", expected == distinct)
    report.add(
        f"{label}: duplicated", rows_total - distinct, "rows", "target 0", rows_total == distinct
    )
    report.add(
        f"{label}: latest state != newest reading", latest_state_mismatches(), "devices", "target 0"
    )
    report.add(f"{label}: ingest peak memory (VmHWM)", memory.get("VmHWM", 0) / 1024, "MiB")
    writer_rate = stored / write_s if write_s else None

    # The raw driver on the same rows, in batches of what the ingest committed on average.
    rows_list = drain_rows(
        devices=devices,
        per_device=per_device,
        base=base,
        device_ids=device_ids,
        gateway_ids=gateway_ids,
    )
    batch_readings = max(1, round(committed / max(1, len(batches)))) * per_message
    raw_s = raw_write(rows_list, batch_readings=batch_readings)
    raw_rate = len(rows_list) / raw_s
    report.add(f"{label}: raw driver write ({batch_readings:,} rows a batch)", raw_rate, "rows/s")

    # The ingest's own path on the same messages in the same batches, in this process (no
    # broker, no network thread sharing the interpreter): its writer is the batch's
    # transaction (COPY, history insert, upsert, health effects, gateways, its statistics),
    # timed from rows in hand to commit, as the raw driver is; validation and building the
    # rows are in "ingest_batch in process" below.
    from telemetry.ingest import InboundMessage, ingest_batch

    now = datetime.now(UTC)
    inbound = [
        InboundMessage(t, p, now)
        for t, p in drain_messages(
            list(range(GATEWAYS)),
            devices=devices,
            per_device=per_device,
            per_message=per_message,
            base=base,
        )
    ]
    reset_to_known_fleet(devices, before=base)
    step = max(1, batch_readings // per_message)
    write_s_direct, started = 0.0, time.perf_counter()
    for start in range(0, len(inbound), step):
        write_s_direct += ingest_batch(inbound[start : start + step]).write_seconds
    direct_s = time.perf_counter() - started
    direct_writer = expected / write_s_direct
    ratio = direct_writer / raw_rate
    report.add(
        f"{label}: ingest writer in process (same rows and batches)", direct_writer, "rows/s"
    )
    if report.db.startswith("postgres"):
        report.add(
            f"{label}: ingest writer / raw driver", ratio, "", "target >= 0.70", ratio >= 0.70
        )
    else:
        report.add(f"{label}: ingest writer / raw driver", ratio, "")
    report.add(
        f"{label}: ingest_batch in process, validation included",
        expected / direct_s,
        "readings/s",
        f"({len(inbound) / direct_s:,.0f} msg/s)",
    )
    report.add(
        f"{label}: ingest writer in the MQTT process (shares the interpreter with paho)",
        writer_rate,
        "rows/s",
        f"({writer_rate / raw_rate:.2f} of raw)" if writer_rate else "",
    )
    del rows


def live(
    report: Report,
    broker: Mosquitto,
    ingest: IngestGroup,
    *,
    rate: float,
    seconds: float,
    publishers: int,
    client: str = "mosquitto_pub",
) -> None:
    import threading

    reset_telemetry()
    # A running tracker: every device already has its latest state and firmware on record
    # (one cycle of readings ingested in this process), so the stream measures the steady
    # state rather than 100,000 first readings (flips, firmware rows) in its first seconds.
    baseline = warm_up_fleet()
    ingest.start().wait_connected()
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            with contextlib.suppress(OSError, AssertionError):
                samples.append((time.time(), ingest.memory_kib()["VmRSS"]))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    spawn = mp.get_context("spawn")
    ready, start_in = spawn.Queue(), spawn.Queue()
    procs = [
        _spawn(publish_live, broker.port, i, part, rate, seconds, client, ready, start_in)
        for i, part in enumerate(_split(list(range(GATEWAYS)), publishers))
    ]
    for _ in procs:
        ready.get(timeout=600)
    checkpoints_before = checkpoints()
    start_at = time.time() + 1
    for _ in procs:
        start_in.put(start_at)
    results = [out.get(timeout=seconds * 5 + 120) for _, out in procs]
    for p, _ in procs:
        p.join()
    messages = sum(r[0] for r in results)
    readings = sum(r[1] for r in results)
    took = max(r[2] for r in results)
    generator_cpu = sum(r[3] for r in results)
    # The ingest's own log says when every message is in; counting the history table over and
    # over meanwhile (millions of rows) would slow the very last batches it measures.
    wait_for_messages(ingest, messages)
    checkpoints_after = checkpoints()
    wait_for_rows(baseline + readings)
    memory = ingest.memory_kib()
    stop.set()
    sampler.join()
    ingest.stop()
    batches = ingest.batches()
    latencies = sorted(lat for b in batches for lat in b["lat"])
    # After the first 15 s, for comparison with the whole run: the ingest loads its device
    # cache before it subscribes (``telemetry.ingest.warm_caches``), so the two should agree;
    # a gap between them is a start-up cost.
    steady = sorted(lat for b in batches if b["t"] >= start_at + 15 for lat in b["lat"])
    rows_total, distinct = count_readings()
    distinct -= baseline
    rows_total -= baseline

    def pct(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    label = f"live {rate:,.0f}/s"
    report_split(report, label, ingest)
    report.add(
        f"{label}: offered",
        readings / took,
        "readings/s",
        f"(asked {rate:,.0f}; {messages:,} messages, {readings:,} readings in {took:.1f} s)",
    )
    report.add(
        f"{label}: load generator CPU",
        100 * generator_cpu / took,
        "% of a core",
        f"({client}; the gateways' share of this machine's 2 cores)",
    )
    if checkpoints_before and checkpoints_after:
        report.add(
            f"{label}: PostgreSQL checkpoints requested",
            checkpoints_after[1] - checkpoints_before[1],
            "",
            f"(max_wal_size {max_wal_size()}; {checkpoints_after[0] - checkpoints_before[0]} timed)",
        )
    report.add(f"{label}: latency p50", pct(0.50), "s")
    report.add(
        f"{label}: latency p95",
        pct(0.95),
        "s",
        "target < 1 s",
        pct(0.95) is not None and pct(0.95) < 1.0,
    )
    report.add(f"{label}: latency p99", pct(0.99), "s")
    if steady:
        report.add(
            f"{label}: latency p95 from 15 s in",
            steady[min(len(steady) - 1, int(0.95 * len(steady)))],
            "s",
            f"(p50 {steady[len(steady) // 2]:.2f} s; mean batch {sum(b['n'] for b in batches) / len(batches):,.0f} msg)",
        )
    report.add(f"{label}: lost", readings - distinct, "readings", "target 0", readings == distinct)
    report.add(
        f"{label}: duplicated", rows_total - distinct, "rows", "target 0", rows_total == distinct
    )
    # From 15 s in: by then the device cache holds the whole fleet (about 30 MiB for 100,000).
    in_stream = [kib for t, kib in samples if start_at + 15 <= t <= start_at + took]
    if in_stream:
        growth = (in_stream[-1] - in_stream[0]) / 1024
        report.add(
            f"{label}: ingest memory (RSS) from 15 s in to the end",
            in_stream[-1] / 1024,
            "MiB",
            f"(at 15 s {in_stream[0] / 1024:,.0f} MiB, growth {growth:+.1f} MiB; target flat)",
            abs(growth) < 16,
        )
    report.add(f"{label}: ingest peak memory (VmHWM)", memory.get("VmHWM", 0) / 1024, "MiB")


def warm_up_fleet(devices: int = FLEET, *, at: float | None = None) -> int:
    """Ingest one reading of each of the first ``devices`` devices, taken at the epoch ``at``
    (default: two minutes ago); rows stored."""
    from telemetry.ingest import InboundMessage, ingest_batch

    now = datetime.now(UTC)
    at = time.time() - 120 if at is None else at
    messages = []
    for g in range(GATEWAYS):
        members = list(range(g, devices, GATEWAYS))
        topic = f"{TOPIC_ROOT}/{agency_slug(g // 10)}/{gateway_name(g)}/telemetry"
        for m in range(0, len(members), 10):
            body = {
                "schema": 1,
                "gateway": gateway_name(g),
                "seq": 0,
                "sent_at": now.isoformat(),
                "readings": [reading(i, at) for i in members[m : m + 10]],
            }
            messages.append(InboundMessage(topic, json.dumps(body).encode(), now))
    stored = 0
    for start in range(0, len(messages), BATCH_SIZE):
        stored += ingest_batch(messages[start : start + BATCH_SIZE], now=now).readings_stored
    from django.db import connection

    connection.close()
    return stored


def run(db: str, args: argparse.Namespace) -> list[Report]:
    """Every scenario for each member count in ``--members``, one report each."""
    setup_django(db)
    from devices.models import Device, Gateway

    print(f"== {db}: preparing the fleet", flush=True)
    ensure_fleet(FLEET)
    device_ids = dict(Device.objects.filter(serial__startswith="BN").values_list("serial", "id"))
    gateway_ids = dict(
        Gateway.objects.filter(agency__slug__startswith="bench-").values_list("name", "id")
    )
    reports = []
    for members in args.members:
        name = db if len(args.members) == 1 else f"{db} x{members}"
        report = Report(name)
        print(f"== {name}: {members} ingest member(s)", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            directory = Path(tmp)
            broker = Mosquitto(directory).start()
            ingest = IngestGroup(directory, broker, db, members=members)
            try:
                run_scenarios(report, broker, ingest, args, device_ids, gateway_ids)
            finally:
                ingest.stop()
                broker.stop()
        reports.append(report)
    report_scaling(reports, args.members)
    return reports


def run_scenarios(
    report: Report,
    broker: Mosquitto,
    ingest: IngestGroup,
    args: argparse.Namespace,
    device_ids: dict[str, int],
    gateway_ids: dict[str, int],
) -> None:
    if not args.skip_drain:
        for per_message in (1, 10):
            drain(
                report,
                broker,
                ingest,
                per_message=per_message,
                readings=args.readings,
                publishers=args.publishers,
                device_ids=device_ids,
                gateway_ids=gateway_ids,
            )
    if not args.skip_live:
        for rate in args.live_rate:
            live(
                report,
                broker,
                ingest,
                rate=rate,
                seconds=args.live_seconds,
                publishers=args.publishers,
                client=args.live_client,
            )


def report_scaling(reports: list[Report], members: list[int]) -> None:
    """The drain rate at 1 reading a message of each member count against the first's."""
    if len(reports) < 2:
        return

    def drain_rate(report: Report) -> float | None:
        found = [f.value for f in report.figures if f.name == "drain 1/msg: ingest"]
        return found[0] if found else None

    base = drain_rate(reports[0])
    for count, report in zip(members[1:], reports[1:], strict=True):
        rate = drain_rate(report)
        ratio = rate / base if rate and base else None
        report.add(
            f"drain 1/msg: {count} members / {members[0]}",
            ratio,
            "",
            "target >= 1.3 for 2 members",
            None if ratio is None or count != 2 else ratio >= 1.3,
        )


def print_table(reports: list[Report]) -> None:
    print()
    print(f"{'database':12} {'figure':62} {'value':>14}  {'unit':11} target")
    for report in reports:
        for f in report.figures:
            if f.value is None:
                value = "-"
            elif abs(f.value) >= 100:
                value = f"{f.value:,.0f}"
            else:
                value = f"{f.value:,.3f}"
            mark = "" if f.ok is None else ("  OK" if f.ok else "  MISSED")
            print(f"{report.db:12} {f.name:62} {value:>14}  {f.unit:11} {f.target}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument(
        "--readings", type=int, default=200_000, help="Readings in each drain backlog."
    )
    parser.add_argument("--publishers", type=int, default=2, help="Publisher processes.")
    parser.add_argument(
        "--live-rate",
        type=lambda raw: [float(r) for r in raw.split(",")],
        default=[KENTUCKY_BURST, NATIONAL_RATE],
        help="Readings a second in each live stream, comma-separated (default: the Kentucky "
        f"burst, {KENTUCKY_BURST:,}, then FirstNet's national rate, {NATIONAL_RATE:,}).",
    )
    parser.add_argument(
        "--members",
        type=lambda raw: [int(n) for n in raw.split(",")],
        default=[1],
        help="Ingest processes on one shared subscription (distinct client ids); a list such as "
        "1,2 runs everything for each count and prints the drain rate's ratio.",
    )
    parser.add_argument("--live-seconds", type=float, default=60)
    parser.add_argument(
        "--live-client",
        choices=["mosquitto_pub", "paho"],
        default="mosquitto_pub",
        help="What publishes the live stream: one mosquitto_pub per gateway, or paho in Python.",
    )
    parser.add_argument("--skip-drain", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--json", default=None, help="Also write the figures to this JSON file.")
    args = parser.parse_args()
    if not Path(MOSQUITTO).exists():
        raise SystemExit(f"{MOSQUITTO} is missing (apt-get install mosquitto)")
    if (
        args.live_client == "mosquitto_pub"
        and not args.skip_live
        and not Path(MOSQUITTO_PUB).exists()
    ):
        raise SystemExit(
            f"{MOSQUITTO_PUB} is missing (apt-get install mosquitto-clients), or use --live-client paho"
        )
    print(f"load average before: {os.getloadavg()}", flush=True)
    if args.db == "both":
        # One process per database: Django is set up once per process.
        reports = []
        for db in ("postgres", "sqlite"):
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                cmd = [
                    sys.executable,
                    __file__,
                    "--db",
                    db,
                    "--json",
                    out.name,
                    *_passthrough(args),
                ]
                subprocess.run(cmd, check=True)
                data = json.loads(Path(out.name).read_text())
            reports += [Report(r["db"], [Figure(**f) for f in r["figures"]]) for r in data]
        print_table(reports)
    else:
        reports = run(args.db, args)
        print_table(reports)
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    [{"db": r.db, "figures": [f.__dict__ for f in r.figures]} for r in reports]
                )
            )
    print(f"load average after: {os.getloadavg()}")


def _passthrough(args: argparse.Namespace) -> list[str]:
    out = [
        "--readings",
        str(args.readings),
        "--publishers",
        str(args.publishers),
        "--live-rate",
        ",".join(f"{r:g}" for r in args.live_rate),
        "--members",
        ",".join(str(n) for n in args.members),
        "--live-seconds",
        str(args.live_seconds),
        "--live-client",
        args.live_client,
    ]
    if args.skip_drain:
        out.append("--skip-drain")
    if args.skip_live:
        out.append("--skip-live")
    return out


if __name__ == "__main__":
    main()
