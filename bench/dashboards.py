"""Dashboard and briefing benchmark on PostgreSQL: 100,000 devices, 30 days of snapshots.

Run by hand (not part of the tests):

    .venv/bin/python bench/dashboards.py [--devices 100000] [--agencies 500] [--requests 40]

Prints:

1. server time p50/p95 and the query count of the statewide overview, its live partial,
   an agency page and that page's failing-devices partial (the Django test client calls
   the view in process, so the time is the server's, without a network); target: overview
   p95 under 300 ms;
2. the time to build a statewide briefing in each format (PPTX, XLSX, PDF) through the same
   core as the Celery task (target under 10 s each), one as of yesterday (from snapshots),
   one for a cabinet, one for an agency with a what-if against the draft, and a statewide
   one with that what-if (``--skip-statewide-whatif`` leaves it out: it is dominated by
   ``readiness.whatif.compare_versions`` over every device).

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/tracker_dash_bench; the database
is created and migrated if missing, and the fleet is seeded once (bulk inserts; a second run
reuses it). Only databases named tracker_dash* are touched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tracker_dash_bench"

KINDS = [
    "smartphone",
    "rugged_handheld",
    "tablet",
    "modem",
    "in_vehicle_router",
    "body_camera",
    "sensor",
    "in_car_camera",
]
MAKERS = [
    "Samsung",
    "Apple",
    "Sonim",
    "Axon",
    "Motorola Solutions",
    "Cradlepoint",
    "Sierra Wireless",
    "Panasonic",
]
FIRMWARE = ["3.0.0", "3.1.0", "3.2.1", "3.3.0", "4.0.0", "2.9.9", "abc", ""]


def ensure_database(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name.startswith("tracker_dash"):
        raise SystemExit(
            f"refusing to use database {name!r}: this benchmark only uses tracker_dash* databases"
        )
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(devices: int, agencies: int) -> None:
    """Agencies, models, devices with health, gateways and alerts; then the readiness demo
    (shipped requirement sets, participation history, expectations, waivers, 30 days of snapshots)."""
    import random
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from devices.models import Agency, Cabinet, Device, DeviceModel, Gateway, User
    from readiness.demo import load_readiness_demo
    from telemetry.models import Alert, DeviceHealth, GatewayStatus

    if Device.objects.count() >= devices:
        print(f"  (reusing the seeded fleet: {Device.objects.count():,} devices)")
        load_readiness_demo(days=30, log=lambda msg: print(f"  ({msg})"))  # idempotent
        return
    rng = random.Random(5)
    now = timezone.now()
    t0 = time.perf_counter()
    with transaction.atomic():
        User.objects.get_or_create(username="bench-staff", defaults={"role": User.Role.STATE_STAFF})
        cabinets = [
            Cabinet.objects.get_or_create(slug=f"cabinet-{i}", defaults={"name": f"Cabinet {i}"})[0]
            for i in range(10)
        ]
        kinds = ["state_police", "sheriff", "police", "fire", "ems", "emergency_management"]
        statuses = ["not_engaged", "evaluating", "pilot", "subscribed", "subscribed", "declined"]
        Agency.objects.bulk_create(
            [
                Agency(
                    slug=f"agency-{i}",
                    name=f"Agency {i:03d}",
                    kind=kinds[i % len(kinds)],
                    cabinet=cabinets[i % 10],
                    county=f"County {i % 120}",
                    firstnet_status=statuses[i % len(statuses)],
                )
                for i in range(agencies)
            ],
            ignore_conflicts=True,
        )
        agency_ids = list(Agency.objects.order_by("pk").values_list("pk", flat=True))
        models = []
        for i in range(40):
            kind = KINDS[i % len(KINDS)]
            cellular = kind in (
                "smartphone",
                "rugged_handheld",
                "tablet",
                "modem",
                "in_vehicle_router",
            )
            models.append(
                DeviceModel.objects.get_or_create(
                    manufacturer=MAKERS[i % len(MAKERS)],
                    name=f"Model {i}",
                    defaults={
                        "kind": kind,
                        "has_band14": i % 3 > 0,
                        "fips_140_level": (i % 4) or None,
                        "is_cellular": cellular,
                        "has_encryption_at_rest": i % 5 > 0,
                        "unit_cost": 300 + 50 * (i % 12),
                    },
                )[0]
            )
        rows = []
        for i in range(devices):
            model = models[i % len(models)]
            rows.append(
                Device(
                    agency_id=agency_ids[i % len(agency_ids)],
                    model=model,
                    manufacturer=model.manufacturer,
                    serial=f"B{i:07d}",
                    status="deployed",
                    firmware_version=FIRMWARE[i % len(FIRMWARE)],
                    network=("firstnet", "commercial", "none")[i % 3],
                    is_mdm_enrolled=i % 7 > 0,
                    is_encryption_enabled=i % 5 > 0,
                    has_cji_access=i % 2 == 0,
                )
            )
        Device.objects.bulk_create(rows, batch_size=5000)
        health = []
        levels = ["online"] * 16 + ["late", "offline", "unreachable"]
        for j, device_id in enumerate(Device.objects.order_by("pk").values_list("pk", flat=True)):
            if j % 20 == 0:
                continue  # never seen
            seen = now - timedelta(seconds=rng.randint(10, 3600))
            health.append(
                DeviceHealth(
                    device_id=device_id,
                    level=levels[j % len(levels)],
                    last_reading_at=seen,
                    last_received_at=seen,
                    late_after=seen + timedelta(minutes=5),
                    offline_after=seen + timedelta(minutes=15),
                    battery_pct=rng.uniform(5, 100),
                    firmware=FIRMWARE[j % len(FIRMWARE)],
                )
            )
        DeviceHealth.objects.bulk_create(health, batch_size=5000)
        gateways = Gateway.objects.bulk_create(
            [Gateway(agency_id=a, name=f"gw-{k}") for a in agency_ids for k in range(2)]
        )
        GatewayStatus.objects.bulk_create(
            [
                GatewayStatus(
                    gateway=g, is_online=g.pk % 4 > 0, changed_at=now, last_message_at=now
                )
                for g in gateways
            ]
        )
        offline = Device.objects.filter(health__level="offline").values_list("pk", "agency_id")[
            :3000
        ]
        Alert.objects.bulk_create(
            [Alert(agency_id=a, device_id=d, cause="device_offline") for d, a in offline]
        )
    print(
        f"  (seeded {devices:,} devices in {agencies} agencies in {time.perf_counter() - t0:.0f} s)"
    )
    t0 = time.perf_counter()
    load_readiness_demo(days=30, log=lambda msg: print(f"  ({msg})"))
    print(f"  (readiness demo with 30 days of snapshots in {time.perf_counter() - t0:.0f} s)")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_page(client, url: str, n: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):  # warm up (imports, template loading, plan cache)
        assert client.get(url).status_code == 200, url
    times = []
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    queries = len(ctx.captured_queries)
    size = len(response.content)
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200
    return times, queries, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--skip-statewide-whatif",
        action="store_true",
        help="Leave out the statewide briefing with a what-if (the what-if engine's time).",
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("TRACKER_VAR_DIR", str(ROOT / "var" / "bench-dashboards"))
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.settings_dict['NAME']} on {connection.vendor} "
        f"{'.'.join(str(v) for v in divmod(connection.pg_version, 10000))}"
    )
    seed(args.devices, args.agencies)

    from devices.models import Agency, Device, User
    from readiness.briefings.data import BriefingParams
    from readiness.exports import build_briefing_file
    from readiness.filters import requirement_sets, set_versions
    from readiness.models import ReadinessSnapshot

    days = ReadinessSnapshot.objects.values("date").distinct().count()
    print(
        f"fleet: {Device.objects.count():,} devices, {Agency.objects.count()} agencies, "
        f"{ReadinessSnapshot.objects.count():,} snapshot rows over {days} days"
    )
    client = Client()
    client.force_login(User.objects.get(username="bench-staff"))
    agency = Agency.objects.order_by("slug").first()
    n_agency = Device.objects.filter(agency=agency).count()
    print(
        f"\nServer time per request ({args.requests} requests after 2 warm-ups; Django test client, in process)"
    )
    print(f"  {'page':<44} {'p50':>8} {'p95':>8} {'queries':>8} {'KiB':>7}")
    for label, page in [
        ("overview /dashboard/", "/dashboard/"),
        ("overview live partial (every 30 s)", "/dashboard/live/"),
        ("overview filtered to one cabinet", "/dashboard/?cabinet=cabinet-3"),
        (f"agency page ({n_agency} devices)", f"/dashboard/agencies/{agency.slug}/"),
        (
            "agency failing-devices partial (live eval.)",
            f"/dashboard/agencies/{agency.slug}/failing/",
        ),
    ]:
        times, queries, size = time_page(client, page, args.requests)
        print(
            f"  {label:<44} {1000 * statistics.median(times):>6.0f}ms {1000 * pct(times, 95):>6.0f}ms "
            f"{queries:>8} {size / 1024:>7.0f}"
        )

    # The set with a draft, if any: the what-if then compares the version in effect with it.
    from readiness.models import RequirementSetVersion
    from readiness.results import find_version_in_effect

    draft = (
        RequirementSetVersion.objects.filter(status="draft")
        .select_related("requirement_set")
        .first()
    )
    set_code = draft.requirement_set.code if draft else requirement_sets()[0][0]
    in_effect = (
        find_version_in_effect(draft.requirement_set if draft else None, on=date.today())
        if draft
        else None
    )
    compare = (
        draft.version
        if draft
        else [v for v, _ in set_versions(set_code, with_drafts_in_progress=True)][0]
    )
    print(
        f"  (what-if from {in_effect.version if in_effect else 'the version in effect'} to {compare})"
    )
    print(
        f"\nBriefing build time (evaluate + render; the Celery task's core), {set_code}, "
        "version in effect today"
    )
    for fmt in ("pptx", "xlsx", "pdf"):
        t0 = time.perf_counter()
        result = build_briefing_file(BriefingParams(scope="state", set_code=set_code), fmt)
        elapsed = time.perf_counter() - t0
        print(
            f"  statewide {fmt}: {elapsed:.2f} s, {len(result.blob) / 1024:.0f} KiB, "
            f"{result.data.failing_devices_total:,} failing-device rows, hash {result.data.data_hash[:12]}"
        )
    as_of = (date.today() - timedelta(days=1)).isoformat()
    t0 = time.perf_counter()
    build_briefing_file(
        BriefingParams(scope="state", set_code=set_code, as_of=date.fromisoformat(as_of)), "pptx"
    )
    print(f"  statewide pptx as of {as_of} (snapshot): {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    build_briefing_file(BriefingParams(scope="cabinet:cabinet-3", set_code=set_code), "pptx")
    print(f"  one cabinet pptx: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    build_briefing_file(
        BriefingParams(scope=f"agency:{agency.slug}", set_code=set_code, compare_version=compare),
        "pdf",
    )
    print(f"  one agency pdf with the what-if against {compare}: {time.perf_counter() - t0:.2f} s")
    if not args.skip_statewide_whatif:
        t0 = time.perf_counter()
        build_briefing_file(
            BriefingParams(scope="state", set_code=set_code, compare_version=compare), "pptx"
        )
        print(
            f"  statewide pptx with the what-if against {compare} (readiness.whatif.compare_versions over "
            f"every device): {time.perf_counter() - t0:.2f} s"
        )


if __name__ == "__main__":
    main()
