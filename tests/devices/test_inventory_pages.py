"""Daily inventory pages: add and edit a device, officers, check-out/in and scan to find.

The tenancy matrix of these pages is table-driven like tests/devices/test_tenancy.py: each row
is one page or form post against agency A's objects; agency B's admin gets 404 for every one,
agency A's viewer reads but gets 403 on writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from devices.assignments import check_out
from devices.models import AuditRecord, Device, Officer
from devices.rules import normalise_imei
from tests.factories import CellularDeviceModelFactory, DeviceFactory, luhn_complete

pytestmark = pytest.mark.django_db

IMEI = luhn_complete("35209900000001")
BAD_IMEI = IMEI[:-1] + ("5" if IMEI[-1] != "5" else "6")


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    data: dict[str, Any] | None = None
    expect: dict[str, int] = field(default_factory=dict)


READ = {"state_staff": 200, "admin_a": 200, "viewer_a": 200}
FORM = {"state_staff": 200, "admin_a": 200, "viewer_a": 403}
POST = {"state_staff": 302, "admin_a": 302, "viewer_a": 403}

PAGES = [
    Page("get", "/devices/{device}/edit/", expect=FORM),
    Page(
        "post",
        "/devices/{device}/edit/",
        {"model": "{model}", "serial": "AX100", "network": "none", "notes": "edited"},
        POST,
    ),
    Page("post", "/devices/{device}/checkout/", {"officer": "{officer}"}, POST),
    Page("post", "/devices/{out_device}/checkin/", {"condition": "good"}, POST),
    Page("get", "/devices/{out_device}/", expect=READ),
    Page("get", "/officers/{officer}/", expect=READ),
    Page("post", "/officers/{officer}/", {"name": "Dana Reyes", "badge": "1042"}, POST),
]


@pytest.fixture
def world(agency_a, state_staff, admin_a, viewer_a, admin_b) -> dict[str, Any]:
    model = CellularDeviceModelFactory()
    device = DeviceFactory(agency=agency_a, model=model, serial="AX100", status="in_stock")
    out = DeviceFactory(agency=agency_a, model=model, serial="AX101")
    officer = Officer.objects.create(agency=agency_a, name="Dana Reyes", badge="1042")
    check_out(actor=None, device_id=out.pk, officer_id=officer.pk)
    return {
        "ids": {
            "device": device.pk,
            "out_device": out.pk,
            "officer": officer.pk,
            "model": model.pk,
        },
        "personas": {
            "state_staff": state_staff,
            "admin_a": admin_a,
            "viewer_a": viewer_a,
            "admin_b": admin_b,
        },
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
@pytest.mark.parametrize("persona_name", ["state_staff", "admin_a", "viewer_a", "admin_b"])
def test_each_role_gets_exactly_its_status_on_agency_a_pages(world, page, persona_name):
    ids = world["ids"]
    browser = world["personas"][persona_name].browser
    path = page.path.format(**ids)
    data = {
        k: ids[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v
        for k, v in (page.data or {}).items()
    }
    before = AuditRecord.objects.count()
    response = browser.post(path, data) if page.method == "post" else browser.get(path)
    expected = 404 if persona_name == "admin_b" else page.expect[persona_name]
    assert response.status_code == expected, response.content[:500]
    if expected >= 400:
        assert AuditRecord.objects.count() == before  # a refusal writes nothing


def test_a_viewer_is_offered_no_form_to_add_a_device(viewer_a):
    assert viewer_a.browser.get("/devices/new/").status_code == 403
    assert viewer_a.browser.post("/officers/", {"name": "X", "badge": "9"}).status_code == 403


def test_an_agency_admin_cannot_add_a_device_to_another_agency(admin_b, agency_a):
    model = CellularDeviceModelFactory()
    response = admin_b.browser.post(
        "/devices/new/",
        {"agency": agency_a.slug, "model": model.pk, "serial": "X1", "status": "in_stock"},
    )
    # The agency list offers only their own, so another one is not a valid choice.
    assert "Select a valid choice" in response.content.decode()
    assert not Device.objects.filter(serial="X1").exists()


# --- the device form -------------------------------------------------------------------


def _form(model_pk: int, **fields: str) -> dict[str, Any]:
    return {
        "agency": "ksp",
        "model": model_pk,
        "serial": "PH-1",
        "status": "in_stock",
        "network": "firstnet",
        **fields,
    }


def test_an_admin_adds_a_device_and_the_audit_keeps_it(admin_a, agency_a):
    model = CellularDeviceModelFactory()
    response = admin_a.browser.post("/devices/new/", _form(model.pk, imei=f"{IMEI[:2]} {IMEI[2:]}"))
    device = Device.objects.get(serial="PH-1")
    assert response["Location"] == f"/devices/{device.pk}/"
    assert device.agency == agency_a
    assert device.imei == IMEI  # the separators dropped, as the API and the import do
    record = AuditRecord.objects.get(object_type="device", object_id=str(device.pk))
    assert record.action == "create"
    assert record.after["imei"] == IMEI


def test_a_bad_imei_is_shown_next_to_its_field_in_the_rules_words_and_nothing_is_saved(
    admin_a,
):
    model = CellularDeviceModelFactory()
    response = admin_a.browser.post("/devices/new/", _form(model.pk, imei=BAD_IMEI))
    assert response.status_code == 200
    form = response.context["form"]
    _, violation = normalise_imei(BAD_IMEI)
    assert violation is not None
    assert form.errors["imei"] == [violation.message]  # the same words as the API and import
    assert not Device.objects.filter(serial="PH-1").exists()
    assert not AuditRecord.objects.filter(object_type="device").exists()


def test_with_htmx_the_form_is_posted_in_place_and_a_success_redirects_the_client(admin_a):
    model = CellularDeviceModelFactory()
    headers = {"HX-Request": "true"}
    bad = admin_a.browser.post("/devices/new/", _form(model.pk, imei="123"), headers=headers)
    assert bad.status_code == 200
    assert 'id="device-form"' in bad.content.decode()
    good = admin_a.browser.post("/devices/new/", _form(model.pk), headers=headers)
    assert good["HX-Redirect"] == f"/devices/{Device.objects.get(serial='PH-1').pk}/"


def test_an_edit_keeps_before_and_after_in_the_audit(admin_a, agency_a):
    model = CellularDeviceModelFactory()
    device = DeviceFactory(agency=agency_a, model=model, serial="PH-9", firmware_version="1.0")
    response = admin_a.browser.post(
        f"/devices/{device.pk}/edit/",
        {"model": model.pk, "serial": "PH-9", "network": "none", "firmware_version": "2.1"},
    )
    assert response.status_code == 302
    record = AuditRecord.objects.get(object_type="device", action="update")
    assert (record.before["firmware_version"], record.after["firmware_version"]) == ("1.0", "2.1")


def test_an_edit_refused_by_a_rule_changes_nothing(admin_a, agency_a):
    model = CellularDeviceModelFactory()
    DeviceFactory(agency=agency_a, model=model, serial="PH-1", imei=IMEI)
    device = DeviceFactory(agency=agency_a, model=model, serial="PH-2")
    response = admin_a.browser.post(
        f"/devices/{device.pk}/edit/",
        {"model": model.pk, "serial": "PH-2", "network": "none", "imei": IMEI},
    )
    assert "already belongs to device PH-1" in " ".join(response.context["form"].errors["imei"])
    device.refresh_from_db()
    assert device.imei == ""


# --- scan to find ----------------------------------------------------------------------


@pytest.fixture
def scanned(agency_a, agency_b) -> dict[str, Device]:
    model = CellularDeviceModelFactory()
    return {
        "a": DeviceFactory(agency=agency_a, model=model, serial="KSP-77", asset_tag="KSP-0001"),
        "b": DeviceFactory(agency=agency_b, model=model, serial="LEX-88", imei=IMEI),
    }


@pytest.mark.parametrize("code", ["KSP-77", "ksp-0001", " KSP-77 "])
def test_a_scanned_serial_or_asset_tag_goes_straight_to_the_device(scanned, viewer_a, code):
    response = viewer_a.browser.get("/devices/scan/", {"code": code})
    assert response["Location"] == f"/devices/{scanned['a'].pk}/"


def test_another_agencys_device_names_only_its_agency(scanned, admin_a):
    grouped = f"{IMEI[:2]}-{IMEI[2:8]}-{IMEI[8:]}"
    response = admin_a.browser.get("/devices/scan/", {"code": grouped})
    body = response.content.decode()
    assert "not in your agency — held by Lexington Police" in body
    assert "LEX-88" not in body
    assert f"/devices/{scanned['b'].pk}/" not in body


def test_an_unknown_code_says_so(scanned, admin_a):
    response = admin_a.browser.get("/devices/scan/", {"code": "NOPE-1"})
    assert response.status_code == 404
    assert "no device with that serial, asset tag, IMEI or ICCID" in response.content.decode()
