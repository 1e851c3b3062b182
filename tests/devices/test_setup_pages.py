"""Setup pages: state staff add and edit agencies, cabinets and catalog models; managers edit
gateways. Each write goes through `devices.services` (so the API's rules and messages) and is
audited; every other role is refused (403), another agency's gateway is hidden (404)."""

from __future__ import annotations

import pytest

from devices.models import Agency, AuditRecord, Cabinet, DeviceModel, Gateway
from tests.factories import DeviceModelFactory, GatewayFactory

pytestmark = pytest.mark.django_db

AGENCY = {
    "slug": "frankfort-pd",
    "name": "Frankfort Police",
    "kind": "police",
    "county": "Franklin",
    "ori": "",
    "firstnet_status": "evaluating",
}
MODEL = {
    "manufacturer": "Sonim",
    "name": "XP10",
    "kind": "rugged_handheld",
    "is_cellular": "on",
    "firstnet_program": "ready",
    "fips_140_level": "",
    "telemetry_interval_s": "300",
    "unit_cost": "699.00",
}


def test_state_staff_add_an_agency_and_edit_its_firstnet_status(state_staff, agency_a, clock):
    cabinet = agency_a.cabinet
    browser = state_staff.browser
    response = browser.post("/agencies/new/", {**AGENCY, "cabinet": cabinet.pk})
    assert response["Location"] == "/agencies/frankfort-pd/"
    agency = Agency.objects.get(slug="frankfort-pd")
    assert agency.firstnet_status == "evaluating"
    response = browser.post(
        "/agencies/frankfort-pd/edit/",
        {
            **AGENCY,
            "cabinet": cabinet.pk,
            "firstnet_status": "pilot",
            "firstnet_status_changed_on": clock.today.isoformat(),
            "firstnet_note": "pilot signed",
        },
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.firstnet_status == "pilot"
    record = AuditRecord.objects.get(object_type="agency", action="update")
    assert (record.before["firstnet_status"], record.after["firstnet_status"]) == (
        "evaluating",
        "pilot",
    )


def test_a_duplicate_agency_slug_is_shown_next_to_the_slug(state_staff, agency_a):
    response = state_staff.browser.post(
        "/agencies/new/", {**AGENCY, "slug": "ksp", "cabinet": agency_a.cabinet.pk}
    )
    assert response.context["form"].errors["slug"] == [
        "An agency with the slug 'ksp' already exists."
    ]
    assert Agency.objects.count() == 1


def test_state_staff_add_and_rename_a_cabinet(state_staff):
    browser = state_staff.browser
    browser.post(
        "/cabinets/", {"slug": "health", "name": "Health Cabinet", "brm": state_staff.user.pk}
    )
    cabinet = Cabinet.objects.get(slug="health")
    assert cabinet.brm == state_staff.user
    browser.post("/cabinets/health/edit/", {"slug": "health", "name": "Health and Family"})
    cabinet.refresh_from_db()
    assert cabinet.name == "Health and Family"
    assert cabinet.brm is None
    assert AuditRecord.objects.filter(object_type="cabinet").count() == 2


def test_state_staff_add_a_catalog_model_and_a_duplicate_is_refused_on_its_name(state_staff):
    browser = state_staff.browser
    assert browser.post("/catalog/new/", MODEL)["Location"] == "/catalog/"
    model = DeviceModel.objects.get(name="XP10")
    assert model.is_cellular
    assert model.fips_140_level is None
    again = browser.post("/catalog/new/", MODEL)
    assert again.context["form"].errors["name"] == ["The catalog already lists Sonim XP10."]
    edited = browser.post(f"/catalog/{model.pk}/edit/", {**MODEL, "fips_140_level": "2"})
    assert edited.status_code == 302
    model.refresh_from_db()
    assert model.fips_140_level == 2


@pytest.mark.parametrize(
    "path",
    ["/agencies/new/", "/agencies/ksp/edit/", "/cabinets/", "/catalog/new/", "/catalog/{m}/edit/"],
)
@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
def test_agency_roles_cannot_set_up_agencies_cabinets_or_the_catalog(request, persona, path):
    model = DeviceModelFactory()
    browser = request.getfixturevalue(persona).browser
    assert browser.get(path.format(m=model.pk)).status_code == 403
    assert browser.post(path.format(m=model.pk), MODEL).status_code == 403
    assert not AuditRecord.objects.exists()


def test_everyone_reads_the_catalog(viewer_a):
    DeviceModelFactory(manufacturer="Axon", name="Body 4")
    body = viewer_a.browser.get("/catalog/").content.decode()
    assert "Body 4" in body
    assert "/edit/" not in body


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("state_staff", 302), ("admin_a", 302), ("viewer_a", 403), ("admin_b", 404)],
)
def test_gateway_edit_page_by_role(request, agency_a, persona, expected):
    gateway = GatewayFactory(agency=agency_a, name="post-12", description="roof")
    browser = request.getfixturevalue(persona).browser
    response = browser.post(f"/gateways/{gateway.pk}/edit/", {"description": "Post 12 mast"})
    assert response.status_code == expected
    gateway.refresh_from_db()
    changed = expected == 302
    assert gateway.description == ("Post 12 mast" if changed else "roof")
    assert gateway.is_active is not changed  # the unticked box switched it off
    assert Gateway.objects.count() == 1
