"""Asset labels: the pure PDF renderer, read back with poppler and zbar, and its page and API.

The QR codes are decoded from the rendered PDF (pdftoppm at 300 dpi, then zbarimg), the way
a handheld scanner reads the printed label.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from devices.labels import LabelRow, render_labels
from tests.conftest import skip_or_fail
from tests.factories import DeviceFactory, DeviceModelFactory


def decoded_codes(pdf: bytes, folder: Path) -> list[str]:
    """Every QR code on every page of ``pdf``, as zbar reads it from a 300 dpi rendering."""
    for tool in ("pdftoppm", "zbarimg"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (apt-get install poppler-utils zbar-tools)")
    (folder / "labels.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-png", "labels.pdf", "page"], cwd=folder, check=True)
    pages = sorted(str(p) for p in folder.glob("page-*.png"))
    # zbarimg exits 4 when a page holds no code at all; that is a finding, not a crash.
    found = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", *pages],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.split()


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def _rows(n: int) -> list[LabelRow]:
    return [LabelRow(f"KSP-{i:05d}", f"SN{i:07d}", "Kentucky State Police") for i in range(n)]


def test_an_avery_5160_sheet_holds_30_labels_whose_qr_codes_read_back_as_asset_tags(tmp_path):
    pdf = render_labels(_rows(30), stock="avery5160")
    assert page_count(pdf) == 1
    assert sorted(decoded_codes(pdf, tmp_path)) == [r.asset_tag for r in _rows(30)]


def test_the_31st_label_starts_a_second_sheet():
    assert page_count(render_labels(_rows(31), stock="avery5160")) == 2


def test_the_single_label_stock_prints_one_label_per_page(tmp_path):
    pdf = render_labels(_rows(3), stock="single")
    assert page_count(pdf) == 3
    assert sorted(decoded_codes(pdf, tmp_path)) == ["KSP-00000", "KSP-00001", "KSP-00002"]


def test_a_device_without_an_asset_tag_gets_its_serial_in_the_code(tmp_path):
    pdf = render_labels([LabelRow("", "SN-ONLY-1", "Lexington Police")], stock="single")
    assert decoded_codes(pdf, tmp_path) == ["SN-ONLY-1"]


def test_the_same_rows_give_the_same_bytes():
    assert render_labels(_rows(2), stock="single") == render_labels(_rows(2), stock="single")


def test_no_rows_or_an_unknown_stock_is_refused():
    with pytest.raises(ValueError, match="no labels"):
        render_labels([], stock="avery5160")
    with pytest.raises(ValueError, match="unknown label stock"):
        render_labels(_rows(1), stock="dymo")


# --- the page and the API --------------------------------------------------------------


@pytest.fixture
def tagged(agency_a, agency_b):
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    ksp = [
        DeviceFactory(agency=agency_a, model=model, serial=f"KSP-SN-{n}", asset_tag=f"KSP-{n:04d}")
        for n in range(3)
    ]
    lex = DeviceFactory(agency=agency_b, model=model, serial="LEX-SN-1", asset_tag="LEX-0001")
    return {"ksp": ksp, "lex": lex}


@pytest.mark.django_db
def test_the_list_prints_labels_for_the_ticked_devices(admin_a, tagged, tmp_path):
    response = admin_a.browser.get(
        "/devices/labels/", {"ids": [d.pk for d in tagged["ksp"]], "stock": "avery5160"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="asset-labels-')
    assert sorted(decoded_codes(response.content, tmp_path)) == ["KSP-0000", "KSP-0001", "KSP-0002"]


@pytest.mark.django_db
def test_the_api_prints_labels_for_every_device_matching_a_filter(admin_a, tagged, tmp_path):
    response = admin_a.client.post(
        "/api/devices/labels",
        {"filter": {"q": "KSP-SN-1"}, "stock": "single"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert decoded_codes(response.content, tmp_path) == ["KSP-0001"]


@pytest.mark.django_db
def test_a_label_request_for_no_devices_is_refused_with_a_message(admin_a, tagged):
    page = admin_a.browser.get("/devices/labels/", {"stock": "avery5160"})
    api = admin_a.client.post("/api/devices/labels", {"ids": []}, content_type="application/json")
    assert page.status_code == 422
    assert "No devices are selected for a label sheet" in page.content.decode()
    assert api.status_code == 422
    assert "No devices are selected for a label sheet" in api.json()["message"]


@pytest.mark.django_db
def test_a_label_request_for_more_than_1000_devices_is_refused_with_a_message(admin_a, tagged):
    api = admin_a.client.post(
        "/api/devices/labels", {"ids": list(range(1, 1002))}, content_type="application/json"
    )
    page = admin_a.browser.get("/devices/labels/", {"ids": ",".join(map(str, range(1, 1002)))})
    expected = "A label sheet takes at most 1,000 devices; this selection has 1,001."
    assert api.status_code == 422
    assert expected in api.json()["message"]
    assert page.status_code == 422
    assert expected in page.content.decode()


@pytest.mark.django_db
def test_another_agencys_devices_are_not_found_for_labels(admin_b, tagged):
    ids = [tagged["lex"].pk, tagged["ksp"][0].pk]
    page = admin_b.browser.get("/devices/labels/", {"ids": ids})
    api = admin_b.client.post("/api/devices/labels", {"ids": ids}, content_type="application/json")
    assert page.status_code == 404
    assert api.status_code == 404
    assert "KSP-0000" not in page.content.decode()
    assert api.json()["message"].startswith(
        f"Devices not found, or not visible to you: {tagged['ksp'][0].pk}."
    )


@pytest.mark.django_db
def test_a_viewer_may_not_print_labels(viewer_a, tagged):
    ids = [d.pk for d in tagged["ksp"]]
    page = viewer_a.browser.get("/devices/labels/", {"ids": ids})
    api = viewer_a.client.post("/api/devices/labels", {"ids": ids}, content_type="application/json")
    assert page.status_code == 403
    assert api.status_code == 403
