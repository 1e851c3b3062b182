"""Pure pandas/numpy scoring: a fleet frame x compiled requirements -> results -> scores.

Nothing here touches the ORM; ``now`` is always a parameter. The three steps:

1. ``evaluate(fleet, requirements, now)`` -> the results frame, one row per device x
   requirement: ``device_id`` (int64), ``agency_id`` (int64), ``stable_key`` (category),
   ``status`` (category: pass / fail / waived / not_applicable) and ``reason`` (category: the
   reason in words, e.g. "firmware 3.1.0 is below 3.2.1"; "" for a pass). Rows come in
   blocks, one per requirement in the order given, each block in the fleet's row order;
   ``aggregate`` takes a fast path when that layout is intact and a slower exact one when not.
2. Between the two, a caller may turn ``fail`` into ``waived`` (``readiness.waiver_rules``).
3. ``aggregate(results, fleet, requirements, now=..., by=...)`` -> per group (agency,
   cabinet, county or the whole state): devices, ready devices, the weighted score, result
   counts and telemetry coverage. ``device_readiness`` gives the per-device view.

Semantics (see ``readiness.rules`` for the rule language):

- A requirement applies to a device when its kind is in ``applies_to`` (empty: any kind) and
  its ``applies_when`` rule is not false. Elsewhere the status is ``not_applicable``.
- An applicable requirement passes where its rule is true; false or unknown is a fail, with
  the reason (unknown: "firmware is unknown", "firmware 'abc' is not a version").
- A device is ready when every applicable mandatory requirement passes or is waived, *and*
  it is not silent: a device never seen, offline, unreachable or past its offline deadline
  is never ready, whatever its results.
- The score is sum(weight of passed or waived results) / sum(weight of applicable results),
  in percent. Coverage is the share of devices that reported within their expected interval
  (``health.late_after``, or last seen + the model's interval, is still ahead of ``now``).

All vectorised: evaluation computes each rule as a numpy array of three-valued truth
(0 false, 1 unknown, 2 true: then "and" is min, "or" is max and "not" is 2 - x), and the
reasons only for the rows that fail, from small per-category tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from readiness.attributes import Attribute, AttrType, version_key_columns
from readiness.rules import All, AnyOf, Compare, CompiledRequirement, Node, Not, describe
from readiness.versions import VersionProblem, parse_version

PASS = "pass"
FAIL = "fail"
WAIVED = "waived"
NOT_APPLICABLE = "not_applicable"
STATUSES = [PASS, FAIL, WAIVED, NOT_APPLICABLE]  # the category order of ``status``
_S_PASS, _S_FAIL, _S_WAIVED, _S_NA = 0, 1, 2, 3

FALSE, UNKNOWN, TRUE = 0, 1, 2

# Levels (telemetry.models.HealthLevel) at which a device is silent and so never ready.
SILENT_LEVELS = frozenset({"never_seen", "offline", "unreachable"})

GROUPINGS = {
    "agency": "agency_id",
    "cabinet": "cabinet_id",
    "county": "agency.county",
    "state": None,
}

_NS_PER_S = 1_000_000_000


class FrameError(ValueError):
    """The fleet frame lacks a column a rule needs, or has it in the wrong form."""


def to_utc_ns(values: pd.Series) -> np.ndarray:
    """A datetime column as int64 nanoseconds since the epoch, UTC; NaT as the int64 minimum."""
    ts = pd.to_datetime(values, utc=True).dt.as_unit("ns").dt.tz_localize(None)
    result: np.ndarray = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return result


def _now_ns(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(pd.Timestamp(now).tz_convert("UTC").as_unit("ns").value)


def _unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for non-negative integer keys, without sorting
    when their range is small (the usual case: category x truth), which is O(n)."""
    if len(keys) == 0:
        return keys[:0].astype(np.int64), np.zeros(0, dtype=np.intp)
    top = int(keys.max())
    if keys.min() < 0 or top > 4 * len(keys) + 1_000_000:
        return np.unique(keys, return_inverse=True)
    present = np.bincount(keys, minlength=top + 1) > 0
    uniq = np.flatnonzero(present)
    lut: np.ndarray = np.zeros(top + 1, dtype=np.intp)
    lut[uniq] = np.arange(len(uniq))
    return uniq, lut[keys]


