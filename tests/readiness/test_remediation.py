"""The remediation plan on hand-built gap frames (pure: no database)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from readiness.remediation import GAP_COLUMNS, drop_superseded, plan_remediation, total_cost


def gaps(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def test_action_that_completes_devices_ranks_before_one_that_only_helps_them():
    # Devices 1-3 need only firmware; devices 4-6 need firmware AND MDM enrolment.
    frame = gaps(
        [(d, 1, "fw:m1", "firmware", 25, "update firmware", "fw.min") for d in range(1, 7)]
        + [(d, 1, "cfg:mdm", "configure", 40, "enrol in MDM", "cjis.mdm") for d in range(4, 7)]
    )
    plan = plan_remediation(frame, devices_total=10, ready_now=4)
    assert [s.action_key for s in plan] == ["fw:m1", "cfg:mdm"]
    assert plan[0].devices_touched == 6
    assert plan[0].devices_made_ready == 3
    assert plan[0].ready_after == 7
    assert plan[1].devices_made_ready == 3
    assert plan[1].readiness_after_pct == 100.0


def test_cheaper_action_wins_a_tie():
    frame = gaps(
        [
            (1, 1, "rep:m1", "replace", 900, "replace", "b14"),
            (2, 1, "cfg:enc", "configure", 40, "turn on encryption", "enc"),
        ]
    )
    plan = plan_remediation(frame, devices_total=2, ready_now=0)
    assert [s.action_key for s in plan] == ["cfg:enc", "rep:m1"]
    assert plan[1].cost == Decimal("900")


def test_replaced_device_needs_no_firmware_update_and_costs_count_once_per_device():
    frame = gaps(
        [
            (1, 1, "rep:m1", "replace", 900, "replace", "b14"),
            (1, 1, "fw:m1", "firmware", 25, "fw", "fw.min"),
            (2, 1, "fw:m1", "firmware", 25, "fw", "fw.min"),
            (2, 1, "fw:m1", "firmware", 25, "fw", "fw.other"),
        ]
    )
    trimmed = drop_superseded(frame)
    assert set(trimmed.loc[trimmed["action_kind"] == "firmware", "device_id"]) == {2}
    cost = total_cost(trimmed)
    assert cost["replace"] == Decimal("900")
    assert cost["firmware"] == Decimal("25")
    assert cost["total"] == Decimal("925")


def test_no_gaps_means_an_empty_plan():
    assert plan_remediation(gaps([]), devices_total=5, ready_now=5) == []
