"""What-if between two versions: the pure diff first, then the fleet through the database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from readiness.scoping import visible_agency_ids
from readiness.whatif import (
    compare_versions,
    diff_requirements,
    refine_with_effects,
    remediation_plan,
    requirement_effects,
)
from tests.readiness.catalog_helpers import (
    MDM,
    make_requirement,
    make_set,
    make_version,
    phone,
    phone_model,
)


def req(
    key,
    code,
    *,
    section="",
    rule=None,
    severity="mandatory",
    kinds=(),
    relation="new",
    note="",
    weight=1,
):
    return {
        "key": key,
        "code": code,
        "section": section,
        "title": key.replace(".", " "),
        "rule": rule or {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
        "applies_when": None,
        "severity": severity,
        "applies_to": list(kinds),
        "relation": relation,
        "change_note": note,
        "weight": weight,
    }


def by_key(changes):
    return {c.key: c for c in changes}


def test_added_removed_and_renumbered_requirements_are_told_apart():
    old = [req("mdm", "M1", section="5.13.2"), req("gone", "G1", section="5.13.9")]
    new = [req("mdm", "M1", section="5.20.2"), req("fresh", "F1", section="5.20.7")]
    changes = by_key(diff_requirements(old, new, new_supersedes_old=False))
    assert changes["mdm"].change == "renumbered"
    assert changes["mdm"].old_section == "5.13.2"
    assert changes["mdm"].new_section == "5.20.2"
    assert changes["fresh"].change == "added"
    assert changes["gone"].change == "removed"


def test_recommended_becoming_mandatory_is_tightened_and_the_reverse_relaxed():
    old = [req("a", "A", severity="recommended"), req("b", "B")]
    new = [req("a", "A"), req("b", "B", severity="recommended")]
    changes = by_key(diff_requirements(old, new, new_supersedes_old=False))
    assert changes["a"].change == "tightened"
    assert changes["b"].change == "relaxed"


def test_applying_to_every_kind_is_wider_than_applying_to_one():
    old = [req("a", "A", kinds=["smartphone"])]
    new = [req("a", "A", kinds=[])]
    assert diff_requirements(old, new, new_supersedes_old=False)[0].change == "tightened"


def test_relation_recorded_in_the_superseding_file_wins_over_inference():
    fw = {"attr": "device.firmware", "op": ">=", "value": "3.2.1"}
    old = [req("fw", "F", rule={"attr": "device.firmware", "op": ">=", "value": "3.0"})]
    new = [req("fw", "F", rule=fw, relation="tightened", note="minimum firmware raised to 3.2.1")]
    declared = diff_requirements(old, new, new_supersedes_old=True)[0]
    assert declared.change == "tightened"
    assert declared.is_declared
    assert declared.details[0] == "minimum firmware raised to 3.2.1"
    # Between versions that are not adjacent the recorded relation does not describe the step.
    assert diff_requirements(old, new, new_supersedes_old=False)[0].change == "changed"


def test_changed_rule_gets_its_direction_from_the_fleet():
    old = [req("fw", "F", rule={"attr": "device.firmware", "op": ">=", "value": "3.0"})]
    new = [req("fw", "F", rule={"attr": "device.firmware", "op": ">=", "value": "3.2.1"})]
    old_results = pd.DataFrame(
        {"device_id": [1, 2, 3], "key": "fw", "status": ["pass", "pass", "fail"]}
    )
    new_results = pd.DataFrame(
        {"device_id": [1, 2, 3], "key": "fw", "status": ["fail", "pass", "fail"]}
    )
    effects = requirement_effects(old_results, new_results)
    change = refine_with_effects(diff_requirements(old, new, new_supersedes_old=False), effects)[0]
    assert change.change == "tightened"
    assert (change.newly_failing, change.newly_passing) == (1, 0)


def test_a_new_requirement_fails_devices_that_had_no_result_before():
    old_results = pd.DataFrame({"device_id": [1], "key": ["a"], "status": ["pass"]})
    new_results = pd.DataFrame({"device_id": [1, 1], "key": ["a", "b"], "status": ["pass", "fail"]})
    effects = requirement_effects(old_results, new_results).set_index("key")
    assert effects.at["b", "newly_failing"] == 1
    assert effects.at["a", "newly_failing"] == 0


# --- through the database -----------------------------------------------------------------------


FIRMWARE_321 = {"attr": "device.firmware", "op": ">=", "value": "3.2.1"}
BAND14 = {"attr": "model.has_band14", "op": "==", "value": True}


@pytest.fixture
def fleet_and_versions(db, agency_a, agency_b):
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
    phone_model(name="Dear", has_band14=True, unit_cost=900)
    return {
        "old_fw": phone(agency_a, model=old_model, firmware="3.0"),
        "new_fw": phone(agency_a, model=new_model, firmware="3.0"),
        "fine": phone(agency_a, model=new_model, firmware="3.3"),
        "no_mdm": phone(agency_b, model=new_model, firmware="3.3", mdm=False),
    }


def test_whatif_names_the_devices_that_newly_fail_and_why(fleet_and_versions, state_staff):
    d = fleet_and_versions
    result = compare_versions(
        agency_ids=None, set_code="cjis-mobile", from_version="5.9", to_version="6.0"
    )
    changes = {c.key: c.change for c in result.changes}
    assert changes == {"cjis.mdm": "renumbered", "fw.min": "added", "radio.b14": "added"}
    newly = result.newly_failing_devices.set_index("device_id")
    assert set(newly.index) == {d["old_fw"].pk, d["new_fw"].pk}
    assert sorted(newly.at[d["old_fw"].pk, "reasons"]) == [
        "B14: no Band 14",
        "FW: firmware 3.0 is below 3.2.1",
    ]
    assert (result.ready_before, result.ready_after, result.devices_total) == (3, 1, 4)
    agencies = result.agencies.set_index("slug")
    assert agencies.at["ksp", "newly_failing"] == 2
    assert agencies.at["lex-pd", "newly_failing"] == 0
    assert result.newly_failing_agencies == 1


def test_cost_prices_replacement_from_the_catalog_firmware_and_labour(
    fleet_and_versions, state_staff
):
    result = compare_versions(
        agency_ids=None, set_code="cjis-mobile", from_version="5.9", to_version="6.0"
    )
    # Old model lacks Band 14: the cheapest catalog phone with it (800, not 900), and no
    # firmware update on top; the other device needs firmware (25); the unenrolled one MDM (40).
    assert result.cost["replace"] == Decimal("800")
    assert result.cost["firmware"] == Decimal("25")
    assert result.cost["configure"] == Decimal("40")
    assert result.cost["total"] == Decimal("865")
    plan = [(s.action_kind, s.devices_touched, s.devices_made_ready) for s in result.plan]
    assert plan == [("firmware", 1, 1), ("configure", 1, 1), ("replace", 1, 1)]
    assert result.plan[-1].readiness_after_pct == 100.0
    assert "Replace Samsung Old with Samsung New" in result.plan[-1].description


def test_agency_user_whatif_covers_only_their_agency(fleet_and_versions, viewer_a):
    result = compare_versions(
        agency_ids=visible_agency_ids(viewer_a.user),
        set_code="cjis-mobile",
        from_version="5.9",
        to_version="6.0",
    )
    assert result.devices_total == 3
    assert set(result.agencies["slug"]) == {"ksp"}


def test_remediation_plan_for_the_version_in_effect(fleet_and_versions, state_staff):
    version, cost, plan, total, ready = remediation_plan(agency_ids=None, set_code="cjis-mobile")
    assert version.version == "5.9"
    assert (total, ready) == (4, 3)
    assert [s.description for s in plan] == ["Enrol in mobile device management"]
    assert cost["total"] == Decimal("40")
