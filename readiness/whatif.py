"""What-if: moving the fleet from one version of a requirement set to another.

Three layers, each usable alone:

- ``diff_requirements`` (pure, plain dicts): which requirements were added, removed,
  renumbered, tightened or relaxed. Where the newer version directly supersedes the older,
  the relation recorded by its file is used; otherwise (two versions apart, or a draft
  branched elsewhere) the change is inferred, and a changed rule whose direction cannot be
  read from the data is ``changed`` until the fleet's results show which way it went.
- ``compare_versions`` evaluates the fleet under both versions (``readiness.results``) and
  reports which devices and agencies newly fail, and why, in words. ``agency_ids`` narrows it
  to some agencies (a cabinet's or an agency's briefing), the cost and the plan included.
- the gap analysis prices what closing the new version's gap costs (a replacement from the
  catalog for a capability the model lacks, a firmware update for a version gap, a labour
  charge for configuration or silent devices) and ranks the actions
  (``readiness.remediation.plan_remediation``).

Everything after the fleet frame is array work, never a loop over devices: the fleet frame
is built once for both versions, a fix is decided once per requirement and truth pattern,
and a replacement once per gap signature (model, kind, capabilities missing). For 100,000
devices the comparison takes about 1.5 s on PostgreSQL, most of it reading the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils import timezone

from config.errors import InvalidInput
from readiness.deadlines import DeadlineRow, deadline_rows, due_dates
from readiness.models import drafts_in_progress
from readiness.remediation import (
    CONFIGURE,
    FIRMWARE,
    GAP_COLUMNS,
    REPLACE,
    TELEMETRY,
    drop_superseded,
    plan_remediation,
    total_cost,
)
from readiness.results import (
    agency_meta,
    find_version_in_effect,
    get_requirement_set,
    get_version,
    resolve_version,
)

ADDED = "added"
REMOVED = "removed"
RENUMBERED = "renumbered"
TIGHTENED = "tightened"
RELAXED = "relaxed"
CHANGED = "changed"
SAME = "same"

# Costs of the actions that need no new hardware, in USD per device (config/settings.py).


def firmware_update_cost() -> Decimal:
    return settings.READINESS_FIRMWARE_UPDATE_COST_USD


def configuration_fix_cost() -> Decimal:
    return settings.READINESS_CONFIGURATION_FIX_COST_USD


def telemetry_fix_cost() -> Decimal:
    return settings.READINESS_TELEMETRY_FIX_COST_USD


@dataclass
class RequirementChange:
    """How one requirement (by stable key) differs between the two versions."""

    key: str
    change: str
    title: str
    old_code: str = ""
    new_code: str = ""
    old_section: str = ""
    new_section: str = ""
    details: list[str] = field(default_factory=list)
    is_declared: bool = False  # the relation comes from the version file, not inferred
    newly_failing: int = 0
    newly_passing: int = 0


_SEVERITY_RANK = {"recommended": 0, "mandatory": 1}


def _kinds(req: dict[str, Any]) -> frozenset[str]:
    return frozenset(req.get("applies_to") or [])


def _infer(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, list[str]]:
    """Infer the change between two requirements with the same key, with details in words."""
    details: list[str] = []
    up = down = False
    rule_changed = old.get("rule") != new.get("rule") or old.get("applies_when") != new.get(
        "applies_when"
    )
    if rule_changed:
        details.append("rule changed")
    old_sev, new_sev = (
        _SEVERITY_RANK.get(old.get("severity", ""), 1),
        _SEVERITY_RANK.get(new.get("severity", ""), 1),
    )
    if new_sev > old_sev:
        up = True
        details.append(f"now {new.get('severity')} (was {old.get('severity')})")
    elif new_sev < old_sev:
        down = True
        details.append(f"now {new.get('severity')} (was {old.get('severity')})")
    old_kinds, new_kinds = _kinds(old), _kinds(new)
    if old_kinds != new_kinds:
        # Empty means every kind, so it is the widest scope.
        wider = not new_kinds or (bool(old_kinds) and new_kinds > old_kinds)
        narrower = not old_kinds or (bool(new_kinds) and new_kinds < old_kinds)
        if wider:
            up = True
            details.append("applies to more kinds of device")
        elif narrower:
            down = True
            details.append("applies to fewer kinds of device")
        else:
            up = down = True
            details.append("applies to different kinds of device")
    if old.get("weight") != new.get("weight"):
        details.append(f"weight {old.get('weight')} -> {new.get('weight')}")
    renumbered = (old.get("section"), old.get("code")) != (new.get("section"), new.get("code"))
    if renumbered:
        details.append(
            f"renumbered {old.get('section') or old.get('code')} -> {new.get('section') or new.get('code')}"
        )
    if rule_changed or (up and down):
        return CHANGED, details
    if up:
        return TIGHTENED, details
    if down:
        return RELAXED, details
    if renumbered:
        return RENUMBERED, details
    return SAME, details


_CHANGE_ORDER = {ADDED: 0, TIGHTENED: 1, CHANGED: 2, RELAXED: 3, RENUMBERED: 4, REMOVED: 5, SAME: 6}


def diff_requirements(
    old: list[dict[str, Any]], new: list[dict[str, Any]], *, new_supersedes_old: bool
) -> list[RequirementChange]:
    """Pure: the changes from ``old`` to ``new`` (dicts of Requirement fields, keyed by ``key``).

    ``new_supersedes_old`` says whether the newer version's recorded ``relation`` (and its
    ``change_note``) describe exactly this step; if not, every change is inferred.
    """
    old_by_key = {r["key"]: r for r in old}
    new_by_key = {r["key"]: r for r in new}
    changes = [
        _change_of(key, old_by_key.get(key), req, new_supersedes_old=new_supersedes_old)
        for key, req in new_by_key.items()
    ]
    for key, req in old_by_key.items():
        if key not in new_by_key:
            changes.append(
                RequirementChange(
                    key=key,
                    change=REMOVED,
                    title=req["title"],
                    old_code=req.get("code", ""),
                    old_section=req.get("section", ""),
                    details=["no longer required"],
                )
            )
    changes.sort(key=lambda c: (_CHANGE_ORDER.get(c.change, 9), c.new_code or c.old_code))
    return changes


def _change_of(
    key: str, before: dict[str, Any] | None, req: dict[str, Any], *, new_supersedes_old: bool
) -> RequirementChange:
    """How requirement ``key`` changed into ``req``: added when ``before`` is None."""
    if before is None:
        return RequirementChange(
            key=key,
            change=ADDED,
            title=req["title"],
            new_code=req.get("code", ""),
            new_section=req.get("section", ""),
            details=[req.get("change_note") or "new requirement"],
            is_declared=new_supersedes_old and req.get("relation") == "new",
        )
    inferred, details = _infer(before, req)
    declared = req.get("relation") if new_supersedes_old else None
    change = inferred
    if declared and declared != "new":
        change = declared
        if req.get("change_note"):
            details = [req["change_note"], *details]
    return RequirementChange(
        key=key,
        change=change,
        title=req["title"],
        old_code=before.get("code", ""),
        new_code=req.get("code", ""),
        old_section=before.get("section", ""),
        new_section=req.get("section", ""),
        details=details,
        is_declared=bool(declared and declared != "new"),
    )


def refine_with_effects(
    changes: list[RequirementChange], effects: pd.DataFrame
) -> list[RequirementChange]:
    """Record each requirement's effect on the fleet, and give ``changed`` a direction.

    ``effects`` has columns key, newly_failing, newly_passing (device counts). A changed rule
    that only made devices fail is reported as tightened, one that only made them pass as
    relaxed; a recorded relation is never overridden.
    """
    by_key = (
        effects.set_index("key")
        if not effects.empty
        else pd.DataFrame(columns=["newly_failing", "newly_passing"])
    )
    for change in changes:
        if change.key in by_key.index:
            change.newly_failing = int(by_key.at[change.key, "newly_failing"])
            change.newly_passing = int(by_key.at[change.key, "newly_passing"])
        if change.change == CHANGED and not change.is_declared:
            if change.newly_failing and not change.newly_passing:
                change.change = TIGHTENED
            elif change.newly_passing and not change.newly_failing:
                change.change = RELAXED
    return changes


def requirement_effects(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Pure: per requirement key, devices that newly fail or newly pass it.

    ``old`` and ``new`` are long result frames (device_id, key, status). A device newly fails
    a requirement when it fails under ``new`` and did not fail under ``old`` (it passed, was
    not in scope, or the requirement did not exist). Only failing rows can change a count,
    so only they are joined; every key of either frame gets a row.
    """

    def fails(results: pd.DataFrame) -> pd.DataFrame:
        rows = results.loc[results["status"].eq("fail").to_numpy(dtype=bool), ["device_id", "key"]]
        return rows.astype({"key": str})  # the two versions' key categories differ

    joined = fails(new).merge(fails(old), on=["device_id", "key"], how="outer", indicator=True)
    keys = sorted({str(k) for k in new["key"].unique()} | {str(k) for k in old["key"].unique()})

    def count(side: str) -> np.ndarray:
        counted: np.ndarray = (
            joined.loc[joined["_merge"].eq(side), "key"]
            .value_counts()
            .reindex(keys, fill_value=0)
            .to_numpy()
        )
        return counted

    return pd.DataFrame(
        {
            "key": keys,
            "newly_failing": count("left_only").astype(int),
            "newly_passing": count("right_only").astype(int),
        }
    )