class _Reasons:
    """The reason strings of one evaluation: each distinct text gets one code."""

    def __init__(self) -> None:
        self.texts: list[str] = [""]
        self._codes: dict[str, int] = {"": 0}

    def code(self, text: str) -> int:
        found = self._codes.get(text)
        if found is None:
            found = self._codes[text] = len(self.texts)
            self.texts.append(text)
        return found

    def join(self, parts: list[np.ndarray]) -> np.ndarray:
        """Row by row, the texts of several code arrays joined with "; "."""
        out = parts[0]
        for nxt in parts[1:]:
            pair = out.astype(np.int64) * (len(self.texts) + 1) + nxt
            uniq, inverse = _unique_inverse(pair)
            width = len(self.texts) + 1
            table = np.array(
                [
                    self.code(f"{self.texts[u // width]}; {self.texts[u % width]}")
                    for u in uniq.tolist()
                ],
                dtype=np.int32,
            )
            out = table[inverse]
        return out


def _empty() -> np.ndarray:
    return np.zeros(0)


@dataclass
class _Column:
    """One attribute's column, prepared once per evaluation for fast comparisons."""

    # Every type fills `values`; the other fields stay empty for the types that have none.
    attr: Attribute
    missing: np.ndarray  # bool: value not set
    values: np.ndarray  # bool / float64 / int64 ns, or category codes
    categories: list[object] = field(default_factory=list)  # enum, text, version: raw values
    hi: np.ndarray = field(default_factory=_empty)  # version keys
    lo: np.ndarray = field(default_factory=_empty)
    cat_valid: np.ndarray = field(default_factory=_empty)  # version: does the category parse?


