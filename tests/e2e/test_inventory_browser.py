"""In a real browser: an agency admin adds a device through the form (a bad IMEI is refused next
to its field, nothing saved), checks it out to an officer and back in, and sees both on the
device page; scanning a serial into the scan box (typed, then Enter) opens its device. Each
page on the way passes axe-core (WCAG 2.0/2.1 A and AA)."""

from __future__ import annotations

import re

import pytest

from devices.models import Assignment, Device, Officer
from devices.rules import normalise_imei
from tests.e2e.conftest import log_in
from tests.e2e.test_accessibility_browser import _axe, _new_page
from tests.factories import CellularDeviceModelFactory, DeviceFactory, UserFactory, luhn_complete

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMEI = luhn_complete("35209900000001")
BAD_IMEI = IMEI[:-1] + str((int(IMEI[-1]) + 1) % 10)


@pytest.fixture
def shop(agency_a):
    UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    model = CellularDeviceModelFactory(manufacturer="Sonim", name="XP10")
    officer = Officer.objects.create(
        agency=agency_a, name="Dana Reyes", badge="1042", unit="Post 12"
    )
    return model, officer


def test_an_admin_adds_a_device_checks_it_out_and_in_and_sees_both(shop, chromium, live_server):
    model, officer = shop
    context, page = _new_page(chromium)
    log_in(page, live_server, "ksp-admin")
    page.goto(f"{live_server.url}/devices/")
    page.get_by_role("link", name="Add device").click()
    page.wait_for_url("**/devices/new/")
    problems = _axe(page, "/devices/new/")

    page.get_by_label("Model").select_option(label=str(model))
    page.get_by_label("Serial").fill("XP-0001")
    page.get_by_label("IMEI").fill(BAD_IMEI)
    page.get_by_role("button", name="Add device").click()
    imei_group = page.locator(".form-field", has=page.locator("#id_imei"))
    _, violation = normalise_imei(BAD_IMEI)
    assert violation is not None
    imei_group.locator(".errorlist").get_by_text(violation.message).wait_for()
    assert not Device.objects.filter(serial="XP-0001").exists()
    problems += _axe(page, "/devices/new/ (refused)")

    page.get_by_label("IMEI").fill(IMEI)
    page.get_by_role("button", name="Add device").click()
    page.wait_for_url(re.compile(r"/devices/\d+/$"))
    device = Device.objects.get(serial="XP-0001")
    assert page.url.endswith(f"/devices/{device.pk}/")
    assert device.imei == IMEI

    page.get_by_label("Officer").select_option(label=str(officer))
    page.get_by_label("Unit").fill("Post 3")
    page.get_by_role("button", name="Check out").click()
    page.wait_for_load_state("networkidle")
    page.locator("#assignments").get_by_text("Checked out to").wait_for()
    problems += _axe(page, "/devices/<pk>/ (checked out)")

    page.get_by_label("Condition on return").select_option(label="Damaged")
    page.get_by_label("Return notes").fill("cracked screen")
    page.get_by_role("button", name="Check in").click()
    page.wait_for_load_state("networkidle")
    history = page.locator("#assignments").inner_text()
    problems += _axe(page, "/devices/<pk>/ (checked in)")
    context.close()

    assert problems == [], "\n".join(problems)
    assert "Dana Reyes (1042)" in history
    assert "Post 3" in history
    assert "Damaged" in history
    assert "cracked screen" in history
    assert "(holds it)" not in history
    assignment = Assignment.objects.get(device=device)
    assert assignment.checked_in_at is not None
    assert assignment.checked_in_by.username == "ksp-admin"


def test_scanning_a_serial_jumps_to_its_device(shop, agency_a, chromium, live_server):
    model, _ = shop
    device = DeviceFactory(agency=agency_a, model=model, serial="XP-SCAN-9")
    context, page = _new_page(chromium)
    log_in(page, live_server, "ksp-admin")
    page.goto(f"{live_server.url}/devices/")
    box = page.get_by_label("Scan or type a serial, asset tag, IMEI or ICCID")
    box.click()
    # A scanner types the characters and then Enter.
    page.keyboard.type("XP-SCAN-9")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/devices/{device.pk}/")
    heading = page.get_by_role("heading", level=1).inner_text()
    context.close()
    assert "XP-SCAN-9" in heading
