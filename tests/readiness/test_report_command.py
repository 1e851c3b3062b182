"""readiness_report prints a table, live or from a snapshot, and refuses bad input clearly."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from readiness.snapshots import compute_snapshots
from tests.readiness.catalog_helpers import cjis_catalog, phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(agency_a, agency_b):
    cjis_catalog(v60_on=date(2030, 1, 1), v60_status="draft")
    phone(agency_a)
    phone(agency_a, encrypted=False)
    phone(agency_b, mdm=False)


def report(*args: str) -> str:
    out = StringIO()
    call_command("readiness_report", *args, stdout=out)
    return out.getvalue()


def test_report_prints_one_line_per_agency_with_score_and_coverage(fleet):
    before = timezone.localdate()
    text = report("--set", "cjis-mobile")
    lines = text.splitlines()
    # The command reads the clock itself: either side of a midnight passing during the call.
    assert lines[0] in {
        f"CJIS mobile devices (cjis-mobile) version 5.9, as of {day} (live)"
        for day in (before, timezone.localdate())
    }
    assert lines[1].split() == [
        "group",
        "name",
        "devices",
        "ready",
        "ready",
        "%",
        "score",
        "coverage",
    ]
    ksp = next(line for line in lines if line.startswith("ksp"))
    assert ksp.split()[-5:] == ["2", "2", "100.0%", "100.0%", "100.0%"]
    lex = next(line for line in lines if line.startswith("lex-pd"))
    assert lex.split()[-5:] == ["1", "0", "0.0%", "0.0%", "100.0%"]
    assert lines[-1].startswith("2 of 3 devices ready.")


def test_report_for_a_named_version_and_grouping(fleet):
    text = report("--set", "cjis-mobile", "--version", "6.0", "--group-by", "state")
    assert "version 6.0" in text
    assert "1 of 3 devices ready." in text


def test_report_as_of_a_past_date_reads_the_snapshot(fleet):
    day = timezone.localdate() - timedelta(days=3)
    compute_snapshots(as_of=day)
    text = report("--set", "cjis-mobile", "--as-of", (day + timedelta(days=1)).isoformat())
    assert f"(snapshot of {day})" in text


def test_report_refuses_unknown_set_and_bad_date(fleet):
    with pytest.raises(CommandError, match="no requirement set 'nope'"):
        report("--set", "nope")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        report("--set", "cjis-mobile", "--as-of", "last week")
    with pytest.raises(CommandError, match="No snapshot"):
        report("--set", "cjis-mobile", "--as-of", "2021-01-01")