class _Evaluator:
    def __init__(self, fleet: pd.DataFrame, now: datetime) -> None:
        self.fleet = fleet
        self.n = len(fleet)
        self.now_ns = _now_ns(now)
        self.reasons = _Reasons()
        self._columns: dict[str, _Column] = {}
        self._values: dict[Node, np.ndarray] = {}

    # --- columns ---------------------------------------------------------------------------

    def column(self, attr: Attribute) -> _Column:
        col = self._columns.get(attr.name)
        if col is None:
            col = self._columns[attr.name] = self._prepare(attr)
        return col

    def _series(self, name: str) -> pd.Series:
        if name not in self.fleet.columns:
            raise FrameError(
                f"the fleet frame has no column {name!r}; build it with readiness.frames"
            )
        return self.fleet[name]

    def _prepare(self, attr: Attribute) -> _Column:
        s = self._series(attr.name)
        if attr.type is AttrType.BOOL:
            missing = s.isna().to_numpy()
            return _Column(attr, missing, values=s.fillna(False).to_numpy(dtype=bool))
        if attr.type is AttrType.NUMBER:
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
            return _Column(attr, np.isnan(values), values=values)
        if attr.type is AttrType.TIMESTAMP:
            values = to_utc_ns(s)
            return _Column(attr, s.isna().to_numpy(), values=values)
        if not isinstance(s.dtype, pd.CategoricalDtype):
            raise FrameError(
                f"column {attr.name!r} must be categorical; build it with readiness.frames"
            )
        codes = s.cat.codes.to_numpy()
        col = _Column(attr, codes < 0, values=codes, categories=list(s.cat.categories))
        if attr.type is AttrType.VERSION:
            hi_name, lo_name = version_key_columns(attr.name)
            col.hi = self._series(hi_name).to_numpy(dtype=np.int64)
            col.lo = self._series(lo_name).to_numpy(dtype=np.int64)
            valid: np.ndarray = np.zeros(len(col.categories) + 1, dtype=bool)
            valid[codes[col.hi >= 0]] = True  # index -1 (missing) lands in the spare last slot
            col.cat_valid = valid[:-1]
        return col

    # --- truth values ----------------------------------------------------------------------

    def value(self, node: Node) -> np.ndarray:
        """Three-valued truth of ``node`` for every device (int8: 0 false, 1 unknown, 2 true)."""
        found = self._values.get(node)
        if found is None:
            found = self._values[node] = self._compute(node)
        return found

    def _compute(self, node: Node) -> np.ndarray:
        if isinstance(node, All):
            lowest: np.ndarray = np.minimum.reduce([self.value(c) for c in node.children])
            return lowest
        if isinstance(node, AnyOf):
            highest: np.ndarray = np.maximum.reduce([self.value(c) for c in node.children])
            return highest
        if isinstance(node, Not):
            return (TRUE - self.value(node.child)).astype(np.int8)
        return self._compare(node)

    def _compare(self, node: Compare) -> np.ndarray:
        col = self.column(node.attr)
        op, t = node.op, node.attr.type
        present = ~col.missing
        if op in ("is_set", "is_not_set"):
            result: np.ndarray = (present if op == "is_set" else col.missing).astype(
                np.int8
            ) * np.int8(TRUE)
            return result
        if op == "within":
            window = int(node.value.total_seconds()) * _NS_PER_S
            seen = present & (col.values >= self.now_ns - window)
            within: np.ndarray = seen.astype(np.int8) * np.int8(TRUE)
            return within
        known = present
        if t is AttrType.VERSION:
            known = present & (col.hi >= 0)
            holds = self._version_op(col, op, node.value)
        elif t in (AttrType.ENUM, AttrType.TEXT):
            holds = self._category_op(col, op, node.value)
        elif op in ("in", "not_in"):
            holds = np.isin(col.values, np.asarray(node.value, dtype=col.values.dtype))
            holds = holds if op == "in" else ~holds
        else:
            holds = _ORDER_OPS[op](col.values, node.value)
        out: np.ndarray = holds.astype(np.int8) * np.int8(TRUE)  # true 2, false 0
        out[~known] = UNKNOWN
        return out

    @staticmethod
    def _category_op(col: _Column, op: str, value: Any) -> np.ndarray:
        # ``value`` as Compare.value holds it: a str, or a tuple of them for membership.
        wanted = {value} if op in ("==", "!=") else set(value)
        lut = np.array([c in wanted for c in col.categories] + [False], dtype=bool)
        holds = lut[col.values]  # code -1 reads the spare False slot; missing is masked anyway
        result: np.ndarray = holds if op in ("==", "in") else ~holds
        return result

    @staticmethod
    def _version_op(col: _Column, op: str, value: Any) -> np.ndarray:
        # ``value`` as Compare.value holds it: a VersionKey, or a tuple of them for membership.
        hi, lo = col.hi, col.lo
        if op in ("in", "not_in"):
            holds: np.ndarray = np.zeros(len(hi), dtype=bool)
            for key in value:
                holds |= (hi == key.hi) & (lo == key.lo)
            return holds if op == "in" else ~holds
        k_hi, k_lo = value.hi, value.lo
        if op in ("==", "!="):
            eq = (hi == k_hi) & (lo == k_lo)
            result: np.ndarray = eq if op == "==" else ~eq
            return result
        # Lexicographic (hi, lo) order, the same order as the versions themselves.
        above = (hi > k_hi) | ((hi == k_hi) & (lo > k_lo))
        below = (hi < k_hi) | ((hi == k_hi) & (lo < k_lo))
        ordered: np.ndarray = {">": above, ">=": ~below, "<": below, "<=": ~above}[op]
        return ordered

    # --- reasons ---------------------------------------------------------------------------

    def explain(self, node: Node, rows: np.ndarray) -> np.ndarray:
        """Reason codes saying why ``node`` has its value on each of ``rows`` (row positions)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.int32)
        if isinstance(node, Not):
            # The child's own explanation is the reason: not(network is commercial) fails
            # because "network is commercial".
            return self.explain(node.child, rows)
        if isinstance(node, Compare):
            return self._explain_compare(node, rows)
        val = self.value(node)[rows]
        out: np.ndarray = np.zeros(len(rows), dtype=np.int32)
        # all: false/unknown because of its first false/unknown part; true because of all parts.
        # any: true because of its first true part; false/unknown because of all its parts.
        first_wins = (FALSE, UNKNOWN) if isinstance(node, All) else (TRUE,)
        pick_first = np.isin(val, first_wins)
        if pick_first.any():
            sub = rows[pick_first]
            sub_val = val[pick_first]
            codes: np.ndarray = np.zeros(len(sub), dtype=np.int32)
            todo: np.ndarray = np.ones(len(sub), dtype=bool)
            for child in node.children:
                hit = todo & (self.value(child)[sub] == sub_val)
                if hit.any():
                    codes[hit] = self.explain(child, sub[hit])
                    todo &= ~hit
            out[pick_first] = codes
        if (~pick_first).any():
            sub = rows[~pick_first]
            out[~pick_first] = self.reasons.join([self.explain(c, sub) for c in node.children])
        return out

    def _explain_compare(self, node: Compare, rows: np.ndarray) -> np.ndarray:
        col = self.column(node.attr)
        val = self.value(node)[rows].astype(np.int64)
        t = node.attr.type
        if t in (AttrType.ENUM, AttrType.TEXT, AttrType.VERSION, AttrType.BOOL):
            # Few distinct actual values: a table over (actual, truth) indexed directly.
            if t is AttrType.BOOL:
                actual = np.where(col.missing[rows], -1, col.values[rows].astype(np.int64))
                actuals: list[object] = [False, True]
            else:
                actual = col.values[rows].astype(np.int64)
                actuals = col.categories
            key = (actual + 1) * 3 + val
            uniq, inverse = _unique_inverse(key)
            table = np.array(
                [
                    self.reasons.code(
                        self._text(node, col, None if u // 3 == 0 else u // 3 - 1, actuals, u % 3)
                    )
                    for u in uniq.tolist()
                ],
                dtype=np.int32,
            )
            result: np.ndarray = table[inverse]
            return result
        # Numbers and timestamps: the rows' distinct values (timestamps bucketed to a
        # readable age first), then one text per distinct value.
        if t is AttrType.TIMESTAMP:
            # Ages in whole minutes of their display bucket, + 1 so that 0 means never seen:
            # a small non-negative range, counted without sorting.
            missing = col.missing[rows]
            age_s = (self.now_ns - col.values[rows]) // _NS_PER_S
            minutes = np.where(missing, -1, _age_bucket(age_s) // 60) + 1
            uniq_vals, inverse = _unique_inverse(minutes)
            codes = [None if u == 0 else (u - 1) * 60 for u in uniq_vals.tolist()]
        else:
            uniq_vals, inverse = np.unique(col.values[rows], return_inverse=True)
            codes = [None if np.isnan(u) else u for u in uniq_vals.tolist()]
        texts: np.ndarray = np.empty(len(rows), dtype=np.int32)
        # The truth may differ between rows with the same value only for "within" at bucket
        # edges, so the key is (value index, truth).
        key = inverse.astype(np.int64) * 3 + val
        ukeys, kinv = _unique_inverse(key)
        table = np.array(
            [
                self.reasons.code(self._text(node, col, codes[k // 3], None, k % 3))
                for k in ukeys.tolist()
            ],
            dtype=np.int32,
        )
        texts[:] = table[kinv]
        return texts

    def _text(
        self,
        node: Compare,
        col: _Column,
        actual: float | None,
        actuals: list[object] | None,
        truth: int,
    ) -> str:
        """The reason for one (actual value, truth) pair of a comparison."""
        attr, op = node.attr, node.op
        label = attr.label
        if attr.type is AttrType.TIMESTAMP:
            # An age in seconds, never an index into ``actuals``.
            if actual is None:
                return "never seen"
            seen = f"last seen {_age_words(int(actual))}"
            if op == "within":
                return f"{seen}, {'within' if truth == TRUE else 'not within'} {node.raw}"
            return seen
        value: object = actual
        if actuals is not None and actual is not None:
            value = actuals[int(actual)]
        if value is None:
            if op in ("is_set", "is_not_set"):
                return f"{label} is not set"
            return f"{label} is unknown"
        if attr.type is AttrType.BOOL:
            return attr.yes if value else attr.no
        shown = _show(attr, value)
        if attr.type is AttrType.VERSION and truth == UNKNOWN:
            try:
                parse_version(str(value))
            except VersionProblem as exc:
                return f"{label} {exc}"
        if op in ("is_set", "is_not_set"):
            return f"{label} is {shown}"
        ok = truth == TRUE
        if op in ("in", "not_in"):
            listed = ", ".join(_show(attr, v) for v in node.raw)
            if ok:
                return f"{label} is {shown}"
            return (
                f"{label} is {shown}, not one of {listed}"
                if op == "in"
                else f"{label} {shown} is excluded ({listed})"
            )
        target = _show(attr, node.raw)
        if attr.type in (AttrType.ENUM, AttrType.TEXT):
            if op == "==" and not ok:
                return f"{label} is {shown}, not {target}"
            return f"{label} is {shown}"
        words = {
            "<": ("is below", "is not below"),
            "<=": ("is at most", "is above"),
            ">": ("is above", "is not above"),
            ">=": ("is at least", "is below"),
            "==": ("is", "is not"),
            "!=": ("is not", "is"),
        }[op]
        return f"{label} {shown} {words[0] if ok else words[1]} {target}"


_ORDER_OPS = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _show(attr: Attribute, value: object) -> str:
    if attr.type is AttrType.NUMBER and isinstance(value, int | float):
        return f"{value:g}{attr.unit}"
    return str(value)


def _age_bucket(age_s: np.ndarray) -> np.ndarray:
    """Ages rounded down to the unit they are shown in, so similar ages share one reason."""
    out = np.where(age_s < 120, 0, age_s)
    out = np.where((age_s >= 120) & (age_s < 7200), age_s // 60 * 60, out)
    out = np.where((age_s >= 7200) & (age_s < 172800), age_s // 3600 * 3600, out)
    result: np.ndarray = np.where(age_s >= 172800, age_s // 86400 * 86400, out)
    return result


def _age_words(age_s: int) -> str:
    if age_s < 120:
        return "just now"
    if age_s < 7200:
        return f"{age_s // 60} minutes ago"
    if age_s < 172800:
        return f"{age_s // 3600} hours ago"
    return f"{age_s // 86400} days ago"


# --- public API ---------------------------------------------------------------------------


def evaluate(
    fleet: pd.DataFrame, requirements: Sequence[CompiledRequirement], now: datetime
) -> pd.DataFrame:
    """Every device of ``fleet`` against every requirement: the results frame (see module doc).

    ``fleet`` comes from ``readiness.frames`` (``build_fleet_frame`` or
    ``fleet_frame_from_records``); ``now`` is timezone-aware and decides "seen within".
    Raises FrameError when a rule reads a column the frame lacks.
    """
    keys = [r.key for r in requirements]
    if len(set(keys)) != len(keys):
        raise ValueError("requirements must have distinct keys")
    ev = _Evaluator(fleet, now)
    n = len(fleet)
    kind = ev._series("device.kind")
    kind_codes = kind.cat.codes.to_numpy() if isinstance(kind.dtype, pd.CategoricalDtype) else None
    k = len(requirements)
    # Written in place, block by block: no per-rule arrays to concatenate afterwards.
    status_codes: np.ndarray = np.empty(k * n, dtype=np.int8)
    reason_codes: np.ndarray = np.zeros(k * n, dtype=np.int32)
    for j, req in enumerate(requirements):
        applicable: np.ndarray = np.ones(n, dtype=bool)
        if req.applies_to:
            if kind_codes is None:
                raise FrameError(
                    "column 'device.kind' must be categorical; build it with readiness.frames"
                )
            lut = np.array([c in req.applies_to for c in kind.cat.categories] + [False], dtype=bool)
            applicable = lut[kind_codes]
        if req.applies_when is not None:
            applicable &= ev.value(req.applies_when) != FALSE
        truth = ev.value(req.rule)
        status = status_codes[j * n : (j + 1) * n]
        reason = reason_codes[j * n : (j + 1) * n]
        status[:] = _S_FAIL
        status[truth == TRUE] = _S_PASS
        not_applicable = ~applicable
        status[not_applicable] = _S_NA
        if not_applicable.any():
            reason[not_applicable] = ev.reasons.code(_not_applicable_text(req))
        failing = np.flatnonzero(status == _S_FAIL)
        if len(failing):
            reason[failing] = ev.explain(req.rule, failing)

    device_ids = fleet["device_id"].to_numpy(dtype=np.int64)
    agency_ids = fleet["agency_id"].to_numpy(dtype=np.int64)
    key_codes = _blocks(np.arange(k, dtype=np.int16)[:, None], k, n, np.int16)
    return pd.DataFrame(
        {
            "device_id": _blocks(device_ids, k, n, np.int64),
            "agency_id": _blocks(agency_ids, k, n, np.int64),
            "stable_key": pd.Categorical.from_codes(key_codes, categories=keys, validate=False),
            "status": pd.Categorical.from_codes(status_codes, categories=STATUSES, validate=False),
            "reason": pd.Categorical.from_codes(
                reason_codes, categories=ev.reasons.texts, validate=False
            ),
        },
        copy=False,
    )


def _blocks(values: np.ndarray, k: int, n: int, dtype: type) -> np.ndarray:
    """``values`` broadcast to k blocks of n, flattened (np.tile/np.repeat, but a plain copy)."""
    out: np.ndarray = np.empty(k * n, dtype=dtype)
    out.reshape(k, n)[:] = values
    return out


def _not_applicable_text(req: CompiledRequirement) -> str:
    parts = []
    if req.applies_to:
        parts.append(
            "applies only to " + ", ".join(sorted(k.replace("_", " ") for k in req.applies_to))
        )
    if req.applies_when is not None:
        parts.append(f"applies only when {describe(req.applies_when)}")
    return "; ".join(parts)


def _in_categories(values: pd.Series, wanted: frozenset[str], *, missing: bool) -> np.ndarray:
    """Membership test on a categorical column through its codes (no string work per row)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    lut = np.array([c in wanted for c in values.cat.categories] + [missing], dtype=bool)
    result: np.ndarray = lut[values.cat.codes.to_numpy()]
    return result


