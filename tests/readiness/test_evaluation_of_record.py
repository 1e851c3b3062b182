"""Readiness at a moment: the evaluation of record is "now" for the dashboard, the API and every
briefing file, whatever device health does between them; live figures only when asked."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader

from readiness import evaluation_store, evaluations
from readiness.briefings.data import BriefingParams
from readiness.exports import build_briefing_export, request_briefing_exports
from readiness.models import ReadinessEvaluation
from readiness.tasks import record_evaluation_task
from tests.readiness.catalog_helpers import seen
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(agency_a, agency_b):
    return build_scenario(agency_a, agency_b)


def health_changes(scenario, clock, step: int) -> None:
    """The fleet moves on: at each step another ready device goes silent."""
    name = ["ksp-ok-1", "lex-ok", "fire-ok", "ksp-ok-2"][(step - 1) % 4]
    seen(scenario.devices[name], at=clock.now - timedelta(hours=6), level="offline")


def dashboard_figures(persona) -> tuple[int, str, str]:
    html = persona.browser.get("/dashboard/?set=cjis-mobile").content.decode()
    ready_pct = re.search(r'data-figure="ready-pct">([\d.]+)%', html).group(1)
    ready = re.search(r"Ready \((\d+) of \d+ devices\)", html).group(1)
    digest = re.search(r'data-figure="data-hash">([0-9a-f]{64})<', html).group(1)
    return int(ready), ready_pct, digest


def pptx_figures(blob: bytes) -> tuple[int, str, str]:
    slides = {s.shapes.title.text: list(s.shapes) for s in Presentation(io.BytesIO(blob)).slides}
    pairs = {
        row.cells[0].text: row.cells[1].text
        for shapes in slides.values()
        for sh in shapes
        if sh.has_table
        for row in sh.table.rows
    }
    return int(pairs["Ready"]), pairs["Ready %"].rstrip("%"), pairs["Data hash (SHA-256)"]


def xlsx_figures(blob: bytes) -> tuple[int, str, str]:
    wb = load_workbook(io.BytesIO(blob))
    summary = {
        r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=5, max_col=2, values_only=True) if r[0]
    }
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=2, values_only=True)}
    return int(summary["Ready"]), f"{summary['Ready %']:.1f}", about["Data hash (SHA-256)"]


def pdf_figures(blob: bytes) -> tuple[int, str, str]:
    first, last = (p.extract_text() for p in PdfReader(io.BytesIO(blob)).pages)
    flat = " ".join(first.split())
    ready = re.search(r"Ready (\d+)", flat).group(1)
    ready_pct = re.search(r"Ready % ([\d.]+)%", flat).group(1)
    digest = re.search(r"[0-9a-f]{64}", last.replace("\n", "")).group(0)
    return int(ready), ready_pct, digest


READERS = {"pptx": pptx_figures, "xlsx": xlsx_figures, "pdf": pdf_figures}


def test_dashboard_api_and_every_briefing_file_agree_while_health_keeps_changing(
    scenario, state_staff, clock
):
    record = evaluations.record_evaluation(now=clock.now)
    found = {"dashboard": dashboard_figures(state_staff)}
    health_changes(scenario, clock, 1)
    api = state_staff.client.get("/api/readiness/scores?set=cjis-mobile&group_by=state").json()
    row = api["rows"][0]
    found["api"] = (row["ready"], f"{row['ready_pct']:.1f}", api["data_hash"])
    assert api["source"] == "evaluation"
    assert api["evaluated_at"].startswith(record.evaluated_at.isoformat()[:19])
    exports = request_briefing_exports(
        requested_by=state_staff.user,
        params=BriefingParams(scope="state", set_code="cjis-mobile"),
        fmt="all",
        now=clock.now,
    )
    assert sorted(e.format for e in exports) == ["pdf", "pptx", "xlsx"]
    for step, export in enumerate(exports, start=2):
        health_changes(scenario, clock, step)
        done = build_briefing_export(export.pk)
        assert done.status == "done", done.error
        found[done.format] = READERS[done.format](done.file.read())

    assert set(found.values()) == {(row["ready"], f"{row['ready_pct']:.1f}", record.data_hash)}
    # The fleet did move: a live evaluation now says something else.
    live = state_staff.client.get(
        "/api/readiness/scores?set=cjis-mobile&group_by=state&live=true"
    ).json()
    assert live["source"] == "live"
    assert live["data_hash"] == ""
    assert live["rows"][0]["ready"] != row["ready"]


def test_a_briefing_rebuilt_later_carries_the_same_figures_and_hash(scenario, state_staff, clock):
    evaluations.record_evaluation(now=clock.now)
    params = BriefingParams(scope="cabinet:justice", set_code="cjis-mobile")
    (first,) = request_briefing_exports(
        requested_by=state_staff.user, params=params, fmt="xlsx", now=clock.now
    )
    evaluations.record_evaluation(now=clock.now + timedelta(minutes=15))
    health_changes(scenario, clock, 1)
    (again,) = request_briefing_exports(
        requested_by=state_staff.user,
        params=BriefingParams(
            scope="cabinet:justice",
            set_code="cjis-mobile",
            evaluation_id=first.parameters["evaluation"],
        ),
        fmt="xlsx",
        now=clock.now,
    )
    one, two = (build_briefing_export(e.pk) for e in (first, again))
    assert one.data_hash == two.data_hash
    assert xlsx_figures(one.file.read()) == xlsx_figures(two.file.read())


def test_live_is_evaluated_only_when_asked_and_marked_so(scenario, state_staff, clock):
    record = evaluations.record_evaluation(now=clock.now)
    health_changes(scenario, clock, 1)
    page = state_staff.browser.get("/dashboard/?set=cjis-mobile")
    assert "evaluation of record" in page.content.decode()
    live_page = state_staff.browser.get("/dashboard/?set=cjis-mobile&live=true").content.decode()
    assert '<strong class="badge">live</strong>' in live_page
    assert record.data_hash not in live_page
    assert ReadinessEvaluation.objects.count() == 1  # a live reading records nothing


def test_re_evaluate_records_a_new_evaluation_for_state_staff_only(
    scenario, state_staff, admin_a, viewer_a, clock
):
    first = evaluations.record_evaluation(now=clock.now)
    for persona in (admin_a, viewer_a):
        refused = persona.browser.post("/dashboard/reevaluate/", {"next": "/dashboard/"})
        assert refused.status_code == 403
    assert ReadinessEvaluation.objects.count() == 1
    health_changes(scenario, clock, 1)
    back = state_staff.browser.post(
        "/dashboard/reevaluate/", {"next": "/dashboard/?set=cjis-mobile"}
    )
    assert (back.status_code, back["Location"]) == (302, "/dashboard/?set=cjis-mobile")
    latest = evaluation_store.latest_evaluation()
    assert latest.pk != first.pk
    assert latest.trigger == ReadinessEvaluation.Trigger.REQUESTED
    assert latest.data_hash != first.data_hash
    assert dashboard_figures(state_staff)[2] == latest.data_hash


def test_the_first_request_of_a_fresh_install_records_the_first_evaluation(scenario, state_staff):
    assert not ReadinessEvaluation.objects.exists()
    page = state_staff.browser.get("/dashboard/?set=cjis-mobile").content.decode()
    (record,) = ReadinessEvaluation.objects.all()
    assert record.trigger == ReadinessEvaluation.Trigger.FIRST_READ
    assert record.data_hash in page


def test_the_scheduled_evaluation_runs_once_per_slot_and_keeps_only_today(scenario, clock):
    yesterday = evaluations.record_evaluation(now=clock.now - timedelta(days=1))
    first = record_evaluation_task.apply().get()
    second = record_evaluation_task.apply().get()  # a second beat in the same slot
    assert "evaluation" in first
    assert second == {"skipped": True}
    assert list(ReadinessEvaluation.objects.values_list("pk", flat=True)) == [first["evaluation"]]
    assert not ReadinessEvaluation.objects.filter(pk=yesterday.pk).exists()
    record = evaluation_store.get_evaluation(first["evaluation"])
    assert record.devices == 7
    totals = evaluation_store.evaluation_counts(
        record, version=scenario.v60, agency_ids=None
    ).query("key == ''")
    assert int(totals["n_devices"].sum()) == 7


def test_the_hash_names_the_counts(scenario, clock):
    one = evaluations.record_evaluation(now=clock.now)
    two = evaluations.record_evaluation(now=clock.now + timedelta(minutes=1))
    assert one.data_hash == two.data_hash  # nothing changed
    health_changes(scenario, clock, 1)
    three = evaluations.record_evaluation(now=clock.now + timedelta(minutes=2))
    assert three.data_hash != one.data_hash
