"""Pure health classification: values and ``now`` in, level and readable problems out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from telemetry.health import (
    Thresholds,
    classify_health,
    deadlines,
    month_bounds,
    threshold_problems,
    uptime_fraction,
)
from telemetry.maintenance import is_window_active

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _state(last_ago: timedelta | None, interval_s: int = 60, **kwargs):
    if last_ago is None:
        return classify_health(
            now=NOW, last_reading_at=None, late_after=None, offline_after=None, **kwargs
        )
    last = NOW - last_ago
    late_after, offline_after = deadlines(last, interval_s)
    return classify_health(
        now=NOW, last_reading_at=last, late_after=late_after, offline_after=offline_after, **kwargs
    )


@pytest.mark.parametrize(
    ("last_ago", "kwargs", "level"),
    [
        (None, {}, "never_seen"),
        (timedelta(seconds=30), {}, "online"),
        # 60 s interval: late after 60 s, offline after 60 s + 2 min grace.
        (timedelta(seconds=61), {}, "late"),
        (timedelta(seconds=179), {}, "late"),
        (timedelta(seconds=181), {}, "offline"),
        (timedelta(seconds=181), {"is_in_maintenance": True}, "maintenance"),
        (timedelta(seconds=61), {"is_in_maintenance": True}, "maintenance"),
        # A device that keeps reporting during a window is simply online.
        (timedelta(seconds=30), {"is_in_maintenance": True}, "online"),
        (timedelta(seconds=30), {"is_gateway_online": False}, "unreachable"),
        (timedelta(seconds=61), {"is_gateway_online": False}, "unreachable"),
        # Already offline before its gateway went: still offline (its own silence).
        (timedelta(seconds=181), {"is_gateway_online": False}, "offline"),
        (timedelta(seconds=30), {"is_gateway_online": None}, "online"),
        (None, {"is_gateway_online": False}, "never_seen"),
    ],
)
def test_level_is_classified_from_deadlines_gateway_and_maintenance(last_ago, kwargs, level):
    assert _state(last_ago, **kwargs).level == level


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({}, []),
        ({"battery_pct": 8.0}, ["battery 8% is below 15%"]),
        ({"battery_pct": 15.0}, []),
        ({"battery_pct": 14.5}, ["battery 14.5% is below 15%"]),
        ({"storage_pct": 95.0}, ["storage 95% full is above 90%"]),
        ({"storage_pct": 90.0}, []),
        ({"rsrp_dbm": -118.0}, ["signal -118 dBm is below -110 dBm"]),
        ({"rsrp_dbm": -95.0}, []),
        (
            {"firmware": "2.1.0", "firmware_since": NOW - timedelta(days=400)},
            ["firmware 2.1.0 unchanged for 400 days (more than 365)"],
        ),
        ({"firmware": "2.1.0", "firmware_since": NOW - timedelta(days=30)}, []),
        ({"firmware": "", "firmware_since": NOW - timedelta(days=900)}, []),
        (
            {"battery_pct": 3.0, "rsrp_dbm": -121.0},
            ["battery 3% is below 15%", "signal -121 dBm is below -110 dBm"],
        ),
    ],
)
def test_each_breached_threshold_is_a_readable_sentence(values, problems):
    args = {
        "battery_pct": None,
        "storage_pct": None,
        "rsrp_dbm": None,
        "firmware": "",
        "firmware_since": None,
    }
    args.update(values)
    assert threshold_problems(**args, now=NOW, thresholds=Thresholds()) == problems


def test_thresholds_are_configurable():
    strict = Thresholds(
        battery_min_pct=50, storage_max_pct=50, rsrp_min_dbm=-90, firmware_max_age_days=10
    )
    state = _state(
        timedelta(seconds=10),
        battery_pct=40.0,
        storage_pct=60.0,
        rsrp_dbm=-100.0,
        firmware="1.0",
        firmware_since=NOW - timedelta(days=11),
        thresholds=strict,
    )
    assert state.level == "online"
    assert state.problems == [
        "battery 40% is below 50%",
        "storage 60% full is above 50%",
        "signal -100 dBm is below -90 dBm",
        "firmware 1.0 unchanged for 11 days (more than 10)",
    ]


def test_deadlines_use_interval_then_grace_of_at_least_two_minutes():
    assert deadlines(NOW, 10) == (NOW + timedelta(seconds=10), NOW + timedelta(seconds=130))
    assert deadlines(NOW, 600) == (NOW + timedelta(seconds=600), NOW + timedelta(seconds=1800))


START = datetime(2026, 5, 1, tzinfo=UTC)
END = datetime(2026, 5, 11, tzinfo=UTC)  # ten days
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("initial", "changes", "expected"),
    [
        ("online", [], 1.0),
        ("offline", [], 0.0),
        ("never_seen", [], None),
        ("maintenance", [], None),
        # Offline for 1 of 10 days.
        ("online", [(START + 2 * DAY, "offline"), (START + 3 * DAY, "online")], 0.9),
        # Late counts as up; unreachable as down.
        ("online", [(START + 5 * DAY, "late"), (START + 6 * DAY, "unreachable")], 0.6),
        # Maintenance time is left out of the month: 2 up, 0 down.
        ("maintenance", [(START + 8 * DAY, "online")], 1.0),
        # First seen halfway, then up: never-seen time is not counted.
        ("never_seen", [(START + 5 * DAY, "online"), (START + 9 * DAY, "offline")], 0.8),
        # Changes outside the period only set the starting level or are ignored.
        ("online", [(START - DAY, "offline"), (END + DAY, "online")], 0.0),
    ],
)
def test_uptime_is_the_share_of_counted_time_spent_up(initial, changes, expected):
    result = uptime_fraction(initial_level=initial, changes=changes, start=START, end=END)
    assert result == (None if expected is None else pytest.approx(expected))


def test_a_month_is_a_local_calendar_month():
    start, end = month_bounds(2026, 12, "America/New_York")
    assert start.isoformat() == "2026-12-01T00:00:00-05:00"
    assert end.isoformat() == "2027-01-01T00:00:00-05:00"


NY = "America/New_York"


def _at_local(y, m, d, hh, mm):
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(NY))


@pytest.mark.parametrize(
    ("now", "active"),
    [
        (_at_local(2026, 5, 1, 22, 59), False),
        (_at_local(2026, 5, 1, 23, 0), True),
        (_at_local(2026, 5, 2, 0, 30), True),
        (_at_local(2026, 5, 2, 5, 59), True),
        (_at_local(2026, 5, 2, 6, 0), False),
        (_at_local(2026, 5, 2, 12, 0), False),
        # Across the daylight-saving change the window stays 23:00-06:00 local.
        (_at_local(2026, 11, 1, 5, 30), True),
        (_at_local(2026, 11, 1, 6, 30), False),
    ],
)
def test_daily_window_wraps_midnight_in_local_time(now, active):
    assert (
        is_window_active(
            recurrence="daily",
            starts_at=None,
            ends_at=None,
            daily_start=time(23, 0),
            daily_end=time(6, 0),
            time_zone=NY,
            now=now,
        )
        is active
    )


@pytest.mark.parametrize(
    ("kwargs", "active"),
    [
        ({"recurrence": "once", "starts_at": NOW - MIN, "ends_at": NOW + MIN}, True),
        ({"recurrence": "once", "starts_at": NOW, "ends_at": NOW + MIN}, True),
        ({"recurrence": "once", "starts_at": NOW - MIN, "ends_at": NOW}, False),
        ({"recurrence": "once", "starts_at": NOW + MIN, "ends_at": NOW + 2 * MIN}, False),
        # A daily window bounded by dates is inactive outside them.
        (
            {
                "recurrence": "daily",
                "daily_start": time(7, 0),
                "daily_end": time(9, 0),
                "ends_at": NOW - DAY,
            },
            False,
        ),
        (
            {"recurrence": "daily", "daily_start": time(7, 0), "daily_end": time(9, 0)},
            True,
        ),  # 08:00 New York
        ({"recurrence": "daily", "daily_start": time(7, 0), "daily_end": time(7, 0)}, False),
    ],
)
def test_one_off_and_bounded_windows(kwargs, active):
    args = {
        "starts_at": None,
        "ends_at": None,
        "daily_start": None,
        "daily_end": None,
        "time_zone": NY,
    }
    args.update(kwargs)
    assert is_window_active(**args, now=NOW) is active
