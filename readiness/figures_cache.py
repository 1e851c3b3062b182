"""A small time-to-live cache for the dashboards' snapshot figures and their charts.

Snapshot figures change only when a snapshot is (re)computed, which the caller's key
notices (it names the snapshots' newest ``computed_at``); the time to live only bounds how
long an entry stays. Expiry is decided against the ``now`` the caller passes, never the wall
clock, so a test can step time forward; Django's cache keeps the same timeout so an unused
entry still leaves the shared cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")

FIGURES_CACHE_SECONDS = 600


@dataclass(frozen=True)
class _Entry:
    value: object
    expires_at: datetime


def get(key: str, *, now: datetime) -> object | None:
    """The value stored under ``key`` if it has not expired by ``now``, else None."""
    entry = cache.get(key)
    if not isinstance(entry, _Entry) or entry.expires_at <= now:
        return None
    return entry.value


def put(
    key: str, value: object, *, now: datetime, ttl_seconds: int = FIGURES_CACHE_SECONDS
) -> None:
    """Store ``value`` under ``key`` until ``now + ttl_seconds``."""
    cache.set(key, _Entry(value, now + timedelta(seconds=ttl_seconds)), ttl_seconds)


def get_or_set(
    key: str, build: Callable[[], T], *, now: datetime, ttl_seconds: int = FIGURES_CACHE_SECONDS
) -> T:
    """The cached value of ``key`` at ``now``, else ``build()`` stored for ``ttl_seconds``.

    Not atomic: two requests missing at once both build and the last write wins, which is
    harmless for figures that are the same whoever builds them.
    """
    found = get(key, now=now)
    if found is not None:
        return found  # type: ignore[return-value]
    value = build()
    put(key, value, now=now, ttl_seconds=ttl_seconds)
    return value


def shared(key: str, build: Callable[[], T], *, now: datetime) -> T:
    """``get_or_set`` for TRACKER_LIVE_FIGURES_SECONDS: what every viewer reads alike (the
    fleet-now section, the overview's shared parts) is built once in that window and shared.
    A change shows that much later at most; the tests set it to 0, which shares nothing."""
    return get_or_set(key, build, now=now, ttl_seconds=settings.TRACKER_LIVE_FIGURES_SECONDS)
