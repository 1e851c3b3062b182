"""The level rule in Python and its SQL agree, evaluated in the real database."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from django.db import connection

from telemetry.levels import level_from_deadlines, level_from_deadlines_sql, level_sql_params
from tests.telemetry.conftest import NOW

pytestmark = pytest.mark.django_db

TICK = timedelta(microseconds=1)
# Before, at and after each deadline, a long way either side, and no deadline at all.
INSTANTS: list[datetime | None] = [
    None,
    NOW - timedelta(hours=1),
    NOW - TICK,
    NOW,
    NOW + TICK,
    NOW + timedelta(hours=1),
]
READINGS: list[datetime | None] = [None, NOW - timedelta(minutes=10)]


def grid() -> list[tuple[datetime | None, datetime | None, datetime | None]]:
    # Deadlines out of order (offline before late) are in the grid too: the rule still decides.
    return list(itertools.product(READINGS, INSTANTS, INSTANTS))


def levels_in_database(rows, *, now: datetime, with_reading_column: bool = True) -> list[str]:
    adapt = connection.ops.adapt_datetimefield_value
    column_type = connection.data_types["DateTimeField"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE level_grid (n integer, last_reading_at {column_type} NULL, "
            f"late_after {column_type} NULL, offline_after {column_type} NULL)"
        )
        try:
            cursor.executemany(
                "INSERT INTO level_grid VALUES (%s, %s, %s, %s)",
                [
                    (n, adapt(last), adapt(late), adapt(off))
                    for n, (last, late, off) in enumerate(rows)
                ],
            )
            case = level_from_deadlines_sql(
                now="%s",
                late_after="late_after",
                offline_after="offline_after",
                last_reading_at="last_reading_at" if with_reading_column else None,
            )
            cursor.execute(
                f"SELECT {case} FROM level_grid ORDER BY n", level_sql_params(adapt(now))
            )
            return [level for (level,) in cursor.fetchall()]
        finally:
            cursor.execute("DROP TABLE level_grid")


def test_the_sql_gives_the_python_level_before_at_and_after_each_deadline():
    rows = grid()
    expected = [
        level_from_deadlines(now=NOW, last_reading_at=last, late_after=late, offline_after=off)
        for last, late, off in rows
    ]

    assert levels_in_database(rows, now=NOW) == expected


@pytest.mark.parametrize(
    ("last_reading_at", "late_after", "offline_after", "level"),
    [
        (NOW - timedelta(minutes=10), NOW + TICK, NOW + timedelta(minutes=2), "online"),
        (NOW - timedelta(minutes=10), NOW, NOW + timedelta(minutes=2), "late"),
        (NOW - timedelta(minutes=10), NOW - timedelta(minutes=2), NOW, "offline"),
        (NOW - timedelta(minutes=10), None, None, "online"),
        (None, NOW - TICK, NOW - TICK, "never_seen"),
    ],
)
def test_a_deadline_is_passed_at_its_instant(last_reading_at, late_after, offline_after, level):
    assert (
        level_from_deadlines(
            now=NOW,
            last_reading_at=last_reading_at,
            late_after=late_after,
            offline_after=offline_after,
        )
        == level
    )


def test_without_the_reading_column_the_sql_agrees_for_rows_that_have_a_reading():
    rows = [r for r in grid() if r[0] is not None]
    expected = [
        level_from_deadlines(now=NOW, last_reading_at=last, late_after=late, offline_after=off)
        for last, late, off in rows
    ]

    assert levels_in_database(rows, now=NOW, with_reading_column=False) == expected
