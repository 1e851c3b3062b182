"""The dashboards' time-to-live cache: expiry judged against the caller's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from readiness import figures_cache

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_an_entry_is_served_until_its_time_is_up_and_not_after():
    figures_cache.put("k", "figures", now=T0, ttl_seconds=600)
    assert figures_cache.get("k", now=T0 + timedelta(seconds=599)) == "figures"
    assert figures_cache.get("k", now=T0 + timedelta(seconds=600)) is None


def test_get_or_set_builds_once_while_the_entry_lives_then_again():
    built: list[int] = []

    def build() -> int:
        built.append(1)
        return len(built)

    assert figures_cache.get_or_set("k", build, now=T0, ttl_seconds=10) == 1
    assert figures_cache.get_or_set("k", build, now=T0 + timedelta(seconds=9), ttl_seconds=10) == 1
    assert figures_cache.get_or_set("k", build, now=T0 + timedelta(seconds=10), ttl_seconds=10) == 2


def test_a_time_to_live_of_zero_never_serves_a_stored_value():
    built: list[int] = []

    def build() -> str:
        built.append(1)
        return "figures"

    for _ in range(3):
        assert figures_cache.get_or_set("k", build, now=T0, ttl_seconds=0) == "figures"
    assert len(built) == 3