@dataclass
class WhatIfResult:
    """The comparison of two versions for the fleet a user may see."""

    set_code: str
    from_version: str
    to_version: str
    at: datetime
    changes: list[RequirementChange]
    devices_total: int
    ready_before: int
    ready_after: int
    newly_failing_devices: pd.DataFrame  # device_id, serial, agency, model, reasons
    agencies: pd.DataFrame  # agency_id, slug, name, ready_before, ready_after, newly_failing
    cost: dict[str, Decimal]
    plan: list[Any]  # readiness.remediation.PlanStep
    # Requirements of the "to" version with a due date, with the devices failing each under it.
    deadlines: list[DeadlineRow] = field(default_factory=list)

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    @property
    def ready_pct_before(self) -> float:
        return (
            round(100.0 * self.ready_before / self.devices_total, 2) if self.devices_total else 0.0
        )

    @property
    def ready_pct_after(self) -> float:
        return (
            round(100.0 * self.ready_after / self.devices_total, 2) if self.devices_total else 0.0
        )

    @property
    def newly_failing_agencies(self) -> int:
        if self.agencies.empty:
            return 0
        return int((self.agencies["newly_failing"] > 0).sum())


# --- gap analysis -----------------------------------------------------------------------------

# Which action closes a failed comparison, by the attribute it reads. A model capability
# needs another model; firmware needs an update; device settings and agency decisions are
# labour; health readings need the device to report (or a field check).
_CONFIGURE_LABELS = {
    "device.is_mdm_enrolled": "Enrol in mobile device management",
    "device.is_encryption_enabled": "Turn on storage encryption",
    "device.network": "Move the SIM to FirstNet",
    "device.has_cji_access": "Review CJI access",
    "device.status": "Update the lifecycle status",
    "agency.firstnet_status": "Agency FirstNet participation decision",
    "model.telemetry_interval_s": "Adjust the reporting interval",
}
_RANK = {CONFIGURE: 1, TELEMETRY: 1, FIRMWARE: 2, REPLACE: 3}
SILENT_ACTION = ("telemetry:silent", TELEMETRY, 0.0, "Get silent devices reporting again")


