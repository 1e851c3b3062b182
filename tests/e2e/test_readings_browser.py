"""The device page's history chart in a real browser: the range form redraws it in place, and
the pages of the readings feature pass axe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from telemetry.models import TelemetryReading
from tests.e2e.conftest import log_in, open_each_page, wait_for_charts
from tests.e2e.test_accessibility_browser import _axe, _new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_picking_a_range_redraws_the_history_chart_in_place(site, chromium, live_server):
    device = Device.objects.get(pk=site.fields["device"])
    now = timezone.now()
    TelemetryReading.objects.bulk_create(
        [
            TelemetryReading(
                device=device,
                ts=now - timedelta(minutes=30 * i + 1),
                received_at=now,
                battery_pct=60.0 + i % 10,
                rsrp_dbm=-90.0,
                storage_pct=20.0,
            )
            for i in range(20 * 48)
        ]
    )
    context, page = _new_page(chromium)
    log_in(page, live_server, site.admin.username)
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    page.get_by_role("heading", name="Telemetry, last 7 days").wait_for()
    wait_for_charts(page, "/devices/<id>/")
    page.get_by_label("Range").select_option("30d")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Telemetry, last 30 days").wait_for()
    wait_for_charts(page, "/devices/<id>/ at 30 days")
    # Redrawn inside the device page, not by leaving it.
    assert page.url.rstrip("/").endswith(f"/devices/{device.pk}")
    assert (
        page.get_by_role("link", name="Parquet")
        .get_attribute("href")
        .startswith(f"/api/devices/{device.pk}/readings/export?format=parquet")
    )
    problems = _axe(page, "/devices/<id>/ (30 days)")
    context.close()
    assert problems == [], "\n".join(problems)


def test_the_readings_pages_pass_axe_for_the_agency_admin(site, chromium, live_server):
    paths = [
        f"/devices/{site.fields['device']}/health/?range=24h",
        f"/telemetry/readings-exports/{site.fields['readings_export']}/",
        f"/agencies/{site.fields['agency']}/",
    ]
    context, page = _new_page(chromium)
    log_in(page, live_server, site.admin.username)
    problems: list[str] = []
    opened = []
    for path, _ in open_each_page(page, live_server, paths):
        opened.append(path)
        problems += _axe(page, path)
    context.close()
    assert opened == paths
    assert problems == [], "\n".join(problems)
