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
