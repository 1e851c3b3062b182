"""The device page's history chart over a picked range, and the export links of the pages."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, timedelta

import pyarrow.parquet as pq
import pytest

from telemetry.models import TelemetryReading
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def month_device(agency_a, clock):
    device = DeviceFactory(agency=agency_a, serial="BWC-30")
    # One reading every 10 minutes for 29 days: 4,176 rows.
    TelemetryReading.objects.bulk_create(
        [
            TelemetryReading(
                device=device,
                ts=clock.now - timedelta(minutes=10 * i + 1),
                received_at=clock.now,
                battery_pct=50.0 + (i % 6),
                storage_pct=30.0,
                rsrp_dbm=-90.0,
            )
            for i in range(29 * 24 * 6)
        ]
    )
    return device


def _figure(html: str, device) -> dict:
    block = re.search(
        rf'<script type="application/json" id="health-chart-{device.pk}-data">(.*?)</script>',
        html,
        re.S,
    )
    assert block, "the chart's data block is missing"
    return json.loads(block.group(1))["figure"]


@pytest.mark.parametrize(("picked", "points"), [("24h", 144), ("7d", 168), ("30d", 696)])
def test_the_history_chart_draws_database_buckets_of_the_range_picked_without_javascript(
    viewer_a, month_device, picked, points
):
    # No HX-Request header: the GET form of a browser without JavaScript opens the whole page.
    response = viewer_a.browser.get(f"/devices/{month_device.pk}/health/", {"range": picked})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert f'<option value="{picked}" selected>' in html
    battery = _figure(html, month_device)["data"][0]
    # One point per bucket holding readings (5 minutes for a day, an hour for a week or a
    # month), not one per reading.
    assert len(battery["x"]) in (points, points + 1)
    assert "<script>" not in html


def test_the_range_form_redraws_the_card_in_place_with_htmx_and_ignores_an_unknown_range(
    viewer_a, month_device
):
    response = viewer_a.browser.get(
        f"/devices/{month_device.pk}/health/", {"range": "24h"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert f'hx-target="#device-health-{month_device.pk}"' in html
    assert "Telemetry, last 24 hours" in html
    fallback = viewer_a.browser.get(f"/devices/{month_device.pk}/health/", {"range": "1y"})
    assert "Telemetry, last 7 days" in fallback.content.decode()


def test_another_agencys_device_page_history_is_not_found(admin_b, month_device):
    response = admin_b.browser.get(f"/devices/{month_device.pk}/health/", {"range": "30d"})
    assert response.status_code == 404


def test_the_device_page_links_download_the_range_shown(viewer_a, month_device):
    html = viewer_a.browser.get(
        f"/devices/{month_device.pk}/health/", {"range": "24h"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    link = re.search(r'href="(/api/devices/\d+/readings/export\?format=parquet[^"]*)"', html)
    assert link
    response = viewer_a.browser.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 24 * 6


def test_the_agency_page_form_downloads_the_agencys_readings_with_its_empty_dates(
    viewer_a, admin_b, month_device, agency_a, clock
):
    page = viewer_a.browser.get(f"/agencies/{agency_a.slug}/").content.decode()
    assert 'action="/api/readings/export"' in page
    # What the form sends with its dates left empty: the last 24 hours.
    form = {"agency": agency_a.slug, "from": "", "to": "", "format": "csv"}
    response = viewer_a.browser.get("/api/readings/export", form)
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len([line for line in lines if not line.startswith("#")]) == 1 + 24 * 6
    day = (clock.now.astimezone(UTC) - timedelta(days=2)).date().isoformat()
    dated = viewer_a.browser.get("/api/readings/export", {**form, "from": day})
    assert dated.status_code == 200
    # Another agency's user asking for this agency gets no row of it.
    other = admin_b.browser.get("/api/readings/export", form)
    assert [
        line
        for line in b"".join(other.streaming_content).decode().splitlines()
        if not line.startswith("#")
    ] == [
        "device_id,serial,ts,"
        + ",".join(
            [
                "battery_pct",
                "rsrp_dbm",
                "storage_pct",
                "temperature_c",
                "gps_fix",
                "firmware",
                "status",
            ]
        )
    ]
