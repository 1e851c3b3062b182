"""Every mutating inventory API call writes exactly one audit record, and the log is scoped.

The test runs a list of calls, one of each mutating operation of the devices router, and
diffs it against the AuditRecord rows that appeared. A new mutating operation that is not
in CALLS fails `test_every_mutating_operation_is_in_the_diff`.
"""

from __future__ import annotations

import pytest

from config.api import api  # noqa: F401  (mounts the routers; importing devices.api first is circular)
from devices.api import router
from devices.models import ApiToken, AuditRecord
from tests.factories import CellularDeviceModelFactory, GatewayFactory

pytestmark = pytest.mark.django_db

IMEI = "490154203237518"

# (method, path template, body, expected action, expected object type)
CALLS = [
    (
        "post",
        "/api/agencies",
        {"slug": "ems-1", "name": "EMS 1", "kind": "ems", "cabinet": "justice"},
        "create",
        "agency",
    ),
    ("patch", "/api/agencies/ems-1", {"firstnet_status": "pilot"}, "update", "agency"),
    (
        "post",
        "/api/device-models",
        {
            "manufacturer": "Cradlepoint",
            "name": "R1900",
            "kind": "in_vehicle_router",
            "is_cellular": True,
        },
        "create",
        "devicemodel",
    ),
    ("patch", "/api/device-models/{model_id}", {"unit_cost": 1999}, "update", "devicemodel"),
    (
        "post",
        "/api/device-models",
        {"manufacturer": "Axon", "name": "Fleet 3", "kind": "in_car_camera"},
        "create",
        "devicemodel",
    ),
    ("delete", "/api/device-models/{last_id}", None, "delete", "devicemodel"),
    (
        "post",
        "/api/devices",
        {"agency": "ksp", "model_id": "{model_id}", "serial": "R-1", "imei": IMEI},
        "create",
        "device",
    ),
    (
        "patch",
        "/api/devices/{device_id}",
        {"status": "deployed", "assigned_unit": "Post 4"},
        "update",
        "device",
    ),
    ("post", "/api/devices/{device_id}/retire", {"note": "hit by a truck"}, "update", "device"),
    (
        "post",
        "/api/devices",
        {"agency": "ksp", "model_id": "{model_id}", "serial": "R-2"},
        "create",
        "device",
    ),
    ("delete", "/api/devices/{last_id}", None, "delete", "device"),
    ("post", "/api/gateways", {"agency": "ksp", "name": "post-4"}, "create", "gateway"),
    ("patch", "/api/gateways/{last_id}", {"description": "roof"}, "update", "gateway"),
    ("post", "/api/gateways/{last_id}/credential", None, "update", "gateway"),
    ("delete", "/api/gateways/{last_id}", None, "delete", "gateway"),
    ("post", "/api/tokens", {"name": "script"}, "create", "apitoken"),
    ("post", "/api/tokens/{last_id}/revoke", None, "revoke", "apitoken"),
]


def _fill(value, ids):
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def test_each_mutating_call_writes_exactly_one_audit_record(state_staff, agency_a):
    ids: dict[str, int] = {}
    made: list[tuple[str, str, str]] = []
    for method, path, body, action, object_type in CALLS:
        before = AuditRecord.objects.count()
        url = path.format(**ids)
        call = getattr(state_staff.client, method)
        response = (
            call(url, _fill(body, ids), content_type="application/json") if body else call(url)
        )
        assert response.status_code < 300, (method, url, response.content)
        if response.status_code != 204:
            ids["last_id"] = response.json()["id"]
            if object_type == "devicemodel" and "model_id" not in ids:
                ids["model_id"] = ids["last_id"]
            if object_type == "device" and "device_id" not in ids:
                ids["device_id"] = ids["last_id"]
        assert AuditRecord.objects.count() == before + 1, (method, url)
        made.append((method, url, AuditRecord.objects.order_by("-id").first().action))
        record = AuditRecord.objects.order_by("-id").first()
        assert (record.action, record.object_type, record.actor) == (
            action,
            object_type,
            state_staff.user,
        )
    assert len(made) == len(CALLS) == AuditRecord.objects.count()


def test_every_mutating_operation_is_in_the_diff():
    covered = {(m.upper(), p.split("/api", 1)[1]) for m, p, *_ in CALLS}
    covered = {(m, _generic(p)) for m, p in covered}
    for path, view in router.path_operations.items():
        for operation in view.operations:
            for method in operation.methods:
                if method != "GET":
                    assert (method, _generic(path)) in covered, (
                        f"{method} {path} has no audit check"
                    )


def _generic(path: str) -> str:
    import re

    return re.sub(r"\{[^}]*\}", "{}", path).replace("/ems-1", "/{}")


def test_refused_calls_write_nothing(viewer_a, admin_b, agency_a):
    gateway = GatewayFactory(agency=agency_a, name="hq")
    viewer_a.client.patch(
        f"/api/gateways/{gateway.pk}", {"description": "x"}, content_type="application/json"
    )
    admin_b.client.delete(f"/api/gateways/{gateway.pk}")
    model = CellularDeviceModelFactory()
    viewer_a.client.post(
        "/api/devices", {"model_id": model.pk, "serial": "S"}, content_type="application/json"
    )
    assert not AuditRecord.objects.exists()


def test_audit_records_who_from_where_and_what_changed(admin_a, agency_a):
    response = admin_a.client.post(
        "/api/gateways",
        {"name": "hq", "description": "old"},
        content_type="application/json",
        REMOTE_ADDR="10.20.30.40",
    )
    admin_a.client.patch(
        f"/api/gateways/{response.json()['id']}",
        {"description": "new"},
        content_type="application/json",
    )
    record = AuditRecord.objects.order_by("-id").first()
    assert (record.actor_name, record.agency_id) == ("ksp-admin", agency_a.pk)
    assert (record.before["description"], record.after["description"]) == ("old", "new")
    assert "credential_hash" not in record.after
    first = AuditRecord.objects.order_by("id").first()
    assert first.remote_addr == "10.20.30.40"


def test_audit_log_is_scoped_and_filterable(admin_a, admin_b, viewer_a, state_staff, agency_a):
    admin_a.client.post("/api/gateways", {"name": "ksp-gw"}, content_type="application/json")
    admin_b.client.post("/api/gateways", {"name": "lex-gw"}, content_type="application/json")
    admin_b.client.post("/api/tokens", {"name": "x"}, content_type="application/json")

    def reprs(persona, **params):
        response = persona.client.get("/api/audit", params)
        assert response.status_code == 200, response.content
        return sorted(r["object_repr"] for r in response.json()["items"])

    assert reprs(viewer_a) == ["ksp/ksp-gw"]
    assert reprs(admin_b, object_type="gateway") == ["lex-pd/lex-gw"]
    assert len(reprs(state_staff)) == 3
    assert reprs(state_staff, agency="ksp") == ["ksp/ksp-gw"]
    assert len(reprs(state_staff, action="create", actor="lex-admin")) == 2
    assert reprs(state_staff, since="2999-01-01") == []


def test_audit_records_cannot_be_changed_through_the_admin(state_staff):
    from django.contrib import admin

    model_admin = admin.site._registry[AuditRecord]
    assert not model_admin.has_add_permission(None)
    assert not model_admin.has_change_permission(None)
    assert not model_admin.has_delete_permission(None)
    assert ApiToken in admin.site._registry
