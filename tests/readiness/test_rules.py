"""The rule language: what loads, what is refused and why, and version ordering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from packaging.version import Version

from readiness.rules import (
    All,
    AnyOf,
    Compare,
    Not,
    RuleError,
    describe,
    node_to_json,
    parse_duration,
    parse_rule,
)
from readiness.versions import VersionProblem, parse_version


def test_comparison_parses_into_a_typed_leaf():
    node = parse_rule({"attr": "device.firmware", "op": ">=", "value": "3.2.1"})
    assert isinstance(node, Compare)
    assert node.attr.name == "device.firmware"
    assert node.value == parse_version("3.2.1")


def test_all_any_not_nest():
    node = parse_rule(
        {
            "all": [
                {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
                {
                    "any": [
                        {"attr": "device.network", "op": "in", "value": ["firstnet"]},
                        {"not": {"attr": "health.last_seen", "op": "within", "value": "7d"}},
                    ]
                },
            ]
        }
    )
    assert isinstance(node, All)
    assert isinstance(node.children[1], AnyOf)
    assert isinstance(node.children[1].children[1], Not)


@pytest.mark.parametrize(
    ("rule", "path", "fragment"),
    [
        (
            {"attr": "device.colour", "op": "==", "value": "red"},
            "rule.attr",
            "unknown attribute 'device.colour'",
        ),
        ({"attr": "device.network", "op": "~=", "value": "x"}, "rule.op", "unknown operator"),
        ({"attr": "device.network", "op": "<", "value": "firstnet"}, "rule.op", "does not apply"),
        (
            {"attr": "device.network", "op": "==", "value": "wifi"},
            "rule.value",
            "'wifi' is not a device.network",
        ),
        (
            {"attr": "device.is_mdm_enrolled", "op": "==", "value": "yes"},
            "rule.value",
            "true or false",
        ),
        ({"attr": "health.battery_pct", "op": ">=", "value": "20"}, "rule.value", "is a number"),
        ({"attr": "health.battery_pct", "op": ">=", "value": True}, "rule.value", "is a number"),
        (
            {"attr": "device.firmware", "op": ">=", "value": "abc"},
            "rule.value",
            "'abc' is not a version",
        ),
        ({"attr": "device.firmware", "op": ">=", "value": 3}, "rule.value", "give a string"),
        (
            {"attr": "health.last_seen", "op": "within", "value": "7 days"},
            "rule.value",
            "not a duration",
        ),
        (
            {"attr": "health.last_seen", "op": "within", "value": "0d"},
            "rule.value",
            "not a duration",
        ),
        ({"attr": "health.last_seen", "op": ">=", "value": "7d"}, "rule.op", "does not apply"),
        ({"attr": "device.firmware", "op": "is_set", "value": "1"}, "rule.value", "takes no value"),
        ({"attr": "device.network", "op": "in", "value": []}, "rule.value", "non-empty list"),
        (
            {"attr": "device.network", "op": "in", "value": ["firstnet", "wifi"]},
            "rule.value[1]",
            "not a device.network",
        ),
        ({"attr": "device.network", "op": "=="}, "rule.value", "needs a value"),
        ({"all": []}, "rule", "non-empty list"),
        (
            {"all": [{"attr": "device.kind", "op": "==", "value": "tank"}]},
            "rule.all[0].value",
            "not a device.kind",
        ),
        (
            {"attr": "device.kind", "op": "==", "value": "tablet", "note": "x"},
            "rule",
            "unexpected key",
        ),
        ({"attr": "device.kind", "all": []}, "rule", "exactly one of"),
        ("device.kind == tablet", "rule", "expected a table"),
    ],
)
def test_bad_rules_are_refused_with_where_and_what(rule, path, fragment):
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert caught.value.path == path
    assert fragment in caught.value.problem


def test_deeply_nested_rule_is_refused():
    rule: dict = {"attr": "device.is_mdm_enrolled", "op": "==", "value": True}
    for _ in range(10):
        rule = {"not": rule}
    with pytest.raises(RuleError, match="nested more than"):
        parse_rule(rule)


def test_rule_round_trips_through_json():
    data = {
        "any": [
            {"attr": "device.network", "op": "not_in", "value": ["none", "commercial"]},
            {"attr": "device.firmware", "op": "is_not_set"},
            {"attr": "health.battery_pct", "op": "<", "value": 15},
        ]
    }
    node = parse_rule(data)
    assert parse_rule(node_to_json(node)) == node


def test_describe_reads_like_a_sentence():
    node = parse_rule(
        {
            "all": [
                {"attr": "device.firmware", "op": ">=", "value": "3.2.1"},
                {"attr": "device.is_mdm_enrolled", "op": "==", "value": True},
            ]
        }
    )
    assert describe(node) == "(firmware at least 3.2.1 and enrolled in MDM)"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


ORDERED = [
    "1.0.dev1",
    "1.0a1",
    "1.0b2",
    "1.0rc1",
    "1.0",
    "1.0.post1",
    "1.0.1",
    "2.1.0-b3",
    "2.1.0",
    "3.2",
    "3.2.1",
    "3.10",
    "9.9.9",
    "10.0",
    "10.0.19045",
    "2024.5.13",
]


def test_version_keys_sort_like_pep_440():
    keys = [parse_version(v).as_tuple() for v in ORDERED]
    assert keys == sorted(keys)
    assert [Version(v) for v in ORDERED] == sorted(Version(v) for v in ORDERED)


def test_equal_versions_have_equal_keys():
    assert parse_version("3.2") == parse_version("3.2.0") == parse_version("v3.2.0.0")
    assert parse_version("3.2.1+oem7") == parse_version("3.2.1")  # local labels are ignored


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("abc", "is not a version"),
        ("3.2.1-build45", "is not a version"),
        ("1!2.0", "epoch"),
        ("1.2.3.4.5", "more than four"),
        ("1.2000000", "above"),
    ],
)
def test_unusable_versions_say_why(raw, fragment):
    with pytest.raises(VersionProblem, match=fragment):
        parse_version(raw)
