"""A what-if narrowed to some agencies: the engine, the API's cabinet/agency filters and a
cabinet briefing, whose cost and plan must be the cabinet's, not the state's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from readiness.briefings.data import BriefingParams, build_briefing_data
from readiness.whatif import compare_versions
from tests.factories import CabinetFactory
from tests.readiness.catalog_helpers import (
    MDM,
    make_requirement,
    make_set,
    make_version,
    phone,
    phone_model,
)
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = pytest.mark.django_db

FIRMWARE_321 = {"attr": "device.firmware", "op": ">=", "value": "3.2.1"}
BAND14 = {"attr": "model.has_band14", "op": "==", "value": True}


@pytest.fixture
def two_agencies(agency_a, agency_b):
    """KSP: a phone without Band 14 and old firmware, one with old firmware, one fine.
    Lexington: one phone not enrolled in MDM."""
    req_set = make_set()
    v59 = make_version(req_set, "5.9", effective_on=date(2020, 1, 1))
    mdm = make_requirement(v59, "cjis.mdm", "MDM", MDM, section="5.13.2")
    v60 = make_version(
        req_set, "6.0", effective_on=date(2030, 1, 1), status="draft", supersedes=v59
    )
    make_requirement(
        v60, "cjis.mdm", "MDM", MDM, section="5.20.2", relation="renumbered", previous=mdm
    )
    make_requirement(v60, "fw.min", "FW", FIRMWARE_321, section="5.20.5")
    make_requirement(v60, "radio.b14", "B14", BAND14, section="5.20.9", applies_to=["smartphone"])
    old_model = phone_model(name="Old", has_band14=False, unit_cost=500)
    new_model = phone_model(name="New", has_band14=True, unit_cost=800)
    phone(agency_a, model=old_model, firmware="3.0")
    phone(agency_a, model=new_model, firmware="3.0")
    phone(agency_a, model=new_model, firmware="3.3")
    phone(agency_b, model=new_model, firmware="3.3", mdm=False)


def test_whatif_for_one_agency_prices_and_plans_only_its_devices(
    two_agencies, agency_b, state_staff
):
    result = compare_versions(
        agency_ids=[agency_b.pk], set_code="cjis-mobile", from_version="5.9", to_version="6.0"
    )
    assert result.devices_total == 1
    assert list(result.agencies["slug"]) == ["lex-pd"]
    assert result.cost["total"] == Decimal(
        "40"
    )  # MDM only: KSP's replacement and firmware are not here
    assert [(s.action_kind, s.devices_touched) for s in result.plan] == [("configure", 1)]
    assert result.plan[-1].readiness_after_pct == 100.0


def test_per_agency_figures_are_the_same_scoped_or_statewide(two_agencies, agency_a, state_staff):
    args = {"set_code": "cjis-mobile", "from_version": "5.9", "to_version": "6.0"}
    statewide = compare_versions(**args, agency_ids=None).agencies.set_index("slug")
    scoped = compare_versions(**args, agency_ids=[agency_a.pk])
    row = scoped.agencies.set_index("slug").loc["ksp"]
    assert row.to_dict() == statewide.loc["ksp"].to_dict()
    assert set(scoped.newly_failing_devices["agency"]) == {"ksp"}
    assert scoped.cost["total"] == Decimal("825")  # 800 replacement + 25 firmware, no Lexington MDM


def test_agency_user_cannot_ask_for_another_agencys_whatif(two_agencies, viewer_a):
    # The engine takes agency ids; who may ask for which is decided where the request comes in.
    for url in (
        "/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0&agency=lex-pd",
        "/api/readiness/remediation?set=cjis-mobile&agency=lex-pd",
    ):
        response = viewer_a.client.get(url)
        assert response.status_code == 404
        assert response.json()["errors"][0]["field"] == "agency"


def test_an_empty_scope_is_an_empty_whatif_not_an_error(two_agencies, state_staff):
    result = compare_versions(
        agency_ids=[], set_code="cjis-mobile", from_version="5.9", to_version="6.0"
    )
    assert (result.devices_total, result.ready_before, result.ready_after) == (0, 0, 0)
    assert result.plan == []
    assert result.cost["total"] == Decimal("0")
    assert result.newly_failing_devices.empty


def test_api_whatif_and_remediation_take_an_agency_filter(two_agencies, state_staff):
    body = state_staff.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0&agency=lex-pd"
    ).json()
    assert body["devices"] == 1
    assert float(body["cost"]["total"]) == 40.0
    plan = state_staff.client.get("/api/readiness/remediation?set=cjis-mobile&agency=ksp").json()
    assert plan["devices"] == 3
    assert plan["plan"] == []  # 5.9 asks only for MDM, and every KSP phone is enrolled


def test_api_filters_answer_404_for_another_agency_or_an_unknown_cabinet(
    two_agencies, viewer_a, state_staff
):
    response = viewer_a.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0&agency=lex-pd"
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "agency"
    response = state_staff.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0&cabinet=navy"
    )
    assert response.status_code == 404
    assert "navy" in response.json()["message"]


def test_a_cabinet_filter_narrows_an_agency_user_and_never_widens(two_agencies, viewer_a):
    CabinetFactory(slug="transportation", name="Transportation Cabinet")
    own = viewer_a.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0&cabinet=justice"
    ).json()
    assert own["devices"] == 3  # Lexington shares the cabinet but is not theirs
    other = viewer_a.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=5.9&to=6.0&cabinet=transportation"
    )
    assert other.status_code == 200
    assert other.json()["devices"] == 0


# --- a cabinet briefing ------------------------------------------------------------------------


@pytest.fixture
def scenario(agency_a, agency_b):
    built = build_scenario(agency_a, agency_b)
    # A gap outside the justice cabinet, so a statewide cost differs from the cabinet's.
    phone(built.fire, serial="FIRE-NOMDM", mdm=False, firmware="3.0.0")
    return built


def test_cabinet_briefing_whatif_costs_and_plans_only_the_cabinet(scenario, state_staff):
    data = build_briefing_data(
        BriefingParams(scope="cabinet:justice", set_code="cjis-mobile", compare_version="7.0")
    )
    cabinet = state_staff.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=6.0&to=7.0&cabinet=justice"
    ).json()
    statewide = state_staff.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=6.0&to=7.0"
    ).json()
    assert cabinet["devices"] == 6
    assert data.whatif.estimated_cost == float(cabinet["cost"]["total"])
    assert float(cabinet["cost"]["total"]) < float(statewide["cost"]["total"])
    assert list(data.whatif.plan["action"]) == [s["description"] for s in cabinet["plan"]]
    assert list(data.whatif.plan["devices"]) == [s["devices_touched"] for s in cabinet["plan"]]
    assert data.whatif.ready_pct_before == round(cabinet["ready_pct_before"], 1)
    assert data.whatif.newly_failing_devices == len(cabinet["newly_failing_devices"])


def test_agency_briefing_whatif_equals_the_apis_agency_whatif(scenario, state_staff):
    data = build_briefing_data(
        BriefingParams(scope="agency:frankfort-fire", set_code="cjis-mobile", compare_version="7.0")
    )
    found = state_staff.client.get(
        "/api/readiness/whatif?set=cjis-mobile&from=6.0&to=7.0&agency=frankfort-fire"
    )
    body = found.json()
    assert body["devices"] == 2
    assert (
        data.whatif.estimated_cost == float(body["cost"]["total"]) == 65.0
    )  # MDM 40 + firmware 25
