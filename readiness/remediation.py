"""Pure: what closing a readiness gap costs, and in which order to close it.

A gap is one device needing one action (replace it, update its firmware, fix its
configuration, get it reporting again). ``plan_remediation`` orders actions by deadline
first (the earliest due date among the requirements an action serves; actions for
requirements without a due date come after), then greedily by readiness gained per device
touched: at each step the action that makes the most devices fully ready for each device it
touches goes first, because a device missing two fixes is no more ready after one of them. Nothing here touches the database; ``readiness.whatif`` builds
the gap frame and prices it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

# Action kinds, cheapest to dearest. A replacement brings current firmware with it, so a
# device being replaced needs no firmware update (configuration is still needed).
REPLACE = "replace"
FIRMWARE = "firmware"
CONFIGURE = "configure"
TELEMETRY = "telemetry"
ACTION_KINDS = (CONFIGURE, TELEMETRY, FIRMWARE, REPLACE)

GAP_COLUMNS = [
    "device_id",
    "agency_id",
    "action_key",
    "action_kind",
    "unit_cost",
    "description",
    "stable_key",
]


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
    # The earliest due date among ``requirements``; None when none has one.
    due_on: date | None = None


def drop_superseded(gaps: pd.DataFrame) -> pd.DataFrame:
    """Remove firmware gaps of devices that are replaced anyway."""
    if gaps.empty:
        return gaps
    replaced = gaps.loc[gaps["action_kind"].eq(REPLACE), "device_id"].unique()
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


_NO_DEADLINE = date.max.toordinal()


def plan_remediation(
    gaps: pd.DataFrame,
    *,
    devices_total: int,
    ready_now: int,
    due: dict[str, date] | None = None,
) -> list[PlanStep]:
    """Rank actions by deadline, then by devices made ready per device touched (greedy,
    deterministic). ``due`` is the due date by requirement key (``stable_key``).

    ``gaps`` has GAP_COLUMNS, one row per device, action and requirement. ``devices_total``
    and ``ready_now`` are the readiness percentages' denominator and starting point (the
    fleet the gaps were taken from). Ties go to the action that moves its devices furthest
    (the mean share of their remaining actions it completes), then to the cheaper one, then
    by key, so the order is stable; those two are compared rounded (1e-9 and 1e-6 USD) so
    float noise in a sum never decides a tie.

    Each round is a handful of ``np.bincount`` over the remaining (device, action) pairs,
    so a fleet of 100,000 devices with a few hundred distinct actions plans in well under
    a second.
    """
    if gaps.empty:
        return []
    per_action = gaps.drop_duplicates(["device_id", "action_key"])
    # sort=True: an action's code orders like its key, the last tie-break.
    action, action_keys = pd.factorize(per_action["action_key"], sort=True)
    device, _ = pd.factorize(per_action["device_id"])
    unit_cost = per_action["unit_cost"].to_numpy(dtype=np.float64)
    _, first = np.unique(action, return_index=True)
    kinds = per_action["action_kind"].to_numpy(dtype=object)[first]
    descriptions = per_action["description"].to_numpy(dtype=object)[first]
    pairs = gaps[["action_key", "stable_key"]].drop_duplicates()
    reqs = pairs.groupby("action_key")["stable_key"].agg(lambda s: sorted(map(str, s)))
    deadline = np.array(
        [_deadline(reqs.get(k, []), due or {}) for k in action_keys], dtype=np.int64
    )
    n_actions, n_devices = len(action_keys), int(device.max()) + 1
    ready = ready_now
    steps: list[PlanStep] = []
    while len(action):
        best, touched, made_ready = _best_action(
            action, device, unit_cost, n_actions, n_devices, deadline
        )
        key = str(action_keys[best])
        chosen = action == best
        ready += made_ready
        steps.append(
            PlanStep(
                rank=len(steps) + 1,
                action_key=key,
                action_kind=str(kinds[best]),
                description=str(descriptions[best]),
                devices_touched=touched,
                devices_made_ready=made_ready,
                cost=Decimal(str(round(math.fsum(unit_cost[chosen]), 2))),
                ready_after=ready,
                readiness_after_pct=round(100.0 * ready / devices_total, 2)
                if devices_total
                else 0.0,
                gain_per_device=round(float(made_ready / touched), 4),
                requirements=list(reqs.get(key, [])),
                due_on=None
                if deadline[best] == _NO_DEADLINE
                else date.fromordinal(int(deadline[best])),
            )
        )
        device, action, unit_cost = device[~chosen], action[~chosen], unit_cost[~chosen]
    return steps


def _deadline(keys: list[str], due: dict[str, date]) -> int:
    dates = [due[k] for k in keys if k in due]
    return min(dates).toordinal() if dates else _NO_DEADLINE


def _best_action(
    action: np.ndarray,
    device: np.ndarray,
    unit_cost: np.ndarray,
    n_actions: int,
    n_devices: int,
    deadline: np.ndarray,
) -> tuple[int, int, int]:
    """(action, devices it touches, devices it makes ready) of the next step over the remaining
    (device, action) pairs: earliest deadline, then most devices made ready per device
    touched, then the tie-breaks of ``plan_remediation``."""
    needs = np.bincount(device, minlength=n_devices)[
        device
    ]  # actions each row's device still needs
    touched = np.bincount(action, minlength=n_actions)
    made_ready = np.bincount(action, weights=needs == 1, minlength=n_actions)
    progress = np.bincount(action, weights=1.0 / needs, minlength=n_actions)
    cost = np.bincount(action, weights=unit_cost, minlength=n_actions)
    live = np.flatnonzero(touched)
    n = touched[live]
    gain = made_ready[live] / n
    # np.lexsort: the last key sorts first.
    order = np.lexsort(
        (live, np.round(cost[live] / n, 6), -np.round(progress[live] / n, 9), -gain, deadline[live])
    )
    best = int(live[order[0]])
    return best, int(touched[best]), int(made_ready[best])
