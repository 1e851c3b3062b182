"""Tenancy over every inventory endpoint: who sees and changes what, table-driven.

Each row of ENDPOINTS is one operation against objects of agency A (the KSP). Agency B's
admin must get 404 for every one of them (another agency's objects cannot even be
confirmed to exist); agency A's viewer reads but gets 403 on writes; agency A's admin
manages devices and gateways but not agencies or the catalog; state staff do everything.
A new endpoint is covered by adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from devices.assignments import check_out
from devices.models import ApiToken, Officer
from devices.scoping import visible_devices
from tests.factories import DeviceFactory, DeviceModelFactory, GatewayFactory, luhn_complete

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # formatted with the world's ids
    body: dict[str, Any] | None = None
    # Expected status per persona; admin_b is always 404 for agency A's objects.
    expect: dict[str, int] = field(default_factory=dict)


READ = {"state_staff": 200, "admin_a": 200, "viewer_a": 200}
DEVICE_WRITE = {"state_staff": 200, "admin_a": 200, "viewer_a": 403}
STAFF_ONLY = {"state_staff": 200, "admin_a": 403, "viewer_a": 403}

ENDPOINTS = [
    Endpoint("get", "/api/agencies/{agency_slug}", expect=READ),
    Endpoint("patch", "/api/agencies/{agency_slug}", {"county": "Scott"}, STAFF_ONLY),
    Endpoint("get", "/api/devices/{device_id}", expect=READ),
    Endpoint("patch", "/api/devices/{device_id}", {"assigned_unit": "Post 12"}, DEVICE_WRITE),
    Endpoint("post", "/api/devices/{device_id}/retire", {"note": "broken lens"}, DEVICE_WRITE),
    Endpoint(
        "delete",
        "/api/devices/{stock_device_id}",
        expect={**DEVICE_WRITE, "state_staff": 204, "admin_a": 204},
    ),
    Endpoint("get", "/api/gateways/{gateway_id}", expect=READ),
    Endpoint("patch", "/api/gateways/{gateway_id}", {"description": "Post 12 roof"}, DEVICE_WRITE),
    Endpoint("post", "/api/gateways/{gateway_id}/credential", expect=DEVICE_WRITE),
    Endpoint(
        "delete",
        "/api/gateways/{gateway_id}",
        expect={**DEVICE_WRITE, "state_staff": 204, "admin_a": 204},
    ),
    # Check-out and check-in, and officers (devices/api_inventory.py).
    Endpoint(
        "post",
        "/api/devices/{device_id}/checkout",
        {"officer_id": "{officer_id}"},
        {**DEVICE_WRITE, "state_staff": 201, "admin_a": 201},
    ),
    Endpoint("post", "/api/devices/{out_device_id}/checkin", {"condition": "good"}, DEVICE_WRITE),
    Endpoint("get", "/api/devices/{out_device_id}/assignments", expect=READ),
    Endpoint("get", "/api/officers/{officer_id}", expect=READ),
    Endpoint("patch", "/api/officers/{officer_id}", {"unit": "Post 9"}, DEVICE_WRITE),
    # The viewer's own token: only the viewer and state staff may see or revoke it.
    Endpoint(
        "post",
        "/api/tokens/{viewer_token_id}/revoke",
        expect={"state_staff": 200, "admin_a": 404, "viewer_a": 200},
    ),
]


@pytest.fixture
def world(agency_a, state_staff, admin_a, viewer_a, admin_b) -> dict[str, Any]:
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    device = DeviceFactory(agency=agency_a, model=model, serial="AX100", status="deployed")
    stock = DeviceFactory(agency=agency_a, model=model, serial="AX101", status="in_stock")
    gateway = GatewayFactory(agency=agency_a, name="post-12")
    officer = Officer.objects.create(agency=agency_a, name="Dana Reyes", badge="1042")
    out = DeviceFactory(agency=agency_a, model=model, serial="AX102", status="deployed")
    check_out(actor=None, device_id=out.pk, officer_id=officer.pk)
    return {
        "officer_id": officer.pk,
        "out_device_id": out.pk,
        "agency_slug": agency_a.slug,
        "device_id": device.pk,
        "stock_device_id": stock.pk,
        "gateway_id": gateway.pk,
        "viewer_token_id": ApiToken.objects.get(user=viewer_a.user).pk,
        "personas": {
            "state_staff": state_staff,
            "admin_a": admin_a,
            "viewer_a": viewer_a,
            "admin_b": admin_b,
        },
    }


def _call(persona, endpoint: Endpoint, world: dict[str, Any]):
    path = endpoint.path.format(**world)
    method = getattr(persona.client, endpoint.method)
    if endpoint.body is None:
        return method(path)
    # A body value naming a world field ("{officer_id}") is that object's id.
    body = {
        k: world[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v
        for k, v in endpoint.body.items()
    }
    return method(path, body, content_type="application/json")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("persona_name", ["state_staff", "admin_a", "viewer_a", "admin_b"])
def test_each_role_gets_exactly_its_status_on_agency_a_objects(world, endpoint, persona_name):
    persona = world["personas"][persona_name]
    expected = 404 if persona_name == "admin_b" else endpoint.expect[persona_name]
    response = _call(persona, endpoint, world)
    assert response.status_code == expected, response.content
    body = response.json() if response.content else {}
    if expected >= 400:
        # Every refusal is the one JSON error shape, with a message a person can act on.
        assert body["message"]
        assert isinstance(body["errors"], list)


LISTS = [
    ("/api/agencies", "slug"),
    ("/api/devices", "serial"),
    ("/api/gateways", "name"),
    ("/api/audit", "object_repr"),
    ("/api/officers", "badge"),
]


@pytest.mark.parametrize(("path", "key"), LISTS)
def test_lists_show_agency_b_nothing_of_agency_a(world, path, key, admin_b, agency_b):
    DeviceFactory(agency=agency_b, serial="LEX1")
    GatewayFactory(agency=agency_b, name="lex-hq")
    Officer.objects.create(agency=agency_b, name="Lee Park", badge="77")
    # Write something into A's audit log through the API, so the audit list has an A row.
    world["personas"]["admin_a"].client.patch(
        f"/api/devices/{world['device_id']}", {"notes": "x"}, content_type="application/json"
    )
    items = admin_b.client.get(path).json()["items"]
    seen_a = world["personas"]["admin_a"].client.get(path).json()["items"]
    assert seen_a, f"agency A sees its own {path}"
    assert not {i[key] for i in items} & {i[key] for i in seen_a}


def test_agency_filter_cannot_reach_into_another_agency(world, admin_b, agency_a):
    response = admin_b.client.get("/api/devices", {"agency": agency_a.slug})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_state_staff_see_every_agency(world, state_staff, agency_b):
    DeviceFactory(agency=agency_b, serial="LEX1")
    agencies = {d["agency"] for d in state_staff.client.get("/api/devices").json()["items"]}
    assert agencies == {"ksp", "lex-pd"}


def test_admin_cannot_register_a_device_in_another_agency(world, admin_b, agency_a):
    response = admin_b.client.post(
        "/api/devices",
        {"agency": agency_a.slug, "model_id": DeviceModelFactory().pk, "serial": "X1"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "agency"


def test_admin_cannot_move_own_device_into_another_agency(world, admin_a, agency_b):
    response = admin_a.client.patch(
        f"/api/devices/{world['device_id']}",
        {"agency": agency_b.slug},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert visible_devices(admin_a.user).filter(pk=world["device_id"]).exists()


def test_state_staff_can_move_a_device_between_agencies(world, state_staff, agency_b):
    response = state_staff.client.patch(
        f"/api/devices/{world['device_id']}",
        {"agency": agency_b.slug},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["agency"] == agency_b.slug


def test_viewer_is_refused_before_the_body_is_looked_at(world, viewer_a):
    response = viewer_a.client.post(
        "/api/devices",
        {"model_id": 999999, "serial": "X", "imei": luhn_complete("1" * 14)},
        content_type="application/json",
    )
    assert response.status_code == 403
