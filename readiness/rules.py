"""The rule language: declarative requirement rules, parsed and validated into a typed tree.

Rules are data (JSON in the database, inline tables in the TOML files), never Python. A rule
is one of:

- a comparison ``{"attr": "device.firmware", "op": ">=", "value": "3.2.1"}``;
- ``{"all": [rule, ...]}``, ``{"any": [rule, ...]}`` or ``{"not": rule}``.

Operators: ``== != < <= > >=``, ``in`` / ``not_in`` (a non-empty list), ``is_set`` /
``is_not_set`` (no value) and ``within`` (a duration such as ``"30m"``, ``"24h"``,
``"7d"``, ``"2w"``). Which operators and values an attribute accepts is decided by its type
(``readiness.attributes``): an unknown attribute, an operator its type does not have, a
value of the wrong type, an enum value outside its choices or a version string that does not
parse is a ``RuleError`` naming where in the rule it is (``all[1].value``).

Meaning (three-valued, so a missing value is never silently a pass):
a comparison on a value that is not set, or on firmware that is not a version, is *unknown*;
``all`` is false if any part is false, else unknown if any part is unknown; ``any`` is true
if any part is true, else unknown if any part is unknown; ``not`` swaps true and false and
keeps unknown. A requirement passes only where its rule is true. ``is_set``/``is_not_set``
are never unknown, and ``within`` on a device never seen is false ("never seen").
Versions compare by release order (``readiness.versions``), not as strings.

Public API: ``parse_rule(data) -> Node``, ``CompiledRequirement`` (what
``readiness.scoring.evaluate`` takes), ``describe(node)`` and ``node_to_json(node)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from readiness.attributes import Attribute, AttrType, get_attribute
from readiness.versions import VersionKey, VersionProblem, parse_version

COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
MEMBERSHIP = frozenset({"in", "not_in"})
PRESENCE = frozenset({"is_set", "is_not_set"})
OPERATORS = COMPARISONS | MEMBERSHIP | PRESENCE | {"within"}
MAX_DEPTH = 8  # a deeper rule is a mistake, not a policy
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class RuleError(ValueError):
    """A rule that cannot be loaded: ``path`` says where in the rule, ``problem`` what."""

    def __init__(self, problem: str, path: str = "rule"):
        super().__init__(f"{path}: {problem}")
        self.problem = problem
        self.path = path


@dataclass(frozen=True)
class Compare:
    """attribute op value. ``value`` is typed by the attribute (see ``parse_rule``)."""

    attr: Attribute
    op: str
    # bool | str | float | VersionKey | timedelta | tuple of those (membership) | None (presence)
    value: Any
    raw: Any  # the value as written, for reasons and for writing the rule back


@dataclass(frozen=True)
class All:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Compare | All | AnyOf | Not


@dataclass(frozen=True)
class CompiledRequirement:
    """A requirement ready to evaluate: what ``readiness.scoring.evaluate`` takes.

    ``applies_to`` holds device kinds (empty: every kind); ``applies_when`` an optional rule
    that limits it further (e.g. only devices with CJI access). Built from the database by
    ``readiness.catalog.requirements_for_version``, or by hand in tests.
    """

    key: str
    code: str
    title: str
    rule: Node
    severity: str = "mandatory"
    weight: int = 1
    applies_to: frozenset[str] = field(default_factory=frozenset)
    applies_when: Node | None = None
    section: str = ""
    due_on: date | None = None
    requirement_id: int | None = None
    version_id: int | None = None

    @property
    def is_mandatory(self) -> bool:
        return self.severity == "mandatory"


def parse_duration(text: object) -> timedelta:
    """``"7d"`` -> 7 days. Raises ValueError for anything else (zero included)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_rule(data: object, path: str = "rule", _depth: int = 0) -> Node:
    """Validate ``data`` (JSON-like) and return its typed tree; raise RuleError on any mistake."""
    if _depth > MAX_DEPTH:
        raise RuleError(f"nested more than {MAX_DEPTH} levels deep", path)
    if not isinstance(data, dict):
        raise RuleError(
            f"expected a table (attr/op/value, all, any or not), got {_kind(data)}", path
        )
    shapes = [k for k in ("attr", "all", "any", "not") if k in data]
    if len(shapes) != 1:
        raise RuleError("needs exactly one of 'attr', 'all', 'any' or 'not'", path)
    shape = shapes[0]
    if shape in ("all", "any"):
        _no_extra_keys(data, {shape}, path)
        parts = data[shape]
        if not isinstance(parts, list) or not parts:
            raise RuleError(f"'{shape}' needs a non-empty list of rules", path)
        children = tuple(
            parse_rule(p, f"{path}.{shape}[{i}]", _depth + 1) for i, p in enumerate(parts)
        )
        return All(children) if shape == "all" else AnyOf(children)
    if shape == "not":
        _no_extra_keys(data, {"not"}, path)
        return Not(parse_rule(data["not"], f"{path}.not", _depth + 1))
    return _parse_compare(data, path)


