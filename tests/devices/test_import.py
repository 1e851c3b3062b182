"""Bulk import of devices: real CSV and XLSX files, every bad row reported, all or nothing."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devices.importing import ImportRejected, import_devices, parse_file
from devices.models import AuditRecord, Device, DeviceModel, DeviceStatusChange
from devices.rules import luhn_check_digit, normalise_iccid, normalise_imei
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

FILES = Path(__file__).parent / "files"
GOOD_CSV = FILES / "devices_good_bom_crlf.csv"
BAD_CSV = FILES / "devices_bad_rows.csv"


def imei(n: int) -> str:
    body = f"35209900{n:06d}"
    return body + luhn_check_digit(body)


def iccid(n: int) -> str:
    body = f"8901410{n:012d}"
    return body + luhn_check_digit(body)


@pytest.fixture
def catalog(db) -> dict[str, DeviceModel]:
    return {
        "phone": DeviceModelFactory(
            manufacturer="Keystone Mobile",
            name="KM-5 Responder",
            kind=DeviceModel.Kind.SMARTPHONE,
            is_cellular=True,
            has_band14=True,
        ),
        "phone2": DeviceModelFactory(
            manufacturer="Keystone Mobile",
            name="KM-7 Rugged",
            kind=DeviceModel.Kind.RUGGED_HANDHELD,
            is_cellular=True,
        ),
        "camera": DeviceModelFactory(
            manufacturer="Axiom Vision",
            name="AV-300",
            kind=DeviceModel.Kind.BODY_CAMERA,
            is_cellular=False,
        ),
    }


def counts() -> tuple[int, int, int]:
    return Device.objects.count(), DeviceStatusChange.objects.count(), AuditRecord.objects.count()


def write_csv(path: Path, rows: list[list[str]]) -> bytes:
    text = "\n".join(",".join(row) for row in rows) + "\n"
    path.write_text(text)
    return path.read_bytes()


# --- parsing and checks (no database needed, but cheap enough with it) -----------------


def test_row_numbers_are_the_ones_a_spreadsheet_shows():
    parsed = parse_file(b"serial,manufacturer,model\r\n\r\nA,B,C\r\n\r\nD,E,F\r\n", "x.csv")
    assert [number for number, _ in parsed.rows] == [3, 5]


def test_imei_check_digit_and_spreadsheet_mangling_are_explained():
    assert normalise_imei("35-209900-000001-4") == ("352099000000014", None)
    _, wrong = normalise_imei("352099000000015")
    assert "expected 4" in wrong.message
    _, mangled = normalise_imei("3.52099E+14")
    assert "scientific notation" in mangled.message
    good = iccid(7)
    assert normalise_iccid(good)[1] is None
    typo = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert "check digit" in normalise_iccid(typo)[1].message


def test_exported_apostrophe_before_a_formula_character_is_removed_on_import():
    parsed = parse_file(b"serial,manufacturer,model,notes\nA,B,C,'=1+1\nD,E,F,'plain\n", "x.csv")
    assert parsed.rows[0][1]["notes"] == "=1+1"
    assert parsed.rows[1][1]["notes"] == "'plain"


# --- CSV --------------------------------------------------------------------------------


def test_csv_with_bom_crlf_blank_lines_extra_columns_and_mixed_case_headers_imports(
    catalog, agency_a, admin_a
):
    plan = import_devices(
        agency=agency_a,
        data=GOOD_CSV.read_bytes(),
        filename=GOOD_CSV.name,
        actor=admin_a.user,
        dry_run=False,
    )

    assert plan.errors == []
    assert plan.ignored_columns == ["Purchase Order"]
    assert (plan.created, plan.updated, plan.unchanged) == (3, 0, 0)
    phone = Device.objects.get(serial="KM-0001")
    assert phone.agency == agency_a
    assert phone.model == catalog["phone"]
    assert phone.manufacturer == "Keystone Mobile"  # the catalog's spelling, not the file's
    assert (phone.imei, phone.iccid) == ("352099000000014", "89014100000000000012")
    assert (phone.status, phone.network) == ("deployed", "firstnet")
    assert (phone.is_mdm_enrolled, phone.is_encryption_enabled, phone.has_cji_access) == (
        True,
        True,
        True,
    )
    assert phone.notes == "Issued 2024, car 12"
    assert Device.objects.get(serial="KM-0002").imei == "352099000000022"  # dashes dropped
    camera = Device.objects.get(serial="AV-0001")
    assert camera.notes == "two-line\r\nnote"
    assert camera.assigned_unit == "Post 5 LaGrange"
    # Each new device starts its lifecycle history.
    assert sorted(
        DeviceStatusChange.objects.values_list("device__serial", "from_status", "to_status")
    ) == [
        ("AV-0001", "", "deployed"),
        ("KM-0001", "", "deployed"),
        ("KM-0002", "", "in_stock"),
    ]


def test_every_bad_row_is_reported_with_row_and_column_and_nothing_is_written(
    catalog, agency_a, agency_b, admin_a
):
    DeviceFactory(agency=agency_b, model=catalog["phone"], serial="LEX-0001")
    before = counts()

    with pytest.raises(ImportRejected) as rejected:
        import_devices(
            agency=agency_a,
            data=BAD_CSV.read_bytes(),
            filename=BAD_CSV.name,
            actor=admin_a.user,
            dry_run=False,
        )

    found = {(e["row"], e["column"]) for e in rejected.value.errors}
    assert found == {
        (3, "model"),  # unknown model
        (4, "serial"),  # duplicate serial in the file
        (5, "serial"),  # serial of another agency
        (6, "imei"),  # Luhn check digit
        (7, "imei"),  # not 15 digits
        (9, "iccid"),  # too short (row 8 is blank and still counts)
        (10, "status"),  # unknown status
        (11, "network"),  # unknown network
        (12, "mdm_enrolled"),  # not a yes/no
        (13, "serial"),  # missing
        (14, "model"),  # missing
        (15, "manufacturer"),  # not in the catalog
        (16, "imei"),  # mangled into scientific notation
    }
    messages = {(e["row"], e["column"]): e["message"] for e in rejected.value.errors}
    assert "first on row 2" in messages[(4, "serial")]
    assert "another agency" in messages[(5, "serial")]
    assert "KM-5 Responder" in messages[(3, "model")]  # says what the catalog does have
    assert counts() == before
    assert not Device.objects.filter(serial="KM-1001").exists()


def test_dry_run_previews_counts_and_errors_and_writes_nothing(catalog, agency_a, admin_a):
    DeviceFactory(agency=agency_a, model=catalog["phone"], serial="KM-0001", status="in_stock")
    before = counts()

    plan = import_devices(
        agency=agency_a,
        data=GOOD_CSV.read_bytes(),
        filename="good.csv",
        actor=admin_a.user,
        dry_run=True,
    )

    assert (plan.created, plan.updated, plan.unchanged) == (2, 1, 0)
    assert plan.dry_run
    assert not plan.written
    assert counts() == before
    bad = import_devices(
        agency=agency_a,
        data=BAD_CSV.read_bytes(),
        filename="bad.csv",
        actor=admin_a.user,
        dry_run=True,
    )
    assert len(bad.errors) >= 10
    assert counts() == before


def test_accepted_import_is_audited_exactly_once(catalog, agency_a, admin_a):
    before = AuditRecord.objects.count()

    plan = import_devices(
        agency=agency_a,
        data=GOOD_CSV.read_bytes(),
        filename="fleet.csv",
        actor=admin_a.user,
        dry_run=False,
        remote_addr="10.1.2.3",
    )

    assert AuditRecord.objects.count() == before + 1
    record = AuditRecord.objects.get(pk=plan.audit_id)
    assert (record.action, record.object_type, record.object_repr) == (
        "import",
        "device",
        "fleet.csv",
    )
    assert record.actor == admin_a.user
    assert record.agency == agency_a
    assert record.remote_addr == "10.1.2.3"
    assert (record.after["created"], record.after["updated"], record.after["unchanged"]) == (
        3,
        0,
        0,
    )
    assert record.after["file"] == "fleet.csv"
    assert "3 were created" in record.message


def test_reimporting_the_same_file_changes_nothing_but_records_the_import(
    catalog, agency_a, admin_a
):
    data = GOOD_CSV.read_bytes()
    import_devices(
        agency=agency_a, data=data, filename="fleet.csv", actor=admin_a.user, dry_run=False
    )
    snapshot = list(Device.objects.order_by("pk").values())
    history = DeviceStatusChange.objects.count()
    audits = AuditRecord.objects.count()

    again = import_devices(
        agency=agency_a, data=data, filename="fleet.csv", actor=admin_a.user, dry_run=False
    )

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert list(Device.objects.order_by("pk").values()) == snapshot  # updated_at included
    assert DeviceStatusChange.objects.count() == history
    # Decision: the import itself is still recorded (who ran what, when), with zero changes.
    assert AuditRecord.objects.count() == audits + 1
    assert AuditRecord.objects.get(pk=again.audit_id).after["changes"] == []


def test_a_row_changing_a_retired_device_is_refused_with_its_row_and_nothing_is_written(
    catalog, agency_a, admin_a, tmp_path
):
    DeviceFactory(agency=agency_a, model=catalog["phone"], serial="KM-1", status="retired")
    data = write_csv(
        tmp_path / "f.csv",
        [
            ["serial", "manufacturer", "model", "firmware_version", "notes"],
            ["KM-9", "Keystone Mobile", "KM-5 Responder", "1.0", ""],
            ["KM-1", "Keystone Mobile", "KM-5 Responder", "2.0", "sent to recycler"],
        ],
    )
    before = counts()

    with pytest.raises(ImportRejected) as rejected:
        import_devices(
            agency=agency_a, data=data, filename="f.csv", actor=admin_a.user, dry_run=False
        )

    errors = rejected.value.plan.errors
    assert [(e.row, e.column) for e in errors] == [(3, "status")]
    assert "KM-1 is retired" in errors[0].message
    assert counts() == before


def test_changed_rows_are_updated_and_status_changes_are_kept(catalog, agency_a, admin_a, tmp_path):
    device = DeviceFactory(
        agency=agency_a,
        model=catalog["phone"],
        serial="KM-1",
        status="in_stock",
        assigned_officer="Tpr. Old",
        firmware_version="1.0",
    )
    untouched = DeviceFactory(
        agency=agency_a,
        model=catalog["phone"],
        serial="KM-2",
        status="deployed",
        firmware_version="1.0",
    )
    stamp = Device.objects.get(pk=untouched.pk).updated_at
    data = write_csv(
        tmp_path / "f.csv",
        [
            ["serial", "manufacturer", "model", "status", "assigned_officer", "firmware_version"],
            ["KM-1", "Keystone Mobile", "KM-7 Rugged", "deployed", "", "1.1"],
            ["KM-2", "Keystone Mobile", "KM-5 Responder", "deployed", "", "1.0"],
        ],
    )

    plan = import_devices(
        agency=agency_a, data=data, filename="f.csv", actor=admin_a.user, dry_run=False
    )

    assert (plan.created, plan.updated, plan.unchanged) == (0, 1, 1)
    device.refresh_from_db()
    assert device.model == catalog["phone2"]
    assert (device.status, device.assigned_officer, device.firmware_version) == (
        "deployed",
        "",
        "1.1",
    )
    change = DeviceStatusChange.objects.get(device=device)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "in_stock",
        "deployed",
        admin_a.user,
    )
    assert Device.objects.get(pk=untouched.pk).updated_at == stamp


def test_columns_missing_from_the_file_are_left_alone(catalog, agency_a, admin_a, tmp_path):
    device = DeviceFactory(
        agency=agency_a,
        model=catalog["phone"],
        serial="KM-1",
        status="deployed",
        notes="keep me",
        imei=imei(9),
        network="firstnet",
        is_mdm_enrolled=True,
    )
    data = write_csv(
        tmp_path / "f.csv",
        [["serial", "manufacturer", "model"], ["KM-1", "Keystone Mobile", "KM-5 Responder"]],
    )

    plan = import_devices(
        agency=agency_a, data=data, filename="f.csv", actor=admin_a.user, dry_run=False
    )

    assert plan.unchanged == 1
    device.refresh_from_db()
    assert (device.notes, device.imei, device.network, device.is_mdm_enrolled) == (
        "keep me",
        imei(9),
        "firstnet",
        True,
    )


def test_identifiers_already_used_by_other_devices_are_rejected(
    catalog, agency_a, agency_b, admin_a, tmp_path
):
    DeviceFactory(
        agency=agency_a, model=catalog["phone"], serial="OWN-1", imei=imei(1), asset_tag="KSP-1"
    )
    DeviceFactory(agency=agency_b, model=catalog["phone"], serial="LEX-9", iccid=iccid(1))
    data = write_csv(
        tmp_path / "f.csv",
        [
            ["serial", "manufacturer", "model", "imei", "iccid", "asset_tag"],
            ["N-1", "Keystone Mobile", "KM-5 Responder", imei(1), "", ""],
            ["N-2", "Keystone Mobile", "KM-5 Responder", "", iccid(1), ""],
            ["N-3", "Keystone Mobile", "KM-5 Responder", "", "", "KSP-1"],
            ["N-4", "Keystone Mobile", "KM-5 Responder", imei(2), "", "T-1"],
            ["N-5", "Keystone Mobile", "KM-5 Responder", imei(2), "", "T-1"],
        ],
    )

    plan = import_devices(
        agency=agency_a, data=data, filename="f.csv", actor=admin_a.user, dry_run=True
    )

    found = {(e.row, e.column): e.message for e in plan.errors}
    assert set(found) == {
        (2, "imei"),
        (3, "iccid"),
        (4, "asset_tag"),
        (6, "imei"),
        (6, "asset_tag"),
    }
    assert "OWN-1" in found[(2, "imei")]
    # Another agency's device is not named to an agency admin.
    assert "another agency" in found[(3, "iccid")]
    assert "LEX-9" not in found[(3, "iccid")]


def test_rules_of_the_single_device_api_apply(catalog, agency_a, admin_a, tmp_path):
    DeviceFactory(agency=agency_a, model=catalog["phone"], serial="OLD-1", status="retired")
    data = write_csv(
        tmp_path / "f.csv",
        [
            ["serial", "manufacturer", "model", "imei", "network", "status"],
            ["AV-1", "Axiom Vision", "AV-300", imei(3), "firstnet", "deployed"],
            ["OLD-1", "Keystone Mobile", "KM-5 Responder", "", "", "deployed"],
        ],
    )

    plan = import_devices(
        agency=agency_a, data=data, filename="f.csv", actor=admin_a.user, dry_run=True
    )

    assert {(e.row, e.column) for e in plan.errors} == {(2, "imei"), (2, "network"), (3, "status")}


def test_a_file_without_required_columns_is_reported_on_the_header_row(catalog, agency_a, admin_a):
    plan = import_devices(
        agency=agency_a,
        data=b"Serial,Notes\nX,y\n",
        filename="f.csv",
        actor=admin_a.user,
        dry_run=True,
    )
    assert {(e.row, e.column) for e in plan.errors} == {(1, "manufacturer"), (1, "model")}


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"", "empty.csv", "empty"),
        (b"PK\x03\x04not really a zip", "x.xlsx", "could not be read"),
        (b"\xd0\xcf\x11\xe0", "old.xls", "Only CSV and XLSX"),
    ],
)
def test_unreadable_files_get_a_clear_error(catalog, agency_a, admin_a, data, filename, expected):
    plan = import_devices(
        agency=agency_a, data=data, filename=filename, actor=admin_a.user, dry_run=True
    )
    assert len(plan.errors) == 1
    assert expected in plan.errors[0].message


# --- XLSX -------------------------------------------------------------------------------


def make_xlsx(path: Path, rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=number, column=column, value=value)
    workbook.save(path)
    return path.read_bytes()


def test_xlsx_import_reads_numbers_booleans_and_keeps_row_numbers_across_empty_rows(
    catalog, agency_a, admin_a, tmp_path
):
    data = make_xlsx(
        tmp_path / "fleet.xlsx",
        [
            [
                "Serial",
                "Manufacturer",
                "Model",
                "IMEI",
                "Status",
                "Network",
                "MDM enrolled",
                "Cost centre",
            ],
            [
                "KM-X1",
                "Keystone Mobile",
                "KM-5 Responder",
                int(imei(4)),
                "Deployed",
                "FirstNet",
                True,
                "A-1",
            ],
            [],
            [],
            [
                "KM-X2",
                "Keystone Mobile",
                "KM-5 Responder",
                imei(5)[:-1] + "0",
                "deployed",
                "firstnet",
                False,
                "",
            ],
            [10042, "Keystone Mobile", "KM-5 Responder", None, "in stock", None, "no", ""],
        ],
    )

    preview = import_devices(
        agency=agency_a, data=data, filename="fleet.xlsx", actor=admin_a.user, dry_run=True
    )
    assert [(e.row, e.column) for e in preview.errors] == [(5, "imei")]
    assert preview.ignored_columns == ["Cost centre"]

    fixed = make_xlsx(
        tmp_path / "fixed.xlsx",
        [
            ["Serial", "Manufacturer", "Model", "IMEI", "Status", "Network", "MDM enrolled"],
            [
                "KM-X1",
                "Keystone Mobile",
                "KM-5 Responder",
                int(imei(4)),
                "Deployed",
                "FirstNet",
                True,
            ],
            ["KM-X2", "Keystone Mobile", "KM-5 Responder", imei(5), "deployed", "firstnet", False],
            [10042, "Keystone Mobile", "KM-5 Responder", None, "in stock", None, "no"],
        ],
    )
    plan = import_devices(
        agency=agency_a, data=fixed, filename="fixed.xlsx", actor=admin_a.user, dry_run=False
    )
    assert plan.created == 3
    first = Device.objects.get(serial="KM-X1")
    assert (first.imei, first.is_mdm_enrolled, first.network) == (imei(4), True, "firstnet")
    assert Device.objects.filter(serial="10042").exists()  # a numeric serial cell, without ".0"


def test_xlsx_iccid_typed_as_a_number_is_reported_as_lost_digits(
    catalog, agency_a, admin_a, tmp_path
):
    data = make_xlsx(
        tmp_path / "f.xlsx",
        [
            ["serial", "manufacturer", "model", "iccid"],
            ["KM-1", "Keystone Mobile", "KM-5 Responder", float(iccid(2))],
        ],
    )
    plan = import_devices(
        agency=agency_a, data=data, filename="f.xlsx", actor=admin_a.user, dry_run=True
    )
    assert [(e.row, e.column) for e in plan.errors] == [(2, "iccid")]
    assert "format the ICCID column as text" in plan.errors[0].message


# --- API --------------------------------------------------------------------------------


def upload(persona, data: bytes, name: str = "fleet.csv", **fields):
    body = {"file": io.BytesIO(data), **fields}
    body["file"].name = name
    return persona.client.post("/api/devices/import", body)


def test_api_dry_run_previews_and_the_real_import_writes(catalog, agency_a, admin_a):
    data = GOOD_CSV.read_bytes()

    preview = upload(admin_a, data, dry_run="true")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert (body["dry_run"], body["imported"], body["is_valid"], body["created"]) == (
        True,
        False,
        True,
        3,
    )
    assert body["agency"] == "ksp"  # an agency admin's own agency by default
    assert Device.objects.count() == 0

    done = upload(admin_a, data, agency="ksp")
    assert done.status_code == 200, done.content
    assert done.json()["imported"] is True
    assert Device.objects.filter(agency=agency_a).count() == 3
    assert AuditRecord.objects.filter(action="import").count() == 1


def test_api_rejected_file_answers_422_with_every_row_and_column(catalog, agency_a, admin_a):
    response = upload(admin_a, BAD_CSV.read_bytes(), name="bad.csv", agency="ksp")

    assert response.status_code == 422
    body = response.json()
    assert "nothing was imported" in body["message"]
    assert {"field": "model", "row": 3, "column": "model"}.items() <= body["errors"][0].items()
    # Every problem of the file but row 5's (no other agency holds LEX-0001 here).
    assert len(body["errors"]) == 12
    assert Device.objects.count() == 0


def test_api_import_tenancy(catalog, agency_a, agency_b, state_staff, admin_a, viewer_a, admin_b):
    data = GOOD_CSV.read_bytes()

    assert upload(viewer_a, data, agency="ksp").status_code == 403
    assert (
        upload(admin_b, data, agency="ksp").status_code == 404
    )  # another agency: not even confirmed
    assert upload(state_staff, data).status_code == 422  # state staff must name the agency
    assert upload(state_staff, data, agency="no-such-agency").status_code == 404
    assert Device.objects.count() == 0

    assert upload(state_staff, data, agency="lex-pd").status_code == 200
    assert Device.objects.filter(agency=agency_b).count() == 3


def test_api_import_needs_a_token(catalog, agency_a, client):
    response = client.post("/api/devices/import", {"file": io.BytesIO(b"x"), "agency": "ksp"})
    assert response.status_code == 401


# --- command ----------------------------------------------------------------------------


def test_command_imports_a_good_file_and_exits_zero(catalog, agency_a, capsys):
    call_command("import_devices", str(GOOD_CSV), "--agency", "ksp")

    out = capsys.readouterr().out
    assert "3 were created" in out
    assert "Purchase Order" in out
    assert Device.objects.filter(agency=agency_a).count() == 3
    assert AuditRecord.objects.get(action="import").actor_name == "system"


def test_command_dry_run_writes_nothing(catalog, agency_a, capsys):
    call_command("import_devices", str(GOOD_CSV), "--agency", "ksp", "--dry-run")
    assert "3 would be created" in capsys.readouterr().out
    assert Device.objects.count() == 0


def test_command_reports_each_bad_row_and_exits_one(catalog, agency_a, capsys):
    with pytest.raises(CommandError) as failed:
        call_command("import_devices", str(BAD_CSV), "--agency", "ksp")

    assert failed.value.returncode == 1
    err = capsys.readouterr().err
    assert "row 6, imei:" in err
    assert "row 15, manufacturer:" in err
    assert Device.objects.count() == 0


def test_command_refuses_an_unknown_agency_or_missing_file(catalog, agency_a):
    with pytest.raises(CommandError, match="no agency"):
        call_command("import_devices", str(GOOD_CSV), "--agency", "nope")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_devices", "/nonexistent/devices.csv", "--agency", "ksp")
