"""Waivers need a second person: request, approve or reject, through the API, the pages and
the database, with the audit and the briefing's waiver list."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from openpyxl import load_workbook

from config.errors import Conflict
from devices.models import AuditRecord, User
from readiness.briefings.data import BriefingParams
from readiness.exports import build_briefing_export, request_briefing_export
from readiness.models import Waiver
from readiness.results import evaluate_fleet
from readiness.waivers import approve_waiver, request_waiver
from tests.conftest import make_persona
from tests.readiness.catalog_helpers import cjis_catalog, phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(agency_a):
    cjis = cjis_catalog(encryption_in_59=True)
    return {"v59": cjis.v59, "unenrolled": phone(agency_a, mdm=False), "ok": phone(agency_a)}


@pytest.fixture
def second_staff(db):
    return make_persona(username="cio-deputy", role=User.Role.STATE_STAFF, agency=None)


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def body_for(device_id, **kw):
    body = {
        "set": "cjis-mobile",
        "requirement_key": "cjis.mdm",
        "agency": "ksp",
        "device_id": device_id,
        "reason": "MDM licence on order",
        "expires_at": (timezone.now() + timedelta(days=30)).isoformat(),
    }
    body.update(kw)
    return body


def mdm_status(version, device):
    results = evaluate_fleet(version=version).results
    row = results[(results["device_id"] == device.pk) & (results["stable_key"] == "cjis.mdm")]
    return row["status"].item()


def test_a_request_is_pending_and_counts_only_once_another_state_staff_approves_it(
    catalog, admin_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    asked = post(admin_a.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk))
    assert asked.status_code == 201, asked.json()
    waiver = asked.json()
    assert (waiver["status"], waiver["state"]) == ("pending", "pending")
    assert waiver["requested_by"] == "ksp-admin"
    assert waiver["decided_by"] is None
    assert mdm_status(catalog["v59"], catalog["unenrolled"]) == "fail"
    pending = admin_a.client.get("/api/readiness/waivers?status=pending").json()
    assert [w["id"] for w in pending] == [waiver["id"]]
    assert admin_a.client.get("/api/readiness/waivers").json() == []  # none active yet

    approved = post(
        state_staff.client,
        f"/api/readiness/waivers/{waiver['id']}/approve",
        {"comment": "licences funded"},
    )
    assert approved.status_code == 200, approved.json()
    out = approved.json()
    assert (out["status"], out["state"]) == ("approved", "active")
    assert (out["requested_by"], out["decided_by"], out["approver"]) == (
        "ksp-admin",
        "cio-analyst",
        "cio-analyst",
    )
    assert out["decided_at"]
    assert out["requested_at"]
    assert out["decision_comment"] == "licences funded"
    assert mdm_status(catalog["v59"], catalog["unenrolled"]) == "waived"
    # Approving twice changes nothing.
    again = post(
        state_staff.client, f"/api/readiness/waivers/{waiver['id']}/approve", {"comment": "again"}
    )
    assert again.status_code == 409


def test_self_approval_is_refused_by_the_api_the_page_and_the_database(
    catalog, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    asked = post(state_staff.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk))
    waiver_id = asked.json()["id"]
    refused = post(
        state_staff.client, f"/api/readiness/waivers/{waiver_id}/approve", {"comment": "mine"}
    )
    assert refused.status_code == 403
    assert "You requested this waiver" in refused.json()["message"]
    page = state_staff.browser.post(
        f"/waivers/{waiver_id}/decide/", {"decision": "approve", "comment": "mine"}
    )
    assert page.status_code == 403
    assert "You requested this waiver, so you cannot approve it" in page.content.decode()
    assert Waiver.objects.get(pk=waiver_id).status == "pending"
    # Any other writer meets the constraint.
    waiver = Waiver.objects.get(pk=waiver_id)
    waiver.status = Waiver.Status.APPROVED
    waiver.decided_at = timezone.now()
    waiver.approved_by = state_staff.user
    with pytest.raises(IntegrityError), transaction.atomic():
        waiver.save()


def test_an_agency_admin_cannot_decide_and_another_agencys_waiver_is_404(
    catalog, admin_a, admin_b, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    asked = post(state_staff.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk))
    waiver_id = asked.json()["id"]
    for verb in ("approve", "reject"):
        refused = post(
            admin_a.client, f"/api/readiness/waivers/{waiver_id}/{verb}", {"comment": "ok"}
        )
        assert refused.status_code == 403
        assert "Only state staff approve or reject" in refused.json()["message"]
        assert (
            post(
                admin_b.client, f"/api/readiness/waivers/{waiver_id}/{verb}", {"comment": "ok"}
            ).status_code
            == 404
        )
    page = admin_a.browser.post(
        f"/waivers/{waiver_id}/decide/", {"decision": "approve", "comment": "ok"}
    )
    assert page.status_code == 403
    assert admin_b.browser.get(f"/waivers/{waiver_id}/").status_code == 404
    assert admin_a.browser.get("/waivers/pending/").status_code == 403
    assert Waiver.objects.get(pk=waiver_id).status == "pending"


def test_rejection_needs_a_comment_and_the_waiver_never_counts(
    catalog, admin_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    waiver_id = post(
        admin_a.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk)
    ).json()["id"]
    url = f"/api/readiness/waivers/{waiver_id}/reject"
    assert post(state_staff.client, url, {"comment": ""}).status_code == 422
    rejected = post(state_staff.client, url, {"comment": "fix the MDM instead"})
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["state"]) == ("rejected", "rejected")
    assert rejected.json()["decision_comment"] == "fix the MDM instead"
    assert mdm_status(catalog["v59"], catalog["unenrolled"]) == "fail"
    approve = post(
        state_staff.client, f"/api/readiness/waivers/{waiver_id}/approve", {"comment": "x"}
    )
    assert approve.status_code == 409
    # A rejected request no longer blocks a new one for the same device.
    again = post(admin_a.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk))
    assert again.status_code == 201


def test_each_step_is_one_audit_entry_with_before_and_after(
    catalog, admin_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    waiver_id = post(
        admin_a.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk)
    ).json()["id"]
    post(state_staff.client, f"/api/readiness/waivers/{waiver_id}/approve", {"comment": "ok"})
    post(state_staff.client, f"/api/readiness/waivers/{waiver_id}/revoke", {"reason": "fixed"})
    audit = list(
        AuditRecord.objects.filter(object_type="waiver", object_id=str(waiver_id)).order_by("id")
    )
    assert [(a.action, a.actor_name) for a in audit] == [
        ("create", "ksp-admin"),
        ("update", "cio-analyst"),
        ("revoke", "cio-analyst"),
    ]
    requested, approved, revoked = audit
    assert requested.after["status"] == "pending"
    assert requested.after["requested_by"] == admin_a.user.pk
    assert (approved.before["status"], approved.after["status"]) == ("pending", "approved")
    assert approved.before["decided_by"] is None
    assert approved.after["decided_by"] == state_staff.user.pk
    assert approved.message == "waiver approved: ok"
    assert (revoked.before["status"], revoked.after["status"]) == ("approved", "revoked")


def test_the_ceiling_is_checked_again_at_approval(
    catalog, agency_a, admin_a, state_staff, second_staff, settings
):
    # 2 phones from the fixture + 8 more = 10 phones x 2 requirements = 20 results; 4 fail MDM.
    settings.READINESS_WAIVER_CEILING = 0.10
    failing = [catalog["unenrolled"], *(phone(agency_a, mdm=False) for _ in range(3))]
    for _ in range(5):
        phone(agency_a)
    first, second, third = (
        request_waiver(
            actor=admin_a.user,
            agency=agency_a,
            set_code="cjis-mobile",
            requirement_key="cjis.mdm",
            device=device,
            reason="on order",
            expires_at=timezone.now() + timedelta(days=30),
        )
        for device in failing[:3]
    )
    # Each request alone fits (1 of 20): pending requests do not count towards the ceiling.
    approve_waiver(actor=state_staff.user, waiver_id=first.pk, comment="ok")
    approve_waiver(actor=second_staff.user, waiver_id=second.pk, comment="ok")  # 2 of 20: 10%
    with pytest.raises(Conflict, match="would now waive 3 of Kentucky State Police's 20"):
        approve_waiver(actor=state_staff.user, waiver_id=third.pk, comment="ok")
    assert Waiver.objects.get(pk=third.pk).status == "pending"
    # And a new request that would break it once approved is refused when it is made.
    with pytest.raises(Conflict, match="would waive 3 of"):
        request_waiver(
            actor=admin_a.user,
            agency=agency_a,
            set_code="cjis-mobile",
            requirement_key="cjis.mdm",
            device=failing[3],
            reason="on order",
            expires_at=timezone.now() + timedelta(days=30),
        )


def test_pending_page_decides_without_javascript(catalog, admin_a, state_staff, settings):
    settings.READINESS_WAIVER_CEILING = 0.5
    waiver_id = post(
        admin_a.client, "/api/readiness/waivers", body_for(catalog["unenrolled"].pk)
    ).json()["id"]
    html = state_staff.browser.get("/waivers/pending/").content.decode()
    assert f'<label for="comment-{waiver_id}">' in html
    assert 'name="decision" value="approve"' in html
    assert "Pending approval" in html  # the status is said in words, not only a colour
    done = state_staff.browser.post(
        f"/waivers/{waiver_id}/decide/", {"decision": "approve", "comment": "funded"}
    )
    assert done.status_code == 302
    detail = state_staff.browser.get(done["Location"]).content.decode()
    assert "ksp-admin" in detail
    assert "cio-analyst" in detail
    assert "funded" in detail
    assert "No waiver is waiting for approval." in (
        state_staff.browser.get("/waivers/pending/").content.decode()
    )


def test_the_briefing_lists_each_waiver_with_requester_approver_and_times(
    catalog, admin_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    approved = request_waiver(
        actor=admin_a.user,
        agency=catalog["unenrolled"].agency,
        set_code="cjis-mobile",
        requirement_key="cjis.mdm",
        device=catalog["unenrolled"],
        reason="on order",
        expires_at=timezone.now() + timedelta(days=30),
    )
    approve_waiver(actor=state_staff.user, waiver_id=approved.pk, comment="funded")
    request_waiver(
        actor=admin_a.user,
        agency=catalog["unenrolled"].agency,
        set_code="cjis-mobile",
        requirement_key="cjis.enc",
        reason="whole agency",
        expires_at=timezone.now() + timedelta(days=30),
    )
    export = request_briefing_export(
        requested_by=state_staff.user,
        fmt="xlsx",
        params=BriefingParams(scope="agency:ksp", set_code="cjis-mobile"),
    )
    done = build_briefing_export(export.pk)
    with done.file.open("rb") as fh:
        ws = load_workbook(io.BytesIO(fh.read()))["Waivers"]
    header = [c.value for c in ws[3]]
    rows = [
        dict(zip(header, row, strict=True))
        for row in ws.iter_rows(min_row=4, values_only=True)
        if any(row)
    ]
    assert [(r["Status"], r["Requested by"], r["Decided by"] or None) for r in rows] == [
        ("Approved", "ksp-admin", "cio-analyst"),
        ("Pending approval", "ksp-admin", None),
    ]
    assert rows[0]["Requested at"]
    assert rows[0]["Decided at"]
    assert rows[0]["Comment"] == "funded"
