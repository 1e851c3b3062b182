"""Online, late or offline: the one rule, in Python and as the SQL built beside it.

A device is late once its late deadline has passed without a newer reading and offline
once its offline deadline has (`telemetry.health.deadlines` sets both from the reading and
the device's interval). A deadline is passed AT its instant (``deadline <= now``), and
offline is tested first, so a row whose deadlines are out of order still reads offline
once either says so. A row without a reading is never_seen; a reading without deadlines
(which no writer produces) reads online.

Maintenance and unreachable are not part of the rule: the sweep puts a silent device into
maintenance on top of it, and takes it out to the level the rule gives.

The ingest computes the level of a new latest state with it (in Python on SQLite, in the
upsert's SQL on PostgreSQL), and the sweep and the batch effects with the SQL, so the
three cannot drift apart; `tests/telemetry/test_levels.py` holds the two forms against
each other in the real database.
"""

from __future__ import annotations

from datetime import datetime

from telemetry.models import HealthLevel

_NEVER_SEEN = HealthLevel.NEVER_SEEN.value
_ONLINE = HealthLevel.ONLINE.value
_LATE = HealthLevel.LATE.value
_OFFLINE = HealthLevel.OFFLINE.value


def level_from_deadlines(
    *,
    now: datetime,
    last_reading_at: datetime | None,
    late_after: datetime | None,
    offline_after: datetime | None,
) -> str:
    """online / late / offline from the deadlines alone; never_seen without a reading.

    Pure: compares the values given (all aware, or all naive UTC).
    """
    if last_reading_at is None:
        return _NEVER_SEEN
    if offline_after is not None and offline_after <= now:
        return _OFFLINE
    if late_after is not None and late_after <= now:
        return _LATE
    return _ONLINE


def level_from_deadlines_sql(
    *, now: str, late_after: str, offline_after: str, last_reading_at: str | None = None
) -> str:
    """`level_from_deadlines` as an SQL CASE over the given SQL expressions.

    Each argument is SQL text: a column (``h.late_after``), an expression (``ts + late_s *
    INTERVAL '1 second'``) or, for ``now``, a placeholder. ``now`` is written twice: with a
    named placeholder (``%(now)s``) bind it once; with ``%s`` bind `level_sql_params(now)`.
    Without ``last_reading_at`` the caller vouches that every row has a reading (the
    never_seen branch is left out). A NULL deadline compares as unknown, so it falls
    through, as None does in Python. Portable to PostgreSQL and SQLite (naive UTC text
    compares in time order there, given in Django's format).
    """
    never_seen = f"WHEN {last_reading_at} IS NULL THEN '{_NEVER_SEEN}' " if last_reading_at else ""
    return (
        f"CASE {never_seen}"
        f"WHEN {offline_after} <= {now} THEN '{_OFFLINE}' "
        f"WHEN {late_after} <= {now} THEN '{_LATE}' "
        f"ELSE '{_ONLINE}' END"
    )


def level_sql_params(now: object) -> list[object]:
    """Positional parameters for `level_from_deadlines_sql(now="%s", ...)`: ``now`` in the
    database's form (``connection.ops.adapt_datetimefield_value``), once per use."""
    return [now, now]