def silent_devices(fleet: pd.DataFrame, now: datetime) -> np.ndarray:
    """Per device, whether it is silent (never seen, offline, unreachable or overdue)."""
    silent = _in_categories(fleet["health.level"], SILENT_LEVELS, missing=True)
    if "health.offline_after" in fleet.columns:
        deadline = to_utc_ns(fleet["health.offline_after"])
        overdue = (~fleet["health.offline_after"].isna().to_numpy()) & (deadline < _now_ns(now))
        silent |= overdue
    if "health.last_seen" in fleet.columns:
        silent |= fleet["health.last_seen"].isna().to_numpy()
    return silent


def reporting_devices(fleet: pd.DataFrame, now: datetime) -> np.ndarray:
    """Per device, whether it reported within its expected interval (telemetry coverage)."""
    last_seen = fleet["health.last_seen"]
    seen = ~last_seen.isna().to_numpy()
    interval_ns = fleet["model.telemetry_interval_s"].to_numpy(dtype=np.float64, na_value=np.nan)
    deadline = to_utc_ns(last_seen) + np.nan_to_num(interval_ns, nan=0).astype(np.int64) * _NS_PER_S
    if "health.late_after" in fleet.columns:
        late_after = fleet["health.late_after"]
        has = ~late_after.isna().to_numpy()
        deadline = np.where(has, to_utc_ns(late_after), deadline)
    result: np.ndarray = seen & (deadline >= _now_ns(now))
    return result


