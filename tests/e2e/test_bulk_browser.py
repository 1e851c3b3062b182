"""In a real browser: an agency admin changes the status of 25 ticked devices (preview, confirm,
one audit entry naming all 25), and prints a label sheet for 30 devices whose QR codes, read
back from the downloaded PDF, are the devices' asset tags."""

from __future__ import annotations

import pytest

from devices.models import AuditRecord, Device
from tests.devices.test_labels import decoded_codes
from tests.e2e.conftest import log_in
from tests.e2e.test_accessibility_browser import _axe, _new_page
from tests.factories import DeviceFactory, DeviceModelFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fleet(agency, count: int) -> list[Device]:
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    return [
        DeviceFactory(
            agency=agency,
            model=model,
            serial=f"KSP-SN-{n:02d}",
            asset_tag=f"KSP-{n:04d}",
            status="deployed",
        )
        for n in range(count)
    ]


def test_a_bulk_status_change_of_25_devices_is_previewed_then_recorded_once(
    agency_a, chromium, live_server
):
    devices = _fleet(agency_a, 27)
    chosen, left_out = devices[:25], devices[25:]
    UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    context, page = _new_page(chromium)
    log_in(page, live_server, "ksp-admin")
    page.goto(f"{live_server.url}/devices/")
    for device in chosen:
        page.get_by_label(f"Select {device.serial}", exact=True).check()
    page.get_by_label("Action", exact=True).select_option(label="Change status")
    page.get_by_label("New status", exact=True).select_option(label="In repair")
    page.get_by_role("button", name="Preview bulk edit").click()
    page.wait_for_load_state("networkidle")

    preview = page.locator("#bulk-changes tbody tr")
    assert preview.count() == 25
    assert "25 devices selected, 25 would change" in page.locator("main").inner_text()
    problems = _axe(page, "/devices/bulk/ (preview)")
    assert Device.objects.filter(status="in_repair").count() == 0

    page.get_by_role("button", name="Confirm bulk edit").click()
    page.wait_for_load_state("networkidle")
    assert "Bulk edit done: 25 devices changed" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/audit/?action=update&object_type=device")
    audit_text = page.locator("main").inner_text()
    context.close()

    assert problems == [], "\n".join(problems)
    assert set(Device.objects.filter(status="in_repair")) == set(chosen)
    record = AuditRecord.objects.get(object_repr="25 devices (bulk edit)")
    assert sorted(record.after) == sorted(f"{d.pk} {d.asset_tag}" for d in chosen)
    for device in chosen:
        assert f"{device.pk} {device.asset_tag}: deployed → in_repair" in audit_text
    for device in left_out:
        assert device.asset_tag not in audit_text


def test_a_label_sheet_for_30_devices_downloads_and_each_qr_code_reads_its_asset_tag(
    agency_a, chromium, live_server, tmp_path
):
    devices = _fleet(agency_a, 30)
    UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, live_server, "ksp-admin")
    page.goto(f"{live_server.url}/devices/")
    # The "select this page" convenience (static/js/bulk_select.js) ticks all 30 rows.
    page.get_by_label("Select every device on this page").check()
    assert page.locator("input[data-select-row]:checked").count() == 30
    page.get_by_label("Label stock").select_option("avery5160")
    with page.expect_download() as download:
        page.get_by_role("button", name="Print asset labels (PDF)").click()
    pdf = tmp_path / "sheet.pdf"
    download.value.save_as(pdf)
    context.close()

    assert download.value.suggested_filename.startswith("asset-labels-avery5160-")
    codes = decoded_codes(pdf.read_bytes(), tmp_path)
    assert sorted(codes) == sorted(d.asset_tag for d in devices)