def action_kind_for(attr_name: str) -> str:
    """The kind of action that fixes a failed comparison on ``attr_name``."""
    if attr_name in _CONFIGURE_LABELS or attr_name.startswith("agency."):
        return CONFIGURE
    if attr_name in ("device.firmware", "device.firmware_version", "health.firmware"):
        return FIRMWARE
    if attr_name.startswith("model.") or attr_name in ("device.kind", "device.manufacturer"):
        return REPLACE
    if attr_name.startswith("health."):
        return TELEMETRY
    return CONFIGURE


def leaves(node: Any) -> list[Any]:
    """The comparisons of a rule tree, depth first (the same order every time)."""
    from readiness.rules import All, AnyOf, Not

    if isinstance(node, All | AnyOf):
        return [leaf for child in node.children for leaf in leaves(child)]
    if isinstance(node, Not):
        return leaves(node.child)
    return [node]


def needed_leaves(node: Any, truth: dict[int, bool]) -> tuple[bool, list[Any]]:
    """Pure: (is the rule true, the comparisons that must change to make it true).

    ``truth`` maps ``id(leaf)`` to whether it holds for one device. For ``any`` the cheapest
    alternative is chosen (a capability swap is dearer than a setting); for ``not`` the
    comparisons under it are what must change.
    """
    from readiness.rules import All, AnyOf, Not

    if isinstance(node, All):
        parts = [needed_leaves(c, truth) for c in node.children]
        return all(ok for ok, _ in parts), [leaf for ok, need in parts if not ok for leaf in need]
    if isinstance(node, AnyOf):
        parts = [needed_leaves(c, truth) for c in node.children]
        if any(ok for ok, _ in parts):
            return True, []
        best = min(
            parts, key=lambda p: sum(_RANK[action_kind_for(leaf.attr.name)] for leaf in p[1])
        )
        return False, best[1]
    if isinstance(node, Not):
        ok, _ = needed_leaves(node.child, truth)
        return (not ok), ([] if not ok else leaves(node.child))
    ok = truth.get(id(node), False)
    return ok, ([] if ok else [node])


def _leaf_truth(frame: pd.DataFrame, nodes: list[Any], now: datetime) -> pd.DataFrame:
    """Evaluate each comparison on its own over ``frame``: (device_id x leaf index) -> bool."""
    from readiness.rules import CompiledRequirement
    from readiness.scoring import evaluate

    if not nodes or frame.empty:
        return pd.DataFrame(index=frame["device_id"] if not frame.empty else None)
    reqs = [
        CompiledRequirement(key=f"leaf{i}", code=f"leaf{i}", title="", rule=n)
        for i, n in enumerate(nodes)
    ]
    res = evaluate(frame, reqs, now)
    passed = res["status"].astype(str).eq("pass").to_numpy()
    return pd.DataFrame(
        passed.reshape(len(nodes), len(frame)).T,
        index=frame["device_id"].to_numpy(),
        columns=range(len(nodes)),
    )


def _catalog_frame() -> pd.DataFrame:
    from devices.models import DeviceModel
    from readiness.frames import fleet_frame_from_records

    rows = []
    for m in DeviceModel.objects.all():
        rows.append(
            {
                "device_id": m.pk,
                "model_id": m.pk,
                "device.kind": m.kind,
                "model.has_band14": m.has_band14,
                "model.firstnet_program": m.firstnet_program,
                "model.fips_140_level": m.fips_140_level,
                "model.has_mcptt": m.has_mcptt,
                "model.has_encryption_at_rest": m.has_encryption_at_rest,
                "model.is_cellular": m.is_cellular,
                "model.telemetry_interval_s": m.telemetry_interval_s,
                "model.unit_cost": float(m.unit_cost),
                "device.manufacturer": m.manufacturer,
                "device.serial": f"{m.manufacturer} {m.name}",
            }
        )
    return fleet_frame_from_records(rows) if rows else pd.DataFrame()


