"""Due dates that count: the day arithmetic, the plan's order, and where the deadlines show."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pandas as pd
import pytest
from django.core.management import call_command
from openpyxl import load_workbook
from pptx import Presentation

from readiness.deadlines import days_left, due_label
from readiness.models import Requirement
from readiness.remediation import GAP_COLUMNS, plan_remediation
from readiness.snapshots import compute_snapshots
from readiness.whatif import compare_versions
from tests.readiness.catalog_helpers import (
    ENCRYPTION,
    MDM,
    make_requirement,
    make_set,
    make_version,
    phone,
)

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("due", "label"),
    [
        (TODAY + timedelta(days=10), "due in 10 days"),
        (TODAY + timedelta(days=1), "due in 1 day"),
        (TODAY, "due today"),
        (TODAY - timedelta(days=1), "overdue by 1 day"),
        (TODAY - timedelta(days=45), "overdue by 45 days"),
    ],
)
def test_a_due_date_reads_as_days_left_or_overdue(due, label):
    assert due_label(due, TODAY) == label
    assert days_left(due, TODAY) == (due - TODAY).days


def test_a_deadline_goes_before_a_bigger_gain():
    # Firmware makes two devices ready for two touched (gain 1.0) but has no due date; MDM
    # makes one of two ready (gain 0.5) and is due first: it goes first.
    frame = pd.DataFrame(
        [
            (1, 1, "fw", "firmware", 25, "update firmware", "fw.min"),
            (2, 1, "fw", "firmware", 25, "update firmware", "fw.min"),
            (3, 1, "mdm", "configure", 40, "enrol in MDM", "cjis.mdm"),
            (4, 1, "mdm", "configure", 40, "enrol in MDM", "cjis.mdm"),
            (4, 1, "enc", "configure", 40, "turn on encryption", "cjis.enc"),
        ],
        columns=GAP_COLUMNS,
    )
    without = plan_remediation(frame, devices_total=4, ready_now=0)
    assert [s.action_key for s in without][0] == "fw"
    due = {"cjis.mdm": date(2027, 1, 1), "cjis.enc": date(2027, 6, 1)}
    plan = plan_remediation(frame, devices_total=4, ready_now=0, due=due)
    assert [s.action_key for s in plan] == ["mdm", "enc", "fw"]
    assert [s.due_on for s in plan] == [date(2027, 1, 1), date(2027, 6, 1), None]


@pytest.fixture
def fleet_with_deadlines(agency_a, agency_b, clock):
    req_set = make_set()
    v1 = make_version(req_set, "5.9", effective_on=date(2020, 1, 1))
    make_requirement(v1, "cjis.mdm", "MDM-1", MDM)
    make_requirement(v1, "cjis.enc", "ENC-1", ENCRYPTION)
    Requirement.objects.filter(key="cjis.mdm").update(due_on=clock.today + timedelta(days=30))
    Requirement.objects.filter(key="cjis.enc").update(due_on=clock.today - timedelta(days=3))
    phone(agency_a, mdm=False)
    phone(agency_a, encrypted=False)
    phone(agency_b, encrypted=False)
    phone(agency_b)
    return v1


def test_overview_and_agency_page_show_due_and_overdue_with_the_devices_failing(
    fleet_with_deadlines, state_staff, viewer_a, clock
):
    compute_snapshots(as_of=clock.today, now=clock.now)
    page = state_staff.browser.get("/dashboard/?set=cjis-mobile").content.decode()
    assert 'data-deadline="cjis.mdm">due in 30 days</span>' in page
    assert 'data-deadline="cjis.enc">overdue by 3 days</span>' in page
    assert "Kentucky State Police: 1 failing" in page
    assert "Lexington Police: 1 failing" in page
    mine = viewer_a.browser.get("/dashboard/agencies/ksp/?set=cjis-mobile").content.decode()
    assert 'data-deadline="cjis.enc">overdue by 3 days</span>' in mine
    assert "Lexington Police" not in mine  # another agency's counts are never shown


def test_whatif_and_briefing_carry_the_deadlines(
    fleet_with_deadlines, state_staff, clock, tmp_path
):
    v1 = fleet_with_deadlines
    v2 = make_version(
        v1.requirement_set, "6.0", effective_on=date(2031, 1, 1), status="draft", supersedes=v1
    )
    for r in v1.requirements.all():
        make_requirement(v2, r.key, r.code, r.rule, relation="same", previous=r)
    Requirement.objects.filter(version=v2, key="cjis.mdm").update(
        due_on=clock.today + timedelta(days=5)
    )
    result = compare_versions(
        agency_ids=None, set_code="cjis-mobile", from_version="5.9", to_version="6.0", now=clock.now
    )
    assert [(d.key, d.label, d.failing) for d in result.deadlines] == [
        ("cjis.mdm", "due in 5 days", 1)
    ]
    assert result.plan[0].requirements == ["cjis.mdm"]  # the action due first goes first
    page = state_staff.browser.get(
        "/dashboard/requirements/cjis-mobile/whatif/results/?from=5.9&to=6.0"
    ).content.decode()
    assert 'data-deadline="cjis.mdm">due in 5 days</span>' in page
    deck = tmp_path / "b.pptx"
    call_command(
        "briefing",
        "--format",
        "pptx",
        "--out",
        str(deck),
        "--set",
        "cjis-mobile",
        stdout=io.StringIO(),
    )
    slides = {s.shapes.title.text: s for s in Presentation(str(deck)).slides}
    text = " ".join(sh.text_frame.text for sh in slides["Due dates"].shapes if sh.has_text_frame)
    overdue_on = clock.today - timedelta(days=3)
    assert f"ENC-1 cjis.enc: due {overdue_on} (overdue by 3 days), 2 devices failing" in text
    out = tmp_path / "b.xlsx"
    call_command(
        "briefing",
        "--format",
        "xlsx",
        "--out",
        str(out),
        "--set",
        "cjis-mobile",
        stdout=io.StringIO(),
    )
    sheet = load_workbook(out)["Due dates"]
    values = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "overdue by 3 days" in values
    assert "due in 30 days" in values
