"""A straightforward per-device reference evaluator, and property tests that the vectorised
engine agrees with it on generated rules and fleets.

The reference is deliberately naive: plain Python over one dict per device, versions ordered
by ``packaging.version.Version`` (not by the engine's integer keys), Kleene three-valued logic
spelled out. It lives in the tests so the engine cannot quietly share its mistakes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from readiness import scoring
from readiness.attributes import ATTRIBUTES, AttrType
from readiness.frames import fleet_frame_from_records
from readiness.rules import All, AnyOf, CompiledRequirement, Node, Not, parse_rule
from readiness.versions import VersionProblem, parse_version

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
F, U, T = 0, 1, 2


# --- the reference ------------------------------------------------------------------------


def ref_version(raw: str) -> Version | None:
    """The version to order by, or None when the engine's contract calls it unusable."""
    try:
        parse_version(raw)
    except VersionProblem:
        return None
    return Version(Version(raw.strip()).public)  # local labels are ignored by contract


def ref_value(node: Node, row: dict, now: datetime) -> int:
    if isinstance(node, All):
        return min(ref_value(c, row, now) for c in node.children)
    if isinstance(node, AnyOf):
        return max(ref_value(c, row, now) for c in node.children)
    if isinstance(node, Not):
        return 2 - ref_value(node.child, row, now)
    value = row.get(node.attr.name)
    if isinstance(value, str) and value.strip() == "":
        value = None
    if node.op == "is_set":
        return T if value is not None else F
    if node.op == "is_not_set":
        return F if value is not None else T
    if node.op == "within":
        return T if value is not None and value >= now - node.value else F
    if value is None:
        return U
    if node.attr.type is AttrType.VERSION:
        actual = ref_version(value)
        if actual is None:
            return U
        targets = (
            [ref_version(r) for r in node.raw]
            if node.op in ("in", "not_in")
            else ref_version(node.raw)
        )
        return T if _holds(node.op, actual, targets) else F
    target = node.raw
    if node.attr.type is AttrType.NUMBER:
        value = float(value)
    return T if _holds(node.op, value, target) else F


def _holds(op: str, a, b) -> bool:
    return {
        "==": lambda: a == b,
        "!=": lambda: a != b,
        "<": lambda: a < b,
        "<=": lambda: a <= b,
        ">": lambda: a > b,
        ">=": lambda: a >= b,
        "in": lambda: a in b,
        "not_in": lambda: a not in b,
    }[op]()


def ref_status(req: CompiledRequirement, row: dict, now: datetime) -> str:
    if req.applies_to and row.get("device.kind") not in req.applies_to:
        return "not_applicable"
    if req.applies_when is not None and ref_value(req.applies_when, row, now) == F:
        return "not_applicable"
    return "pass" if ref_value(req.rule, row, now) == T else "fail"


def ref_ready(reqs: list[CompiledRequirement], row: dict, now: datetime) -> bool:
    level = row.get("health.level") or "never_seen"
    if level in ("never_seen", "offline", "unreachable") or row.get("health.last_seen") is None:
        return False
    return not any(r.is_mandatory and ref_status(r, row, now) == "fail" for r in reqs)


# --- generators ---------------------------------------------------------------------------

VERSIONS = [
    "1.0",
    "1.0.0",
    "2.1.0-b3",
    "2.1.0rc1",
    "2.1.0",
    "3.2",
    "3.2.1",
    "3.10",
    "10.0",
    "v3.2.1",
    "3.2.1+oem",
    "1.0.post1",
    "1.0.dev2",
    "9.9.9",
]
BAD_VERSIONS = ["abc", "3.2.1-build45", "1!1.0", " "]
POOLS = {
    "device.kind": ["smartphone", "tablet", "body_camera", "modem"],
    "device.network": ["firstnet", "commercial", "none"],
    "agency.firstnet_status": ["subscribed", "pilot", "declined"],
    "device.manufacturer": ["Axon", "Samsung", "Sonim"],
    "device.is_mdm_enrolled": [True, False],
    "health.gps_fix": [True, False],
    "model.fips_140_level": [1, 2, 3],
    "health.battery_pct": [0.0, 15.0, 20.0, 55.5, 100.0],
    "device.firmware": VERSIONS + BAD_VERSIONS,
    "health.last_seen": [
        NOW - timedelta(minutes=5),
        NOW - timedelta(hours=30),
        NOW - timedelta(days=8),
        NOW + timedelta(minutes=2),
    ],
    "health.level": ["online", "late", "offline", "never_seen", "unreachable"],
}
RULE_ATTRS = [a for a in POOLS if a != "health.level"]


