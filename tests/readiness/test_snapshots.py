"""Snapshots: idempotent per date, the version in effect then, and "as of" reading them."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices.models import FirstNetStatusChange
from readiness.models import ParticipationSnapshot, ReadinessSnapshot
from readiness.results import scores
from readiness.scoping import visible_agency_ids
from readiness.snapshots import backfill_snapshots, compute_snapshots, trend
from readiness.tasks import compute_nightly_snapshots_task
from tests.readiness.catalog_helpers import cjis_catalog, phone
from tests.readiness.waiver_helpers import approved_waiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_versions(clock):
    """5.9 (MDM) in effect until 10 days ago; 6.0 (MDM + encryption) since then."""
    today = clock.today
    built = cjis_catalog(v60_on=today - timedelta(days=10))
    return built.v59, built.v60, today


def test_rerunning_a_date_replaces_its_rows(two_versions, agency_a, clock):
    v1, v2, today = two_versions
    phone(agency_a)
    first = compute_snapshots(as_of=today, now=clock.now)
    again = compute_snapshots(as_of=today, now=clock.now)
    assert first.readiness_rows == again.readiness_rows == 3  # 2 requirements + the total row
    assert ReadinessSnapshot.objects.filter(date=today).count() == 3
    assert ParticipationSnapshot.objects.filter(date=today, agency=agency_a).count() == 1


def test_each_date_uses_the_version_in_effect_then(two_versions, agency_a):
    v1, v2, today = two_versions
    phone(agency_a, encrypted=False)
    compute_snapshots(as_of=today - timedelta(days=20))
    compute_snapshots(as_of=today - timedelta(days=5))
    old = ReadinessSnapshot.objects.get(date=today - timedelta(days=20), requirement_key="")
    new = ReadinessSnapshot.objects.get(date=today - timedelta(days=5), requirement_key="")
    assert old.version == v1
    assert old.n_pass == 1  # ready under 5.9: only MDM asked
    assert new.version == v2
    assert new.n_fail == 1  # not ready under 6.0: encryption off


def test_as_of_a_past_date_reads_that_dates_snapshot_with_that_dates_version(
    two_versions, agency_a, state_staff, clock
):
    v1, v2, today = two_versions
    phone(agency_a, encrypted=False)
    compute_snapshots(as_of=today - timedelta(days=20), now=clock.now)
    past = scores(
        agency_ids=visible_agency_ids(state_staff.user),
        set_code="cjis-mobile",
        as_of=today - timedelta(days=15),
        group_by="state",
        now=clock.now,
    )
    assert past.source == "snapshot"
    assert past.snapshot_date == today - timedelta(days=20)
    assert past.version == v1
    assert past.rows["ready"].tolist() == [1]
    live = scores(
        agency_ids=visible_agency_ids(state_staff.user),
        set_code="cjis-mobile",
        group_by="state",
        now=clock.now,
    )
    assert live.source == "live"
    assert live.version == v2
    assert live.rows["ready"].tolist() == [0]


def test_snapshot_keeps_the_waivers_that_counted_that_day(
    two_versions, agency_a, admin_a, state_staff, settings, clock
):
    settings.READINESS_WAIVER_CEILING = 1.0
    v1, v2, today = two_versions
    device = phone(agency_a, encrypted=False)
    approved_waiver(
        requester=admin_a.user,
        approver=state_staff.user,
        agency=agency_a,
        set_code="cjis-mobile",
        requirement_key="cjis.enc",
        device=device,
        reason="replacement ordered",
        expires_at=clock.now + timedelta(days=30),
        now=clock.now,
    )
    compute_snapshots(as_of=today, now=clock.now)
    row = ReadinessSnapshot.objects.get(date=today, requirement_key="cjis.enc")
    assert (row.n_waived, row.n_fail) == (1, 0)
    # Three days ago the waiver did not exist yet.
    compute_snapshots(as_of=today - timedelta(days=3), now=clock.now)
    row = ReadinessSnapshot.objects.get(date=today - timedelta(days=3), requirement_key="cjis.enc")
    assert (row.n_waived, row.n_fail) == (0, 1)


def test_trend_shows_the_step_when_a_new_version_takes_effect(two_versions, agency_a, clock):
    v1, v2, today = two_versions
    phone(agency_a, encrypted=False)
    backfill_snapshots(until=today, days=15, now=clock.now)
    line = trend(
        set_code="cjis-mobile", agency_ids=None, start=today - timedelta(days=14), end=today
    )
    assert len(line) == 15
    assert set(line.loc[line["date"] < today - timedelta(days=10), "version"]) == {"5.9"}
    assert set(line.loc[line["date"] >= today - timedelta(days=10), "version"]) == {"6.0"}
    assert line.iloc[0]["ready_pct"] == 100.0
    assert line.iloc[-1]["ready_pct"] == 0.0


def test_command_backfills_the_days_ending_on_its_date(two_versions, agency_a):
    phone(agency_a)
    out = StringIO()
    call_command("snapshot_readiness", "--date", "2026-03-02", "--backfill-days", "3", stdout=out)
    dates = set(ReadinessSnapshot.objects.values_list("date", flat=True))
    assert dates == {date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 2)}
    assert "Backfilled 3 days ending 2026-03-02" in out.getvalue()


def test_participation_snapshot_uses_the_status_history(two_versions, agency_a, clock):
    v1, v2, today = two_versions
    agency_a.firstnet_status = "subscribed"
    agency_a.save()
    FirstNetStatusChange.objects.create(
        agency=agency_a, status="evaluating", changed_on=today - timedelta(days=30)
    )
    FirstNetStatusChange.objects.create(
        agency=agency_a, status="subscribed", changed_on=today - timedelta(days=7)
    )
    compute_snapshots(as_of=today - timedelta(days=60), now=clock.now)
    compute_snapshots(as_of=today - timedelta(days=10), now=clock.now)
    compute_snapshots(as_of=today, now=clock.now)
    statuses = dict(
        ParticipationSnapshot.objects.filter(agency=agency_a).values_list("date", "firstnet_status")
    )
    assert statuses == {
        today - timedelta(days=60): "not_engaged",
        today - timedelta(days=10): "evaluating",
        today: "subscribed",
    }


def test_command_refuses_a_future_date_and_a_bad_one():
    # Far ahead, so that no midnight passing while the test runs can make it today.
    with pytest.raises(CommandError, match="in the future"):
        call_command("snapshot_readiness", "--date", "2999-01-01")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("snapshot_readiness", "--date", "yesterday")


def test_nightly_task_runs_once_per_day_however_often_beat_sends_it(two_versions, agency_a):
    phone(agency_a)
    first = compute_nightly_snapshots_task.run()
    second = compute_nightly_snapshots_task.run()
    assert first["readiness_rows"] > 0
    assert second == {"skipped": True, "date": first["date"]}
