"""The readiness demo loads on top of the inventory demo and a second run changes nothing."""

from __future__ import annotations

import pytest

from devices.demo import load_inventory_demo
from readiness.demo import load_readiness_demo
from readiness.models import (
    FederalExpectation,
    ParticipationSnapshot,
    ReadinessSnapshot,
    RequirementSet,
    Waiver,
)
from readiness.snapshots import trend

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        RequirementSet.objects.count(),
        FederalExpectation.objects.count(),
        Waiver.objects.count(),
        ReadinessSnapshot.objects.count(),
        ParticipationSnapshot.objects.count(),
    )


def test_demo_is_idempotent_and_gives_a_trend():
    load_inventory_demo(devices=300, seed=3, log=lambda _: None)
    load_readiness_demo(seed=3, log=lambda _: None, days=8)
    first = counts()
    assert first[0] >= 3
    assert ReadinessSnapshot.objects.values("date").distinct().count() == 8
    assert FederalExpectation.objects.filter(is_illustrative=False).count() == 0
    load_readiness_demo(seed=3, log=lambda _: None, days=8)
    assert counts() == first
    line = trend(
        set_code="cjis-mobile",
        agency_ids=None,
        start=ReadinessSnapshot.objects.earliest("date").date,
        end=ReadinessSnapshot.objects.latest("date").date,
    )
    assert len(line) == 8
    # The synthesised past scores no better than today.
    assert line["score"].iloc[0] <= line["score"].iloc[-1]


def test_the_demo_history_ends_exactly_at_the_first_evaluation(clock):
    from datetime import timedelta

    from readiness.evaluation_store import evaluation_counts, latest_evaluation
    from readiness.models import ReadinessEvaluation
    from readiness.results import versions_in_effect

    load_inventory_demo(devices=300, seed=3, log=lambda _: None)
    load_readiness_demo(seed=3, log=lambda _: None, days=8)
    record = latest_evaluation()
    assert record.trigger == ReadinessEvaluation.Trigger.DEMO
    today = clock.today
    for version in versions_in_effect(on=today):
        first = evaluation_counts(record, version=version, agency_ids=None).query("key == ''")
        for day in (today - timedelta(days=1), today):
            totals = ReadinessSnapshot.objects.filter(date=day, version=version, requirement_key="")
            assert sum(t.n_pass for t in totals) == int(first["n_pass"].sum()), (version, day)
            assert sum(t.n_fail for t in totals) == int(first["n_fail"].sum()), (version, day)
    assert ReadinessSnapshot.objects.filter(
        date=today - timedelta(days=1), source=ReadinessSnapshot.Source.DEMO
    ).exists()
    load_readiness_demo(seed=3, log=lambda _: None, days=8)  # again: no second evaluation
    assert ReadinessEvaluation.objects.count() == 1
