"""The gateways API: the agency admin registers gateways; the secret is shown once."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password

from devices.models import Gateway
from tests.factories import GatewayFactory

pytestmark = pytest.mark.django_db


def test_admin_registers_a_gateway_and_sees_its_secret_once(admin_a):
    response = admin_a.client.post(
        "/api/gateways", {"name": "post-12"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    gateway = Gateway.objects.get(pk=body["id"])
    assert (body["agency"], body["has_credential"]) == ("ksp", True)
    assert check_password(body["secret"], gateway.credential_hash)
    again = admin_a.client.get(f"/api/gateways/{gateway.pk}").json()
    assert "secret" not in again


def test_rotating_the_credential_replaces_the_secret(admin_a, agency_a):
    gateway = GatewayFactory(agency=agency_a, name="post-1")
    first = admin_a.client.post(f"/api/gateways/{gateway.pk}/credential").json()["secret"]
    second = admin_a.client.post(f"/api/gateways/{gateway.pk}/credential").json()["secret"]
    gateway.refresh_from_db()
    assert first != second
    assert check_password(second, gateway.credential_hash)
    assert not check_password(first, gateway.credential_hash)


def test_gateway_names_are_topic_safe_and_unique_per_agency(admin_a, agency_a):
    GatewayFactory(agency=agency_a, name="hq")
    assert (
        admin_a.client.post(
            "/api/gateways", {"name": "hq"}, content_type="application/json"
        ).status_code
        == 409
    )
    response = admin_a.client.post(
        "/api/gateways", {"name": "a/b"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_viewer_reads_gateways_but_cannot_register_one(viewer_a, agency_a):
    GatewayFactory(agency=agency_a, name="hq")
    assert viewer_a.client.get("/api/gateways").json()["count"] == 1
    assert (
        viewer_a.client.post(
            "/api/gateways", {"name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )


def test_deactivating_a_gateway(admin_a, agency_a):
    gateway = GatewayFactory(agency=agency_a, name="hq")
    response = admin_a.client.patch(
        f"/api/gateways/{gateway.pk}", {"is_active": False}, content_type="application/json"
    )
    assert response.json()["is_active"] is False
    assert [
        g["name"] for g in admin_a.client.get("/api/gateways", {"is_active": True}).json()["items"]
    ] == []
