"""The decisions of the batch effects, the sweep and a gateway's state, from plain values.

No database: the writes that follow these plans are covered by test_health_batch.py and
test_sweep.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telemetry.effects import BatchRow, plan_batch, plan_gateway_back, plan_upsert_moves
from telemetry.health import Thresholds
from telemetry.sweep import plan_sweep

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def row(**values) -> BatchRow:
    defaults = {
        "device_id": 1,
        "level": "online",
        "changed_now": False,
        "computed": "online",
        "problems": [],
        "battery_pct": 80.0,
        "storage_pct": 10.0,
        "rsrp_dbm": -90.0,
        "firmware": "",
        "seen_firmware": None,
        "seen_since": None,
    }
    return BatchRow(**{**defaults, **values})


def plan(*rows: BatchRow):
    return plan_batch(rows, now=NOW, thresholds=Thresholds())


def test_a_first_reading_moves_a_never_seen_device_to_the_level_its_deadlines_give():
    assert plan(row(level="never_seen", computed="late")).level_moves == {
        ("never_seen", "late"): [1]
    }


def test_a_fresh_reading_brings_an_offline_device_back_but_never_sends_one_offline():
    assert plan(row(level="offline", computed="online")).level_moves == {("offline", "online"): [1]}
    assert plan(row(level="online", computed="offline")).level_moves == {}


def test_a_level_the_upsert_set_is_compared_with_the_last_recorded_flip():
    decided = plan(
        row(device_id=1, level="online", changed_now=True),
        row(device_id=2, level="late", changed_now=True),
    )
    assert decided.upsert_moved == {1: "online", 2: "late"}
    plan_upsert_moves(decided, {1: "online"})
    assert decided.level_moves == {("never_seen", "late"): [2]}


def test_a_new_firmware_is_recorded_from_now_and_an_old_one_is_a_problem():
    decided = plan(row(firmware="2.1", seen_firmware="2.0", seen_since=NOW - timedelta(days=900)))
    assert decided.firmware_rows == [(1, "2.1", NOW)]
    assert decided.new_problems == {}
    aged = plan(row(firmware="2.0", seen_firmware="2.0", seen_since=NOW - timedelta(days=400)))
    assert aged.went_unhealthy == {1: "firmware 2.0 unchanged for 400 days (more than 365)"}


def test_problems_appear_and_clear_once():
    assert plan(row(battery_pct=8.0)).went_unhealthy == {1: "battery 8% is below 15%"}
    cleared = plan(row(problems=["battery 8% is below 15%"]))
    assert (cleared.went_healthy, cleared.new_problems) == ([1], {1: []})
    unchanged = plan(row(battery_pct=8.0, problems=["battery 8% is below 15%"]))
    assert (unchanged.new_problems, unchanged.went_unhealthy) == ({}, {})


def test_a_returning_gateway_moves_devices_online_first_then_late_with_a_grace():
    online, late = plan_gateway_back(
        gateway_id=7, at=NOW, grace=timedelta(minutes=5), detail="gateway back"
    )
    assert (online.old, online.new, late.old, late.new) == (
        "unreachable",
        "online",
        "unreachable",
        "late",
    )
    assert late.detail == "gateway back; waiting for a reading"
    assert len(late.extra_params) == 2


def test_the_sweep_enters_maintenance_only_while_a_window_is_active():
    quiet = plan_sweep(now=NOW, maint=None)
    assert [(m.old, m.new) for m in quiet] == [
        ("maintenance", "offline"),
        ("maintenance", "late"),
        ("maintenance", "online"),
        ("online", "offline"),
        ("late", "offline"),
        ("online", "late"),
    ]
    windowed = plan_sweep(now=NOW, maint=("SELECT 1", []))
    assert [m.new for m in windowed].count("maintenance") == 3
    assert all("NOT IN (SELECT 1)" in m.where for m in windowed if m.new != "maintenance")