def _parse_compare(data: dict[str, Any], path: str) -> Compare:
    _no_extra_keys(data, {"attr", "op", "value"}, path)
    name = data.get("attr")
    attr = get_attribute(name) if isinstance(name, str) else None
    if attr is None:
        raise RuleError(
            f"unknown attribute {name!r} (see readiness.attributes for the list)", f"{path}.attr"
        )
    op = data.get("op")
    if op not in OPERATORS:
        raise RuleError(
            f"unknown operator {op!r}; use one of {', '.join(sorted(OPERATORS))}", f"{path}.op"
        )
    if op not in attr.operators:
        raise RuleError(
            f"operator {op!r} does not apply to {attr.name} ({attr.type}); use one of "
            f"{', '.join(sorted(attr.operators))}",
            f"{path}.op",
        )
    if op in PRESENCE:
        if data.get("value") is not None:
            raise RuleError(f"'{op}' takes no value", f"{path}.value")
        return Compare(attr, op, None, None)
    if "value" not in data:
        raise RuleError(f"'{op}' needs a value", f"{path}.value")
    raw = data["value"]
    vpath = f"{path}.value"
    if op == "within":
        try:
            return Compare(attr, op, parse_duration(raw), raw)
        except ValueError as exc:
            raise RuleError(str(exc), vpath) from None
    if op in MEMBERSHIP:
        if not isinstance(raw, list) or not raw:
            raise RuleError(f"'{op}' needs a non-empty list", vpath)
        values = tuple(_typed_value(attr, v, f"{vpath}[{i}]") for i, v in enumerate(raw))
        return Compare(attr, op, values, tuple(raw))  # a tuple: nodes are hashable
    if attr.type in (AttrType.BOOL, AttrType.ENUM, AttrType.TEXT) and op not in ("==", "!="):
        raise RuleError(
            f"'{op}' needs an ordered attribute; {attr.name} is {attr.type}", f"{path}.op"
        )
    return Compare(attr, op, _typed_value(attr, raw, vpath), raw)


def _typed_value(attr: Attribute, raw: object, path: str) -> Any:
    if attr.type is AttrType.BOOL:
        if not isinstance(raw, bool):
            raise RuleError(f"{attr.name} is true or false, got {_kind(raw)} {raw!r}", path)
        return raw
    if attr.type is AttrType.NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise RuleError(f"{attr.name} is a number, got {_kind(raw)} {raw!r}", path)
        return float(raw)
    if not isinstance(raw, str):
        raise RuleError(
            f"{attr.name} is {attr.type}: give a string, got {_kind(raw)} {raw!r}", path
        )
    if attr.type is AttrType.ENUM and raw not in attr.choices:
        raise RuleError(f"{raw!r} is not a {attr.name}; choices: {', '.join(attr.choices)}", path)
    if attr.type is AttrType.VERSION:
        try:
            return parse_version(raw)
        except VersionProblem as exc:
            raise RuleError(f"{attr.name}: {exc}", path) from None
    return raw


def _no_extra_keys(data: dict[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise RuleError(f"unexpected key(s) {', '.join(map(repr, extra))}", path)


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def node_to_json(node: Node) -> dict[str, Any]:
    """The rule back as JSON data (``parse_rule(node_to_json(n)) == n``)."""
    if isinstance(node, All):
        return {"all": [node_to_json(c) for c in node.children]}
    if isinstance(node, AnyOf):
        return {"any": [node_to_json(c) for c in node.children]}
    if isinstance(node, Not):
        return {"not": node_to_json(node.child)}
    out: dict[str, Any] = {"attr": node.attr.name, "op": node.op}
    if node.op not in PRESENCE:
        out["value"] = list(node.raw) if isinstance(node.raw, tuple) else node.raw
    return out


_OP_WORDS = {
    "==": "is",
    "!=": "is not",
    "<": "below",
    "<=": "at most",
    ">": "above",
    ">=": "at least",
    "in": "one of",
    "not_in": "not one of",
    "within": "within",
}


def describe(node: Node) -> str:
    """The rule in words, e.g. "firmware at least 3.2.1 and enrolled in MDM"."""
    if isinstance(node, All | AnyOf):
        joiner = " and " if isinstance(node, All) else " or "
        parts = [describe(c) for c in node.children]
        return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    if isinstance(node, Not):
        return f"not {describe(node.child)}"
    attr = node.attr
    if node.op == "is_set":
        return f"{attr.label} is set"
    if node.op == "is_not_set":
        return f"{attr.label} is not set"
    if attr.type is AttrType.BOOL:
        return attr.yes if (node.value is True) == (node.op == "==") else attr.no
    if node.op in MEMBERSHIP:
        return f"{attr.label} {_OP_WORDS[node.op]} {', '.join(map(str, node.raw))}"
    if node.op == "within":
        return f"{attr.label} within {node.raw}"
    return f"{attr.label} {_OP_WORDS[node.op]} {node.raw}"


def attributes_used(node: Node) -> set[str]:
    """The attribute names a rule reads (the frame must have these columns)."""
    if isinstance(node, All | AnyOf):
        return set().union(*(attributes_used(c) for c in node.children))
    if isinstance(node, Not):
        return attributes_used(node.child)
    return {node.attr.name}


__all__ = [
    "All",
    "AnyOf",
    "Compare",
    "CompiledRequirement",
    "Node",
    "Not",
    "RuleError",
    "VersionKey",
    "attributes_used",
    "describe",
    "node_to_json",
    "parse_duration",
    "parse_rule",
]
