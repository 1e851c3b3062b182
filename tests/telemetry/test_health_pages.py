"""Health pages: the device health panel with its chart, alerts and maintenance windows."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from telemetry import charts
from telemetry.health import deadlines
from telemetry.models import Alert, HealthFlip, MaintenanceWindow, TelemetryReading
from tests.factories import DeviceFactory, DeviceHealthFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sick_device(agency_a):
    now = timezone.now()
    device = DeviceFactory(agency=agency_a, serial="BWC-7")
    last = now - timedelta(minutes=10)
    late_after, offline_after = deadlines(last, 60)
    DeviceHealthFactory(
        device=device,
        level="offline",
        level_changed_at=now - timedelta(minutes=7),
        last_reading_at=last,
        late_after=late_after,
        offline_after=offline_after,
        battery_pct=8.0,
        rsrp_dbm=-101.0,
        firmware="4.2.0",
        problems=["battery 8% is below 15%"],
    )
    HealthFlip.objects.create(
        device=device,
        at=now - timedelta(minutes=7),
        old_level="online",
        new_level="offline",
        cause="silence",
        detail="no reading since 09:50",
    )
    TelemetryReading.objects.bulk_create(
        [
            TelemetryReading(
                device=device,
                ts=last - timedelta(minutes=i),
                received_at=last,
                battery_pct=8.0 + i / 100,
                rsrp_dbm=-101.0,
                storage_pct=40.0,
            )
            for i in range(1500)
        ]
    )
    return device


def test_health_panel_says_level_since_why_problems_and_draws_the_chart(viewer_a, sick_device):
    response = viewer_a.browser.get(f"/devices/{sick_device.pk}/health/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="badge offline">Offline</span>' in html
    assert "Silence past the expected interval or grace: no reading since 09:50" in html
    assert "Battery 8% is below 15%" in html
    assert "-101 dBm" in html
    # The figure as a JSON data block that static/js/charts.js draws: no inline script.
    assert f'data-plotly="health-chart-{sick_device.pk}-data"' in html
    assert f'<script type="application/json" id="health-chart-{sick_device.pk}-data">' in html
    assert "<script>" not in html
    assert "cdn.plot.ly" not in html
    assert "<html" not in html  # a fragment for HTMX


def test_a_week_of_minute_readings_is_averaged_to_at_most_700_points():
    now = timezone.now()
    ts = pd.date_range(end=now, periods=7 * 24 * 60, freq="1min")
    frame = pd.DataFrame({"ts": ts, "battery_pct": 50.0, "storage_pct": 40.0, "rsrp_dbm": -90.0})
    figure = charts.device_telemetry_figure(frame, now=now, days=7)
    points = [len(trace.x) for trace in figure.data]
    assert points
    assert max(points) <= charts.MAX_POINTS
    assert figure.data[0].y[0] == pytest.approx(50.0)
    small = frame.tail(100)
    assert [len(t.x) for t in charts.device_telemetry_figure(small, now=now).data] == [
        100,
        100,
        100,
    ]


def test_health_panel_alone_is_a_full_page(viewer_a, sick_device):
    response = viewer_a.browser.get(f"/devices/{sick_device.pk}/health/")
    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_health_panel_of_another_agencys_device_is_404(admin_b, sick_device):
    assert admin_b.browser.get(f"/devices/{sick_device.pk}/health/").status_code == 404


def test_health_panel_of_a_device_never_heard_from(viewer_a, agency_a):
    device = DeviceFactory(agency=agency_a)
    html = viewer_a.browser.get(
        f"/devices/{device.pk}/health/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "No reading has arrived from this device yet." in html
    assert "No readings in the last 7 days" in html


def test_alert_page_lists_the_agencys_alerts_and_an_admin_acknowledges(
    admin_a, admin_b, sick_device
):
    alert = Alert.objects.create(
        agency=sick_device.agency,
        device=sick_device,
        cause="device_offline",
        detail="offline: silent",
    )
    page = admin_a.browser.get("/alerts/").content.decode()
    assert "BWC-7" in page
    assert "Acknowledge" in page
    assert "BWC-7" not in admin_b.browser.get("/alerts/").content.decode()
    assert admin_b.browser.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 404

    response = admin_a.browser.post(f"/alerts/{alert.pk}/acknowledge/", follow=True)
    assert "Acknowledged" in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == admin_a.user


def test_a_viewer_cannot_acknowledge_from_the_page(viewer_a, sick_device):
    alert = Alert.objects.create(
        agency=sick_device.agency, device=sick_device, cause="device_offline"
    )
    assert "Acknowledge</button>" not in viewer_a.browser.get("/alerts/").content.decode()
    viewer_a.browser.post(f"/alerts/{alert.pk}/acknowledge/")
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_an_admin_adds_and_removes_an_overnight_window_on_the_page(admin_a, viewer_a):
    response = admin_a.browser.post(
        "/maintenance/",
        {
            "title": "Docked overnight",
            "recurrence": "daily",
            "device_kind": "body_camera",
            "daily_start": "23:00",
            "daily_end": "06:00",
        },
        follow=True,
    )
    assert response.status_code == 200
    window = MaintenanceWindow.objects.get()
    assert (window.device_kind, str(window.daily_start)) == ("body_camera", "23:00:00")
    assert "Daily 23:00–06:00" in viewer_a.browser.get("/maintenance/").content.decode()

    bad = admin_a.browser.post("/maintenance/", {"title": "x", "recurrence": "once"})
    assert "a one-off window needs starts_at and ends_at" in bad.content.decode()

    viewer_a.browser.post(f"/maintenance/{window.pk}/delete/")
    assert MaintenanceWindow.objects.exists()
    admin_a.browser.post(f"/maintenance/{window.pk}/delete/")
    assert not MaintenanceWindow.objects.exists()


def test_nav_links_to_alerts_and_maintenance(viewer_a):
    html = viewer_a.browser.get("/alerts/").content.decode()
    assert 'href="/alerts/" aria-current="page">Alerts' in html
    assert 'href="/maintenance/"' in html
