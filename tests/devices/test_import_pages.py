"""The import page: upload → preview with every problem → confirm; export downloads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings

from devices.models import AuditRecord, Device, DeviceModel
from tests.factories import DeviceModelFactory

pytestmark = pytest.mark.django_db

FILES = Path(__file__).parent / "files"


@pytest.fixture
def catalog(db) -> None:
    DeviceModelFactory(
        manufacturer="Keystone Mobile",
        name="KM-5 Responder",
        kind=DeviceModel.Kind.SMARTPHONE,
        is_cellular=True,
    )
    DeviceModelFactory(
        manufacturer="Axiom Vision", name="AV-300", kind=DeviceModel.Kind.BODY_CAMERA
    )


def upload(persona, path: Path, agency: str = "ksp"):
    with open(path, "rb") as handle:
        return persona.browser.post("/devices/import/", {"file": handle, "agency": agency})


def stored_uploads() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(root.iterdir()) if root.exists() else []


def test_upload_preview_then_confirm_imports_once(catalog, agency_a, admin_a):
    response = upload(admin_a, FILES / "devices_good_bom_crlf.csv")
    assert response.status_code == 302
    preview_url = response["Location"]
    assert len(stored_uploads()) == 1  # kept server-side between preview and confirm

    preview = admin_a.browser.get(preview_url)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Confirm import" in html
    assert "Purchase Order" in html  # ignored columns are named
    assert "KM-0001" in html
    assert Device.objects.count() == 0  # the preview writes nothing

    done = admin_a.browser.post(preview_url + "confirm/")
    assert done.status_code == 302
    assert done["Location"] == "/devices/?agency=ksp"
    assert Device.objects.filter(agency=agency_a).count() == 3
    assert AuditRecord.objects.filter(action="import").count() == 1
    assert stored_uploads() == []
    # The upload is used up: confirming twice cannot import twice.
    assert admin_a.browser.post(preview_url + "confirm/").status_code == 404


def test_preview_lists_every_problem_and_offers_no_confirm(catalog, agency_a, admin_a):
    preview = admin_a.browser.get(upload(admin_a, FILES / "devices_bad_rows.csv")["Location"])

    html = preview.content.decode()
    assert "Confirm import" not in html
    assert "Problems to fix" in html
    assert html.count('<tr><td class="num">') >= 12
    assert "KM-9 Phantom" in html


def test_confirming_a_bad_upload_writes_nothing(catalog, agency_a, admin_a):
    preview_url = upload(admin_a, FILES / "devices_bad_rows.csv")["Location"]
    response = admin_a.browser.post(preview_url + "confirm/")
    assert response.status_code == 422
    assert Device.objects.count() == 0
    assert AuditRecord.objects.count() == 0


def test_someone_elses_upload_answers_404(catalog, agency_a, admin_a, state_staff):
    preview_url = upload(admin_a, FILES / "devices_good_bom_crlf.csv")["Location"]
    assert state_staff.browser.get(preview_url).status_code == 404
    assert state_staff.browser.post(preview_url + "confirm/").status_code == 404
    assert Device.objects.count() == 0


def test_viewer_cannot_reach_the_import_page(catalog, viewer_a):
    assert viewer_a.browser.get("/devices/import/").status_code == 403
    assert upload(viewer_a, FILES / "devices_good_bom_crlf.csv").status_code == 403


def test_agency_admin_can_only_choose_the_own_agency(catalog, agency_a, agency_b, admin_a):
    response = upload(admin_a, FILES / "devices_good_bom_crlf.csv", agency="lex-pd")
    assert response.status_code == 200  # the form answers with its error
    assert "Select a valid choice" in response.content.decode()
    assert stored_uploads() == []


def test_state_staff_import_into_any_agency(catalog, agency_a, agency_b, state_staff):
    preview_url = upload(state_staff, FILES / "devices_good_bom_crlf.csv", agency="lex-pd")[
        "Location"
    ]
    state_staff.browser.post(preview_url + "confirm/")
    assert Device.objects.filter(agency=agency_b).count() == 3


def test_other_file_types_are_refused_at_upload(catalog, agency_a, admin_a, tmp_path):
    path = tmp_path / "devices.pdf"
    path.write_bytes(b"%PDF-1.4")
    response = upload(admin_a, path)
    assert response.status_code == 200
    assert "Choose a .csv or .xlsx file" in response.content.decode()


def test_cancel_discards_the_upload(catalog, agency_a, admin_a):
    preview_url = upload(admin_a, FILES / "devices_good_bom_crlf.csv")["Location"]
    assert admin_a.browser.post(preview_url + "cancel/").status_code == 302
    assert stored_uploads() == []
    assert Device.objects.count() == 0


def test_export_downloads_from_the_page_follow_the_list_filters(
    catalog, agency_a, admin_a, viewer_a
):
    admin_a.browser.post(
        upload(admin_a, FILES / "devices_good_bom_crlf.csv")["Location"] + "confirm/"
    )

    csv_response = viewer_a.browser.get("/devices/export/?status=deployed")
    text = b"".join(csv_response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["serial"] for r in rows] == ["AV-0001", "KM-0001"]
    assert rows[0]["notes"] == "two-line\r\nnote"

    xlsx = viewer_a.browser.get("/devices/export/?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))["devices"]
    assert sheet.max_row == 4


def test_nav_shows_import_to_admins_only(catalog, admin_a, viewer_a):
    assert 'href="/devices/import/"' in admin_a.browser.get("/devices/import/").content.decode()
    assert 'href="/devices/import/"' not in viewer_a.browser.get("/").content.decode()
