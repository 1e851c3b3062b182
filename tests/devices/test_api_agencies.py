"""The agencies API: everyone reads what they may see; only state staff create and change."""

from __future__ import annotations

import pytest

from devices.models import Agency, FirstNetStatusChange
from tests.factories import CabinetFactory

pytestmark = pytest.mark.django_db


def _new_agency(**extra):
    return {
        "slug": "frankfort-fire",
        "name": "Frankfort Fire",
        "kind": "fire",
        "cabinet": "justice",
        **extra,
    }


def test_state_staff_create_an_agency_with_its_firstnet_history(state_staff, agency_a):
    response = state_staff.client.post(
        "/api/agencies",
        _new_agency(firstnet_status="pilot", firstnet_status_changed_on="2025-02-01"),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["cabinet"], body["firstnet_status"]) == ("justice", "pilot")
    assert body["firstnet_history"] == [
        {"status": "pilot", "changed_on": "2025-02-01", "note": "initial status"}
    ]


@pytest.mark.parametrize(
    ("extra", "status", "field"),
    [
        ({"cabinet": "nope"}, 422, "cabinet"),
        ({"slug": "ksp"}, 409, "slug"),
        ({"slug": "has space"}, 422, "slug"),
        ({"kind": "navy"}, 422, "kind"),
        ({"firstnet_status_changed_on": "2999-01-01"}, 422, "firstnet_status_changed_on"),
    ],
)
def test_bad_agency_is_refused_with_the_field_named(state_staff, agency_a, extra, status, field):
    response = state_staff.client.post(
        "/api/agencies", _new_agency(**extra), content_type="application/json"
    )
    assert response.status_code == status, response.content
    assert response.json()["errors"][0]["field"] == field
    assert Agency.objects.count() == 1


@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
def test_agency_roles_cannot_create_agencies(request, persona, agency_a):
    response = request.getfixturevalue(persona).client.post(
        "/api/agencies", _new_agency(), content_type="application/json"
    )
    assert response.status_code == 403


def test_firstnet_status_change_is_recorded_with_its_date(state_staff, agency_a):
    CabinetFactory(slug="health", name="Health Cabinet")
    Agency.objects.filter(pk=agency_a.pk).update(firstnet_status_changed_on="2026-03-01")
    response = state_staff.client.patch(
        f"/api/agencies/{agency_a.slug}",
        {
            "firstnet_status": "subscribed",
            "firstnet_status_changed_on": "2026-03-02",
            "firstnet_note": "signed",
            "cabinet": "health",
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["firstnet_status"], body["cabinet"]) == ("subscribed", "health")
    assert FirstNetStatusChange.objects.filter(
        agency=agency_a, status="subscribed", note="signed"
    ).exists()


def test_agency_users_see_only_their_agency(viewer_a, agency_a, agency_b, state_staff):
    assert [a["slug"] for a in viewer_a.client.get("/api/agencies").json()["items"]] == ["ksp"]
    assert viewer_a.client.get(f"/api/agencies/{agency_b.slug}").status_code == 404
    slugs = [a["slug"] for a in state_staff.client.get("/api/agencies").json()["items"]]
    assert slugs == ["ksp", "lex-pd"]
    assert [
        a["slug"] for a in state_staff.client.get("/api/agencies", {"q": "lexing"}).json()["items"]
    ] == ["lex-pd"]