def gap_frame(fleet: Any, *, now: datetime) -> pd.DataFrame:
    """Pure-ish (reads the catalog): one row per device, action and requirement to fix.

    ``fleet`` is a ``readiness.results.FleetResults`` for the target version. Only what
    blocks readiness counts: failing mandatory requirements, and silence.

    Nothing here loops over devices: a fleet of 100,000 has a handful of distinct gaps.
    The fix for a requirement is decided once per truth pattern of its comparisons, and a
    replacement once per gap signature (model, kind, capabilities missing); each decision is
    then spread over the devices that share it with array indexing.
    """
    frame = fleet.evaluation.frame
    reqs = {r.key: r for r in fleet.evaluation.requirements}
    failing_devices, failing_keys = _mandatory_failures(fleet.results, reqs)
    arrays = _FleetArrays(
        ids=pd.Index(frame["device_id"].to_numpy(dtype=np.int64)),
        agency_of=frame["agency_id"].to_numpy(dtype=np.int64),
        model_of=frame["model_id"].to_numpy(dtype=np.int64),
        model_names=_model_names(),
    )
    parts = _GapParts()
    # Every comparison of every failing requirement, evaluated once over the failing devices.
    keys = sorted(set(failing_keys.tolist()))
    nodes: list[Any] = [leaf for key in keys for leaf in leaves(reqs[key].rule)]
    truth = _leaf_truth(frame[frame["device_id"].isin(np.unique(failing_devices))], nodes, now)
    truth_ids, truth_values = pd.Index(truth.index), truth.to_numpy(dtype=bool)
    index_of = {id(n): i for i, n in enumerate(nodes)}
    for key in keys:
        rule_leaves = leaves(reqs[key].rule)
        dev_ids = failing_devices[failing_keys == key]
        matrix = truth_values[truth_ids.get_indexer(dev_ids)][
            :, [index_of[id(n)] for n in rule_leaves]
        ]
        _requirement_gaps(parts, reqs[key], dev_ids, matrix, arrays)
    if parts.replace_devices:
        _replacement_gaps(
            parts,
            frame,
            arrays.ids,
            parts.replace_leaves,
            _catalog_frame(),
            arrays.model_names,
            now,
        )
    silent = fleet.devices["is_silent"].to_numpy(dtype=bool)
    if silent.any():
        parts.add(
            fleet.devices["device_id"].to_numpy(dtype=np.int64)[silent],
            fleet.devices["agency_id"].to_numpy(dtype=np.int64)[silent],
            SILENT_ACTION[0],
            SILENT_ACTION[1],
            float(telemetry_fix_cost()),
            SILENT_ACTION[3],
            "(silent)",
        )
    return drop_superseded(parts.frame())


@dataclass(frozen=True)
class _FleetArrays:
    """The fleet frame's columns a fix needs, as arrays in the frame's order."""

    ids: pd.Index
    agency_of: np.ndarray
    model_of: np.ndarray
    model_names: dict[int, str]


