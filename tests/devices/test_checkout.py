"""Check-out and check-in: through the core, the pages and the API, with their refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from config.errors import Conflict, InvalidInput
from devices import assignments
from devices.models import Assignment, AuditRecord, Device, Officer
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def camera(agency_a) -> Device:
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    return DeviceFactory(agency=agency_a, model=model, serial="AX100", status="in_stock")


@pytest.fixture
def trooper(agency_a) -> Officer:
    return Officer.objects.create(agency=agency_a, name="Dana Reyes", badge="1042", unit="Post 12")


def test_a_check_out_and_check_in_keep_who_when_and_the_condition(camera, trooper, admin_a, clock):
    out = assignments.check_out(
        actor=admin_a.user,
        device_id=camera.pk,
        officer_id=trooper.pk,
        notes="spare battery",
        now=clock.now,
    )
    camera.refresh_from_db()
    assert camera.assigned_officer == "Dana Reyes (1042)"
    assert camera.assigned_unit == "Post 12"  # the officer's usual unit when none is given
    back = assignments.check_in(
        actor=admin_a.user,
        device_id=camera.pk,
        condition="damaged",
        notes="cracked lens",
        now=clock.now + timedelta(hours=8),
    )
    assert back.pk == out.pk
    assert back.checked_out_by == admin_a.user
    assert back.checked_in_by == admin_a.user
    assert back.checked_in_at - back.checked_out_at == timedelta(hours=8)
    assert (back.condition, back.return_notes) == ("damaged", "cracked lens")
    camera.refresh_from_db()
    assert camera.assigned_officer == ""
    records = AuditRecord.objects.filter(object_type="assignment", object_id=str(out.pk))
    assert [r.action for r in records.order_by("at", "id")] == ["create", "update"]
    update = records.get(action="update")
    assert update.before["checked_in_at"] is None
    assert update.after["condition"] == "damaged"
    assert update.agency_id == camera.agency_id


def test_checking_in_a_device_that_is_not_out_is_refused_with_what_to_do(camera, admin_a):
    with pytest.raises(Conflict, match="AX100 is not checked out, so there is nothing to check in"):
        assignments.check_in(actor=admin_a.user, device_id=camera.pk, condition="good")
    assert not Assignment.objects.exists()


def test_a_retired_device_cannot_be_checked_out(camera, trooper, admin_a):
    Device.objects.filter(pk=camera.pk).update(status="retired")
    with pytest.raises(Conflict, match="retired device cannot be checked out"):
        assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=trooper.pk)
    assert not Assignment.objects.exists()


def test_a_device_out_cannot_be_checked_out_again(camera, trooper, admin_a, agency_a):
    other = Officer.objects.create(agency=agency_a, name="Sam Ortiz", badge="2001")
    assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=trooper.pk)
    with pytest.raises(Conflict, match="already checked out to Dana Reyes"):
        assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=other.pk)
    assert Assignment.objects.count() == 1


def test_the_database_holds_one_open_assignment_per_device(camera, trooper):
    Assignment.objects.create(device=camera, officer=trooper)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(device=camera, officer=trooper)


def test_an_officer_of_another_agency_cannot_take_the_device(camera, admin_a, agency_b):
    stranger = Officer.objects.create(agency=agency_b, name="Lee Park", badge="77")
    with pytest.raises(InvalidInput, match="officer of the device's own agency"):
        assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=stranger.pk)


def test_a_badge_is_unique_within_an_agency(agency_a, agency_b, admin_a, trooper):
    with pytest.raises(Conflict, match="Badge 1042 already belongs to Dana Reyes"):
        assignments.create_officer(
            actor=admin_a.user, agency_id=agency_a.pk, name="Other", badge="1042"
        )
    # The same number in another agency is another person.
    assignments.create_officer(actor=None, agency_id=agency_b.pk, name="Other", badge="1042")


# --- pages -----------------------------------------------------------------------------


def test_the_device_page_checks_out_and_in_and_shows_the_history(camera, trooper, admin_a):
    browser = admin_a.browser
    response = browser.post(
        f"/devices/{camera.pk}/checkout/", {"officer": trooper.pk, "unit": "", "notes": ""}
    )
    assert response.status_code == 302
    page = browser.get(f"/devices/{camera.pk}/").content.decode()
    assert "Checked out to" in page
    assert "Dana Reyes (1042)" in page
    browser.post(f"/devices/{camera.pk}/checkin/", {"condition": "good", "notes": "all fine"})
    page = browser.get(f"/devices/{camera.pk}/").content.decode()
    assert "Not checked out." in page
    assert "all fine" in page
    assert "ksp-admin" in page  # by whom


def test_the_page_says_clearly_when_the_device_is_not_checked_out(camera, admin_a):
    response = admin_a.browser.post(
        f"/devices/{camera.pk}/checkin/", {"condition": "good"}, follow=True
    )
    assert "AX100 is not checked out, so there is nothing to check in" in response.content.decode()
    assert not Assignment.objects.exists()


def test_the_officer_page_lists_holdings_now_and_before(camera, trooper, admin_a, agency_a):
    second = DeviceFactory(agency=agency_a, model=camera.model, serial="AX200")
    assignments.check_out(actor=None, device_id=camera.pk, officer_id=trooper.pk)
    assignments.check_in(actor=None, device_id=camera.pk, condition="worn")
    assignments.check_out(actor=None, device_id=second.pk, officer_id=trooper.pk)
    page = admin_a.browser.get(f"/officers/{trooper.pk}/").content.decode()
    now_part, before_part = page.split("Held before")
    assert "AX200" in now_part
    assert "AX100" not in now_part
    assert "AX100" in before_part
    assert "Worn" in before_part


def test_an_admin_adds_an_officer_on_the_officers_page(admin_a, agency_a):
    response = admin_a.browser.post("/officers/", {"name": "Kim Lane", "badge": "3003"})
    officer = Officer.objects.get(badge="3003")
    assert response["Location"] == f"/officers/{officer.pk}/"
    assert officer.agency == agency_a


# --- API -------------------------------------------------------------------------------


def test_the_api_checks_out_lists_and_checks_in(camera, trooper, admin_a):
    api = admin_a.client
    out = api.post(
        f"/api/devices/{camera.pk}/checkout",
        {"officer_id": trooper.pk, "unit": "Post 3"},
        content_type="application/json",
    )
    assert out.status_code == 201, out.content
    assert out.json()["officer"] == "Dana Reyes"
    assert out.json()["checked_in_at"] is None
    back = api.post(
        f"/api/devices/{camera.pk}/checkin",
        {"condition": "good", "notes": "ok"},
        content_type="application/json",
    )
    assert back.status_code == 200, back.content
    assert back.json()["condition"] == "good"
    listed = api.get(f"/api/devices/{camera.pk}/assignments").json()
    assert listed["count"] == 1
    assert listed["items"][0]["checked_in_by"] == "ksp-admin"
    officer = api.get(f"/api/officers/{trooper.pk}").json()
    assert [a["serial"] for a in officer["assignments"]] == ["AX100"]


def test_the_api_refuses_a_check_in_of_a_device_not_out_as_json(camera, admin_a):
    response = admin_a.client.post(
        f"/api/devices/{camera.pk}/checkin", {"condition": "good"}, content_type="application/json"
    )
    assert response.status_code == 409
    assert "not checked out" in response.json()["message"]
    assert response.json()["errors"][0]["message"] == response.json()["message"]


def test_the_api_refuses_an_unknown_condition_naming_the_field(camera, admin_a):
    response = admin_a.client.post(
        f"/api/devices/{camera.pk}/checkin", {"condition": "meh"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "condition" in str(response.json()["errors"])


def test_the_xlsx_export_carries_the_holder_and_a_history_sheet(camera, trooper, admin_a):
    import io

    import openpyxl

    assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=trooper.pk)
    assignments.check_in(actor=admin_a.user, device_id=camera.pk, condition="good", notes="=cmd")
    assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=trooper.pk)
    response = admin_a.client.get("/api/devices/export?format=xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    devices = list(workbook["devices"].iter_rows(values_only=True))
    assert devices[1][devices[0].index("assigned_officer")] == "Dana Reyes (1042)"
    rows = list(workbook["assignments"].iter_rows(values_only=True))
    history = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [(h["serial"], h["officer"], h["checked_out_by"]) for h in history] == [
        ("AX100", "Dana Reyes", "ksp-admin"),
        ("AX100", "Dana Reyes", "ksp-admin"),
    ]
    assert history[0]["condition"] == "good"
    assert history[0]["return_notes"] == "'=cmd"  # a would-be formula stays text
    assert history[1]["checked_in_at"] is None


def test_an_inactive_officer_is_not_handed_a_device(camera, trooper, admin_a):
    admin_a.browser.post(
        f"/officers/{trooper.pk}/", {"name": "Dana Reyes", "badge": "1042", "unit": "Post 12"}
    )
    trooper.refresh_from_db()
    assert trooper.is_active is False  # the unticked box
    with pytest.raises(InvalidInput, match="marked inactive"):
        assignments.check_out(actor=admin_a.user, device_id=camera.pk, officer_id=trooper.pk)