def _status_codes(results: pd.DataFrame) -> np.ndarray:
    status = results["status"]
    if isinstance(status.dtype, pd.CategoricalDtype) and list(status.cat.categories) == STATUSES:
        given: np.ndarray = status.cat.codes.to_numpy()
        return given
    codes: np.ndarray = pd.Categorical(status, categories=STATUSES).codes
    if (codes < 0).any():
        raise ValueError(f"status must be one of {STATUSES}")
    return codes


@dataclass
class _Tally:
    """Per device: results counted by status and weight, and whether a mandatory one fails."""

    counts: np.ndarray  # (n_devices, 4) results per status
    weights: np.ndarray  # (n_devices, 4) weights per status
    mandatory_fail: np.ndarray  # (n_devices,) bool
    mandatory_fail_key: np.ndarray  # (n_devices,) index of the first failing mandatory key, -1


def _tally(
    results: pd.DataFrame, fleet: pd.DataFrame, requirements: Sequence[CompiledRequirement]
) -> _Tally:
    n = len(fleet)
    key_names, key_codes = _key_codes(results, requirements)
    by_key = {r.key: r for r in requirements}
    weight_of = np.array([by_key[k].weight for k in key_names], dtype=np.float64)
    mandatory_of = np.array([by_key[k].is_mandatory for k in key_names], dtype=bool)
    status = _status_codes(results)
    fleet_ids = fleet["device_id"].to_numpy(dtype=np.int64)
    result_ids = results["device_id"].to_numpy(dtype=np.int64)
    blocks = _as_blocks(status, key_codes, fleet_ids, result_ids)
    if blocks is not None:
        tally = _tally_blocks(*blocks, weight_of=weight_of, mandatory_of=mandatory_of)
    else:
        tally = _tally_rows(
            status,
            key_codes,
            np.asarray(pd.Index(fleet_ids).get_indexer(result_ids)),
            n,
            weight_of=weight_of,
            mandatory_of=mandatory_of,
        )
    keys_arr = np.array(key_names + [""], dtype=object)
    if n:
        tally.mandatory_fail_key = keys_arr[tally.mandatory_fail_key]
    return tally


