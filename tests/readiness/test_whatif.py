"""What-if between two versions: the pure diff first, then the fleet through the database."""

from __future__ import annotations

import pandas as pd

from readiness.whatif import diff_requirements, refine_with_effects, requirement_effects


def req(key, code, *, section="", rule=None, severity="mandatory", kinds=(), relation="new", note="", weight=1):
    return {
        "key": key, "code": code, "section": section, "title": key.replace(".", " "),
        "rule": rule or {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
        "applies_when": None, "severity": severity, "applies_to": list(kinds), "relation": relation,
        "change_note": note, "weight": weight,
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
    old_results = pd.DataFrame({"device_id": [1, 2, 3], "key": "fw", "status": ["pass", "pass", "fail"]})
    new_results = pd.DataFrame({"device_id": [1, 2, 3], "key": "fw", "status": ["fail", "pass", "fail"]})
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
