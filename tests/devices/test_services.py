"""The inventory's write rules, called directly (the API tests cover the same rules over HTTP)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from devices import services
from devices.auth import user_for_token
from devices.models import (
    Agency,
    AuditRecord,
    Device,
    DeviceModel,
    DeviceStatusChange,
    FirstNetStatusChange,
    Gateway,
)
from tests.factories import (
    AgencyFactory,
    CabinetFactory,
    CellularDeviceModelFactory,
    DeviceModelFactory,
)

pytestmark = pytest.mark.django_db

IMEI = "490154203237518"
ICCID = "89014103211118510720"


def test_registering_a_device_keeps_its_first_lifecycle_entry_and_one_audit_record(
    agency_a, admin_a
):
    model = CellularDeviceModelFactory()
    device = services.register_device(
        actor=admin_a.user,
        agency=agency_a,
        model=model,
        serial=" SN-1 ",
        status="deployed",
        imei=IMEI,
        iccid=ICCID,
        network="firstnet",
        remote_addr="10.1.2.3",
    )
    assert device.serial == "SN-1"
    assert device.manufacturer == model.manufacturer
    change = DeviceStatusChange.objects.get(device=device)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "",
        "deployed",
        admin_a.user,
    )
    record = AuditRecord.objects.get()
    assert (record.action, record.object_type, record.object_id) == (
        "create",
        "device",
        str(device.pk),
    )
    assert record.agency_id == agency_a.pk
    assert record.remote_addr == "10.1.2.3"
    assert record.after["imei"] == IMEI
    assert record.before is None


def test_serial_is_unique_per_manufacturer_only(agency_a, agency_b):
    axon = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    motorola = DeviceModelFactory(manufacturer="Motorola", name="V700")
    services.register_device(actor=None, agency=agency_a, model=axon, serial="X1")
    services.register_device(actor=None, agency=agency_a, model=motorola, serial="X1")
    other_axon = DeviceModelFactory(manufacturer="Axon", name="Body 3")
    with pytest.raises(Conflict) as exc:
        services.register_device(actor=None, agency=agency_b, model=other_axon, serial="X1")
    assert exc.value.field == "serial"
    assert Device.objects.count() == 2
    assert AuditRecord.objects.count() == 2


def test_asset_tag_is_unique_per_agency(agency_a, agency_b):
    model = DeviceModelFactory()
    services.register_device(
        actor=None, agency=agency_a, model=model, serial="A1", asset_tag="KSP-0001"
    )
    services.register_device(
        actor=None, agency=agency_b, model=model, serial="B1", asset_tag="KSP-0001"
    )
    with pytest.raises(Conflict) as exc:
        services.register_device(
            actor=None, agency=agency_a, model=model, serial="A2", asset_tag="KSP-0001"
        )
    assert exc.value.field == "asset_tag"


def test_imei_and_iccid_are_unique(agency_a, agency_b):
    model = CellularDeviceModelFactory()
    services.register_device(
        actor=None, agency=agency_a, model=model, serial="A1", imei=IMEI, iccid=ICCID
    )
    with pytest.raises(Conflict) as exc:
        services.register_device(actor=None, agency=agency_b, model=model, serial="B1", imei=IMEI)
    assert exc.value.field == "imei"
    with pytest.raises(Conflict) as exc:
        services.register_device(actor=None, agency=agency_b, model=model, serial="B2", iccid=ICCID)
    assert exc.value.field == "iccid"


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"imei": IMEI}, "imei"), ({"iccid": ICCID}, "iccid"), ({"network": "firstnet"}, "network")],
)
def test_a_model_without_a_radio_has_no_cellular_identity(agency_a, fields, field):
    model = DeviceModelFactory(is_cellular=False)
    with pytest.raises(InvalidInput) as exc:
        services.register_device(actor=None, agency=agency_a, model=model, serial="S1", **fields)
    assert exc.value.field == field
    assert not Device.objects.exists()


def test_status_changes_are_kept_with_their_time(agency_a, admin_a):
    device = services.register_device(
        actor=admin_a.user, agency=agency_a, model=DeviceModelFactory(), serial="S1"
    )
    first_changed_at = device.status_changed_at
    device = services.change_device_status(actor=admin_a.user, device=device, status="deployed")
    device = services.change_device_status(
        actor=admin_a.user, device=device, status="in_repair", note="cracked"
    )
    history = list(
        DeviceStatusChange.objects.filter(device=device).values_list("from_status", "to_status")
    )
    assert history == [("", "in_stock"), ("in_stock", "deployed"), ("deployed", "in_repair")]
    assert device.status_changed_at > first_changed_at
    assert AuditRecord.objects.filter(object_id=str(device.pk)).count() == 3
    last = AuditRecord.objects.filter(object_id=str(device.pk)).first()
    assert (last.before["status"], last.after["status"], last.message) == (
        "deployed",
        "in_repair",
        "cracked",
    )


def test_a_retired_device_does_not_return_to_service(agency_a):
    device = services.register_device(
        actor=None, agency=agency_a, model=DeviceModelFactory(), serial="S1"
    )
    device = services.retire_device(actor=None, device=device, note="end of life")
    assert device.status == Device.Status.RETIRED
    with pytest.raises(Conflict):
        services.change_device_status(actor=None, device=device, status="deployed")
    with pytest.raises(Conflict):
        services.retire_device(actor=None, device=device)
    assert Device.objects.get(pk=device.pk).status == "retired"


def test_a_retired_devices_record_stays_as_it_left_service_but_its_notes(agency_a):
    device = services.register_device(
        actor=None, agency=agency_a, model=DeviceModelFactory(), serial="S1"
    )
    device = services.update_device(actor=None, device=device, changes={"assigned_unit": "Post 3"})
    device = services.retire_device(actor=None, device=device, note="end of life")
    with pytest.raises(Conflict, match="S1 is retired"):
        services.update_device(actor=None, device=device, changes={"assigned_unit": "Post 9"})
    # The same value again is no change; a note is about the device now, not that day.
    services.update_device(actor=None, device=device, changes={"assigned_unit": "Post 3"})
    services.update_device(actor=None, device=device, changes={"notes": "sent to recycler"})
    device.refresh_from_db()
    assert (device.assigned_unit, device.notes) == ("Post 3", "sent to recycler")


def test_update_is_all_or_nothing(agency_a):
    model = CellularDeviceModelFactory()
    device = services.register_device(actor=None, agency=agency_a, model=model, serial="S1")
    with pytest.raises(InvalidInput):
        services.update_device(
            actor=None,
            device=device,
            changes={"assigned_unit": "Post 3", "imei": "490154203237519"},
        )
    device.refresh_from_db()
    assert device.assigned_unit == ""
    assert AuditRecord.objects.count() == 1


def test_only_a_device_registered_by_mistake_can_be_deleted(agency_a):
    model = DeviceModelFactory()
    mistake = services.register_device(actor=None, agency=agency_a, model=model, serial="S1")
    used = services.register_device(actor=None, agency=agency_a, model=model, serial="S2")
    used = services.change_device_status(actor=None, device=used, status="deployed")
    used = services.change_device_status(actor=None, device=used, status="in_stock")
    with pytest.raises(Conflict, match="retire it instead"):
        services.delete_device(actor=None, device=used)
    services.delete_device(actor=None, device=mistake)
    assert list(Device.objects.values_list("serial", flat=True)) == ["S2"]
    record = AuditRecord.objects.filter(action="delete").get()
    assert record.before["serial"] == "S1"


def test_a_device_that_reported_telemetry_is_not_deleted(agency_a):
    from telemetry.models import TelemetryReading

    device = services.register_device(
        actor=None, agency=agency_a, model=DeviceModelFactory(), serial="S1"
    )
    now = timezone.now()
    TelemetryReading.objects.create(device=device, ts=now, received_at=now, battery_pct=80)
    with pytest.raises(Conflict):
        services.delete_device(actor=None, device=device)


def test_a_new_manufacturer_is_copied_to_the_models_devices(agency_a):
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    services.register_device(actor=None, agency=agency_a, model=model, serial="S1")
    services.update_device_model(
        actor=None, model=model, changes={"manufacturer": "Axon Enterprise"}
    )
    assert Device.objects.get().manufacturer == "Axon Enterprise"


def test_a_new_manufacturer_may_not_collide_with_its_serials(agency_a):
    axon = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    moto = DeviceModelFactory(manufacturer="Motorola", name="V700")
    services.register_device(actor=None, agency=agency_a, model=axon, serial="S1")
    services.register_device(actor=None, agency=agency_a, model=moto, serial="S1")
    with pytest.raises(Conflict) as exc:
        services.update_device_model(actor=None, model=axon, changes={"manufacturer": "Motorola"})
    assert exc.value.field == "manufacturer"
    assert DeviceModel.objects.get(pk=axon.pk).manufacturer == "Axon"


def test_catalog_name_is_unique_per_manufacturer():
    services.create_device_model(actor=None, manufacturer="Axon", name="Body 4", kind="body_camera")
    with pytest.raises(Conflict):
        services.create_device_model(
            actor=None, manufacturer="Axon", name="Body 4", kind="body_camera"
        )


def test_a_model_in_use_is_not_deleted(agency_a):
    model = DeviceModelFactory()
    services.register_device(actor=None, agency=agency_a, model=model, serial="S1")
    with pytest.raises(Conflict):
        services.delete_device_model(actor=None, model=model)


def test_firstnet_status_changes_are_kept_with_their_date(state_staff):
    cabinet = CabinetFactory(slug="justice")
    agency = services.create_agency(
        actor=state_staff.user,
        slug="frankfort-pd",
        name="Frankfort Police",
        kind="police",
        cabinet=cabinet,
        firstnet_status="evaluating",
        firstnet_status_changed_on=dt.date(2024, 3, 1),
    )
    agency = services.update_agency(
        actor=state_staff.user,
        agency=agency,
        changes={"county": "Franklin"},
        firstnet_status="subscribed",
        firstnet_status_changed_on=dt.date(2025, 1, 15),
        firstnet_note="contract signed",
    )
    assert (agency.firstnet_status, agency.firstnet_status_changed_on) == (
        "subscribed",
        dt.date(2025, 1, 15),
    )
    history = list(
        FirstNetStatusChange.objects.filter(agency=agency).values_list(
            "status", "changed_on", "note"
        )
    )
    assert history == [
        ("evaluating", dt.date(2024, 3, 1), "initial status"),
        ("subscribed", dt.date(2025, 1, 15), "contract signed"),
    ]
    assert AuditRecord.objects.filter(object_type="agency").count() == 2


@pytest.mark.parametrize(
    "changed_on", [dt.date(2023, 1, 1), dt.date.today() + dt.timedelta(days=2)]
)
def test_firstnet_change_date_must_be_between_the_last_change_and_today(changed_on):
    agency = AgencyFactory(
        firstnet_status="evaluating", firstnet_status_changed_on=dt.date(2024, 3, 1)
    )
    with pytest.raises(InvalidInput) as exc:
        services.update_agency(
            actor=None,
            agency=agency,
            changes={},
            firstnet_status="pilot",
            firstnet_status_changed_on=changed_on,
        )
    assert exc.value.field == "firstnet_status_changed_on"
    assert Agency.objects.get(pk=agency.pk).firstnet_status == "evaluating"


def test_gateway_credential_is_stored_only_as_a_hash(agency_a):
    gateway, secret = services.create_gateway(actor=None, agency=agency_a, name="post-12")
    stored = Gateway.objects.get(pk=gateway.pk).credential_hash
    assert secret not in stored
    assert check_password(secret, stored)
    assert secret not in str(AuditRecord.objects.get().after)
    _, new_secret = services.rotate_gateway_credential(actor=None, gateway=gateway)
    assert not services.gateway_credential_is_valid(Gateway.objects.get(pk=gateway.pk), secret)
    assert services.gateway_credential_is_valid(Gateway.objects.get(pk=gateway.pk), new_secret)


def test_gateway_name_is_unique_per_agency(agency_a, agency_b):
    services.create_gateway(actor=None, agency=agency_a, name="hq")
    services.create_gateway(actor=None, agency=agency_b, name="hq")
    with pytest.raises(Conflict) as exc:
        services.create_gateway(actor=None, agency=agency_a, name="hq")
    assert exc.value.field == "name"


def test_a_revoked_token_authenticates_no_one(viewer_a):
    row, token = services.create_api_token(actor=viewer_a.user, user=viewer_a.user, name="laptop")
    assert user_for_token(token, now=row.created_at) == viewer_a.user
    services.revoke_api_token(actor=viewer_a.user, token=row)
    assert user_for_token(token, now=row.created_at) is None
    with pytest.raises(Conflict):
        services.revoke_api_token(actor=viewer_a.user, token=row)
    actions = list(
        AuditRecord.objects.order_by("id").values_list("action", "object_type", "agency_id")
    )
    assert actions == [
        ("create", "apitoken", viewer_a.user.agency_id),
        ("revoke", "apitoken", viewer_a.user.agency_id),
    ]
    assert token not in str(list(AuditRecord.objects.values("before", "after")))


def test_a_gateway_secret_from_the_api_works_for_https_and_for_the_broker_password_file(admin_a):
    from devices.credentials import check_mosquitto_hash

    response = admin_a.client.post(
        "/api/gateways", {"agency": "ksp", "name": "post-7"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    gateway = Gateway.objects.get(agency__slug="ksp", name="post-7")
    assert services.gateway_credential_is_valid(gateway, secret)
    assert check_mosquitto_hash(secret, gateway.broker_password_hash)
