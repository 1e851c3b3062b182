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

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings

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


def firmware_update_cost() -> Decimal:
    return Decimal(str(getattr(settings, "READINESS_FIRMWARE_UPDATE_COST_USD", DEFAULT_FIRMWARE_UPDATE_COST)))


def configuration_fix_cost() -> Decimal:
    return Decimal(str(getattr(settings, "READINESS_CONFIGURATION_FIX_COST_USD", DEFAULT_CONFIGURATION_FIX_COST)))


def telemetry_fix_cost() -> Decimal:
    return Decimal(str(getattr(settings, "READINESS_TELEMETRY_FIX_COST_USD", DEFAULT_TELEMETRY_FIX_COST)))


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
