"""What-if: moving the fleet from one version of a requirement set to another.

Three layers, each usable alone:

- ``diff_requirements`` (pure, plain dicts): which requirements were added, removed,
  renumbered, tightened or relaxed. Where the newer version directly supersedes the older,
  the relation recorded by its file is used; otherwise (two versions apart, or a draft
  branched elsewhere) the change is inferred, and a changed rule whose direction cannot be
  read from the data is ``changed`` until the fleet's results show which way it went.
- ``compare_versions`` evaluates the fleet under both versions (``readiness.results``) and
  reports which devices and agencies newly fail, and why, in words.
- the gap analysis prices what closing the new version's gap costs (a replacement from the
  catalog for a capability the model lacks, a firmware update for a version gap, a labour
  charge for configuration or silent devices) and ranks the actions
  (``readiness.remediation.plan_remediation``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from readiness.remediation import (
    CONFIGURE,
    FIRMWARE,
    GAP_COLUMNS,
    REPLACE,
    TELEMETRY,
    drop_superseded,
)

ADDED = "added"
REMOVED = "removed"
RENUMBERED = "renumbered"
TIGHTENED = "tightened"
RELAXED = "relaxed"
CHANGED = "changed"
SAME = "same"

# Costs of the actions that need no new hardware, in USD per device (settings may override).
DEFAULT_FIRMWARE_UPDATE_COST = Decimal("25")
DEFAULT_CONFIGURATION_FIX_COST = Decimal("40")  # about half an hour of a technician's time
DEFAULT_TELEMETRY_FIX_COST = Decimal("40")


def _cost_setting(name: str, default: Decimal) -> Decimal:
    """A per-device cost in USD: the Django setting, else the environment variable, else default."""
    raw = getattr(settings, name, None)
    if raw is None:
        raw = os.environ.get(name, default)
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise ImproperlyConfigured(f"{name} must be an amount in USD, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be an amount in USD, got {raw!r}")
    return value


def firmware_update_cost() -> Decimal:
    return _cost_setting("READINESS_FIRMWARE_UPDATE_COST_USD", DEFAULT_FIRMWARE_UPDATE_COST)


def configuration_fix_cost() -> Decimal:
    return _cost_setting("READINESS_CONFIGURATION_FIX_COST_USD", DEFAULT_CONFIGURATION_FIX_COST)


def telemetry_fix_cost() -> Decimal:
    return _cost_setting("READINESS_TELEMETRY_FIX_COST_USD", DEFAULT_TELEMETRY_FIX_COST)


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
    rule_changed = old.get("rule") != new.get("rule") or old.get("applies_when") != new.get("applies_when")
    if rule_changed:
        details.append("rule changed")
    old_sev, new_sev = _SEVERITY_RANK.get(old.get("severity", ""), 1), _SEVERITY_RANK.get(new.get("severity", ""), 1)
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
        details.append(f"renumbered {old.get('section') or old.get('code')} -> {new.get('section') or new.get('code')}")
    if rule_changed or (up and down):
        return CHANGED, details
    if up:
        return TIGHTENED, details
    if down:
        return RELAXED, details
    if renumbered:
        return RENUMBERED, details
    return SAME, details


def diff_requirements(
    old: list[dict[str, Any]], new: list[dict[str, Any]], *, new_supersedes_old: bool
) -> list[RequirementChange]:
    """Pure: the changes from ``old`` to ``new`` (dicts of Requirement fields, keyed by ``key``).

    ``new_supersedes_old`` says whether the newer version's recorded ``relation`` (and its
    ``change_note``) describe exactly this step; if not, every change is inferred.
    """
    old_by_key = {r["key"]: r for r in old}
    new_by_key = {r["key"]: r for r in new}
    changes: list[RequirementChange] = []
    for key, req in new_by_key.items():
        before = old_by_key.get(key)
        if before is None:
            changes.append(RequirementChange(
                key=key, change=ADDED, title=req["title"], new_code=req.get("code", ""),
                new_section=req.get("section", ""), details=[req.get("change_note") or "new requirement"],
                is_declared=new_supersedes_old and req.get("relation") == "new",
            ))
            continue
        inferred, details = _infer(before, req)
        declared = req.get("relation") if new_supersedes_old else None
        change = inferred
        if declared and declared != "new":
            change = declared
            if req.get("change_note"):
                details = [req["change_note"], *details]
        changes.append(RequirementChange(
            key=key, change=change, title=req["title"], old_code=before.get("code", ""), new_code=req.get("code", ""),
            old_section=before.get("section", ""), new_section=req.get("section", ""), details=details,
            is_declared=bool(declared and declared != "new"),
        ))
    for key, req in old_by_key.items():
        if key not in new_by_key:
            changes.append(RequirementChange(
                key=key, change=REMOVED, title=req["title"], old_code=req.get("code", ""),
                old_section=req.get("section", ""), details=["no longer required"],
            ))
    order = {ADDED: 0, TIGHTENED: 1, CHANGED: 2, RELAXED: 3, RENUMBERED: 4, REMOVED: 5, SAME: 6}
    changes.sort(key=lambda c: (order.get(c.change, 9), c.new_code or c.old_code))
    return changes


def refine_with_effects(changes: list[RequirementChange], effects: pd.DataFrame) -> list[RequirementChange]:
    """Record each requirement's effect on the fleet, and give ``changed`` a direction.

    ``effects`` has columns key, newly_failing, newly_passing (device counts). A changed rule
    that only made devices fail is reported as tightened, one that only made them pass as
    relaxed; a recorded relation is never overridden.
    """
    by_key = effects.set_index("key") if not effects.empty else pd.DataFrame(columns=["newly_failing", "newly_passing"])
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
    not in scope, or the requirement did not exist).
    """
    cols = ["device_id", "key", "status"]
    merged = new[cols].merge(old[cols], on=["device_id", "key"], how="outer", suffixes=("_new", "_old"))
    new_fail = merged["status_new"].eq("fail") & ~merged["status_old"].eq("fail")
    new_pass = merged["status_old"].eq("fail") & ~merged["status_new"].eq("fail")
    return (
        merged.assign(newly_failing=new_fail, newly_passing=new_pass)
        .groupby("key")[["newly_failing", "newly_passing"]].sum().astype(int).reset_index()
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

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    @property
    def ready_pct_before(self) -> float:
        return round(100.0 * self.ready_before / self.devices_total, 2) if self.devices_total else 0.0

    @property
    def ready_pct_after(self) -> float:
        return round(100.0 * self.ready_after / self.devices_total, 2) if self.devices_total else 0.0

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
        best = min(parts, key=lambda p: sum(_RANK[action_kind_for(leaf.attr.name)] for leaf in p[1]))
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
    reqs = [CompiledRequirement(key=f"leaf{i}", code=f"leaf{i}", title="", rule=n) for i, n in enumerate(nodes)]
    res = evaluate(frame, reqs, now)
    passed = res["status"].astype(str).eq("pass").to_numpy()
    return pd.DataFrame(
        passed.reshape(len(nodes), len(frame)).T, index=frame["device_id"].to_numpy(),
        columns=range(len(nodes)),
    )


def _catalog_frame() -> pd.DataFrame:
    from devices.models import DeviceModel
    from readiness.frames import fleet_frame_from_records

    rows = []
    for m in DeviceModel.objects.all():
        rows.append({
            "device_id": m.pk, "model_id": m.pk, "device.kind": m.kind, "model.has_band14": m.has_band14,
            "model.firstnet_program": m.firstnet_program, "model.fips_140_level": m.fips_140_level,
            "model.has_mcptt": m.has_mcptt, "model.has_encryption_at_rest": m.has_encryption_at_rest,
            "model.is_cellular": m.is_cellular, "model.telemetry_interval_s": m.telemetry_interval_s,
            "model.unit_cost": float(m.unit_cost), "device.manufacturer": m.manufacturer,
            "device.serial": f"{m.manufacturer} {m.name}",
        })
    return fleet_frame_from_records(rows) if rows else pd.DataFrame()


def gap_frame(fleet: Any, *, now: datetime) -> pd.DataFrame:
    """Pure-ish (reads the catalog): one row per device, action and requirement to fix.

    ``fleet`` is a ``readiness.results.FleetResults`` for the target version. Only what
    blocks readiness counts: failing mandatory requirements, and silence.
    """
    frame = fleet.evaluation.frame
    reqs = {r.key: r for r in fleet.evaluation.requirements}
    res = fleet.results
    failing = res[res["status"].astype(str).eq("fail")]
    failing = failing[failing["stable_key"].astype(str).map(lambda k: reqs[k].is_mandatory)]
    by_device = frame.set_index("device_id")
    model_names = _model_names()
    rows: list[tuple] = []
    # Every comparison of every failing requirement, evaluated once over the failing devices.
    failing_keys = sorted(set(failing["stable_key"].astype(str)))
    nodes: list[Any] = []
    for key in failing_keys:
        nodes += leaves(reqs[key].rule)
    sub = frame[frame["device_id"].isin(failing["device_id"].unique())]
    truth = _leaf_truth(sub, nodes, now)
    index_of = {id(n): i for i, n in enumerate(nodes)}
    catalog = _catalog_frame()
    needed_model_leaves: dict[int, list[Any]] = {}
    for key in failing_keys:
        rule_leaves = leaves(reqs[key].rule)
        dev_ids = failing.loc[failing["stable_key"].astype(str).eq(key), "device_id"].to_numpy()
        matrix = truth.loc[dev_ids, [index_of[id(n)] for n in rule_leaves]].to_numpy(dtype=bool)
        # Devices share a handful of truth patterns: decide the fix once per pattern.
        patterns, inverse = np.unique(matrix, axis=0, return_inverse=True)
        for p_idx, pattern in enumerate(patterns):
            _, need = needed_leaves(reqs[key].rule, {id(n): bool(v) for n, v in zip(rule_leaves, pattern, strict=True)})
            devs = dev_ids[np.asarray(inverse).reshape(-1) == p_idx]
            for leaf in need or rule_leaves[:1]:
                kind = action_kind_for(leaf.attr.name)
                if kind == REPLACE:
                    for d in devs:
                        needed_model_leaves.setdefault(int(d), []).append((leaf, key))
                    continue
                models = by_device.loc[devs, "model_id"].to_numpy()
                agencies = by_device.loc[devs, "agency_id"].to_numpy()
                for d, model_id, agency_id in zip(devs, models, agencies, strict=True):
                    rows.append((int(d), int(agency_id), *_action(kind, leaf, int(model_id), model_names), key))
    rows += _replacement_rows(by_device, needed_model_leaves, catalog, model_names, now)
    silent = fleet.devices[fleet.devices["is_silent"].astype(bool)]
    for device_id, agency_id in zip(silent["device_id"], silent["agency_id"], strict=True):
        rows.append((int(device_id), int(agency_id), *SILENT_ACTION[:2], float(telemetry_fix_cost()),
                     SILENT_ACTION[3], "(silent)"))
    return drop_superseded(pd.DataFrame(rows, columns=GAP_COLUMNS))


def _action(kind: str, leaf: Any, model_id: int, model_names: dict[int, str]) -> tuple[str, str, float, str]:
    """(action key, kind, unit cost, description) for a non-replacement fix."""
    if kind == FIRMWARE:
        return (f"firmware:{model_id}", FIRMWARE, float(firmware_update_cost()),
                f"Update firmware on {model_names.get(model_id, 'model')} devices")
    if kind == TELEMETRY:
        if leaf.attr.name in ("health.level", "health.last_seen"):
            # The same fix as for a silent device: one action, not two.
            return SILENT_ACTION[0], TELEMETRY, float(telemetry_fix_cost()), SILENT_ACTION[3]
        return (f"telemetry:{leaf.attr.name}", TELEMETRY, float(telemetry_fix_cost()),
                f"Field check: {leaf.attr.label}")
    label = _CONFIGURE_LABELS.get(leaf.attr.name, f"Fix {leaf.attr.label}")
    return (f"configure:{leaf.attr.name}", CONFIGURE, float(configuration_fix_cost()), label)


def _model_names() -> dict[int, str]:
    from devices.models import DeviceModel

    return {m.pk: f"{m.manufacturer} {m.name}" for m in DeviceModel.objects.all()}


def _replacement_rows(
    by_device: pd.DataFrame, needed: dict[int, list[tuple[Any, str]]], catalog: pd.DataFrame,
    model_names: dict[int, str], now: datetime,
) -> list[tuple]:
    """Replacement actions: the cheapest catalog model of the same kind meeting every need."""
    rows: list[tuple] = []
    if not needed:
        return rows
    all_leaves = list({id(leaf): leaf for pairs in needed.values() for leaf, _ in pairs}.values())
    ok = _leaf_truth(catalog, all_leaves, now) if not catalog.empty else pd.DataFrame()
    col_of = {id(leaf): i for i, leaf in enumerate(all_leaves)}
    kinds = catalog.set_index("device_id")["device.kind"].astype(str) if not catalog.empty else pd.Series(dtype=str)
    costs = catalog.set_index("device_id")["model.unit_cost"] if not catalog.empty else pd.Series(dtype=float)
    for device_id, pairs in needed.items():
        dev = by_device.loc[device_id]
        kind = str(dev["device.kind"])
        cols = sorted({col_of[id(leaf)] for leaf, _ in pairs})
        candidates = kinds[kinds == kind].index if len(kinds) else []
        fit = [m for m in candidates if not ok.empty and bool(ok.loc[m, cols].all())]
        own_model = int(dev["model_id"])
        if fit:
            best = min(fit, key=lambda m: (costs[m], m))
            key = f"replace:{own_model}->{best}"
            cost = float(costs[best])
            text = f"Replace {model_names.get(own_model, 'model')} with {model_names.get(int(best), 'model')}"
        else:
            key = f"replace:{own_model}"
            cost = float(dev["model.unit_cost"]) if pd.notna(dev["model.unit_cost"]) else 0.0
            text = (f"Replace {model_names.get(own_model, 'model')} (no catalog model of this kind "
                    "meets it; priced like for like)")
        for req_key in sorted({k for _, k in pairs}):
            rows.append((int(device_id), int(dev["agency_id"]), key, REPLACE, cost, text, req_key))
    return rows


# --- the comparison -------------------------------------------------------------------------


def _requirement_dicts(version: Any) -> list[dict[str, Any]]:
    return list(version.requirements.values(
        "key", "code", "section", "title", "rule", "applies_when", "severity", "applies_to", "relation",
        "change_note", "weight",
    ))


def pick_versions(req_set: Any, *, from_version: str | None, to_version: str | None, today: Any) -> tuple[Any, Any]:
    """The two versions to compare; the defaults answer "what would the next version do?".

    ``from`` defaults to the version in effect today; ``to`` to the newest version that takes
    effect after ``from`` (a draft or an announced one). When nothing newer exists and neither
    was named, the comparison is the one that brought the current version in: its
    predecessor to it.
    """
    from config.errors import InvalidInput
    from readiness.results import find_version_in_effect, get_version

    old = get_version(req_set, from_version) if from_version else find_version_in_effect(req_set, on=today)
    if old is None:
        old = req_set.versions.order_by("effective_on", "id").first()
    if old is None:
        raise InvalidInput(f"'{req_set.code}' has no versions.", field="set")
    if to_version:
        return old, get_version(req_set, to_version)
    newer = req_set.versions.filter(effective_on__gt=old.effective_on).exclude(pk=old.pk)
    new = newer.order_by("-effective_on", "-id").first()
    if new is not None:
        return old, new
    if not from_version and old.supersedes_id:
        return old.supersedes, old
    raise InvalidInput(f"No version of '{req_set.code}' is newer than {old.version}; name one with 'to'.", field="to")


def compare_versions(
    *, user: Any, set_code: str, from_version: str | None = None, to_version: str | None = None,
    now: datetime | None = None,
) -> WhatIfResult:
    """Compare two versions of a set over the fleet ``user`` may see. Read-only.

    Defaults: ``from`` is the version in effect today, ``to`` the newest other version (a
    draft if there is one). Waivers count in both (they follow the stable key). The cost and
    the plan close the gap to the ``to`` version: every device it leaves not ready.
    """
    from django.utils import timezone

    from config.errors import InvalidInput
    from readiness.remediation import plan_remediation, total_cost
    from readiness.results import (
        agency_meta,
        evaluate_fleet,
        get_requirement_set,
    )
    from readiness.scoping import visible_agency_ids

    now = now or timezone.now()
    req_set = get_requirement_set(set_code)
    old, new = pick_versions(req_set, from_version=from_version, to_version=to_version,
                             today=timezone.localdate(now))
    if new.pk == old.pk:
        raise InvalidInput("Choose two different versions to compare.", field="to")
    agency_ids = visible_agency_ids(user)
    before = evaluate_fleet(version=old, at=now, agency_ids=agency_ids)
    after = evaluate_fleet(version=new, at=now, agency_ids=agency_ids)

    changes = diff_requirements(_requirement_dicts(old), _requirement_dicts(new),
                                new_supersedes_old=new.supersedes_id == old.pk)
    def long(fleet: Any) -> pd.DataFrame:
        r = fleet.results
        return pd.DataFrame({"device_id": r["device_id"].to_numpy(), "key": r["stable_key"].astype(str).to_numpy(),
                             "status": r["status"].astype(str).to_numpy()})
    changes = refine_with_effects(changes, requirement_effects(long(before), long(after)))

    ready_before = before.devices.set_index("device_id")["is_ready"].astype(bool)
    ready_after = after.devices.set_index("device_id")["is_ready"].astype(bool)
    newly = ready_before & ~ready_after.reindex(ready_before.index, fill_value=False)
    newly_ids = newly[newly].index
    failing_new = long(after)
    failing_new = failing_new[failing_new["status"].eq("fail") & failing_new["device_id"].isin(newly_ids)]
    old_fail = long(before)
    old_fail = set(zip(old_fail.loc[old_fail["status"].eq("fail"), "device_id"],
                       old_fail.loc[old_fail["status"].eq("fail"), "key"], strict=True))
    reasons = after.results[after.results["device_id"].isin(newly_ids) & after.results["status"].astype(str).eq("fail")]
    code_of = dict(zip(after.requirements["stable_key"], after.requirements["code"], strict=True))
    why: dict[int, list[str]] = {}
    for device_id, key, reason in zip(reasons["device_id"], reasons["stable_key"].astype(str), reasons["reason"].astype(str), strict=True):
        if (device_id, key) not in old_fail:
            why.setdefault(int(device_id), []).append(f"{code_of.get(key, key)}: {reason}")
    frame = after.evaluation.frame.set_index("device_id")
    meta = agency_meta(agency_ids).set_index("agency_id")
    newly_rows = [
        {"device_id": int(d), "serial": str(frame.at[d, "device.serial"]), "agency_id": int(frame.at[d, "agency_id"]),
         "agency": str(meta.at[int(frame.at[d, "agency_id"]), "slug"]), "model_id": int(frame.at[d, "model_id"]),
         "kind": str(frame.at[d, "device.kind"]), "reasons": why.get(int(d), [])}
        for d in newly_ids
    ]
    newly_df = pd.DataFrame(newly_rows, columns=["device_id", "serial", "agency_id", "agency", "model_id", "kind", "reasons"])

    per_agency = pd.DataFrame({
        "agency_id": before.devices["agency_id"].to_numpy(),
        "ready_before": before.devices["is_ready"].astype(bool).to_numpy(),
        "ready_after": ready_after.reindex(before.devices["device_id"].to_numpy(), fill_value=False).to_numpy(),
        "newly_failing": before.devices["device_id"].isin(newly_ids).to_numpy(),
    }).groupby("agency_id").sum().astype("int64").reset_index()
    per_agency["slug"] = per_agency["agency_id"].map(meta["slug"])
    per_agency["name"] = per_agency["agency_id"].map(meta["name"])
    per_agency["devices"] = per_agency["agency_id"].map(before.devices.groupby("agency_id").size())
    per_agency = per_agency.sort_values(["newly_failing", "slug"], ascending=[False, True]).reset_index(drop=True)

    gaps = gap_frame(after, now=now)
    devices_total = len(after.devices)
    ready_now = int(ready_after.sum())
    return WhatIfResult(
        set_code=set_code, from_version=old.version, to_version=new.version, at=now, changes=changes,
        devices_total=devices_total, ready_before=int(ready_before.sum()), ready_after=ready_now,
        newly_failing_devices=newly_df, agencies=per_agency, cost=total_cost(gaps),
        plan=plan_remediation(gaps, devices_total=devices_total, ready_now=ready_now),
    )


def remediation_plan(*, user: Any, set_code: str, version: str | None = None, now: datetime | None = None) -> tuple[Any, dict[str, Decimal], list[Any], int, int]:
    """The ranked plan to close the gap to one version (default: in effect today).

    Returns (version, cost by action kind, plan steps, devices, ready now).
    """
    from django.utils import timezone

    from readiness.remediation import plan_remediation, total_cost
    from readiness.results import evaluate_fleet, resolve_version
    from readiness.scoping import visible_agency_ids

    now = now or timezone.now()
    ver = resolve_version(set_code, version=version, on=timezone.localdate(now))
    fleet = evaluate_fleet(version=ver, at=now, agency_ids=visible_agency_ids(user))
    gaps = gap_frame(fleet, now=now)
    ready = int(fleet.devices["is_ready"].astype(bool).sum())
    total = len(fleet.devices)
    return ver, total_cost(gaps), plan_remediation(gaps, devices_total=total, ready_now=ready), total, ready
