"""Briefings end to end: built by the command and by a real Celery worker, opened with
python-pptx, openpyxl and pypdf, and checked against the API's figures for the same parameters."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader

from readiness.briefings.data import BriefingParams
from readiness.exports import build_briefing_export, request_briefing_export
from readiness.models import BriefingExport
from tests.conftest import wait_for
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(agency_a, agency_b):
    return build_scenario(agency_a, agency_b)


def api(persona, path: str) -> dict:
    response = persona.client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def build(tmp_path: Path, fmt: str, *args: str) -> tuple[bytes, str]:
    out = tmp_path / f"briefing.{fmt}"
    stdout = io.StringIO()
    call_command("briefing", "--format", fmt, "--out", str(out), *args, stdout=stdout)
    return out.read_bytes(), stdout.getvalue()


def pptx_slides(blob: bytes) -> dict[str, list]:
    """Slide title -> its shapes."""
    prs = Presentation(io.BytesIO(blob))
    return {s.shapes.title.text: list(s.shapes) for s in prs.slides}


def table_pairs(shapes: list) -> dict[str, str]:
    return {
        row.cells[0].text: row.cells[1].text
        for sh in shapes
        if sh.has_table
        for row in sh.table.rows
    }


def sheet_rows(ws, header_row: int = 3) -> list[dict]:
    header = [c.value for c in ws[header_row]]
    return [
        dict(zip(header, row, strict=True))
        for row in ws.iter_rows(min_row=header_row + 1, values_only=True)
        if any(v is not None for v in row)
    ]


def test_every_format_carries_the_apis_figures_for_today(scenario, state_staff, tmp_path):
    state = api(state_staff, "/api/readiness/scores?set=cjis-mobile&group_by=state")["rows"][0]
    agencies = {
        r["name"]: r
        for r in api(state_staff, "/api/readiness/scores?set=cjis-mobile&group_by=agency")["rows"]
    }
    ready = f"{state['ready_pct']:.1f}%"

    pptx, _ = build(tmp_path, "pptx", "--set", "cjis-mobile")
    slides = pptx_slides(pptx)
    summary = table_pairs(slides["Summary"])
    assert summary["Ready %"] == ready
    assert summary["Devices"] == str(state["devices"])
    assert summary["Ready"] == str(state["ready"])
    chart = next(sh.chart for sh in slides["Readiness by agency (lowest first)"] if sh.has_chart)
    plotted = dict(zip(chart.plots[0].categories, chart.plots[0].series[0].values, strict=True))
    assert plotted == {name: round(r["ready_pct"], 1) for name, r in agencies.items()}

    xlsx, _ = build(tmp_path, "xlsx", "--set", "cjis-mobile")
    wb = load_workbook(io.BytesIO(xlsx))
    figures = {
        r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=5, max_col=2, values_only=True) if r[0]
    }
    assert figures["Ready %"] == round(state["ready_pct"], 1)
    assert figures["Devices"] == state["devices"]
    rows = {r["Agency"]: r for r in sheet_rows(wb["Agencies"])}
    assert {name: (r["Devices"], r["Ready"], r["Ready %"]) for name, r in rows.items()} == {
        name: (r["devices"], r["ready"], round(r["ready_pct"], 1)) for name, r in agencies.items()
    }
    failing = {(r["Serial"], r["Requirement"]) for r in sheet_rows(wb["Failing devices"])}
    assert ("KSP-NOENC", "ENC-2") in failing
    assert ("LEX-NOMDM", "MDM-2") in failing

    pdf, _ = build(tmp_path, "pdf", "--set", "cjis-mobile")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    first = " ".join(reader.pages[0].extract_text().split())
    assert f"Ready % {ready}" in first
    assert f"Devices {state['devices']}" in first
    assert f"Ready {state['ready']}" in first


def test_a_past_date_uses_that_snapshot_as_the_api_does(scenario, state_staff, tmp_path):
    as_of = (scenario.today - timedelta(days=1)).isoformat()
    cabinets = api(
        state_staff, f"/api/readiness/scores?set=cjis-mobile&group_by=cabinet&as_of={as_of}"
    )
    assert cabinets["source"] == "snapshot"
    xlsx, out = build(tmp_path, "xlsx", "--set", "cjis-mobile", "--as-of", as_of)
    wb = load_workbook(io.BytesIO(xlsx))
    rows = {r["Cabinet"]: (r["Devices"], r["Ready %"]) for r in sheet_rows(wb["Cabinets"])}
    assert rows == {r["name"]: (r["devices"], round(r["ready_pct"], 1)) for r in cabinets["rows"]}
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=2, values_only=True)}
    assert about["As of"] == as_of
    assert "cjis-mobile 6.0 (published" in about["Versions in effect"]
    assert about["Data hash (SHA-256)"] in out


def test_participation_against_expectations_equals_the_api(scenario, state_staff, tmp_path):
    found = api(state_staff, "/api/participation/expectations")
    current = next(
        c for c in found["comparisons"] if c["is_current"] and c["metric"] == "agencies_subscribed"
    )
    xlsx, _ = build(tmp_path, "xlsx", "--set", "cjis-mobile")
    rows = sheet_rows(load_workbook(io.BytesIO(xlsx))["Expectations"])
    row = next(r for r in rows if r["Metric"] == "agencies_subscribed")
    assert row["Actual"] == round(100 * current["actual"], 1)
    assert row["Target"] == round(100 * current["target_value"], 1)
    assert row["Met"] is current["is_met"]


def test_whatif_slide_equals_the_apis_whatif(scenario, state_staff, tmp_path):
    found = api(state_staff, "/api/readiness/whatif?set=cjis-mobile&from=6.0&to=7.0")
    pptx, _ = build(tmp_path, "pptx", "--set", "cjis-mobile", "--compare-version", "7.0")
    shapes = pptx_slides(pptx)["What-if: version 6.0 → 7.0"]
    text = "\n".join(sh.text_frame.text for sh in shapes if sh.has_text_frame)
    assert f"Ready: {found['ready_pct_before']:.1f}% → {found['ready_pct_after']:.1f}%" in text
    assert f"Newly failing: {len(found['newly_failing_devices'])} devices" in text


def test_building_again_with_the_same_parameters_gives_the_same_figures(scenario, tmp_path):
    as_of = (scenario.today - timedelta(days=1)).isoformat()
    first, out1 = build(
        tmp_path, "xlsx", "--set", "cjis-mobile", "--as-of", as_of, "--scope", "cabinet:justice"
    )
    second, out2 = build(
        tmp_path, "xlsx", "--set", "cjis-mobile", "--as-of", as_of, "--scope", "cabinet:justice"
    )
    hash1 = [line for line in out1.splitlines() if line.startswith("Data hash")]
    assert hash1 == [line for line in out2.splitlines() if line.startswith("Data hash")]
    one, two = (load_workbook(io.BytesIO(b)) for b in (first, second))
    for name in ("Summary", "Agencies", "Requirements", "Participation"):
        assert list(one[name].values) == list(two[name].values)


def test_a_briefing_compared_with_an_earlier_one_says_what_changed(scenario, state_staff, tmp_path):
    with_row = request_briefing_export(
        requested_by=state_staff.user,
        fmt="pdf",
        params=BriefingParams(
            scope="state", set_code="cjis-mobile", as_of=scenario.today - timedelta(days=2)
        ),
    )
    earlier = build_briefing_export(with_row.pk)
    assert earlier.status == BriefingExport.Status.DONE
    pdf, _ = build(tmp_path, "pdf", "--set", "cjis-mobile", "--since-briefing", str(earlier.pk))
    text = PdfReader(io.BytesIO(pdf)).pages[1].extract_text()
    assert "What changed since the last briefing" in text
    assert f"Compared with briefing #{earlier.pk}" in text


def test_build_is_idempotent_and_records_its_provenance(scenario, state_staff):
    export = request_briefing_export(
        requested_by=state_staff.user,
        fmt="xlsx",
        params=BriefingParams(scope="agency:ksp", set_code="cjis-mobile"),
    )
    assert export.agency == scenario.ksp
    done = build_briefing_export(export.pk)
    assert (done.status, done.progress) == ("done", 100)
    assert len(done.data_hash) == 64
    assert done.versions_in_effect
    assert done.figures["devices"] == 4
    file_name = done.file.name
    again = build_briefing_export(export.pk)  # a redelivered task: nothing rebuilt
    assert again.file.name == file_name
    assert again.finished_at == done.finished_at


def test_command_refuses_bad_parameters_with_the_reason(scenario, tmp_path):
    out = str(tmp_path / "x.pdf")
    with pytest.raises(CommandError, match="is not a date"):
        call_command("briefing", "--format", "pdf", "--out", out, "--as-of", "31/12/2025")
    with pytest.raises(CommandError, match="Unknown agency 'nope'"):
        call_command("briefing", "--format", "pdf", "--out", out, "--scope", "agency:nope")
    with pytest.raises(CommandError, match="has no version '9.9'"):
        call_command(
            "briefing", "--format", "pdf", "--out", out, "--set", "cjis-mobile", "--version", "9.9"
        )
    assert not Path(out).exists()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_briefing_built_by_the_worker_shows_progress_and_downloads(
    agency_a, agency_b, state_staff, worker
):
    build_scenario(agency_a, agency_b, snapshot_days=1)
    response = state_staff.browser.post(
        reverse("readiness:briefings"),
        {"scope": "cabinet:justice", "set": "cjis-mobile", "format": "pptx"},
    )
    assert response.status_code == 302
    export = BriefingExport.objects.get()
    wait_for(
        lambda: BriefingExport.objects.filter(pk=export.pk, status__in=["done", "failed"]).exists(),
        timeout=60,
        what="the briefing to be built",
    )
    export.refresh_from_db()
    assert export.status == "done", export.error
    status = state_staff.browser.get(
        reverse("readiness:briefing_status", args=[export.pk])
    ).content.decode()
    assert 'data-status="done"' in status
    assert "hx-trigger" not in status  # polling stops once done
    download = state_staff.browser.get(reverse("readiness:briefing_download", args=[export.pk]))
    assert download["Content-Disposition"].startswith("attachment")
    blob = b"".join(download.streaming_content)
    assert "Summary" in [s.shapes.title.text for s in Presentation(io.BytesIO(blob)).slides]


def test_download_of_an_unfinished_or_foreign_briefing_is_404(scenario, state_staff, admin_b):
    export = request_briefing_export(
        requested_by=state_staff.user,
        fmt="pdf",
        params=BriefingParams(scope="agency:ksp", set_code="cjis-mobile"),
    )
    url = reverse("readiness:briefing_download", args=[export.pk])
    assert state_staff.browser.get(url).status_code == 404  # queued, not built
    build_briefing_export(export.pk)
    assert state_staff.browser.get(url).status_code == 200
    assert admin_b.browser.get(url).status_code == 404  # another agency's briefing
    assert admin_b.browser.get(reverse("readiness:briefing", args=[export.pk])).status_code == 404


def test_status_partial_polls_while_queued(scenario, state_staff):
    export = request_briefing_export(
        requested_by=state_staff.user,
        fmt="pdf",
        params=BriefingParams(scope="state", set_code="cjis-mobile"),
    )
    html = state_staff.browser.get(
        reverse("readiness:briefing_status", args=[export.pk])
    ).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "<progress" in html