def value_for(attr_name: str):
    attr = ATTRIBUTES[attr_name]
    if attr.type is AttrType.VERSION:
        return st.sampled_from(VERSIONS)
    if attr.type is AttrType.TIMESTAMP:
        return st.sampled_from(["1h", "24h", "7d", "30m"])
    return st.sampled_from(POOLS[attr_name])


@st.composite
def leaves(draw):
    name = draw(st.sampled_from(RULE_ATTRS))
    attr = ATTRIBUTES[name]
    ops = sorted(attr.operators)
    if attr.type in (AttrType.BOOL, AttrType.ENUM, AttrType.TEXT):
        ops = [o for o in ops if o in ("==", "!=", "in", "not_in", "is_set", "is_not_set")]
    op = draw(st.sampled_from(ops))
    rule: dict = {"attr": name, "op": op}
    if op in ("in", "not_in"):
        rule["value"] = draw(st.lists(value_for(name), min_size=1, max_size=3))
    elif op not in ("is_set", "is_not_set"):
        rule["value"] = draw(value_for(name))
    return rule


rules = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)


@st.composite
def fleets(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    rows = []
    for i in range(n):
        row = {
            "device_id": i + 1,
            "agency_id": draw(st.integers(1, 3)),
            "model.telemetry_interval_s": 300,
        }
        for name, pool in POOLS.items():
            row[name] = draw(st.one_of(st.none(), st.sampled_from(pool)))
        rows.append(row)
    return rows


@st.composite
def requirement_lists(draw):
    count = draw(st.integers(min_value=1, max_value=4))
    reqs = []
    for i in range(count):
        when = draw(st.one_of(st.none(), leaves()))
        reqs.append(
            CompiledRequirement(
                key=f"r{i}",
                code=f"R{i}",
                title=f"r{i}",
                rule=parse_rule(draw(rules)),
                applies_to=frozenset(
                    draw(st.lists(st.sampled_from(POOLS["device.kind"]), max_size=2))
                ),
                applies_when=parse_rule(when) if when else None,
                severity=draw(st.sampled_from(["mandatory", "recommended"])),
                weight=draw(st.integers(1, 5)),
            )
        )
    return reqs


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=fleets(), reqs=requirement_lists())
def test_vectorised_and_reference_agree_on_every_status(rows, reqs):
    fleet = fleet_frame_from_records(rows)
    results = scoring.evaluate(fleet, reqs, NOW)
    got = results["status"].astype(str).to_numpy().reshape(len(reqs), len(rows))
    for j, req in enumerate(reqs):
        expected = [ref_status(req, row, NOW) for row in rows]
        assert got[j].tolist() == expected, (req.key, req.rule)
    # A reason is given exactly where a result is not a pass.
    reasons = results["reason"].astype(str).to_numpy()
    passed = results["status"].astype(str).to_numpy() == "pass"
    assert (reasons[passed] == "").all()
    assert (reasons[~passed] != "").all()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=fleets(), reqs=requirement_lists())
def test_vectorised_and_reference_agree_on_readiness_and_scores(rows, reqs):
    fleet = fleet_frame_from_records(rows)
    results = scoring.evaluate(fleet, reqs, NOW)
    ready = scoring.device_readiness(results, fleet, reqs, now=NOW)
    assert ready["is_ready"].tolist() == [ref_ready(reqs, row, NOW) for row in rows]
    state = scoring.aggregate(results, fleet, reqs, now=NOW, by="state").iloc[0]
    applicable = ok = 0.0
    for req in reqs:
        for row in rows:
            status = ref_status(req, row, NOW)
            if status != "not_applicable":
                applicable += req.weight
                ok += req.weight if status == "pass" else 0
    if applicable:
        assert np.isclose(state["score_pct"], ok / applicable * 100)
    else:
        assert np.isnan(state["score_pct"])


@settings(max_examples=200, deadline=None)
@given(a=st.sampled_from(VERSIONS), b=st.sampled_from(VERSIONS))
def test_version_keys_order_like_packaging(a, b):
    ka, kb = parse_version(a).as_tuple(), parse_version(b).as_tuple()
    va, vb = ref_version(a), ref_version(b)
    assert (ka < kb) == (va < vb)
    assert (ka == kb) == (va == vb)
