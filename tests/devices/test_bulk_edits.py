"""Bulk edits: preview, then one transaction and one audit record; refused whole, with reasons.

Through the list page's forms (no JavaScript) and POST /api/devices/bulk, which share
`devices.bulk_edits`; tenancy as everywhere: another agency's ids are not found, a viewer
writing is refused.
"""

from __future__ import annotations

import pytest

from devices import bulk_edits
from devices.models import AuditRecord, Device, DeviceStatusChange
from tests.factories import DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(agency_a, agency_b):
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    ksp = [
        DeviceFactory(
            agency=agency_a,
            model=model,
            serial=f"KSP-SN-{n}",
            asset_tag=f"KSP-{n:04d}",
            status="deployed",
        )
        for n in range(1, 6)
    ]
    retired = DeviceFactory(
        agency=agency_a, model=model, serial="KSP-OLD", asset_tag="KSP-9999", status="retired"
    )
    lex = DeviceFactory(agency=agency_b, model=model, serial="LEX-SN-1", status="deployed")
    return {"ksp": ksp, "retired": retired, "lex": lex}


def _ids(devices) -> str:
    return ",".join(str(d.pk) for d in devices)


def _bulk_records():
    return AuditRecord.objects.filter(object_repr__endswith="(bulk edit)")


def test_the_preview_lists_each_device_before_and_after_and_writes_nothing(admin_a, fleet):
    response = admin_a.browser.get(
        "/devices/bulk/",
        {"ids": [d.pk for d in fleet["ksp"]], "action": "status", "new_status": "in_repair"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    for device in fleet["ksp"]:
        assert device.asset_tag in page
    assert page.count("Deployed") == 5
    assert page.count("In repair") >= 5
    assert "Confirm bulk edit" in page
    assert not Device.objects.filter(status="in_repair").exists()
    assert not _bulk_records().exists()


def test_confirming_changes_every_device_in_one_transaction_with_one_audit_record(admin_a, fleet):
    response = admin_a.browser.post(
        "/devices/bulk/apply/",
        {"ids": _ids(fleet["ksp"]), "action": "status", "new_status": "in_repair"},
    )
    assert response.status_code == 302
    assert set(Device.objects.filter(status="in_repair")) == set(fleet["ksp"])
    record = _bulk_records().get()
    assert record.actor == admin_a.user
    assert record.agency_id == fleet["ksp"][0].agency_id
    assert record.before == {f"{d.pk} {d.asset_tag}": "deployed" for d in fleet["ksp"]}
    assert record.after == {f"{d.pk} {d.asset_tag}": "in_repair" for d in fleet["ksp"]}
    # The lifecycle history of each device shows the move, as a single change would.
    assert DeviceStatusChange.objects.filter(to_status="in_repair").count() == 5


def test_the_same_bulk_edit_applied_twice_changes_and_records_once(admin_a, fleet):
    form = {"ids": _ids(fleet["ksp"]), "action": "unit", "new_unit": "Post 12"}
    admin_a.browser.post("/devices/bulk/apply/", form)
    admin_a.browser.post("/devices/bulk/apply/", form)
    assert _bulk_records().count() == 1
    assert set(Device.objects.filter(assigned_unit="Post 12")) == set(fleet["ksp"])


def test_a_bulk_edit_including_a_retired_device_changes_nothing_and_names_it(admin_a, fleet):
    chosen = [*fleet["ksp"], fleet["retired"]]
    preview = admin_a.browser.get(
        "/devices/bulk/", {"ids": _ids(chosen), "action": "status", "new_status": "in_stock"}
    )
    assert "KSP-OLD is retired" in preview.content.decode()
    assert "Confirm bulk edit" not in preview.content.decode()
    response = admin_a.browser.post(
        "/devices/bulk/apply/", {"ids": _ids(chosen), "action": "mdm", "new_flag": "yes"}
    )
    assert response.status_code == 409
    assert "KSP-OLD is retired" in response.content.decode()
    assert not Device.objects.filter(is_mdm_enrolled=True).exists()
    assert not _bulk_records().exists()


def test_retiring_a_retired_device_again_is_refused_whole(admin_a, fleet):
    response = admin_a.client.post(
        "/api/devices/bulk",
        {"ids": [fleet["ksp"][0].pk, fleet["retired"].pk], "action": "retire"},
        content_type="application/json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["errors"] == [{"field": "status", "message": "Device KSP-OLD is already retired."}]
    assert Device.objects.get(pk=fleet["ksp"][0].pk).status == "deployed"


def test_a_network_a_model_without_a_radio_cannot_have_is_refused(admin_a, fleet):
    response = admin_a.client.post(
        "/api/devices/bulk",
        {"ids": [fleet["ksp"][0].pk], "action": "network", "network": "firstnet"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "not a cellular model" in response.json()["message"]


def test_all_devices_matching_the_filter_can_be_selected_without_ticking_them(admin_a, fleet):
    response = admin_a.browser.post(
        "/devices/bulk/apply/",
        {"scope": "filter", "q": "KSP-SN", "action": "encryption", "new_flag": "yes"},
    )
    assert response.status_code == 302
    assert set(Device.objects.filter(is_encryption_enabled=True)) == set(fleet["ksp"])


def test_the_api_previews_with_dry_run_then_applies(admin_a, fleet):
    body = {"ids": [d.pk for d in fleet["ksp"]], "action": "status", "status": "lost"}
    preview = admin_a.client.post(
        "/api/devices/bulk", {**body, "dry_run": True}, content_type="application/json"
    )
    assert preview.status_code == 200
    assert preview.json()["changed"] == 5
    assert preview.json()["applied"] is False
    assert preview.json()["devices"][0]["before"] == "deployed"
    assert not Device.objects.filter(status="lost").exists()
    applied = admin_a.client.post("/api/devices/bulk", body, content_type="application/json")
    assert applied.status_code == 200
    assert applied.json()["audit_id"] == _bulk_records().get().pk
    assert Device.objects.filter(status="lost").count() == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "status", "status": "lost"}, "either ids"),
        ({"ids": [], "action": "status", "status": "lost"}, "No devices are selected"),
        ({"ids": [1], "action": "status"}, "Choose the new status"),
        ({"ids": [1], "action": "status", "status": "retired"}, "retire action"),
        ({"ids": [1], "action": "mdm"}, "on (yes) or off (no)"),
    ],
)
def test_bad_bulk_input_is_a_json_error_that_says_what_to_fix(admin_a, fleet, body, message):
    response = admin_a.client.post("/api/devices/bulk", body, content_type="application/json")
    assert response.status_code == 422
    assert message in response.json()["message"]
    assert not _bulk_records().exists()


def test_more_devices_than_a_request_may_change_is_refused_with_the_limit(
    admin_a, fleet, monkeypatch
):
    monkeypatch.setattr(bulk_edits, "MAX_DEVICES", 3)
    response = admin_a.browser.get(
        "/devices/bulk/", {"scope": "filter", "action": "status", "new_status": "lost"}
    )
    assert response.status_code == 422
    assert "takes at most 3 devices; this selection has 6" in response.content.decode()


# --- tenancy ---------------------------------------------------------------------------


def test_another_agencys_device_in_a_bulk_edit_is_not_found_and_nothing_changes(admin_b, fleet):
    lex, ksp = fleet["lex"], fleet["ksp"][0]
    page = admin_b.browser.post(
        "/devices/bulk/apply/", {"ids": f"{lex.pk},{ksp.pk}", "action": "unit", "new_unit": "X"}
    )
    api = admin_b.client.post(
        "/api/devices/bulk",
        {"ids": [lex.pk, ksp.pk], "action": "unit", "unit": "X"},
        content_type="application/json",
    )
    assert page.status_code == 404
    assert api.status_code == 404
    assert f"not visible to you: {ksp.pk}." in api.json()["message"]
    # Named by id only: nothing about the other agency's device is told.
    assert ksp.serial not in page.content.decode()
    assert ksp.serial not in api.json()["message"]
    assert not Device.objects.filter(assigned_unit="X").exists()


def test_a_viewer_may_not_bulk_edit(viewer_a, fleet):
    ids = [d.pk for d in fleet["ksp"]]
    page = viewer_a.browser.get("/devices/bulk/", {"ids": ids, "action": "retire"})
    apply = viewer_a.browser.post(
        "/devices/bulk/apply/", {"ids": _ids(fleet["ksp"]), "action": "retire"}
    )
    api = viewer_a.client.post(
        "/api/devices/bulk", {"ids": ids, "action": "retire"}, content_type="application/json"
    )
    assert (page.status_code, apply.status_code, api.status_code) == (403, 403, 403)
    assert "can read this agency's inventory but not change it" in api.json()["message"]
    assert not Device.objects.filter(status="retired").exclude(pk=fleet["retired"].pk).exists()


def test_state_staff_bulk_edit_across_agencies_in_one_record(state_staff, fleet):
    chosen = [fleet["ksp"][0], fleet["lex"]]
    response = state_staff.client.post(
        "/api/devices/bulk",
        {"ids": [d.pk for d in chosen], "action": "unit", "unit": "Statewide pool"},
        content_type="application/json",
    )
    assert response.status_code == 200
    record = _bulk_records().get()
    # Two agencies: the record belongs to neither, so it is state staff's to read.
    assert record.agency_id is None
    assert len(record.after) == 2


def test_the_list_offers_bulk_actions_to_writers_only(admin_a, viewer_a, fleet):
    assert 'id="bulk-form"' in admin_a.browser.get("/devices/").content.decode()
    assert 'id="bulk-form"' not in viewer_a.browser.get("/devices/").content.decode()
