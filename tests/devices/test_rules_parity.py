"""The API and the bulk import apply the same device rules: same verdict, same words.

Each case goes through the HTTP API (a real bearer token, the real database) and through a
real CSV file imported by `devices.importing.import_devices`; both must accept it, storing
the same digits, or both refuse it on the same field with the same message.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction

from devices.importing import ImportRejected, import_devices
from devices.models import Device, DeviceModel
from tests.conftest import Persona
from tests.factories import (
    CellularDeviceModelFactory,
    DeviceFactory,
    DeviceModelFactory,
    luhn_complete,
)

pytestmark = pytest.mark.django_db

IMEI = luhn_complete("35209900000001")  # 352099000000014
ICCID = luhn_complete("8901410000000000001")  # 89014100000000000012
# Held by devices already in the inventory (see the ``fleet`` fixture).
IMEI_A, IMEI_B = luhn_complete("35209900000002"), luhn_complete("35209900000003")
ICCID_B = luhn_complete("8901410000000000002")


@dataclass(frozen=True)
class Case:
    fields: dict[str, str]
    refused_on: str | None = None  # the field both must name; None when both accept
    model: str = "phone"
    serial: str = "NEW-1"
    stored: dict[str, str] = dataclasses.field(default_factory=dict)
    existing: bool = False  # a change to a device already registered (PATCH / an update row)


CASES = {
    "imei digits": Case({"imei": IMEI}, stored={"imei": IMEI}),
    "imei with spaces": Case({"imei": "35 209900 000001 4"}, stored={"imei": IMEI}),
    "imei with dashes": Case({"imei": "35-209900-000001-4"}, stored={"imei": IMEI}),
    "imei with a letter": Case({"imei": "35209900000001A"}, refused_on="imei"),
    "imei wrong check digit": Case({"imei": IMEI[:-1] + "5"}, refused_on="imei"),
    "imei too short": Case({"imei": IMEI[:-1]}, refused_on="imei"),
    "imei too long": Case({"imei": IMEI + "0"}, refused_on="imei"),
    "imei in scientific notation": Case({"imei": "3.52099E+14"}, refused_on="imei"),
    "iccid with spaces": Case({"iccid": "8901 4100 0000 0000 0012"}, stored={"iccid": ICCID}),
    "iccid wrong check digit": Case({"iccid": ICCID[:-1] + "3"}, refused_on="iccid"),
    "iccid too short": Case({"iccid": ICCID[:18]}, refused_on="iccid"),
    "imei on a model without a radio": Case({"imei": IMEI}, refused_on="imei", model="camera"),
    "firstnet on a model without a radio": Case(
        {"network": "firstnet"}, refused_on="network", model="camera"
    ),
    "serial of another agency's device": Case({}, refused_on="serial", serial="TAKEN-B"),
    "asset tag used in the agency": Case({"asset_tag": "KSP-9"}, refused_on="asset_tag"),
    "imei of a device of the agency": Case({"imei": IMEI_A}, refused_on="imei"),
    "imei of another agency's device": Case({"imei": IMEI_B}, refused_on="imei"),
    "iccid of another agency's device": Case({"iccid": ICCID_B}, refused_on="iccid"),
    "retired back to deployed": Case(
        {"status": "deployed"}, refused_on="status", serial="A-R", existing=True
    ),
    "retired device moved to another unit": Case(
        {"assigned_unit": "Post 9"}, refused_on="status", serial="A-R", existing=True
    ),
    "retired device's notes": Case(
        {"notes": "sent to recycler"},
        serial="A-R",
        existing=True,
        stored={"notes": "sent to recycler"},
    ),
}


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    field: str | None = None
    message: str = ""
    stored: dict[str, str] = dataclasses.field(default_factory=dict)


@pytest.fixture
def fleet(agency_a, agency_b) -> dict[str, DeviceModel]:
    phone = CellularDeviceModelFactory(manufacturer="Sonim", name="XP10")
    camera = DeviceModelFactory(manufacturer="Axon", name="Body 4", is_cellular=False)
    DeviceFactory(agency=agency_a, model=phone, serial="A-1", asset_tag="KSP-9", imei=IMEI_A)
    DeviceFactory(agency=agency_a, model=phone, serial="A-R", status="retired")
    DeviceFactory(agency=agency_b, model=phone, serial="TAKEN-B", imei=IMEI_B, iccid=ICCID_B)
    return {"phone": phone, "camera": camera}


def through_api(persona: Persona, case: Case, model: DeviceModel) -> Verdict:
    if case.existing:
        device = Device.objects.get(manufacturer=model.manufacturer, serial=case.serial)
        response = persona.client.patch(
            f"/api/devices/{device.pk}", case.fields, content_type="application/json"
        )
    else:
        body = {"model_id": model.pk, "serial": case.serial, **case.fields}
        response = persona.client.post("/api/devices", body, content_type="application/json")
    if response.status_code in (200, 201):
        return Verdict(True, stored={k: response.json()[k] for k in case.stored})
    assert response.status_code in (409, 422), response.content
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return Verdict(False, errors[0]["field"], errors[0]["message"])


def through_import(persona: Persona, case: Case, model: DeviceModel, path: Path) -> Verdict:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["serial", "manufacturer", "model", *case.fields])
        writer.writerow([case.serial, model.manufacturer, model.name, *case.fields.values()])
    # Undone afterwards, so the API meets the same inventory whichever path runs first.
    savepoint = transaction.savepoint()
    try:
        import_devices(
            agency=persona.user.agency,
            data=path.read_bytes(),
            filename=path.name,
            actor=persona.user,
            dry_run=False,
        )
    except ImportRejected as rejected:
        errors = rejected.plan.errors
    else:
        errors = []
        device = Device.objects.values(*case.stored).get(
            manufacturer=model.manufacturer, serial=case.serial
        )
    finally:
        transaction.savepoint_rollback(savepoint)
    if not errors:
        return Verdict(True, stored=dict(device))
    assert len(errors) == 1, errors
    assert errors[0].row == 2
    return Verdict(False, errors[0].column, errors[0].message)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_api_and_import_give_the_same_verdict_and_message(fleet, admin_a, tmp_path, case):
    model = fleet[case.model]

    imported = through_import(admin_a, case, model, tmp_path / "devices.csv")
    answered = through_api(admin_a, case, model)

    assert imported == answered
    assert answered.accepted is (case.refused_on is None)
    assert answered.field == case.refused_on
    assert answered.stored == case.stored


def through_page(persona: Persona, case: Case, model: DeviceModel) -> Verdict:
    """The device form of /devices/new/ (a lifecycle change has its own form: not here)."""
    form = {"agency": "ksp", "model": model.pk, "serial": case.serial, "status": "in_stock"}
    form = {"network": "none", **form, **case.fields}
    savepoint = transaction.savepoint()
    try:
        response = persona.browser.post("/devices/new/", form)
        if response.status_code == 302:
            device = Device.objects.values(*case.stored).get(
                manufacturer=model.manufacturer, serial=case.serial
            )
            return Verdict(True, stored=dict(device))
    finally:
        transaction.savepoint_rollback(savepoint)
    errors = response.context["form"].errors
    assert len(errors) == 1, errors
    [(field, [message])] = errors.items()
    return Verdict(False, field, message)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES.values() if not c.existing],
    ids=[k for k, c in CASES.items() if not c.existing],
)
def test_the_device_form_gives_the_api_verdict_and_message(fleet, admin_a, case):
    model = fleet[case.model]

    shown = through_page(admin_a, case, model)
    answered = through_api(admin_a, case, model)

    assert shown == answered
