"""The devices API: list, filters, pagination, get, register, update, retire, delete."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Device, DeviceStatusChange
from tests.factories import CellularDeviceModelFactory, DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

IMEI = "490154203237518"
ICCID = "89014103211118510720"


def _post(persona, path, body):
    return persona.client.post(path, body, content_type="application/json")


def _patch(persona, path, body):
    return persona.client.patch(path, body, content_type="application/json")


def test_admin_registers_a_device_in_own_agency_without_naming_it(admin_a):
    model = CellularDeviceModelFactory()
    response = _post(
        admin_a,
        "/api/devices",
        {
            "model_id": model.pk,
            "serial": "SX-1",
            "asset_tag": "KSP-1",
            "imei": IMEI,
            "iccid": ICCID,
            "network": "firstnet",
            "status": "deployed",
            "assigned_unit": "Post 12",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["agency"], body["serial"], body["status"], body["kind"]) == (
        "ksp",
        "SX-1",
        "deployed",
        model.kind,
    )
    assert body["history"][0]["to_status"] == "deployed"
    assert body["history"][0]["changed_by"] == "ksp-admin"


def test_state_staff_must_name_the_agency(state_staff, agency_a):
    model = DeviceModelFactory()
    response = _post(state_staff, "/api/devices", {"model_id": model.pk, "serial": "S1"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "agency", "message": response.json()["message"]}]
    response = _post(
        state_staff, "/api/devices", {"agency": "ksp", "model_id": model.pk, "serial": "S1"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"imei": "490154203237519"}, 422, "imei"),
        ({"iccid": "123"}, 422, "iccid"),
        ({"model_id": 999999}, 422, "model_id"),
        ({"status": "misplaced"}, 422, "status"),
        ({"serial": ""}, 422, "serial"),
        ({"serial": "x" * 65}, 422, "serial"),
        ({"serial": "DUP"}, 409, "serial"),
    ],
)
def test_bad_registration_names_the_field_and_writes_nothing(
    admin_a, agency_a, body, status, field
):
    model = CellularDeviceModelFactory()
    DeviceFactory(agency=agency_a, model=model, serial="DUP")
    response = _post(admin_a, "/api/devices", {"model_id": model.pk, "serial": "NEW", **body})
    assert response.status_code == status, response.content
    errors = response.json()["errors"]
    assert errors
    assert errors[0]["field"] == field
    assert errors[0]["message"]
    assert Device.objects.count() == 1


def test_nul_character_is_refused_before_the_database(admin_a):
    # PostgreSQL cannot store NUL; the request is a 422, never a server error.
    response = _post(
        admin_a, "/api/devices", {"model_id": DeviceModelFactory().pk, "serial": "AB\x00C"}
    )
    assert response.status_code == 422
    assert response.json()["errors"]
    assert not Device.objects.exists()


def test_malformed_json_is_a_json_error(admin_a):
    response = admin_a.client.post("/api/devices", "{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.json()["message"]


def test_list_filters_by_each_attribute(admin_a, agency_a):
    phone = CellularDeviceModelFactory(kind="smartphone")
    camera = DeviceModelFactory(kind="body_camera")
    DeviceFactory(
        agency=agency_a,
        model=phone,
        serial="P1",
        status="deployed",
        network="firstnet",
        asset_tag="KSP-77",
    )
    DeviceFactory(
        agency=agency_a, model=phone, serial="P2", status="in_repair", network="commercial"
    )
    DeviceFactory(agency=agency_a, model=camera, serial="C1", status="deployed")

    def serials(**params):
        response = admin_a.client.get("/api/devices", params)
        assert response.status_code == 200, response.content
        return [d["serial"] for d in response.json()["items"]]

    assert serials() == ["C1", "P1", "P2"]
    assert serials(kind="smartphone") == ["P1", "P2"]
    assert serials(status="deployed") == ["C1", "P1"]
    assert serials(network="firstnet") == ["P1"]
    assert serials(q="ksp-77") == ["P1"]
    assert serials(q="p2") == ["P2"]
    assert serials(agency="ksp", kind="body_camera") == ["C1"]
    assert admin_a.client.get("/api/devices", {"status": "gone"}).status_code == 422


def test_list_is_paginated_in_a_stable_shape(admin_a, agency_a):
    model = DeviceModelFactory()
    for i in range(7):
        DeviceFactory(agency=agency_a, model=model, serial=f"S{i}")
    first = admin_a.client.get("/api/devices", {"limit": 3}).json()
    second = admin_a.client.get("/api/devices", {"limit": 3, "offset": 3}).json()
    assert (first["count"], first["limit"], first["offset"]) == (7, 3, 0)
    assert [d["serial"] for d in first["items"] + second["items"]] == [f"S{i}" for i in range(6)]
    assert admin_a.client.get("/api/devices", {"limit": 0}).status_code == 422
    assert admin_a.client.get("/api/devices", {"limit": 501}).status_code == 422


def test_list_query_count_does_not_grow_with_page_size(state_staff, agency_a, agency_b):
    for agency in (agency_a, agency_b):
        model = DeviceModelFactory()
        for i in range(30):
            DeviceFactory(agency=agency, model=model, serial=f"{agency.slug}-{i}")

    def queries(limit):
        with CaptureQueriesContext(connection) as ctx:
            response = state_staff.client.get("/api/devices", {"limit": limit})
        assert len(response.json()["items"]) == limit
        return len(ctx.captured_queries)

    queries(1)  # the token's first use of the minute also stamps last_used_at
    assert queries(2) == queries(50) <= 4


def test_get_shows_the_lifecycle_history(admin_a, agency_a):
    model = DeviceModelFactory()
    created = _post(admin_a, "/api/devices", {"model_id": model.pk, "serial": "S1"}).json()
    _patch(admin_a, f"/api/devices/{created['id']}", {"status": "deployed"})
    _patch(admin_a, f"/api/devices/{created['id']}", {"status": "lost"})
    body = admin_a.client.get(f"/api/devices/{created['id']}").json()
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [
        ("", "in_stock"),
        ("in_stock", "deployed"),
        ("deployed", "lost"),
    ]


def test_patch_changes_only_what_is_sent(admin_a, agency_a):
    device = DeviceFactory(agency=agency_a, serial="S1", assigned_unit="Post 1", notes="keep")
    response = _patch(admin_a, f"/api/devices/{device.pk}", {"assigned_unit": "Post 2"})
    assert response.status_code == 200
    device.refresh_from_db()
    assert (device.assigned_unit, device.notes) == ("Post 2", "keep")


def test_retire_keeps_the_device_and_its_history(admin_a, agency_a):
    device = DeviceFactory(agency=agency_a, serial="S1", status="deployed")
    response = _post(admin_a, f"/api/devices/{device.pk}/retire", {"note": "water damage"})
    assert response.status_code == 200
    assert response.json()["status"] == "retired"
    assert DeviceStatusChange.objects.filter(device=device, to_status="retired").exists()
    assert _post(admin_a, f"/api/devices/{device.pk}/retire", {}).status_code == 409
    assert _patch(admin_a, f"/api/devices/{device.pk}", {"status": "deployed"}).status_code == 409


def test_delete_refuses_a_device_with_history(admin_a, agency_a):
    device = DeviceFactory(agency=agency_a, serial="S1", status="deployed")
    response = admin_a.client.delete(f"/api/devices/{device.pk}")
    assert response.status_code == 409
    assert "retire" in response.json()["message"]
    assert Device.objects.filter(pk=device.pk).exists()


def test_unknown_device_is_404(admin_a):
    response = admin_a.client.get("/api/devices/999999")
    assert response.status_code == 404
    assert response.json()["message"]


def test_no_token_or_a_wrong_one_is_401(client, agency_a):
    assert client.get("/api/devices").status_code == 401
    response = client.get("/api/devices", HTTP_AUTHORIZATION="Bearer rt_nope")
    assert response.status_code == 401
    assert "Bearer" in response.json()["message"]


def test_the_logged_in_browser_can_read_the_api(viewer_a, agency_a):
    DeviceFactory(agency=agency_a, serial="S1")
    assert viewer_a.browser.get("/api/devices").json()["count"] == 1
