"""Pure: what closing a readiness gap costs, and in which order to close it.

A gap is one device needing one action (replace it, update its firmware, fix its
configuration, get it reporting again). ``plan_remediation`` orders actions greedily by
readiness gained per device touched: at each step the action that makes the most devices
fully ready for each device it touches goes first, because a device missing two fixes is no
more ready after one of them. Nothing here touches the database; ``readiness.whatif`` builds
the gap frame and prices it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

# Action kinds, cheapest to dearest. A replacement brings current firmware with it, so a
# device being replaced needs no firmware update (configuration is still needed).
REPLACE = "replace"
FIRMWARE = "firmware"
CONFIGURE = "configure"
TELEMETRY = "telemetry"
ACTION_KINDS = (CONFIGURE, TELEMETRY, FIRMWARE, REPLACE)

GAP_COLUMNS = ["device_id", "agency_id", "action_key", "action_kind", "unit_cost", "description", "stable_key"]


@dataclass
class PlanStep:
    """One action of the plan, with its effect after every earlier step was taken."""

    rank: int
    action_key: str
    action_kind: str
    description: str
    devices_touched: int
    devices_made_ready: int
    cost: Decimal
    ready_after: int
    readiness_after_pct: float
    gain_per_device: float
    requirements: list[str] = field(default_factory=list)


def drop_superseded(gaps: pd.DataFrame) -> pd.DataFrame:
    """Remove firmware gaps of devices that are replaced anyway."""
    if gaps.empty:
        return gaps
    replaced = set(gaps.loc[gaps["action_kind"].eq(REPLACE), "device_id"])
    redundant = gaps["action_kind"].eq(FIRMWARE) & gaps["device_id"].isin(replaced)
    return gaps[~redundant]


def total_cost(gaps: pd.DataFrame) -> dict[str, Decimal]:
    """Cost per action kind and in total: one unit cost per (device, action)."""
    costs = {kind: Decimal("0") for kind in ACTION_KINDS}
    if not gaps.empty:
        per_action = gaps.drop_duplicates(["device_id", "action_key"])
        for kind, value in per_action.groupby("action_kind")["unit_cost"].sum().items():
            costs[str(kind)] = Decimal(str(round(float(value), 2)))
    costs["total"] = sum((costs[k] for k in ACTION_KINDS), Decimal("0"))
    return costs


def plan_remediation(gaps: pd.DataFrame, *, devices_total: int, ready_now: int) -> list[PlanStep]:
    """Rank actions by devices made ready per device touched (greedy, deterministic).

    ``gaps`` has GAP_COLUMNS, one row per device, action and requirement. ``devices_total``
    and ``ready_now`` are the statewide counts the readiness percentages refer to. Ties go
    to the action that moves its devices furthest (the mean share of their remaining
    actions it completes), then to the cheaper one, then by key, so the order is stable.
    """
    if gaps.empty:
        return []
    per_action = gaps.drop_duplicates(["device_id", "action_key"])
    info = per_action.groupby("action_key").agg(
        action_kind=("action_kind", "first"), description=("description", "first"), unit_cost=("unit_cost", "mean")
    )
    reqs = gaps.groupby("action_key")["stable_key"].agg(lambda s: sorted(set(s)))
    remaining = per_action[["device_id", "action_key", "unit_cost"]].copy()
    ready = ready_now
    steps: list[PlanStep] = []
    while not remaining.empty:
        needs = remaining.groupby("device_id")["action_key"].transform("size")
        scored = remaining.assign(only=needs.eq(1), progress=1.0 / needs)
        stats = scored.groupby("action_key").agg(
            touched=("device_id", "size"), made_ready=("only", "sum"), progress=("progress", "mean"), cost=("unit_cost", "sum")
        )
        stats["gain"] = stats["made_ready"] / stats["touched"]
        stats["cost_per_device"] = stats["cost"] / stats["touched"]
        stats = stats.reset_index().sort_values(
            ["gain", "progress", "cost_per_device", "action_key"], ascending=[False, False, True, True]
        )
        best = stats.iloc[0]
        key = str(best["action_key"])
        ready += int(best["made_ready"])
        steps.append(
            PlanStep(
                rank=len(steps) + 1,
                action_key=key,
                action_kind=str(info.at[key, "action_kind"]),
                description=str(info.at[key, "description"]),
                devices_touched=int(best["touched"]),
                devices_made_ready=int(best["made_ready"]),
                cost=Decimal(str(round(float(best["cost"]), 2))),
                ready_after=ready,
                readiness_after_pct=round(100.0 * ready / devices_total, 2) if devices_total else 0.0,
                gain_per_device=round(float(best["gain"]), 4),
                requirements=list(reqs.get(key, [])),
            )
        )
        remaining = remaining[remaining["action_key"] != key]
    return steps