def _key_codes(
    results: pd.DataFrame, requirements: Sequence[CompiledRequirement]
) -> tuple[list[str], np.ndarray]:
    """The requirement keys the results name, and each result's index into them."""
    known = {r.key for r in requirements}
    keys = results["stable_key"]
    is_categorical = isinstance(keys.dtype, pd.CategoricalDtype)
    key_names = list(keys.cat.categories) if is_categorical else sorted(set(keys))
    missing = [k for k in key_names if k not in known]
    if missing:
        raise ValueError(
            f"results name requirements that were not given: {', '.join(map(str, missing[:5]))}"
        )
    codes: np.ndarray = (
        keys.cat.codes.to_numpy()
        if is_categorical
        else pd.Categorical(keys, categories=key_names).codes
    )
    return key_names, codes


def _as_blocks(
    status: np.ndarray, key_codes: np.ndarray, fleet_ids: np.ndarray, result_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(status per block and device, key of each block) when the results come in the engine's
    layout (block j is one requirement over the whole fleet, in fleet order); else None."""
    n = len(fleet_ids)
    blocks = len(result_ids) // n if n else 0
    canonical = (
        n > 0
        and blocks * n == len(result_ids)
        and np.array_equal(result_ids.reshape(blocks, n), np.broadcast_to(fleet_ids, (blocks, n)))
    )
    if not canonical:
        return None
    key_b = key_codes.reshape(blocks, n)
    block_key: np.ndarray = key_b[:, 0].astype(np.int64)
    if not (key_b == block_key[:, None]).all():
        return None
    return status.reshape(blocks, n), block_key


def _tally_blocks(
    status_b: np.ndarray, block_key: np.ndarray, *, weight_of: np.ndarray, mandatory_of: np.ndarray
) -> _Tally:
    """Fast path: per-device sums are column sums of a (requirements x devices) matrix."""
    blocks, n = status_b.shape
    counts, weights = np.zeros((n, 4)), np.zeros((n, 4))
    block_weight = weight_of[block_key]
    if blocks < 256:
        # Per device and weight, the four status counts packed into the 8-bit fields of
        # one int32 (1 << 8 * status), so a block costs two shifts and an add.
        shift: np.ndarray = np.arange(4, dtype=np.int32) * 8
        bit = np.empty(n, dtype=np.int32)
        for w in np.unique(block_weight):
            packed = np.zeros(n, dtype=np.int32)
            for j in np.flatnonzero(block_weight == w):
                np.left_shift(status_b[j], 3, out=bit, dtype=np.int32)
                np.left_shift(1, bit, out=bit)
                packed += bit
            for s in range(4):
                field = (packed >> shift[s]) & 0xFF
                counts[:, s] += field
                weights[:, s] += field * w
    else:
        for s in range(4):
            hit = status_b == s
            counts[:, s] = hit.sum(axis=0)
            for w in np.unique(block_weight):
                # A masked reduction: no copy of the selected blocks.
                weights[:, s] += w * hit.sum(axis=0, where=(block_weight == w)[:, None])
    mfail = np.zeros(n, dtype=bool)
    mfail_key = np.full(n, -1, dtype=np.int64)
    for j in np.flatnonzero(mandatory_of[block_key]):
        fails = status_b[j] == _S_FAIL
        mfail_key[fails & ~mfail] = block_key[j]
        mfail |= fails
    return _Tally(counts, weights, mfail, mfail_key)


def _tally_rows(
    status: np.ndarray,
    key_codes: np.ndarray,
    pos: np.ndarray,
    n: int,
    *,
    weight_of: np.ndarray,
    mandatory_of: np.ndarray,
) -> _Tally:
    """Any layout: ``pos`` is each result's row in the fleet frame (-1: not in it)."""
    if (pos < 0).any():
        raise ValueError("results name devices that are not in the fleet frame")
    counts, weights = np.zeros((n, 4)), np.zeros((n, 4))
    for s in range(4):
        sel = status == s
        counts[:, s] = np.bincount(pos[sel], minlength=n)
        weights[:, s] = np.bincount(pos[sel], weights=weight_of[key_codes[sel]], minlength=n)
    fails = (status == _S_FAIL) & mandatory_of[key_codes]
    mfail: np.ndarray = np.zeros(n, dtype=bool)
    mfail[pos[fails]] = True
    # The first failing mandatory key per device, in the order the rows come.
    mfail_key: np.ndarray = np.full(n, -1, dtype=np.int64)
    order = np.flatnonzero(fails)[::-1]
    mfail_key[pos[order]] = key_codes[order]
    return _Tally(counts, weights, mfail, mfail_key)


def device_readiness(
    results: pd.DataFrame,
    fleet: pd.DataFrame,
    requirements: Sequence[CompiledRequirement],
    *,
    now: datetime,
) -> pd.DataFrame:
    """One row per device (fleet order): is_ready, is_silent, is_reporting, counts, score_pct
    and ``not_ready_reason`` ("never seen", "offline", or the first failing mandatory key).

    Waived results count as passed. Pure; results may have been through waivers.
    """
    tally = _tally(results, fleet, requirements)
    silent = silent_devices(fleet, now)
    level = fleet["health.level"].astype("string").fillna("never_seen").to_numpy(dtype=object)
    ready = ~silent & ~tally.mandatory_fail
    applicable_w = tally.weights[:, :3].sum(axis=1)
    ok_w = tally.weights[:, _S_PASS] + tally.weights[:, _S_WAIVED]
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(applicable_w > 0, ok_w / applicable_w * 100, np.nan)
    reason = np.where(silent, np.where(level == "online", "offline", level), "")
    reason = np.where(~silent & tally.mandatory_fail, tally.mandatory_fail_key, reason)
    reason = np.where(reason == "never_seen", "never seen", reason)
    return pd.DataFrame(
        {
            "device_id": fleet["device_id"].to_numpy(dtype=np.int64),
            "agency_id": fleet["agency_id"].to_numpy(dtype=np.int64),
            "is_ready": ready,
            "is_silent": silent,
            "is_reporting": reporting_devices(fleet, now),
            "n_pass": tally.counts[:, _S_PASS].astype(np.int64),
            "n_fail": tally.counts[:, _S_FAIL].astype(np.int64),
            "n_waived": tally.counts[:, _S_WAIVED].astype(np.int64),
            "n_not_applicable": tally.counts[:, _S_NA].astype(np.int64),
            "score_pct": score,
            "not_ready_reason": reason,
        }
    )


AGGREGATE_COLUMNS = [
    "devices",
    "ready_devices",
    "ready_pct",
    "score_pct",
    "reporting_devices",
    "coverage_pct",
    "n_pass",
    "n_fail",
    "n_waived",
    "n_not_applicable",
    "weight_applicable",
    "weight_ok",
]


# The AGGREGATE_COLUMNS that count devices or results: whole numbers.
_COUNT_COLUMNS = [
    "devices",
    "ready_devices",
    "reporting_devices",
    "n_pass",
    "n_fail",
    "n_waived",
    "n_not_applicable",
]


def aggregate(
    results: pd.DataFrame,
    fleet: pd.DataFrame,
    requirements: Sequence[CompiledRequirement],
    *,
    now: datetime,
    by: str = "agency",
) -> pd.DataFrame:
    """Scores per group: ``by`` is "agency" (agency_id), "cabinet" (cabinet_id), "county"
    (agency.county) or "state" (one row, group "statewide").

    Columns: the group column, then AGGREGATE_COLUMNS. ``score_pct`` is the weighted share
    of applicable results that passed or are waived; ``ready_pct`` the share of devices ready;
    ``coverage_pct`` the share that reported within their expected interval. Percentages are
    NaN for a group with nothing to count. Pure; results may contain "waived".
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    tally = _tally(results, fleet, requirements)
    silent = silent_devices(fleet, now)
    per_device = pd.DataFrame(
        {
            "devices": 1,
            "ready_devices": (~silent & ~tally.mandatory_fail).astype(np.int64),
            "reporting_devices": reporting_devices(fleet, now).astype(np.int64),
            "n_pass": tally.counts[:, _S_PASS],
            "n_fail": tally.counts[:, _S_FAIL],
            "n_waived": tally.counts[:, _S_WAIVED],
            "n_not_applicable": tally.counts[:, _S_NA],
            "weight_applicable": tally.weights[:, :3].sum(axis=1),
            "weight_ok": tally.weights[:, _S_PASS] + tally.weights[:, _S_WAIVED],
        }
    )
    return _group_sums(per_device, fleet, GROUPINGS[by])[AGGREGATE_COLUMNS].reset_index()


def _group_sums(per_device: pd.DataFrame, fleet: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """Per-device figures summed per value of the fleet's ``column`` (None: one statewide row),
    with the percentages of each group."""
    codes: np.ndarray
    if column is None:
        codes, groups = np.zeros(len(fleet), dtype=np.intp), pd.Index(["statewide"])
    else:
        codes, groups = pd.factorize(fleet[column], sort=True, use_na_sentinel=False)
    # One bincount per column instead of a groupby: the groups are few, the devices many.
    sums = pd.DataFrame(
        {
            c: np.bincount(
                codes, weights=per_device[c].to_numpy(dtype=np.float64), minlength=len(groups)
            )
            for c in per_device.columns
        },
        index=pd.Index(groups, name=column or "group"),
    )
    for c in _COUNT_COLUMNS:
        sums[c] = sums[c].astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sums["ready_pct"] = np.where(
            sums["devices"] > 0, sums["ready_devices"] / sums["devices"] * 100, np.nan
        )
        sums["coverage_pct"] = np.where(
            sums["devices"] > 0, sums["reporting_devices"] / sums["devices"] * 100, np.nan
        )
        sums["score_pct"] = np.where(
            sums["weight_applicable"] > 0,
            sums["weight_ok"] / sums["weight_applicable"] * 100,
            np.nan,
        )
    return sums
