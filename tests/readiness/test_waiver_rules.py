"""Waiver arithmetic on plain frames: which results a waiver turns into 'waived', and when."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from readiness.waiver_rules import apply_waivers, check_ceiling, waiver_frame

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def results() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": [1, 2, 3, 4],
            "agency_id": [10, 10, 10, 20],
            "stable_key": ["k", "k", "k", "k"],
            "status": pd.Categorical(
                ["fail", "pass", "fail", "fail"],
                categories=["pass", "fail", "waived", "not_applicable"],
            ),
        }
    )


def waiver(
    wid, agency, device, *, start="2026-01-01", end="2026-12-31", revoked=None, key="k"
) -> dict:
    return {
        "waiver_id": wid,
        "agency_id": agency,
        "device_id": device,
        "stable_key": key,
        "starts_at": pd.Timestamp(start, tz="UTC"),
        "expires_at": pd.Timestamp(end, tz="UTC"),
        "revoked_at": pd.Timestamp(revoked, tz="UTC") if revoked else pd.NaT,
    }


def test_agency_waiver_covers_only_that_agencys_failures():
    out = apply_waivers(results(), waiver_frame([waiver(7, 10, None)]), at=NOW)
    assert out["status"].tolist() == ["waived", "pass", "waived", "fail"]
    assert out["waiver_id"].tolist()[:1] == [7]


def test_device_waiver_covers_one_device_and_wins_over_agency_waiver():
    out = apply_waivers(results(), waiver_frame([waiver(7, 10, None), waiver(8, 10, 3)]), at=NOW)
    assert out.loc[out["device_id"] == 3, "waiver_id"].item() == 8
    assert out.loc[out["device_id"] == 1, "waiver_id"].item() == 7


def test_expired_waiver_stops_counting_by_itself():
    frame = waiver_frame([waiver(7, 10, None, end="2026-05-31")])
    assert apply_waivers(results(), frame, at=NOW)["status"].tolist() == [
        "fail",
        "pass",
        "fail",
        "fail",
    ]
    # ... but it did count on a date inside its validity, which is what "as of" asks.
    before = apply_waivers(results(), frame, at=datetime(2026, 5, 1, tzinfo=UTC))
    assert before["status"].tolist()[0] == "waived"


def test_revoked_waiver_counts_until_its_revocation():
    frame = waiver_frame([waiver(7, 10, 1, revoked="2026-05-15")])
    assert apply_waivers(results(), frame, at=NOW)["status"].tolist()[0] == "fail"
    assert (
        apply_waivers(results(), frame, at=datetime(2026, 5, 1, tzinfo=UTC))["status"].tolist()[0]
        == "waived"
    )


def test_waiver_for_another_requirement_changes_nothing():
    out = apply_waivers(results(), waiver_frame([waiver(7, 10, None, key="other")]), at=NOW)
    assert "waived" not in out["status"].tolist()


def test_ceiling_refuses_a_waiver_that_takes_the_share_above_it():
    assert check_ceiling(applicable=100, waived_before=9, waived_after=10, ceiling=0.10).allowed
    refused = check_ceiling(applicable=100, waived_before=9, waived_after=11, ceiling=0.10)
    assert not refused.allowed
    assert refused.share_after == 0.11


def test_waiver_that_waives_nothing_new_is_always_within_the_ceiling():
    assert check_ceiling(applicable=10, waived_before=5, waived_after=5, ceiling=0.10).allowed
