"""Readiness benchmark: vectorised evaluation, the fleet frame from PostgreSQL, the reference.

Run by hand (not part of the tests):

    .venv/bin/python bench/readiness.py [--devices 1000000] [--db-devices 100000] [--ref-devices 100000]

Prints, in one run:

1. evaluation of 1,000,000 devices x 30 rules (the rules of the shipped requirement files)
   plus per-agency aggregation over 500 agencies, the frame already built: wall time (best
   of 3) and peak memory (tracemalloc peak of that step, and the process's max RSS);
   targets: under 1.5 s and 2 GiB;
2. ``build_fleet_frame`` for 100,000 devices on PostgreSQL (target under 2 s). DATABASE_URL
   defaults to postgres://postgres@127.0.0.1:5432/tracker_rdy_bench; the database is created
   and migrated if missing and the devices (with health rows) are bulk-created once;
3. the reference evaluator (tests/readiness/test_reference.py) on 100,000 devices x the same
   30 rules against the vectorised path on the same devices, and the ratio (target >= 20x);
4. the scheduled evaluation of record (``readiness.evaluations.record_evaluation``) of the
   same 100,000 devices against every version in effect (the shipped requirement files,
   loaded if missing): frame, evaluation and writing the record, best of 3 (target under
   5 s), its peak memory (tracemalloc, target about 1 GiB), and the statewide overview's
   server time reading it, p50/p95 over ``--requests`` requests, with the figures cache
   warm and emptied before each request (target p95 under 300 ms).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tomllib
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tracker_rdy_bench"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

FIRMWARE = (
    [f"{major}.{minor}" for major in range(10, 18) for minor in range(0, 6)]
    + [f"1.{minor}.{patch}" for minor in range(15, 35) for patch in range(0, 4)]
    + [f"3.{minor}.{patch}" for minor in range(0, 6) for patch in range(0, 5)]
    + ["4.0.0-b3", "4.0.0rc1", "4.0.0", "2.1.0-b3", "abc", "3.2.1-build45"]
)
KINDS = [
    "smartphone",
    "rugged_handheld",
    "tablet",
    "modem",
    "in_vehicle_router",
    "body_camera",
    "sensor",
]
MAKERS = [
    "Samsung",
    "Apple",
    "Sonim",
    "Axon",
    "Motorola Solutions",
    "Cradlepoint",
    "Sierra Wireless",
]


def ensure_database(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name.startswith("tracker_rdy"):
        raise SystemExit(
            f"refusing to use database {name!r}: the benchmark only uses tracker_rdy* databases"
        )
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def shipped_requirements(limit: int = 30):
    """30 rules from the shipped requirement files (keys made unique per version)."""
    from readiness.loader import SETS_DIR
    from readiness.rules import CompiledRequirement, parse_rule

    reqs = []
    for path in sorted(SETS_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text())
        version = data["version"]["version"]
        for r in data["requirement"]:
            reqs.append(
                CompiledRequirement(
                    key=f"{r['key']}@{version}",
                    code=r["code"],
                    title=r["title"],
                    rule=parse_rule(r["rule"]),
                    severity=r.get("severity", "mandatory"),
                    weight=r.get("weight", 1),
                    applies_to=frozenset(r.get("applies_to", [])),
                    applies_when=parse_rule(r["applies_when"]) if "applies_when" in r else None,
                )
            )
    return reqs[:limit]


def synthetic_records(n: int, seed: int = 7) -> pd.DataFrame:
    """A plausible fleet of ``n`` devices as plain columns (strings, bools, timestamps)."""
    rng = np.random.default_rng(seed)
    agency = rng.integers(1, 501, n)
    seen = rng.random(n) > 0.05
    age_s = rng.exponential(6 * 3600, n).astype(np.int64)
    last_seen = pd.to_datetime(np.where(seen, NOW.timestamp() - age_s, np.nan), unit="s", utc=True)
    return pd.DataFrame(
        {
            "device_id": np.arange(1, n + 1),
            "agency_id": agency,
            "cabinet_id": agency % 12 + 1,
            "model_id": rng.integers(1, 60, n),
            "device.kind": rng.choice(KINDS, n),
            "device.status": rng.choice(
                ["deployed", "in_stock", "in_repair"], n, p=[0.85, 0.1, 0.05]
            ),
            "device.network": rng.choice(["firstnet", "commercial", "none"], n, p=[0.6, 0.3, 0.1]),
            "device.manufacturer": rng.choice(MAKERS, n),
            "device.is_mdm_enrolled": rng.random(n) > 0.1,
            "device.is_encryption_enabled": rng.random(n) > 0.15,
            "device.has_cji_access": rng.random(n) > 0.4,
            "device.firmware_version": rng.choice(FIRMWARE, n),
            "model.has_band14": rng.random(n) > 0.2,
            "model.firstnet_program": rng.choice(
                ["certified", "ready", "capable", "none", "unknown"], n
            ),
            "model.fips_140_level": rng.choice([np.nan, 1, 2, 3], n),
            "model.has_mcptt": rng.random(n) > 0.5,
            "model.has_encryption_at_rest": rng.random(n) > 0.2,
            "model.is_cellular": rng.random(n) > 0.3,
            "model.telemetry_interval_s": rng.choice([60, 300, 900], n).astype(float),
            "agency.kind": rng.choice(
                ["state_police", "sheriff", "police", "fire", "ems", "other"], n
            ),
            "agency.firstnet_status": rng.choice(
                ["subscribed", "pilot", "evaluating", "not_engaged"], n
            ),
            "agency.county": np.char.add("County ", (agency % 120).astype(str)),
            "health.level": np.where(
                seen,
                rng.choice(["online", "late", "offline"], n, p=[0.85, 0.1, 0.05]),
                "never_seen",
            ),
            "health.last_seen": last_seen,
            "health.battery_pct": np.where(seen, rng.uniform(0, 100, n).round(1), np.nan),
            "health.storage_pct": np.where(seen, rng.uniform(0, 100, n).round(1), np.nan),
            "health.gps_fix": np.where(seen, rng.random(n) > 0.1, None),
            "health.firmware": np.where(rng.random(n) > 0.5, rng.choice(FIRMWARE, n), None),
        }
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_evaluation(n: int, reqs) -> None:
    from readiness import scoring
    from readiness.frames import fleet_frame_from_records

    t0 = time.perf_counter()
    fleet = fleet_frame_from_records(synthetic_records(n))
    print(
        f"  (frame of {n:,} synthetic devices built in {time.perf_counter() - t0:.2f} s, not timed below; "
        f"{fleet.memory_usage(deep=True).sum() / 2**20:.0f} MiB)"
    )
    timings = []
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        results = scoring.evaluate(fleet, reqs, NOW)
        t1 = time.perf_counter()
        by_agency = scoring.aggregate(results, fleet, reqs, now=NOW, by="agency")
        t2 = time.perf_counter()
        timings.append((t2 - t0, t1 - t0, t2 - t1))
        del results
    total, ev, agg = min(timings)
    print(
        f"  evaluate + aggregate per agency, {n:,} devices x {len(reqs)} rules: {total:.2f} s "
        f"(evaluate {ev:.2f} s, aggregate {agg:.2f} s; best of 3) -> {len(by_agency)} agencies"
    )
    gc.collect()
    tracemalloc.start()
    results = scoring.evaluate(fleet, reqs, NOW)
    scoring.aggregate(results, fleet, reqs, now=NOW, by="agency")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  results frame: {len(results):,} rows, {results.memory_usage(deep=True).sum() / 2**20:.0f} MiB; "
        f"peak memory allocated by evaluate + aggregate: {peak / 2**20:.0f} MiB; "
        f"process max RSS so far: {peak_rss_mib():.0f} MiB"
    )


def seed_database(count: int) -> None:
    from django.db import transaction

    from devices.models import Agency, Cabinet, Device, DeviceModel
    from telemetry.models import DeviceHealth

    existing = Device.objects.filter(agency__slug__startswith="bench-").count()
    if existing >= count:
        return
    rng = np.random.default_rng(11)
    with transaction.atomic():
        cabinet, _ = Cabinet.objects.get_or_create(slug="bench", defaults={"name": "Bench cabinet"})
        agencies = [
            Agency.objects.get_or_create(
                slug=f"bench-{i}",
                defaults={
                    "name": f"Bench agency {i}",
                    "kind": "police",
                    "cabinet": cabinet,
                    "county": f"County {i % 120}",
                },
            )[0]
            for i in range(100)
        ]
        models = [
            DeviceModel.objects.get_or_create(
                manufacturer=MAKERS[i % len(MAKERS)],
                name=f"Bench {i}",
                defaults={
                    "kind": KINDS[i % len(KINDS)],
                    "has_band14": i % 3 > 0,
                    "fips_140_level": 1 + i % 3,
                },
            )[0]
            for i in range(20)
        ]
        Device.objects.filter(agency__slug__startswith="bench-").delete()
        devices = []
        for i in range(count):
            model = models[i % len(models)]
            devices.append(
                Device(
                    agency=agencies[i % len(agencies)],
                    model=model,
                    manufacturer=model.manufacturer,
                    serial=f"BENCH{i:07d}",
                    status="deployed",
                    firmware_version=FIRMWARE[i % len(FIRMWARE)],
                    network=("firstnet", "commercial", "none")[i % 3],
                    is_mdm_enrolled=bool(i % 7),
                    is_encryption_enabled=bool(i % 5),
                    has_cji_access=bool(i % 2),
                )
            )
        Device.objects.bulk_create(devices, batch_size=5000)
        ids = Device.objects.filter(agency__slug__startswith="bench-").values_list("id", flat=True)
        health = []
        for j, device_id in enumerate(ids):
            if j % 20 == 0:
                continue  # one device in twenty has never been seen
            seen = NOW - timedelta(seconds=int(rng.exponential(6 * 3600)))
            health.append(
                DeviceHealth(
                    device_id=device_id,
                    level="online",
                    last_reading_at=seen,
                    last_received_at=seen,
                    late_after=seen + timedelta(minutes=5),
                    offline_after=seen + timedelta(minutes=30),
                    battery_pct=float(rng.uniform(0, 100)),
                    firmware=FIRMWARE[j % len(FIRMWARE)],
                )
            )
        DeviceHealth.objects.bulk_create(health, batch_size=5000)


def bench_frame_from_db(count: int) -> None:
    from django.db import connection

    from devices.models import Agency
    from readiness.frames import build_fleet_frame

    t0 = time.perf_counter()
    seed_database(count)
    print(
        f"  (database {connection.settings_dict['NAME']} on {connection.vendor} ready with {count:,} devices "
        f"in {time.perf_counter() - t0:.1f} s, not timed below)"
    )
    agency_ids = list(Agency.objects.filter(slug__startswith="bench-").values_list("id", flat=True))
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        frame = build_fleet_frame(agency_ids=agency_ids)
        timings.append(time.perf_counter() - t0)
    print(
        f"  build_fleet_frame, {len(frame):,} devices from {connection.vendor}: {min(timings):.2f} s (best of 3; "
        f"runs {', '.join(f'{t:.2f}' for t in timings)} s)"
    )


def bench_reference(n: int, reqs) -> None:
    from readiness import scoring
    from readiness.frames import fleet_frame_from_records
    from tests.readiness.test_reference import ref_status

    records = synthetic_records(n, seed=3)
    fleet = fleet_frame_from_records(records)
    # The reference reads the same derived firmware the frame holds.
    records["device.firmware"] = (
        fleet["device.firmware"].astype(object).where(fleet["device.firmware"].notna(), None)
    )
    records["health.last_seen"] = [
        None if pd.isna(t) else t.to_pydatetime() for t in records["health.last_seen"]
    ]
    rows = records.replace({np.nan: None}).to_dict("records")
    t0 = time.perf_counter()
    expected = [[ref_status(r, row, NOW) for row in rows] for r in reqs]
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = scoring.evaluate(fleet, reqs, NOW)
    t_vec = time.perf_counter() - t0
    got = results["status"].astype(str).to_numpy().reshape(len(reqs), n)
    agree = all(got[j].tolist() == expected[j] for j in range(len(reqs)))
    print(
        f"  reference evaluator, {n:,} devices x {len(reqs)} rules: {t_ref:.2f} s; vectorised on the same "
        f"fleet: {t_vec:.3f} s; ratio {t_ref / t_vec:.0f}x; statuses agree: {agree}"
    )


def bench_evaluation_of_record(requests: int) -> None:
    import statistics

    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from devices.models import User
    from readiness.evaluation_store import prune_evaluations
    from readiness.evaluations import Timings, record_evaluation
    from readiness.loader import load_requirements
    from readiness.models import EvaluationCount, ReadinessEvaluation

    # Run with DJANGO_DEBUG=true (plain static files, no HTTPS redirect) as bench/dashboards.py
    # is; DEBUG off from here so the pages' queries are not kept in memory.
    settings.DEBUG = False
    load_requirements([ROOT / "readiness" / "requirement_sets"])
    now = datetime.now(UTC)
    runs = []
    for i in range(3):
        gc.collect()
        timings = Timings()
        t0 = time.perf_counter()
        record = record_evaluation(now=now + timedelta(seconds=i), timings=timings)
        runs.append((time.perf_counter() - t0, timings))
    total, best = min(runs, key=lambda run: run[0])
    rows = EvaluationCount.objects.filter(evaluation=record).count()
    print(
        f"  scheduled evaluation, {record.devices:,} devices x "
        f"{EvaluationCount.objects.filter(evaluation=record).values('version').distinct().count()} "
        f"versions in effect: {total:.2f} s (frame {best.frame:.2f} s, evaluation "
        f"{best.evaluate:.2f} s, writing {rows:,} rows {best.write:.2f} s; best of 3; runs "
        f"{', '.join(f'{r[0]:.2f}' for r in runs)} s)"
    )
    gc.collect()
    tracemalloc.start()
    record = record_evaluation(now=now + timedelta(seconds=5))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  peak memory allocated by one evaluation of record: {peak / 2**20:.0f} MiB; "
        f"process max RSS so far: {peak_rss_mib():.0f} MiB"
    )
    staff, _ = User.objects.get_or_create(
        username="bench-rdy-staff", defaults={"role": "state_staff"}
    )
    client = Client()
    client.force_login(staff)
    for label, clear in (("cache warm", False), ("figures cache emptied", True)):
        for _ in range(2):
            assert client.get("/dashboard/", secure=True).status_code == 200
        times = []
        for _ in range(requests):
            if clear:
                cache.clear()
            t0 = time.perf_counter()
            response = client.get("/dashboard/", secure=True)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"  overview /dashboard/ reading evaluation #{record.pk} ({label}): "
            f"p50 {1000 * statistics.median(times):.0f} ms, p95 {1000 * p95:.0f} ms "
            f"({requests} requests)"
        )
    ReadinessEvaluation.objects.exclude(pk=record.pk).delete()
    prune_evaluations(now=now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--db-devices", type=int, default=100_000)
    parser.add_argument("--ref-devices", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--only-evaluation",
        action="store_true",
        help="Run only 4. (seeding the database's devices if missing).",
    )
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A signed-in test client measures the pages, not the second sign-in step.
    os.environ.setdefault("TRACKER_MFA_REQUIRED", "false")
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    reqs = shipped_requirements()
    print(
        f"readiness benchmark: {len(reqs)} rules from the shipped requirement files, now={NOW:%Y-%m-%d %H:%M}Z"
    )
    if not args.only_evaluation:
        print("1. vectorised evaluation")
        bench_evaluation(args.devices, reqs)
    print("2. fleet frame from the database")
    bench_frame_from_db(args.db_devices)
    if not args.only_evaluation:
        print("3. reference evaluator")
        bench_reference(args.ref_devices, reqs)
    print("4. the scheduled evaluation of record, and the overview reading it")
    bench_evaluation_of_record(args.requests)


if __name__ == "__main__":
    main()