def _mandatory_failures(res: pd.DataFrame, reqs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(device ids, requirement keys) of every failed result of a mandatory requirement."""
    keys = res["stable_key"]
    if not isinstance(keys.dtype, pd.CategoricalDtype):
        keys = keys.astype("category")
    key_codes = keys.cat.codes.to_numpy()
    key_names = np.array([str(c) for c in keys.cat.categories], dtype=object)
    mandatory = [i for i, k in enumerate(key_names) if k in reqs and reqs[k].is_mandatory]
    failing = (res["status"] == "fail").to_numpy(dtype=bool) & np.isin(key_codes, mandatory)
    return res["device_id"].to_numpy(dtype=np.int64)[failing], key_names[key_codes[failing]]


def _requirement_gaps(
    parts: _GapParts, req: Any, dev_ids: np.ndarray, matrix: np.ndarray, arrays: _FleetArrays
) -> None:
    """The fixes of one requirement for ``dev_ids``, whose comparisons' truth is ``matrix``."""
    rule_leaves = leaves(req.rule)
    # Devices share a handful of truth patterns: decide the fix once per pattern.
    patterns, inverse = np.unique(matrix, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for p_idx, pattern in enumerate(patterns):
        _, need = needed_leaves(
            req.rule, {id(n): bool(v) for n, v in zip(rule_leaves, pattern, strict=True)}
        )
        devs = dev_ids[inverse == p_idx]
        for leaf in need or rule_leaves[:1]:
            _add_fix(parts, leaf, devs, req.key, arrays)


def _add_fix(parts: _GapParts, leaf: Any, devs: np.ndarray, key: str, arrays: _FleetArrays) -> None:
    """Rows for the action that fixes comparison ``leaf`` on ``devs`` (a replacement is decided later)."""
    kind = action_kind_for(leaf.attr.name)
    if kind == REPLACE:
        parts.replace_needs(devs, parts.replace_column(leaf), key)
        return
    pos = arrays.ids.get_indexer(devs)
    if kind == FIRMWARE:
        # The action (and its wording) names the model: one per distinct model.
        models, per_model = np.unique(arrays.model_of[pos], return_inverse=True)
        actions = [_action(kind, leaf, int(m), arrays.model_names) for m in models]
        action_keys = np.array([a[0] for a in actions], dtype=object)[per_model]
        texts = np.array([a[3] for a in actions], dtype=object)[per_model]
        parts.add(devs, arrays.agency_of[pos], action_keys, kind, float(actions[0][2]), texts, key)
        return
    action_key, action_kind, cost, text = _action(kind, leaf, 0, arrays.model_names)
    parts.add(devs, arrays.agency_of[pos], action_key, action_kind, cost, text, key)


class _GapParts:
    """Columns of the gap frame, collected as arrays (one block per decision, never per device)."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []
        self.replace_devices: list[np.ndarray] = []
        self.replace_cols: list[np.ndarray] = []
        self.replace_keys: list[np.ndarray] = []
        self.replace_leaves: list[Any] = []  # the capability comparisons a replacement must meet
        self._replace_col: dict[int, int] = {}  # id(leaf) -> its column in the catalog check

    def add(
        self,
        devices: np.ndarray,
        agencies: np.ndarray,
        action_key: Any,
        action_kind: str,
        unit_cost: Any,
        description: Any,
        stable_key: Any,
    ) -> None:
        """One block of rows; scalars are broadcast over ``devices``."""
        n = len(devices)
        if not n:
            return

        def column(value: Any, dtype: Any = object) -> np.ndarray:
            return value if isinstance(value, np.ndarray) else np.full(n, value, dtype=dtype)

        self.blocks.append(
            {
                "device_id": devices,
                "agency_id": agencies,
                "action_key": column(action_key),
                "action_kind": column(action_kind),
                "unit_cost": column(unit_cost, np.float64),
                "description": column(description),
                "stable_key": column(stable_key),
            }
        )

    def replace_column(self, leaf: Any) -> int:
        """The catalog check's column of capability comparison ``leaf`` (added on first use)."""
        if id(leaf) not in self._replace_col:
            self._replace_col[id(leaf)] = len(self.replace_leaves)
            self.replace_leaves.append(leaf)
        return self._replace_col[id(leaf)]

    def replace_needs(self, devices: np.ndarray, col: int, stable_key: str) -> None:
        """``devices`` need a model whose catalog entry meets replacement comparison ``col``."""
        self.replace_devices.append(devices)
        self.replace_cols.append(np.full(len(devices), col, dtype=np.int64))
        self.replace_keys.append(np.full(len(devices), stable_key, dtype=object))

    def frame(self) -> pd.DataFrame:
        if not self.blocks:
            return pd.DataFrame(columns=GAP_COLUMNS)
        return pd.DataFrame({c: np.concatenate([b[c] for b in self.blocks]) for c in GAP_COLUMNS})


def _action(
    kind: str, leaf: Any, model_id: int, model_names: dict[int, str]
) -> tuple[str, str, float, str]:
    """(action key, kind, unit cost, description) for a non-replacement fix."""
    if kind == FIRMWARE:
        return (
            f"firmware:{model_id}",
            FIRMWARE,
            float(firmware_update_cost()),
            f"Update firmware on {model_names.get(model_id, 'model')} devices",
        )
    if kind == TELEMETRY:
        if leaf.attr.name in ("health.level", "health.last_seen"):
            # The same fix as for a silent device: one action, not two.
            return SILENT_ACTION[0], TELEMETRY, float(telemetry_fix_cost()), SILENT_ACTION[3]
        return (
            f"telemetry:{leaf.attr.name}",
            TELEMETRY,
            float(telemetry_fix_cost()),
            f"Field check: {leaf.attr.label}",
        )
    label = _CONFIGURE_LABELS.get(leaf.attr.name, f"Fix {leaf.attr.label}")
    return (f"configure:{leaf.attr.name}", CONFIGURE, float(configuration_fix_cost()), label)


def _model_names() -> dict[int, str]:
    from devices.models import DeviceModel

    return {m.pk: f"{m.manufacturer} {m.name}" for m in DeviceModel.objects.all()}


@dataclass(frozen=True)
class _Signatures:
    """The devices needing a replacement, grouped by gap signature (model, kind, needs)."""

    devices: np.ndarray  # distinct device ids
    dev_idx: np.ndarray  # per replacement need: its device's index in ``devices``
    pos: np.ndarray  # per device: its row in the fleet frame
    signatures: np.ndarray  # per signature: model id, kind code, then a 0/1 per need
    sig_of: np.ndarray  # per device: its signature
    kind_names: Any  # kind code -> kind
    own_cost: np.ndarray  # per signature: the unit cost of a device's own model


def _replacement_gaps(
    parts: _GapParts,
    frame: pd.DataFrame,
    fleet_ids: pd.Index,
    needs: list[Any],
    catalog: pd.DataFrame,
    model_names: dict[int, str],
    now: datetime,
) -> None:
    """Replacement actions: the cheapest catalog model of the same kind meeting every need.

    A device's replacement depends only on its gap signature: its model, its kind and the
    set of capability comparisons it fails (over all requirements). The catalog is
    searched once per signature; each device then gets one row per requirement it fails.
    """
    req_keys = np.concatenate(parts.replace_keys)
    sigs = _gap_signatures(parts, frame, fleet_ids, len(needs))
    sig_key, sig_cost, sig_text = _choose_replacements(sigs, needs, catalog, model_names, now)
    # One row per device and requirement, however many of its comparisons need the swap.
    pairs = (
        pd.DataFrame({"device": sigs.dev_idx, "key": req_keys})
        .drop_duplicates()
        .sort_values(["device", "key"])
    )
    dev = pairs["device"].to_numpy()
    sig = sigs.sig_of[dev]
    parts.add(
        sigs.devices[dev],
        frame["agency_id"].to_numpy(dtype=np.int64)[sigs.pos[dev]],
        np.array(sig_key, dtype=object)[sig],
        REPLACE,
        np.array(sig_cost, dtype=np.float64)[sig],
        np.array(sig_text, dtype=object)[sig],
        pairs["key"].to_numpy(dtype=object),
    )


def _gap_signatures(
    parts: _GapParts, frame: pd.DataFrame, fleet_ids: pd.Index, n_needs: int
) -> _Signatures:
    """The replacement needs collected in ``parts``, grouped by signature with array work."""
    devices = np.concatenate(parts.replace_devices)
    cols = np.concatenate(parts.replace_cols)
    uniq, dev_idx = np.unique(devices, return_inverse=True)
    dev_idx = np.asarray(dev_idx).reshape(-1)
    missing: np.ndarray = np.zeros((len(uniq), n_needs), dtype=np.int64)
    missing[dev_idx, cols] = 1
    pos = fleet_ids.get_indexer(uniq)
    models = frame["model_id"].to_numpy(dtype=np.int64)[pos]
    kind_codes, kind_names = pd.factorize(frame["device.kind"].to_numpy(dtype=object)[pos])
    signatures, sig_of = np.unique(
        np.column_stack([models, kind_codes, missing]), axis=0, return_inverse=True
    )
    sig_of = np.asarray(sig_of).reshape(-1)
    first_of: np.ndarray = np.zeros(len(signatures), dtype=np.int64)
    first_of[sig_of[::-1]] = np.arange(len(sig_of))[::-1]  # a device of each signature
    own_cost = frame["model.unit_cost"].to_numpy(dtype=np.float64, na_value=np.nan)[pos]
    return _Signatures(uniq, dev_idx, pos, signatures, sig_of, kind_names, own_cost[first_of])


def _choose_replacements(
    sigs: _Signatures,
    needs: list[Any],
    catalog: pd.DataFrame,
    model_names: dict[int, str],
    now: datetime,
) -> tuple[list[str], list[float], list[str]]:
    """Per signature: (action key, unit cost, description) of its replacement."""
    ok: np.ndarray
    cat_ids: np.ndarray
    cat_kinds: np.ndarray
    cat_costs: np.ndarray
    if catalog.empty:
        ok = np.zeros((0, len(needs)), dtype=bool)
        cat_ids, cat_kinds, cat_costs = (
            np.zeros(0, np.int64),
            np.zeros(0, object),
            np.zeros(0, np.float64),
        )
    else:
        ok = _leaf_truth(catalog, needs, now).to_numpy(dtype=bool)
        cat_ids = catalog["device_id"].to_numpy(dtype=np.int64)
        cat_kinds = catalog["device.kind"].to_numpy(dtype=object)
        cat_costs = catalog["model.unit_cost"].to_numpy(dtype=np.float64)
    sig_key, sig_cost, sig_text = [], [], []
    for s, signature in enumerate(sigs.signatures):
        own_model, kind_code, wanted = (
            int(signature[0]),
            int(signature[1]),
            signature[2:].astype(bool),
        )
        kind = sigs.kind_names[kind_code] if kind_code >= 0 else None
        fit = (cat_kinds == kind) & ok[:, wanted].all(axis=1)
        own = model_names.get(own_model, "model")
        if fit.any():
            best = np.lexsort((cat_ids[fit], cat_costs[fit]))[0]  # cheapest, then lowest id
            best_id = int(cat_ids[fit][best])
            sig_key.append(f"replace:{own_model}->{best_id}")
            sig_cost.append(float(cat_costs[fit][best]))
            sig_text.append(f"Replace {own} with {model_names.get(best_id, 'model')}")
        else:
            cost = sigs.own_cost[s]
            sig_key.append(f"replace:{own_model}")
            sig_cost.append(0.0 if np.isnan(cost) else float(cost))
            sig_text.append(
                f"Replace {own} (no catalog model of this kind meets it; priced like for like)"
            )
    return sig_key, sig_cost, sig_text


# --- the comparison -------------------------------------------------------------------------


def _requirement_dicts(version: Any) -> list[dict[str, Any]]:
    return list(
        version.requirements.values(
            "key",
            "code",
            "section",
            "title",
            "rule",
            "applies_when",
            "severity",
            "applies_to",
            "relation",
            "change_note",
            "weight",
        )
    )


def pick_versions(
    req_set: Any,
    *,
    from_version: str | None,
    to_version: str | None,
    today: Any,
    with_drafts_in_progress: bool = True,
) -> tuple[Any, Any]:
    """The two versions to compare; the defaults answer "what would the next version do?".

    ``from`` defaults to the version in effect today; ``to`` to the newest version that takes
    effect after ``from`` (a draft or an announced one). When nothing newer exists and neither
    was named, the comparison is the one that brought the current version in: its
    predecessor to it.
    """
    old = (
        get_version(req_set, from_version)
        if from_version
        else find_version_in_effect(req_set, on=today)
    )
    if old is None:
        old = req_set.versions.order_by("effective_on", "id").first()
    if old is None:
        raise InvalidInput(f"'{req_set.code}' has no versions.", field="set")
    if to_version:
        return old, get_version(req_set, to_version)
    newer = req_set.versions.filter(effective_on__gt=old.effective_on).exclude(pk=old.pk)
    if not with_drafts_in_progress:
        newer = newer.exclude(drafts_in_progress())
    new = newer.order_by("-effective_on", "-id").first()
    if new is not None:
        return old, new
    if not from_version and old.supersedes_id:
        return old.supersedes, old
    raise InvalidInput(
        f"No version of '{req_set.code}' is newer than {old.version}; name one with 'to'.",
        field="to",
    )


def _evaluate(
    version: Any, frame: pd.DataFrame, *, now: datetime, agency_ids: list[int] | None
) -> Any:
    """One version over an already built fleet frame, waivers applied (a ``FleetResults``).

    The same steps as ``readiness.results.evaluate_fleet``, minus the frame: building it is
    most of an evaluation's time, and both versions of a comparison read the same fleet.
    """
    from readiness.fleet import Evaluation, compile_version
    from readiness.results import finish_results
    from readiness.scoring import evaluate

    reqs = compile_version(version)
    evaluation = Evaluation(
        version=version, now=now, frame=frame, requirements=reqs, results=evaluate(frame, reqs, now)
    )
    return finish_results(evaluation, waivers_at=now, agency_ids=agency_ids)


def _fleet_frame(agency_ids: list[int] | None, now: datetime) -> pd.DataFrame:
    from readiness.fleet import fleet_frame
    from readiness.frames import fleet_frame_from_records

    if agency_ids is not None and not agency_ids:
        # No agency in scope (an empty cabinet): an empty fleet, not an SQL "IN ()".
        return fleet_frame_from_records(pd.DataFrame({"device_id": pd.Series([], dtype="int64")}))
    return fleet_frame(agency_ids=agency_ids, now=now)


def _results_long(fleet: Any) -> pd.DataFrame:
    """device_id, key, status of a FleetResults (categoricals kept: no string copies)."""
    r = fleet.results
    return pd.DataFrame(
        {"device_id": r["device_id"].to_numpy(), "key": r["stable_key"], "status": r["status"]}
    )


def _newly_failing_reasons(before: Any, after: Any, newly_ids: np.ndarray) -> pd.Series:
    """Per newly failing device, "CODE: reason" for each requirement it fails only under ``after``."""

    def fails(fleet: Any) -> pd.DataFrame:
        r = fleet.results
        mask = (r["status"] == "fail").to_numpy(dtype=bool) & r["device_id"].isin(
            newly_ids
        ).to_numpy()
        rows = r.loc[mask, ["device_id", "stable_key", "reason"]]
        return rows.astype({"stable_key": str, "reason": str})

    new, old = fails(after), fails(before)[["device_id", "stable_key"]]
    joined = new.merge(old, on=["device_id", "stable_key"], how="left", indicator=True)
    joined = joined[joined["_merge"].eq("left_only")]
    code_of = dict(zip(after.requirements["stable_key"], after.requirements["code"], strict=True))
    text = joined["stable_key"].map(code_of).fillna(joined["stable_key"]) + ": " + joined["reason"]
    # Requirement order within a device, as the results list them.
    return text.groupby(joined["device_id"].to_numpy(), sort=False).agg(list)


def compare_versions(
    *,
    agency_ids: list[int] | None,
    set_code: str,
    from_version: str | None = None,
    to_version: str | None = None,
    now: datetime | None = None,
    with_drafts_in_progress: bool = True,
) -> WhatIfResult:
    """Compare two versions of a set over the fleet of ``agency_ids`` (None: every agency). Read-only.

    The caller resolves ``agency_ids`` from the viewer through ``readiness.scoping`` (the API,
    the pages) or from a briefing's authorised scope; the engine never sees a user. Defaults:
    ``from`` is the version in effect today, ``to`` the newest other version (a draft if there
    is one). Every figure, the cost and the plan are those agencies' alone. Waivers count in
    both (they follow the stable key). The cost and the plan close the gap to the ``to``
    version: every device it leaves not ready.

    The fleet frame is built once and evaluated under both versions; everything after is
    array work (about 1.5 s for 100,000 devices on PostgreSQL, most of it the frame).
    """
    now = now or timezone.now()
    req_set = get_requirement_set(set_code)
    old, new = pick_versions(
        req_set,
        from_version=from_version,
        to_version=to_version,
        today=timezone.localdate(now),
        with_drafts_in_progress=with_drafts_in_progress,
    )
    if new.pk == old.pk:
        raise InvalidInput("Choose two different versions to compare.", field="to")
    agency_ids = None if agency_ids is None else sorted({int(a) for a in agency_ids})
    frame = _fleet_frame(agency_ids, now)
    before = _evaluate(old, frame, now=now, agency_ids=agency_ids)
    after = _evaluate(new, frame, now=now, agency_ids=agency_ids)
    ready_before = before.devices.set_index("device_id")["is_ready"].astype(bool)
    ready_after = after.devices.set_index("device_id")["is_ready"].astype(bool)
    newly = ready_before & ~ready_after.reindex(ready_before.index, fill_value=False)
    newly_ids = newly[newly].index.to_numpy(dtype=np.int64)
    meta = agency_meta(agency_ids).set_index("agency_id")
    gaps = gap_frame(after, now=now)
    devices_total = len(after.devices)
    ready_now = int(ready_after.sum())
    return WhatIfResult(
        set_code=set_code,
        from_version=old.version,
        to_version=new.version,
        at=now,
        changes=_version_changes(old, new, before, after),
        devices_total=devices_total,
        ready_before=int(ready_before.sum()),
        ready_after=ready_now,
        newly_failing_devices=_newly_failing_frame(frame, before, after, newly_ids, meta),
        agencies=_per_agency(before, ready_after, newly_ids, meta),
        cost=total_cost(gaps),
        plan=plan_remediation(
            gaps, devices_total=devices_total, ready_now=ready_now, due=due_dates(new.pk)
        ),
        deadlines=deadline_rows(
            after.results,
            after.requirements,
            due_dates(new.pk),
            today=timezone.localdate(now),
            per_agency=False,
        ),
    )


def _version_changes(old: Any, new: Any, before: Any, after: Any) -> list[RequirementChange]:
    """The requirement changes from ``old`` to ``new``, directions read from the fleet's results."""
    changes = diff_requirements(
        _requirement_dicts(old),
        _requirement_dicts(new),
        new_supersedes_old=new.supersedes_id == old.pk,
    )
    return refine_with_effects(
        changes, requirement_effects(_results_long(before), _results_long(after))
    )


def _newly_failing_frame(
    frame: pd.DataFrame, before: Any, after: Any, newly_ids: np.ndarray, meta: pd.DataFrame
) -> pd.DataFrame:
    """device_id, serial, agency_id, agency, model_id, kind, reasons of each newly failing device."""
    why = _newly_failing_reasons(before, after, newly_ids).to_dict()
    pos = pd.Index(frame["device_id"].to_numpy(dtype=np.int64)).get_indexer(newly_ids)
    newly_agencies = frame["agency_id"].to_numpy(dtype=np.int64)[pos]
    return pd.DataFrame(
        {
            "device_id": newly_ids,
            "serial": frame["device.serial"].to_numpy(dtype=object)[pos],
            "agency_id": newly_agencies,
            "agency": meta["slug"].reindex(newly_agencies).to_numpy(dtype=object),
            "model_id": frame["model_id"].to_numpy(dtype=np.int64)[pos],
            "kind": frame["device.kind"].astype(object).to_numpy()[pos],
            "reasons": [why.get(d, []) for d in newly_ids.tolist()],
        },
        columns=["device_id", "serial", "agency_id", "agency", "model_id", "kind", "reasons"],
    )


def _per_agency(
    before: Any, ready_after: pd.Series, newly_ids: np.ndarray, meta: pd.DataFrame
) -> pd.DataFrame:
    """agency_id, ready_before, ready_after, newly_failing, slug, name, devices; most newly failing first."""
    per_agency = (
        pd.DataFrame(
            {
                "agency_id": before.devices["agency_id"].to_numpy(),
                "ready_before": before.devices["is_ready"].astype(bool).to_numpy(),
                "ready_after": ready_after.reindex(
                    before.devices["device_id"].to_numpy(), fill_value=False
                ).to_numpy(),
                "newly_failing": before.devices["device_id"].isin(newly_ids).to_numpy(),
            }
        )
        .groupby("agency_id")
        .sum()
        .astype("int64")
        .reset_index()
    )
    per_agency["slug"] = per_agency["agency_id"].map(meta["slug"])
    per_agency["name"] = per_agency["agency_id"].map(meta["name"])
    per_agency["devices"] = per_agency["agency_id"].map(before.devices.groupby("agency_id").size())
    return per_agency.sort_values(["newly_failing", "slug"], ascending=[False, True]).reset_index(
        drop=True
    )


def remediation_plan(
    *,
    agency_ids: list[int] | None,
    set_code: str,
    version: str | None = None,
    now: datetime | None = None,
) -> tuple[Any, dict[str, Decimal], list[Any], int, int]:
    """The ranked plan to close the gap to one version (default: in effect today). Read-only.

    ``agency_ids`` is the fleet, resolved by the caller as in ``compare_versions`` (None:
    every agency). Returns (version, cost by action kind, plan steps, devices, ready now).
    """
    now = now or timezone.now()
    ver = resolve_version(set_code, version=version, on=timezone.localdate(now))
    agency_ids = None if agency_ids is None else sorted({int(a) for a in agency_ids})
    fleet = _evaluate(ver, _fleet_frame(agency_ids, now), now=now, agency_ids=agency_ids)
    gaps = gap_frame(fleet, now=now)
    ready = int(fleet.devices["is_ready"].astype(bool).sum())
    total = len(fleet.devices)
    return (
        ver,
        total_cost(gaps),
        plan_remediation(gaps, devices_total=total, ready_now=ready, due=due_dates(ver.pk)),
        total,
        ready,
    )
