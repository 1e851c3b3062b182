"""The catalog API: everyone reads it; state staff maintain it."""

from __future__ import annotations

import pytest

from devices.models import DeviceModel
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

SONIM = {
    "manufacturer": "Sonim",
    "name": "XP10",
    "kind": "rugged_handheld",
    "has_band14": True,
    "firstnet_program": "certified",
    "fips_140_level": 2,
    "has_mcptt": True,
    "is_cellular": True,
    "telemetry_interval_s": 600,
    "unit_cost": 649.99,
}


def test_state_staff_add_and_change_a_catalog_entry(state_staff):
    response = state_staff.client.post("/api/device-models", SONIM, content_type="application/json")
    assert response.status_code == 201, response.content
    model_id = response.json()["id"]
    assert response.json()["unit_cost"] == 649.99
    response = state_staff.client.patch(
        f"/api/device-models/{model_id}",
        {"fips_140_level": None, "unit_cost": 599},
        content_type="application/json",
    )
    assert response.status_code == 200
    model = DeviceModel.objects.get(pk=model_id)
    assert (model.fips_140_level, str(model.unit_cost)) == (None, "599.00")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"fips_140_level": 5}, "fips_140_level"),
        ({"telemetry_interval_s": 1}, "telemetry_interval_s"),
        ({"unit_cost": -1}, "unit_cost"),
        ({"kind": "pager"}, "kind"),
    ],
)
def test_bad_catalog_entry_names_the_field(state_staff, extra, field):
    response = state_staff.client.post(
        "/api/device-models", {**SONIM, **extra}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
def test_agency_roles_read_the_catalog_but_cannot_change_it(request, persona):
    model = DeviceModelFactory()
    client = request.getfixturevalue(persona).client
    assert client.get("/api/device-models").json()["count"] == 1
    assert client.get(f"/api/device-models/{model.pk}").status_code == 200
    assert (
        client.post("/api/device-models", SONIM, content_type="application/json").status_code == 403
    )
    assert (
        client.patch(
            f"/api/device-models/{model.pk}", {"name": "X"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/device-models/{model.pk}").status_code == 403


def test_a_model_in_use_cannot_be_deleted(state_staff, agency_a):
    used, unused = DeviceModelFactory(), DeviceModelFactory()
    DeviceFactory(agency=agency_a, model=used)
    assert state_staff.client.delete(f"/api/device-models/{used.pk}").status_code == 409
    assert state_staff.client.delete(f"/api/device-models/{unused.pk}").status_code == 204
    assert list(DeviceModel.objects.all()) == [used]
