"""The readiness API through HTTP with real tokens and the real database, with tenancy."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from devices.models import AuditRecord
from readiness.models import FederalExpectation, Waiver
from readiness.snapshots import compute_snapshots
from tests.readiness.catalog_helpers import cjis_catalog, phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(agency_a, agency_b):
    cjis_catalog(sections=True, v60_on=date(2030, 1, 1), v60_status="draft")
    return {
        "a_ok": phone(agency_a),
        "a_unenrolled": phone(agency_a, mdm=False),
        "a_plain": phone(agency_a, encrypted=False),
        "b_ok": phone(agency_b),
    }


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_sets_and_versions_are_listed(catalog, viewer_a):
    sets = viewer_a.client.get("/api/readiness/sets").json()
    assert sets[0]["code"] == "cjis-mobile"
    assert sets[0]["in_effect"] == "5.9"
    versions = viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions").json()
    assert [(v["version"], v["supersedes"]) for v in versions] == [("5.9", None), ("6.0", "5.9")]
    detail = viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions/6.0").json()
    assert [r["rule_text"] for r in detail["requirement_list"]] == [
        "enrolled in MDM",
        "encryption enabled",
    ]


def test_unknown_set_is_a_404_with_a_message(catalog, viewer_a):
    response = viewer_a.client.get("/api/readiness/scores?set=nope")
    assert response.status_code == 404
    assert "no requirement set 'nope'" in response.json()["message"]


def test_bad_query_values_are_422_naming_the_field(catalog, viewer_a):
    response = viewer_a.client.get(
        "/api/readiness/scores?set=cjis-mobile&group_by=planet&as_of=yesterday"
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"group_by", "as_of"} <= fields


def test_scores_are_scoped_to_the_callers_agency(catalog, viewer_a, state_staff):
    mine = viewer_a.client.get("/api/readiness/scores?set=cjis-mobile&group_by=agency").json()
    assert [r["group"] for r in mine["rows"]] == ["ksp"]
    # A fresh install: the first request records the first evaluation of record.
    assert mine["source"] == "evaluation"
    assert mine["evaluated_at"] is not None
    assert len(mine["data_hash"]) == 64
    assert mine["rows"][0]["ready"] == 2
    everyone = state_staff.client.get("/api/readiness/scores?set=cjis-mobile&group_by=state").json()
    assert everyone["rows"][0]["devices"] == 4


def test_another_agencys_device_and_agency_answer_404(catalog, viewer_a, admin_b):
    b_device = catalog["b_ok"].pk
    assert (
        viewer_a.client.get(
            f"/api/readiness/devices/{b_device}/results?set=cjis-mobile"
        ).status_code
        == 404
    )
    assert (
        viewer_a.client.get(
            "/api/readiness/agencies/lex-pd/failing-devices?set=cjis-mobile"
        ).status_code
        == 404
    )
    own = admin_b.client.get(f"/api/readiness/devices/{b_device}/results?set=cjis-mobile")
    assert own.status_code == 200
    assert own.json()["is_ready"] is True


def test_device_results_and_failing_devices_say_why(catalog, viewer_a):
    unenrolled = catalog["a_unenrolled"].pk
    body = viewer_a.client.get(
        f"/api/readiness/devices/{unenrolled}/results?set=cjis-mobile&version=6.0"
    ).json()
    statuses = {r["code"]: (r["status"], r["reason"]) for r in body["results"]}
    assert statuses == {"MDM-2": ("fail", "not enrolled in MDM"), "ENC-2": ("pass", "")}
    failing = viewer_a.client.get(
        "/api/readiness/agencies/ksp/failing-devices?set=cjis-mobile&version=6.0"
    ).json()
    assert {d["device_id"]: d["failing"] for d in failing["failing_devices"]} == {
        unenrolled: ["MDM-2: not enrolled in MDM"],
        catalog["a_plain"].pk: ["ENC-2: encryption not enabled"],
    }


def test_whatif_and_remediation(catalog, viewer_a):
    body = viewer_a.client.get("/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0").json()
    assert {c["key"]: c["change"] for c in body["changes"]} == {
        "cjis.enc": "added",
        "cjis.mdm": "renumbered",
    }
    assert [d["device_id"] for d in body["newly_failing_devices"]] == [catalog["a_plain"].pk]
    assert body["cost"]["total"] == "80.0"  # two configuration fixes at 40 USD
    assert body["plan"][-1]["readiness_after_pct"] == 100.0
    plan = viewer_a.client.get("/api/readiness/remediation?set=cjis-mobile").json()
    assert plan["version"] == "5.9"
    assert [s["description"] for s in plan["plan"]] == ["Enrol in mobile device management"]


def test_waiver_crud_with_tenancy_and_audit(
    catalog, state_staff, admin_a, viewer_a, admin_b, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    body = {
        "set": "cjis-mobile",
        "requirement_key": "cjis.mdm",
        "agency": "ksp",
        "device_id": catalog["a_unenrolled"].pk,
        "reason": "MDM licence on order",
        "expires_at": expires,
    }
    # An agency viewer cannot even request a waiver.
    assert post(viewer_a.client, "/api/readiness/waivers", body).status_code == 403
    # Another agency's device is not even confirmed to exist.
    assert (
        post(admin_b.client, "/api/readiness/waivers", {**body, "agency": "lex-pd"}).status_code
        == 404
    )
    created = post(admin_a.client, "/api/readiness/waivers", body)
    assert created.status_code == 201, created.json()
    waiver_id = created.json()["id"]
    assert created.json()["state"] == "pending"
    assert post(state_staff.client, "/api/readiness/waivers", body).status_code == 409
    approved = post(
        state_staff.client, f"/api/readiness/waivers/{waiver_id}/approve", {"comment": "ok"}
    )
    assert approved.json()["state"] == "active", approved.json()
    assert [w["id"] for w in viewer_a.client.get("/api/readiness/waivers").json()] == [waiver_id]
    assert admin_b.client.get("/api/readiness/waivers").json() == []
    assert admin_b.client.get(f"/api/readiness/waivers/{waiver_id}").status_code == 404
    results = viewer_a.client.get(
        f"/api/readiness/devices/{catalog['a_unenrolled'].pk}/results?set=cjis-mobile"
    ).json()
    assert results["results"][0]["status"] == "waived"
    assert results["results"][0]["waiver_id"] == waiver_id
    revoked = post(
        state_staff.client, f"/api/readiness/waivers/{waiver_id}/revoke", {"reason": "fixed"}
    )
    assert revoked.json()["state"] == "revoked"
    assert (
        post(
            state_staff.client, f"/api/readiness/waivers/{waiver_id}/revoke", {"reason": "again"}
        ).status_code
        == 409
    )
    assert set(
        AuditRecord.objects.filter(object_type="waiver").values_list("action", flat=True)
    ) == {"create", "update", "revoke"}


def test_waiver_over_the_ceiling_is_a_409_with_the_figures(catalog, state_staff, settings):
    settings.READINESS_WAIVER_CEILING = 0.05
    body = {
        "set": "cjis-mobile",
        "requirement_key": "cjis.mdm",
        "agency": "ksp",
        "reason": "whole agency",
        "expires_at": (timezone.now() + timedelta(days=30)).isoformat(),
    }
    response = post(state_staff.client, "/api/readiness/waivers", body)
    assert response.status_code == 409
    assert "above the ceiling of 5%" in response.json()["message"]
    assert Waiver.objects.count() == 0


def test_snapshots_trend_and_as_of(catalog, viewer_a):
    today = timezone.localdate()
    compute_snapshots(as_of=today - timedelta(days=2))
    compute_snapshots(as_of=today - timedelta(days=1))
    rows = viewer_a.client.get("/api/readiness/snapshots?set=cjis-mobile").json()
    assert {r["agency"] for r in rows} == {"ksp"}
    assert {r["date"] for r in rows} == {(today - timedelta(days=1)).isoformat()}
    trend = viewer_a.client.get("/api/readiness/trend?set=cjis-mobile").json()
    assert [p["ready"] for p in trend] == [2, 2]
    past = viewer_a.client.get(
        f"/api/readiness/scores?set=cjis-mobile&as_of={today - timedelta(days=2)}"
    ).json()
    assert past["source"] == "snapshot"
    assert (
        viewer_a.client.get("/api/readiness/trend?set=cjis-mobile&agency=lex-pd").status_code == 404
    )


def test_portfolio_is_for_state_staff(catalog, state_staff, viewer_a):
    assert (
        state_staff.client.get("/api/readiness/portfolios/justice").json()["cabinet"] == "justice"
    )
    assert viewer_a.client.get("/api/readiness/portfolios/justice").status_code == 403


def test_participation_endpoints(catalog, viewer_a, state_staff):
    FederalExpectation.objects.create(
        metric="agencies_subscribed",
        version="2024",
        target_value=0.5,
        target_by=date(2026, 12, 31),
        effective_from=date(2024, 1, 1),
        source="illustrative target",
        is_illustrative=True,
    )
    funnel = state_staff.client.get("/api/participation/funnel").json()
    assert funnel[0]["stages"][0] == {
        "stage": "eligible",
        "label": "Eligible agencies",
        "count": 2,
        "of": 2,
        "share": 1.0,
    }
    mine = viewer_a.client.get("/api/participation/funnel").json()
    assert mine[0]["stages"][0]["count"] == 1
    exp = state_staff.client.get("/api/participation/expectations?by=cabinet").json()
    assert exp["comparisons"][0]["is_illustrative"] is True
    history = state_staff.client.get(
        "/api/participation/history?start=2026-01-01&end=2026-03-01"
    ).json()
    assert [p["date"] for p in history["points"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert (
        state_staff.client.get(
            "/api/participation/history?start=2026-03-01&end=2026-01-01"
        ).status_code
        == 422
    )


def test_every_operation_requires_a_token(catalog, client):
    for url in (
        "/api/readiness/sets",
        "/api/readiness/scores?set=cjis-mobile",
        "/api/participation/funnel",
    ):
        assert client.get(url).status_code == 401
