"""Inventory benchmark: bulk import of 100,000 devices, then the device list API and page.

Run by hand (not part of the tests), on PostgreSQL:

    .venv/bin/python bench/inventory.py [--rows 100000] [--requests 200]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/tracker_bench. The benchmark
drops and recreates that database (only a database whose name starts with "tracker_bench"),
migrates it, loads the demo catalog and agencies, then prints:

- the import of a generated 100,000-row CSV: seconds, rows/s and the process's peak memory
  (resource.getrusage maxrss), for the dry run, the real import and a re-import (no change);
- GET /api/devices (bearer token) at limit=50 and limit=500 with filters, and the inventory
  page /devices/ (logged-in session), each over N requests: p50/p95 in ms and the number
  of SQL queries per request, which must not grow with the page size.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tracker_bench"


def recreate_database(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name.startswith("tracker_bench"):
        sys.exit(
            f"Refusing to drop {name!r}: the benchmark only recreates databases named tracker_bench*."
        )
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the process's peak resident memory so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_csv(path: Path, rows: int, seed: int = 42) -> None:
    """A realistic 100k-row sheet for one agency: catalog models, valid IMEIs/ICCIDs, mixes."""
    import csv

    from devices.demo import CATALOG, KSP_POSTS, SURNAMES
    from devices.importing import COLUMNS
    from devices.rules import luhn_check_digit

    rng = random.Random(seed)
    statuses = (
        ["deployed"] * 72 + ["in_stock"] * 12 + ["in_repair"] * 6 + ["lost"] * 2 + ["retired"] * 8
    )
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(1, rows + 1):
            spec = rng.choice(CATALOG)
            status = rng.choice(statuses)
            imei = iccid = ""
            network = "none"
            if spec.is_cellular:
                body = f"{spec.tac}{i % 1_000_000:06d}"
                imei = body + luhn_check_digit(body)
                network = "firstnet" if spec.has_band14 and rng.random() < 0.7 else "commercial"
                body = f"8901410{i:012d}"
                iccid = body + luhn_check_digit(body)
            deployed = status in ("deployed", "in_repair")
            writer.writerow(
                [
                    f"B{spec.serial_prefix}{i:08d}",
                    spec.manufacturer,
                    spec.name,
                    f"BENCH-{i:07d}",
                    imei,
                    iccid,
                    status,
                    network,
                    rng.choice(KSP_POSTS) if deployed else "",
                    f"Tpr. {rng.choice(SURNAMES)} #{rng.randint(100, 9999)}" if deployed else "",
                    rng.choice(spec.firmware),
                    rng.choice(["yes", "no"]),
                    "yes",
                    rng.choice(["yes", "no"]),
                    "",
                ]
            )


def timed_requests(client, urls: list[str], count: int) -> tuple[list[float], list[int], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times: list[float] = []
    queries: list[int] = []
    status = 200
    for n in range(count):
        url = urls[n % len(urls)]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            status = response.status_code
        times.append(elapsed * 1000)
        queries.append(len(captured.captured_queries))
    return times, queries, status


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL=postgres://...")
    recreate_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from devices.auth import issue_token
    from devices.demo import load_inventory_demo
    from devices.importing import import_devices
    from devices.models import Agency, ApiToken, Device, User

    call_command("migrate", verbosity=0)
    load_inventory_demo(devices=0)
    ksp = Agency.objects.get(slug="ksp")
    # Keep the process from logging every query (DEBUG is on by default for local runs).
    settings.DEBUG = False

    print(
        f"PostgreSQL {url.rsplit('@', 1)[-1]}  ·  Python {sys.version.split()[0]}  ·  {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "devices.csv"
        started = time.perf_counter()
        generate_csv(path, args.rows)
        data = path.read_bytes()
        print(
            f"generated {args.rows:,} rows ({len(data) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
        )

    print("\nImport of the CSV into one agency")
    print(f"{'step':<28}{'seconds':>9}{'rows/s':>10}{'peak RSS MB':>13}  result")
    for label, dry_run in (
        ("dry run (preview)", True),
        ("import (creates)", False),
        ("re-import (unchanged)", False),
    ):
        started = time.perf_counter()
        plan = import_devices(
            agency=ksp, data=data, filename="bench.csv", actor=None, dry_run=dry_run
        )
        seconds = time.perf_counter() - started
        print(
            f"{label:<28}{seconds:>9.2f}{plan.rows / seconds:>10,.0f}{peak_rss_mb():>13,.0f}  {plan.summary()}"
        )
    print(f"devices in the database: {Device.objects.count():,}")

    admin = User.objects.create(username="bench-admin", role=User.Role.AGENCY_ADMIN, agency=ksp)
    staff = User.objects.create(username="bench-staff", role=User.Role.STATE_STAFF)
    now, read_write = timezone.now(), ApiToken.Scope.READ_WRITE
    _, admin_token = issue_token(user=admin, name="bench", now=now, scope=read_write)
    _, staff_token = issue_token(user=staff, name="bench", now=now, scope=read_write)
    api_admin = Client(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    api_staff = Client(HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    browser = Client()
    browser.force_login(admin)

    filters = [
        "",
        "&status=deployed",
        "&status=deployed&network=firstnet",
        "&kind=smartphone",
        "&agency=ksp&status=in_repair",
        "&q=BK5R0001",
        "&offset=5000",
    ]
    cases = [
        ("API state staff limit=50", api_staff, [f"/api/devices?limit=50{f}" for f in filters]),
        ("API state staff limit=500", api_staff, [f"/api/devices?limit=500{f}" for f in filters]),
        ("API agency admin limit=50", api_admin, [f"/api/devices?limit=50{f}" for f in filters]),
        ("API agency admin limit=500", api_admin, [f"/api/devices?limit=500{f}" for f in filters]),
        (
            "page /devices/ (50 a page)",
            browser,
            [
                "/devices/",
                "/devices/?status=deployed",
                "/devices/?kind=smartphone&network=firstnet",
                "/devices/?q=BK5R0001",
                "/devices/?page=40",
            ],
        ),
    ]
    print(
        f"\nList over {Device.objects.count():,} devices, {args.requests} requests each (filters rotate)"
    )
    print(f"{'case':<30}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'queries/request':>17}")
    for label, client, urls in cases:
        timed_requests(client, urls, len(urls))  # warm-up: connections, caches, plans
        times, queries, status = timed_requests(client, urls, args.requests)
        spread = (
            f"{min(queries)}-{max(queries)}" if min(queries) != max(queries) else str(queries[0])
        )
        note = "" if status == 200 else f"  (a request answered {status})"
        print(
            f"{label:<30}{statistics.median(times):>9.1f}{percentile(times, 95):>9.1f}{max(times):>9.1f}"
            f"{spread:>17}{note}"
        )


if __name__ == "__main__":
    main()
