"""Maintenance windows through the API: agency admins manage their agency's, audited."""

from __future__ import annotations

import pytest

from devices.models import AuditRecord
from telemetry.models import MaintenanceWindow
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

OVERNIGHT = {
    "title": "Body cameras docked overnight",
    "recurrence": "daily",
    "device_kind": "body_camera",
    "daily_start": "23:00",
    "daily_end": "06:00",
    "time_zone": "America/New_York",
}


def post(persona, body):
    return persona.client.post("/api/maintenance-windows", body, content_type="application/json")


def test_an_agency_admin_creates_an_overnight_window_for_body_cameras(admin_a, agency_a):
    response = post(admin_a, OVERNIGHT)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["agency"], body["daily_start"], body["daily_end"], body["device_kind"]) == (
        "ksp",
        "23:00:00",
        "06:00:00",
        "body_camera",
    )
    window = MaintenanceWindow.objects.get()
    assert (window.agency, window.created_by) == (agency_a, admin_a.user)
    assert (
        AuditRecord.objects.filter(object_type="maintenance_window", action="create").count() == 1
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurrence": "once", "daily_start": None, "daily_end": None}, "starts_at"),
        (
            {
                "recurrence": "once",
                "starts_at": "2026-05-02T10:00:00Z",
                "ends_at": "2026-05-02T09:00:00Z",
            },
            "ends_at",
        ),
        ({"daily_end": "23:00"}, "daily_end"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"device_kind": "toaster"}, "device_kind"),
        ({"recurrence": "weekly"}, "recurrence"),
    ],
)
def test_a_window_that_makes_no_sense_is_refused_naming_the_field(admin_a, change, field):
    response = post(admin_a, {**OVERNIGHT, **change})
    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not MaintenanceWindow.objects.exists()


def test_a_window_cannot_name_another_agencys_device(admin_a, agency_b):
    other = DeviceFactory(agency=agency_b)
    response = post(admin_a, {**OVERNIGHT, "device_kind": "", "device_id": other.pk})
    assert response.status_code == 404


def test_viewers_cannot_and_other_agencies_do_not_see_windows(
    admin_a, viewer_a, admin_b, state_staff
):
    window_id = post(admin_a, OVERNIGHT).json()["id"]
    assert post(viewer_a, OVERNIGHT).status_code == 403
    assert viewer_a.client.get(f"/api/maintenance-windows/{window_id}").status_code == 200
    assert admin_b.client.get(f"/api/maintenance-windows/{window_id}").status_code == 404
    assert admin_b.client.get("/api/maintenance-windows").json()["count"] == 0
    assert viewer_a.client.delete(f"/api/maintenance-windows/{window_id}").status_code == 403
    assert admin_b.client.delete(f"/api/maintenance-windows/{window_id}").status_code == 404
    # State staff must say which agency; then may manage any.
    assert post(state_staff, OVERNIGHT).status_code == 422
    assert post(state_staff, {**OVERNIGHT, "agency": "lex-pd"}).status_code == 201
    assert admin_a.client.delete(f"/api/maintenance-windows/{window_id}").status_code == 204
    assert MaintenanceWindow.objects.count() == 1


def test_a_start_without_offset_is_local_time_in_the_windows_zone(admin_a):
    response = post(
        admin_a,
        {
            "title": "Tower work",
            "recurrence": "once",
            "starts_at": "2026-05-02T01:00:00",
            "ends_at": "2026-05-02T09:00:00+00:00",
            "time_zone": "America/Chicago",
        },
    )
    assert response.status_code == 201, response.content
    assert MaintenanceWindow.objects.get().starts_at.isoformat() == "2026-05-02T06:00:00+00:00"
