"""Vectorised evaluation and aggregation on small hand-built frames, with an explicit now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from readiness import scoring
from readiness.frames import fleet_frame_from_records
from readiness.rules import CompiledRequirement, parse_rule

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def req(rule: dict, key: str = "r", **kw) -> CompiledRequirement:
    when = kw.pop("applies_when", None)
    return CompiledRequirement(
        key=key,
        code=key.upper(),
        title=key,
        rule=parse_rule(rule),
        applies_when=parse_rule(when) if when else None,
        **kw,
    )


def device(device_id: int, **attrs) -> dict:
    row = {
        "device_id": device_id,
        "agency_id": attrs.pop("agency_id", 1),
        "device.kind": "smartphone",
        "health.level": "online",
        "health.last_seen": NOW - timedelta(minutes=1),
        "model.telemetry_interval_s": 300,
    }
    row.update(attrs)
    return row


def outcome(rows: list[dict], rule: dict, **kw) -> list[tuple[str, str]]:
    fleet = fleet_frame_from_records(rows)
    results = scoring.evaluate(fleet, [req(rule, **kw)], NOW)
    return list(zip(results["status"].astype(str), results["reason"].astype(str), strict=True))


def test_firmware_below_minimum_fails_with_the_versions_in_words():
    got = outcome(
        [device(1, **{"device.firmware": "3.1.0"}), device(2, **{"device.firmware": "3.10"})],
        {"attr": "device.firmware", "op": ">=", "value": "3.2.1"},
    )
    assert got == [("fail", "firmware 3.1.0 is below 3.2.1"), ("pass", "")]


def test_versions_compare_by_release_order_not_as_strings():
    rows = [
        device(i, **{"device.firmware": v})
        for i, v in enumerate(["10.0", "9.9", "2.1.0-b3", "2.1.0", "3.2"])
    ]
    got = outcome(rows, {"attr": "device.firmware", "op": ">", "value": "2.1.0rc1"})
    assert [s for s, _ in got] == ["pass", "pass", "fail", "pass", "pass"]
    got = outcome(rows, {"attr": "device.firmware", "op": "==", "value": "3.2.0"})
    assert [s for s, _ in got] == ["fail", "fail", "fail", "fail", "pass"]


def test_unknown_firmware_string_fails_with_the_string_quoted():
    got = outcome(
        [
            device(1, **{"device.firmware": "abc"}),
            device(2, **{"device.firmware": "3.2.1-build45"}),
        ],
        {"attr": "device.firmware", "op": ">=", "value": "1.0"},
    )
    assert got == [
        ("fail", "firmware 'abc' is not a version"),
        ("fail", "firmware '3.2.1-build45' is not a version"),
    ]


def test_unknown_firmware_is_neither_true_nor_false_under_not():
    got = outcome(
        [device(1, **{"device.firmware": "abc"})],
        {"not": {"attr": "device.firmware", "op": "<", "value": "1.0"}},
    )
    assert got == [("fail", "firmware 'abc' is not a version")]


def test_missing_value_fails_as_unknown():
    got = outcome(
        [device(1), device(2, **{"health.battery_pct": 50})],
        {"attr": "health.battery_pct", "op": ">=", "value": 20},
    )
    assert got == [("fail", "battery is unknown"), ("pass", "")]


def test_reported_firmware_wins_over_the_inventory_record():
    rows = [
        device(1, **{"device.firmware_version": "1.0", "health.firmware": "5.0"}),
        device(2, **{"device.firmware_version": "1.0"}),
    ]
    got = outcome(rows, {"attr": "device.firmware", "op": ">=", "value": "2.0"})
    assert got == [("pass", ""), ("fail", "firmware 1.0 is below 2.0")]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("==", 50, ["fail", "pass", "fail", "fail"]),
        ("!=", 50, ["pass", "fail", "pass", "fail"]),
        ("<", 50, ["pass", "fail", "fail", "fail"]),
        ("<=", 50, ["pass", "pass", "fail", "fail"]),
        (">", 50, ["fail", "fail", "pass", "fail"]),
        (">=", 50, ["fail", "pass", "pass", "fail"]),
        ("in", [10, 90], ["pass", "fail", "pass", "fail"]),
        ("not_in", [10, 90], ["fail", "pass", "fail", "fail"]),
        ("is_set", None, ["pass", "pass", "pass", "fail"]),
        ("is_not_set", None, ["fail", "fail", "fail", "pass"]),
    ],
)
def test_number_operators(op, value, expected):
    rows = [
        device(1, **{"health.battery_pct": 10}),
        device(2, **{"health.battery_pct": 50}),
        device(3, **{"health.battery_pct": 90}),
        device(4),
    ]
    rule = {"attr": "health.battery_pct", "op": op} | ({} if value is None else {"value": value})
    assert [s for s, _ in outcome(rows, rule)] == expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("==", "firstnet", ["pass", "fail", "fail"]),
        ("!=", "firstnet", ["fail", "pass", "fail"]),
        ("in", ["firstnet", "commercial"], ["pass", "pass", "fail"]),
        ("not_in", ["firstnet"], ["fail", "pass", "fail"]),
        ("is_set", None, ["pass", "pass", "fail"]),
        ("is_not_set", None, ["fail", "fail", "pass"]),
    ],
)
def test_enum_operators(op, value, expected):
    rows = [
        device(1, **{"device.network": "firstnet"}),
        device(2, **{"device.network": "commercial"}),
        device(3),
    ]
    rule = {"attr": "device.network", "op": op} | ({} if value is None else {"value": value})
    assert [s for s, _ in outcome(rows, rule)] == expected


def test_enum_reasons_name_actual_and_expected():
    got = outcome(
        [device(1, **{"device.network": "commercial"})],
        {"attr": "device.network", "op": "==", "value": "firstnet"},
    )
    assert got == [("fail", "network is commercial, not firstnet")]
    got = outcome(
        [device(1, **{"device.network": "none"})],
        {"attr": "device.network", "op": "in", "value": ["firstnet", "commercial"]},
    )
    assert got == [("fail", "network is none, not one of firstnet, commercial")]


def test_text_attribute_compares_exactly():
    rows = [
        device(1, **{"device.manufacturer": "Axon"}),
        device(2, **{"device.manufacturer": "axon"}),
    ]
    got = outcome(rows, {"attr": "device.manufacturer", "op": "==", "value": "Axon"})
    assert got == [("pass", ""), ("fail", "manufacturer is axon, not Axon")]


def test_bool_reasons_say_what_the_device_is():
    rows = [
        device(1, **{"device.is_mdm_enrolled": False}),
        device(2, **{"device.is_mdm_enrolled": True}),
        device(3, **{"health.gps_fix": None}),
    ]
    assert outcome(rows[:2], {"attr": "device.is_mdm_enrolled", "op": "==", "value": True}) == [
        ("fail", "not enrolled in MDM"),
        ("pass", ""),
    ]
    assert outcome(rows[2:], {"attr": "health.gps_fix", "op": "==", "value": True}) == [
        ("fail", "GPS fix is unknown")
    ]


def test_seen_within_uses_now_and_never_seen_fails():
    rows = [
        device(1, **{"health.last_seen": NOW - timedelta(days=9)}),
        device(2, **{"health.last_seen": NOW - timedelta(hours=3)}),
        device(3, **{"health.last_seen": None, "health.level": "never_seen"}),
    ]
    got = outcome(rows, {"attr": "health.last_seen", "op": "within", "value": "7d"})
    assert got == [
        ("fail", "last seen 9 days ago, not within 7d"),
        ("pass", ""),
        ("fail", "never seen"),
    ]
    # "not within" on a never-seen device is true: it was not seen within the window.
    got = outcome(rows, {"not": {"attr": "health.last_seen", "op": "within", "value": "7d"}})
    assert [s for s, _ in got] == ["pass", "fail", "pass"]


def test_device_of_another_kind_is_not_applicable():
    rows = [
        device(1, **{"device.kind": "body_camera"}),
        device(2, **{"device.is_mdm_enrolled": False}),
    ]
    got = outcome(
        rows,
        {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
        applies_to=frozenset({"smartphone", "tablet"}),
    )
    assert got == [
        ("not_applicable", "applies only to smartphone, tablet"),
        ("fail", "not enrolled in MDM"),
    ]


def test_applies_when_limits_the_requirement():
    rows = [
        device(1, **{"device.has_cji_access": False}),
        device(2, **{"device.has_cji_access": True, "device.is_mdm_enrolled": False}),
    ]
    got = outcome(
        rows,
        {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
        applies_when={"attr": "device.has_cji_access", "op": "==", "value": True},
    )
    assert got == [
        ("not_applicable", "applies only when has CJI access"),
        ("fail", "not enrolled in MDM"),
    ]


def test_all_fails_on_its_first_failing_part_and_any_lists_every_part():
    rows = [device(1, **{"device.is_mdm_enrolled": False, "device.firmware": "1.0"})]
    both = [
        {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
        {"attr": "device.firmware", "op": ">=", "value": "2.0"},
    ]
    assert outcome(rows, {"all": both}) == [("fail", "not enrolled in MDM")]
    assert outcome(rows, {"any": both}) == [
        ("fail", "not enrolled in MDM; firmware 1.0 is below 2.0")
    ]


def test_not_explains_with_what_it_negates():
    got = outcome(
        [device(1, **{"device.network": "commercial"})],
        {"not": {"attr": "device.network", "op": "==", "value": "commercial"}},
    )
    assert got == [("fail", "network is commercial")]


def test_three_valued_logic_of_all_and_any():
    # unknown and false -> false; unknown or true -> true; unknown or false -> unknown (fail).
    rows = [device(1, **{"device.is_mdm_enrolled": True})]  # battery unknown
    unknown = {"attr": "health.battery_pct", "op": ">", "value": 1}
    true = {"attr": "device.is_mdm_enrolled", "op": "==", "value": True}
    false = {"attr": "device.is_mdm_enrolled", "op": "==", "value": False}
    assert outcome(rows, {"any": [unknown, true]})[0][0] == "pass"
    assert outcome(rows, {"any": [unknown, false]})[0][0] == "fail"
    assert outcome(rows, {"not": {"all": [unknown, false]}})[0][0] == "pass"
    assert outcome(rows, {"not": {"all": [unknown, true]}})[0][0] == "fail"


def test_results_frame_layout_and_dtypes():
    fleet = fleet_frame_from_records([device(1), device(2, agency_id=7)])
    reqs = [
        req({"attr": "device.network", "op": "is_set"}, key="a"),
        req({"attr": "device.kind", "op": "==", "value": "smartphone"}, key="b"),
    ]
    results = scoring.evaluate(fleet, reqs, NOW)
    assert list(results.columns) == ["device_id", "agency_id", "stable_key", "status", "reason"]
    assert results["device_id"].tolist() == [1, 2, 1, 2]
    assert results["agency_id"].tolist() == [1, 7, 1, 7]
    assert results["stable_key"].tolist() == ["a", "a", "b", "b"]
    assert list(results["status"].cat.categories) == scoring.STATUSES


def test_evaluate_refuses_a_frame_without_the_attribute():
    fleet = fleet_frame_from_records([device(1)]).drop(columns=["health.battery_pct"])
    with pytest.raises(scoring.FrameError, match="health.battery_pct"):
        scoring.evaluate(fleet, [req({"attr": "health.battery_pct", "op": "is_set"})], NOW)


def test_evaluate_never_parses_strings_it_uses_the_version_keys():
    fleet = fleet_frame_from_records([device(1, **{"device.firmware": "3.1.0"})])
    # Rewrite the key to that of 9.0: the result follows the key, not the text.
    hi, lo = scoring.parse_version("9.0").as_tuple()
    fleet["device.firmware#hi"], fleet["device.firmware#lo"] = hi, lo
    results = scoring.evaluate(
        fleet, [req({"attr": "device.firmware", "op": ">=", "value": "3.2.1"})], NOW
    )
    assert results["status"].tolist() == ["pass"]


# --- readiness and aggregation -------------------------------------------------------------

MDM = {"attr": "device.is_mdm_enrolled", "op": "==", "value": True}
NET = {"attr": "device.network", "op": "==", "value": "firstnet"}


def scored_fleet():
    rows = [
        device(
            1,
            agency_id=1,
            cabinet_id=10,
            **{
                "agency.county": "Franklin",
                "device.is_mdm_enrolled": True,
                "device.network": "firstnet",
            },
        ),
        device(
            2,
            agency_id=1,
            cabinet_id=10,
            **{
                "agency.county": "Franklin",
                "device.is_mdm_enrolled": True,
                "device.network": "commercial",
            },
        ),
        device(
            3,
            agency_id=2,
            cabinet_id=10,
            **{
                "agency.county": "Fayette",
                "device.is_mdm_enrolled": False,
                "device.network": "firstnet",
            },
        ),
        device(
            4,
            agency_id=2,
            cabinet_id=10,
            **{
                "agency.county": "Fayette",
                "device.is_mdm_enrolled": True,
                "device.network": "firstnet",
                "health.level": "offline",
                "health.last_seen": NOW - timedelta(days=3),
            },
        ),
        device(
            5,
            agency_id=3,
            cabinet_id=20,
            **{
                "agency.county": "Fayette",
                "device.kind": "body_camera",
                "health.level": None,
                "health.last_seen": None,
            },
        ),
    ]
    fleet = fleet_frame_from_records(rows)
    reqs = [
        req(MDM, key="mdm", weight=3, applies_to=frozenset({"smartphone"})),
        req(NET, key="net", weight=1, severity="recommended", applies_to=frozenset({"smartphone"})),
    ]
    return fleet, reqs, scoring.evaluate(fleet, reqs, NOW)


def test_device_readiness_needs_mandatory_passes_and_a_live_device():
    fleet, reqs, results = scored_fleet()
    ready = scoring.device_readiness(results, fleet, reqs, now=NOW).set_index("device_id")
    # 1 all pass; 2 fails only a recommended one; 3 fails a mandatory one; 4 is offline;
    # 5 has nothing applicable but was never seen.
    assert ready["is_ready"].to_dict() == {1: True, 2: True, 3: False, 4: False, 5: False}
    assert ready["not_ready_reason"].to_dict() == {
        1: "",
        2: "",
        3: "mdm",
        4: "offline",
        5: "never seen",
    }
    assert ready.loc[2, "score_pct"] == pytest.approx(75.0)
    assert np.isnan(ready.loc[5, "score_pct"])


def test_waived_fail_counts_as_passed():
    fleet, reqs, results = scored_fleet()
    waived = results.copy()
    waived.loc[(waived["device_id"] == 3) & (waived["stable_key"] == "mdm"), "status"] = "waived"
    ready = scoring.device_readiness(waived, fleet, reqs, now=NOW).set_index("device_id")
    assert bool(ready.loc[3, "is_ready"])
    by_agency = scoring.aggregate(waived, fleet, reqs, now=NOW).set_index("agency_id")
    assert by_agency.loc[2, "n_waived"] == 1
    assert by_agency.loc[2, "score_pct"] == pytest.approx(100.0)


def test_aggregate_per_agency_weights_and_coverage():
    fleet, reqs, results = scored_fleet()
    agg = scoring.aggregate(results, fleet, reqs, now=NOW).set_index("agency_id")
    assert agg.loc[1, "devices"] == 2
    assert agg.loc[1, "ready_devices"] == 2
    # agency 1: mdm 3+3 passed, net 1 passed of 2 -> 7 of 8
    assert agg.loc[1, "score_pct"] == pytest.approx(87.5)
    # agency 2: device 3 fails mdm (3), passes net (1); device 4 passes both (4) -> 5 of 8
    assert agg.loc[2, "score_pct"] == pytest.approx(62.5)
    assert agg.loc[2, "ready_pct"] == pytest.approx(0.0)
    assert agg.loc[2, "coverage_pct"] == pytest.approx(50.0)  # device 4 last reported 3 days ago
    assert np.isnan(agg.loc[3, "score_pct"])  # nothing applies to the camera
    assert agg.loc[3, "coverage_pct"] == 0


def test_aggregate_rolls_up_to_cabinet_county_and_state():
    fleet, reqs, results = scored_fleet()
    cab = scoring.aggregate(results, fleet, reqs, now=NOW, by="cabinet").set_index("cabinet_id")
    assert cab["devices"].to_dict() == {10: 4, 20: 1}
    county = scoring.aggregate(results, fleet, reqs, now=NOW, by="county").set_index(
        "agency.county"
    )
    assert county["devices"].to_dict() == {"Fayette": 3, "Franklin": 2}
    state = scoring.aggregate(results, fleet, reqs, now=NOW, by="state")
    assert state.loc[0, "devices"] == 5
    assert state.loc[0, "ready_devices"] == 2
    assert state.loc[0, "score_pct"] == pytest.approx(12 / 16 * 100)


def test_aggregate_gives_the_same_answer_when_rows_are_reordered():
    fleet, reqs, results = scored_fleet()
    expected = scoring.aggregate(results, fleet, reqs, now=NOW)
    shuffled = results.sample(frac=1, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(scoring.aggregate(shuffled, fleet, reqs, now=NOW), expected)


def test_device_past_its_offline_deadline_is_not_ready_even_if_level_lags():
    rows = [
        device(
            1,
            **{"device.is_mdm_enrolled": True, "health.offline_after": NOW - timedelta(minutes=5)},
        )
    ]
    fleet = fleet_frame_from_records(rows)
    reqs = [req(MDM, key="mdm")]
    ready = scoring.device_readiness(scoring.evaluate(fleet, reqs, NOW), fleet, reqs, now=NOW)
    assert ready["is_ready"].tolist() == [False]
