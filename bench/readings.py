"""Readings API benchmark on PostgreSQL: 30 days of one device's one-minute readings.

Run by hand (not part of the tests; PostgreSQL on 127.0.0.1:5432):

    .venv/bin/python bench/readings.py [--requests 60]

Loads 43,200 readings (one a minute for 30 days, in the daily partitions the ingest uses) of
one device into ``tracker_bench_readings`` (created and migrated if missing; the readings
are loaded once and reused), then times ``GET /api/devices/{id}/readings`` through the
Django test client (in process: the server's time, without a network), signed in as state
staff:

1. the 30 days at ``bucket=1h`` (720 buckets, min/max/mean/count of four measurements), and
   at ``1d`` and ``5m`` beside it; target: 1h p95 under 100 ms;
2. raw paging: every page of the 30 days at ``limit=1000`` (44 pages, following
   ``next_cursor``), p50/p95 per page and the whole walk.

Only databases named tracker_bench_readings* are touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tracker_bench_readings"
DAYS = 30
SERIAL = "BENCH-READINGS-1"


def ensure_database(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name.startswith("tracker_bench_readings"):
        raise SystemExit(f"refusing to use database {name!r}: only tracker_bench_readings*")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(end: datetime) -> tuple[int, datetime]:
    """The device and its 43,200 readings ending at ``end`` (kept from an earlier run)."""
    from django.db import connection

    from devices.models import Agency, Cabinet, Device, DeviceKind, DeviceModel, User
    from telemetry import partitions
    from telemetry.models import TelemetryReading

    cabinet, _ = Cabinet.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    agency, _ = Agency.objects.get_or_create(
        slug="bench-readings",
        defaults={"name": "Bench Readings", "kind": Agency.Kind.POLICE, "cabinet": cabinet},
    )
    model, _ = DeviceModel.objects.get_or_create(
        name="Bench camera", defaults={"manufacturer": "Bench", "kind": DeviceKind.values[0]}
    )
    device = Device.objects.filter(serial=SERIAL).first() or Device.objects.create(
        agency=agency, model=model, serial=SERIAL
    )
    User.objects.get_or_create(
        username="bench-readings-staff", defaults={"role": User.Role.STATE_STAFF}
    )
    existing = TelemetryReading.objects.filter(device=device)
    if existing.count() == DAYS * 24 * 60:
        return device.pk, existing.order_by("ts").values_list("ts", flat=True).first()
    existing.delete()
    start = end - timedelta(days=DAYS)
    for offset in range(DAYS + 2):
        partitions.create_partition((start + timedelta(days=offset)).date())
    t0 = time.perf_counter()
    batch = []
    for minute in range(DAYS * 24 * 60):
        ts = start + timedelta(minutes=minute)
        batch.append(
            TelemetryReading(
                device=device,
                ts=ts,
                received_at=ts,
                battery_pct=100 - (minute % 1440) / 20,
                rsrp_dbm=-80.0 - minute % 30,
                storage_pct=40 + (minute % 600) / 100,
                temperature_c=20 + (minute % 60) / 10,
                gps_fix=minute % 7 != 0,
                firmware="4.2.0",
                status="ok",
            )
        )
        if len(batch) == 5000:
            TelemetryReading.objects.bulk_create(batch)
            batch = []
    TelemetryReading.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE telemetry_telemetryreading")
    print(f"  (loaded {DAYS * 24 * 60:,} readings in {time.perf_counter() - t0:.1f} s)")
    return device.pk, start


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(client, path: str, params: dict, n: int) -> tuple[list[float], dict]:
    for _ in range(3):  # warm up: imports, plan cache
        response = client.get(path, params, secure=True)
        assert response.status_code == 200, (response.status_code, response.content[:300])
    times = []
    body: dict = {}
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(path, params, secure=True)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
    return times, body


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A signed-in test client measures the pages, not the second sign-in step.
    os.environ.setdefault("TRACKER_MFA_REQUIRED", "false")
    os.environ.setdefault("TRACKER_VAR_DIR", str(ROOT / "var" / "bench-readings"))
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from devices.models import User

    call_command("migrate", verbosity=0)
    print(f"database: {connection.settings_dict['NAME']} on {connection.vendor}")
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    device_id, start = seed(end)
    span = {"from": start.isoformat(), "to": (start + timedelta(days=DAYS)).isoformat()}
    client = Client()
    client.force_login(User.objects.get(username="bench-readings-staff"))
    path = f"/api/devices/{device_id}/readings"

    print(f"{DAYS} days of one-minute readings ({DAYS * 24 * 60:,} rows), {args.requests} requests")
    for bucket in ("1h", "1d", "5m"):
        times, body = timed(client, path, {**span, "bucket": bucket}, args.requests)
        print(
            f"  bucket={bucket:<3} {len(body['items']):>5} buckets  "
            f"p50 {pct(times, 50) * 1000:6.1f} ms  p95 {pct(times, 95) * 1000:6.1f} ms"
        )

    pages: list[float] = []
    rows = 0
    walks = max(1, args.requests // 20)
    t0 = time.perf_counter()
    for _ in range(walks):
        cursor = None
        while True:
            params = {**span, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            t1 = time.perf_counter()
            response = client.get(path, params, secure=True)
            pages.append(time.perf_counter() - t1)
            body = response.json()
            rows += len(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
    walk = (time.perf_counter() - t0) / walks
    print(
        f"  raw pages of 1000: {len(pages) // walks} pages, {rows // walks:,} rows per walk  "
        f"p50 {pct(pages, 50) * 1000:6.1f} ms  p95 {pct(pages, 95) * 1000:6.1f} ms per page  "
        f"{walk:.2f} s per walk"
    )
    # The machine's other work shows in every figure: say how busy it was.
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
