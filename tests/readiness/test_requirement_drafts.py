"""Requirement sets maintained in the product: drafts, edits, publication, immutability, files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from config.errors import InvalidInput
from devices.models import AuditRecord
from readiness import drafts
from readiness.loader import RequirementFileError, load_requirements
from readiness.models import (
    PublishedVersionError,
    Requirement,
    RequirementRemoval,
    RequirementSet,
    RequirementSetVersion,
)
from readiness.requirement_export import export_version
from readiness.results import resolve_version
from readiness.whatif import compare_versions
from tests.readiness.catalog_helpers import ENCRYPTION, MDM, cjis_catalog, phone

pytestmark = pytest.mark.django_db

FIRMWARE = {"attr": "device.firmware", "op": ">=", "value": "3.2.1"}
NEW_REQUIREMENT = {
    "key": "cjis.fw",
    "code": "FW-1",
    "section": "5.20.5",
    "title": "Firmware at least 3.2.1",
    "explanation": "Devices run supported firmware.",
    "applies_to": ["smartphone"],
    "weight": 2,
    "due_on": "2031-03-01",
    "rule": FIRMWARE,
}


@pytest.fixture
def fleet(agency_a, agency_b):
    catalog = cjis_catalog(encryption_in_59=True)
    return {
        "catalog": catalog,
        "current": phone(agency_a, firmware="3.3"),
        "old_fw": phone(agency_a, firmware="3.0"),
        "b_unencrypted": phone(agency_b, firmware="3.3", encrypted=False),
    }


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def put(client, url, body):
    return client.put(url, data=json.dumps(body), content_type="application/json")


def make_draft(state_staff, number="6.0"):
    response = post(
        state_staff.client, "/api/readiness/drafts", {"set": "cjis-mobile", "version": number}
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_draft_copies_the_version_in_effect(fleet, state_staff):
    draft = make_draft(state_staff)
    assert (draft["status"], draft["supersedes"]) == ("draft", "5.9")
    assert {r["key"]: r["relation"] for r in draft["requirements"]} == {
        "cjis.mdm": "same",
        "cjis.enc": "same",
    }
    record = AuditRecord.objects.get(object_type="requirementsetversion", action="create")
    assert record.after["requirements"] == ["cjis.enc", "cjis.mdm"]


def test_a_bad_rule_is_refused_next_to_its_field_and_nothing_is_written(fleet, state_staff):
    draft = make_draft(state_staff)
    bad = {
        **NEW_REQUIREMENT,
        "rule": {"attr": "device.colour", "op": "==", "value": "red"},
        "weight": 0,
    }
    response = post(state_staff.client, f"/api/readiness/drafts/{draft['id']}/requirements", bad)
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert "device.colour" in fields["rule"]
    assert fields["weight"] == "weight must be at least 1, got 0"
    assert not Requirement.objects.filter(key="cjis.fw").exists()


def test_requirements_are_added_changed_and_removed_with_audit(fleet, state_staff):
    draft = make_draft(state_staff)
    base = f"/api/readiness/drafts/{draft['id']}/requirements"
    added = post(state_staff.client, base, NEW_REQUIREMENT)
    assert added.status_code == 201, added.content
    assert (added.json()["relation"], added.json()["due_on"]) == ("new", "2031-03-01")
    changed = put(
        state_staff.client,
        f"{base}/cjis.mdm",
        {**_as_input(Requirement.objects.get(version_id=draft["id"], key="cjis.mdm")), "weight": 5},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["relation"] == "tightened"
    assert state_staff.client.delete(f"{base}/cjis.enc").status_code == 204
    assert RequirementRemoval.objects.get(version_id=draft["id"]).key == "cjis.enc"
    records = AuditRecord.objects.filter(object_type="requirement").order_by("id")
    assert [r.action for r in records] == ["create", "update", "delete"]
    assert (records[1].before["weight"], records[1].after["weight"]) == (1, 5)
    assert records[2].before["key"] == "cjis.enc"
    assert records[2].after is None


def _as_input(req: Requirement) -> dict:
    return {name: getattr(req, name) for name in drafts.EDITABLE if getattr(req, name) is not None}


def test_preview_gives_each_requirements_pass_rate_on_todays_fleet(fleet, state_staff):
    draft = make_draft(state_staff)
    post(state_staff.client, f"/api/readiness/drafts/{draft['id']}/requirements", NEW_REQUIREMENT)
    rates = {
        r["key"]: r
        for r in state_staff.client.get(f"/api/readiness/drafts/{draft['id']}/preview").json()
    }
    assert (rates["cjis.fw"]["passing"], rates["cjis.fw"]["failing"]) == (2, 1)
    assert rates["cjis.enc"]["pass_pct"] == pytest.approx(66.7)


def test_future_effective_date_takes_over_on_that_date_and_the_whatif_matches(
    fleet, state_staff, clock
):
    draft = make_draft(state_staff)
    post(state_staff.client, f"/api/readiness/drafts/{draft['id']}/requirements", NEW_REQUIREMENT)
    takes_over = clock.today + timedelta(days=10)
    published = post(
        state_staff.client,
        f"/api/readiness/drafts/{draft['id']}/publish",
        {"effective_on": takes_over.isoformat()},
    )
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert resolve_version("cjis-mobile", on=clock.today).version == "5.9"
    assert resolve_version("cjis-mobile", on=takes_over - timedelta(days=1)).version == "5.9"
    assert resolve_version("cjis-mobile", on=takes_over).version == "6.0"
    result = compare_versions(
        agency_ids=None, set_code="cjis-mobile", from_version="5.9", to_version="6.0", now=clock.now
    )
    assert {c.key: c.change for c in result.changes if c.change != "same"} == {"cjis.fw": "added"}
    assert (result.ready_before, result.ready_after) == (2, 1)


def test_an_effective_date_in_the_past_or_not_after_the_superseded_version_is_refused(
    fleet, state_staff, clock
):
    draft = make_draft(state_staff)
    url = f"/api/readiness/drafts/{draft['id']}/publish"
    past = post(
        state_staff.client, url, {"effective_on": (clock.today - timedelta(days=1)).isoformat()}
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "effective_on"
    assert RequirementSetVersion.objects.get(pk=draft["id"]).status == "draft"


def test_a_published_version_refuses_every_write_path(fleet, state_staff, tmp_path, clock):
    draft = make_draft(state_staff)
    post(
        state_staff.client,
        f"/api/readiness/drafts/{draft['id']}/publish",
        {"effective_on": clock.today.isoformat()},
    )
    base = f"/api/readiness/drafts/{draft['id']}"
    mdm = Requirement.objects.get(version_id=draft["id"], key="cjis.mdm")
    answers = [
        post(state_staff.client, f"{base}/requirements", NEW_REQUIREMENT),
        put(state_staff.client, f"{base}/requirements/cjis.mdm", {**_as_input(mdm), "weight": 9}),
        state_staff.client.delete(f"{base}/requirements/cjis.mdm"),
        post(state_staff.client, f"{base}/publish", {"effective_on": clock.today.isoformat()}),
    ]
    assert [a.status_code for a in answers] == [409, 409, 409, 409]
    assert "is published and cannot change" in answers[0].json()["message"]
    mdm.weight = 9
    with pytest.raises(PublishedVersionError):
        mdm.save()
    with pytest.raises(PublishedVersionError):
        mdm.delete()
    with pytest.raises(PublishedVersionError):
        RequirementRemoval(version_id=draft["id"], key="x", previous=mdm).save()
    name, text = export_version(draft["id"])
    changed = tmp_path / name
    changed.write_text(text.replace("cjis.mdm explained", "Enrolled in MDM."))
    with pytest.raises(RequirementFileError, match="cannot change"):
        load_requirements([changed])
    assert Requirement.objects.get(pk=mdm.pk).weight == 1
    with pytest.raises(PublishedVersionError):
        drafts.remove_requirement(version_id=draft["id"], key="cjis.mdm", actor=state_staff.user)


def test_agency_users_never_see_drafts_and_cannot_write(fleet, state_staff, viewer_a, admin_a):
    draft = make_draft(state_staff)
    url = f"/api/readiness/drafts/{draft['id']}"
    assert viewer_a.client.get(url).status_code == 404
    assert viewer_a.client.get(f"{url}/preview").status_code == 404
    assert viewer_a.client.get("/api/readiness/drafts").json() == []
    assert (
        viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions/6.0/file").status_code == 404
    )
    assert (
        post(
            admin_a.client, "/api/readiness/drafts", {"set": "cjis-mobile", "version": "7"}
        ).status_code
        == 403
    )
    assert post(admin_a.client, f"{url}/requirements", NEW_REQUIREMENT).status_code == 403
    assert admin_a.client.delete(f"{url}/requirements/cjis.mdm").status_code == 403
    assert post(admin_a.client, f"{url}/publish", {"effective_on": "2031-01-01"}).status_code == 403
    assert Requirement.objects.filter(version_id=draft["id"]).count() == 2
    # A published version is public catalog data, its file included.
    assert (
        viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions/5.9/file").status_code == 200
    )


def _requirements_of(set_code: str) -> dict:
    rows = Requirement.objects.filter(version__requirement_set__code=set_code).values(
        "version__version", *drafts.EDITABLE, "relation", "previous__key"
    )
    return {(r["version__version"], r["key"]): r for r in rows}


def test_any_version_exports_to_a_file_that_loads_back_unchanged(
    fleet, state_staff, tmp_path, clock
):
    draft = make_draft(state_staff)
    post(state_staff.client, f"/api/readiness/drafts/{draft['id']}/requirements", NEW_REQUIREMENT)
    state_staff.client.delete(f"/api/readiness/drafts/{draft['id']}/requirements/cjis.enc")
    post(
        state_staff.client,
        f"/api/readiness/drafts/{draft['id']}/publish",
        {"effective_on": clock.today.isoformat()},
    )
    for number in ("5.9", "6.0"):
        response = state_staff.client.get(f"/api/readiness/sets/cjis-mobile/versions/{number}/file")
        assert response["Content-Disposition"].endswith(f'cjis-mobile-{number}.toml"')
        (tmp_path / f"{number}.toml").write_bytes(response.content)
    before = _requirements_of("cjis-mobile")
    removals = list(RequirementRemoval.objects.values_list("key", "note"))
    assert load_requirements([tmp_path]).unchanged == ["cjis-mobile 5.9", "cjis-mobile 6.0"]
    RequirementSetVersion.objects.filter(version="6.0").delete()  # supersedes protects 5.9
    RequirementSet.objects.filter(code="cjis-mobile").delete()
    assert load_requirements([tmp_path]).created == ["cjis-mobile 5.9", "cjis-mobile 6.0"]
    assert _requirements_of("cjis-mobile") == before
    assert list(RequirementRemoval.objects.values_list("key", "note")) == removals


def test_the_shipped_sets_survive_the_round_trip(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "readiness" / "requirement_sets"
    load_requirements([shipped])
    for v in RequirementSetVersion.objects.all():
        name, text = export_version(v.pk)
        (tmp_path / name).write_text(text)
    before = list(Requirement.objects.order_by("id").values())
    report = load_requirements([tmp_path])
    # Published versions are recognised as unchanged; a draft is rewritten with the same values.
    assert report.created == []
    assert report.updated == ["firstnet-device-baseline 2026-draft"]
    assert list(Requirement.objects.order_by("id").values()) == before


def test_checked_requirement_uses_the_loaders_words():
    with pytest.raises(InvalidInput) as caught:
        drafts.checked_requirement(
            {**NEW_REQUIREMENT, "severity": "urgent", "rule": ENCRYPTION | {"op": "~"}}
        )
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"severity", "rule"}
    assert drafts.checked_requirement({**NEW_REQUIREMENT, "rule": MDM}).due_on == date(2031, 3, 1)


def test_the_admin_shows_a_published_versions_requirements_read_only(fleet, state_staff, rf):
    from django.contrib import admin

    from tests.factories import UserFactory

    superuser = UserFactory(username="root", role="state_staff", agency=None)
    superuser.is_staff = superuser.is_superuser = True
    request = rf.get("/admin/")
    request.user = superuser
    model_admin = admin.site._registry[Requirement]
    published = Requirement.objects.get(version__version="5.9", key="cjis.mdm")
    assert not model_admin.has_change_permission(request, published)
    assert not model_admin.has_delete_permission(request, published)
    draft = make_draft(state_staff)
    copy = Requirement.objects.get(version_id=draft["id"], key="cjis.mdm")
    assert model_admin.has_change_permission(request, copy)


def test_a_draft_in_progress_stays_out_of_the_catalog_and_whatif_of_agency_users(
    fleet, state_staff, viewer_a
):
    make_draft(state_staff, number="6.0")
    sets = viewer_a.client.get("/api/readiness/sets").json()
    assert sets[0]["versions"] == ["5.9"]
    versions = viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions").json()
    assert [v["version"] for v in versions] == ["5.9"]
    assert viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions/6.0").status_code == 404
    named = viewer_a.client.get("/api/readiness/whatif?set=cjis-mobile&to=6.0")
    assert named.status_code == 404
    # By default the what-if looks for a newer version: for an agency user there is none.
    assert viewer_a.client.get("/api/readiness/whatif?set=cjis-mobile").status_code == 422
    staff = state_staff.client.get("/api/readiness/whatif?set=cjis-mobile").json()
    assert staff["to_version"] == "6.0"


def test_a_draft_in_progress_is_neither_offered_nor_read_on_agency_pages_and_briefings(
    fleet, state_staff, viewer_a
):
    from readiness.models import BriefingExport

    make_draft(state_staff, number="6.0")
    page = "/dashboard/agencies/ksp/?set=cjis-mobile"
    assert 'value="6.0"' not in viewer_a.browser.get(page).content.decode()
    assert 'value="6.0"' in state_staff.browser.get(page).content.decode()
    assert 'value="6.0"' not in viewer_a.browser.get("/briefings/?set=cjis-mobile").content.decode()
    assert 'value="6.0"' in state_staff.browser.get("/briefings/?set=cjis-mobile").content.decode()

    # Named outright, the draft is as unknown as a version never written, and not listed.
    named = viewer_a.browser.get(f"{page}&version=6.0")
    assert named.status_code == 404
    assert "(known: 5.9)" in named.content.decode()  # the draft is not listed
    asked = viewer_a.browser.post(
        "/briefings/",
        {"scope": "agency:ksp", "set": "cjis-mobile", "version": "6.0", "format": "pdf"},
    )
    compared = viewer_a.browser.post(
        "/briefings/",
        {"scope": "agency:ksp", "set": "cjis-mobile", "compare": "6.0", "format": "pdf"},
    )
    assert (asked.status_code, compared.status_code) == (404, 404)
    assert not BriefingExport.objects.exists()
    api = viewer_a.client.get("/api/readiness/sets/cjis-mobile/versions/6.1").json()
    assert "(known: 5.9)" in api["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/readiness/scores?set=cjis-mobile&version=6.0",
        "/api/readiness/agencies/ksp/failing-devices?set=cjis-mobile&version=6.0",
        "/api/readiness/remediation?set=cjis-mobile&version=6.0",
        "/dashboard/agencies/ksp/failing/?set=cjis-mobile&version=6.0",
    ],
)
def test_no_evaluation_reads_a_draft_in_progress_for_an_agency_user(
    fleet, state_staff, viewer_a, url
):
    make_draft(state_staff, number="6.0")
    viewer, staff = (
        (viewer_a.browser, state_staff.browser)
        if url.startswith("/dashboard/")
        else (viewer_a.client, state_staff.client)
    )
    assert viewer.get(url).status_code == 404
    assert staff.get(url).status_code == 200
