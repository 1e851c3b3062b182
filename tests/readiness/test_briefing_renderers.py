"""The briefing renderers on hand-built data: every format carries the same figures."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pptx import Presentation
from pypdf import PdfReader

from readiness.briefings import data_hash, render_briefing
from tests.readiness.briefing_sample import sample_briefing


def pptx_text(blob: bytes) -> list[str]:
    prs = Presentation(io.BytesIO(blob))
    slides = []
    for slide in prs.slides:
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts += [cell.text for cell in shape.table.iter_cells()]
        slides.append("\n".join(parts))
    return slides


def test_pptx_has_every_section_with_native_charts():
    data = sample_briefing()
    prs = Presentation(io.BytesIO(render_briefing(data, "pptx")))
    titles = [s.shapes.title.text for s in prs.slides]
    assert titles == [
        "Device readiness briefing",
        "Summary",
        "Readiness trend",
        "Readiness by cabinet",
        "Readiness by agency (lowest first)",
        "Top gaps: requirements failed most",
        "FirstNet participation against federal expectations",
        "Waivers: requested and approved by two people",
        "What-if: version 6.0 → 7.0",
        "What changed since the last briefing",
        "About this briefing",
    ]
    charts = {
        s.shapes.title.text: [sh.chart for sh in s.shapes if sh.has_chart] for s in prs.slides
    }
    # Native, editable charts carry their numbers (not pictures).
    trend = charts["Readiness trend"][0]
    assert list(trend.plots[0].series[0].values) == [55.0, 57.5, 59.9]
    by_cabinet = charts["Readiness by cabinet"][0]
    assert list(by_cabinet.plots[0].categories) == ["Public Protection", "Justice"]
    assert list(by_cabinet.plots[0].series[0].values) == [25.0, 62.5]
    gaps = charts["Top gaps: requirements failed most"][0]
    assert list(gaps.plots[0].series[0].values) == [50, 30, 1]
    assert not [sh for s in prs.slides for sh in s.shapes if sh.shape_type == 13]  # no pictures


def test_pptx_summary_and_last_slide_carry_figures_and_provenance():
    data = sample_briefing()
    slides = pptx_text(render_briefing(data, "pptx"))
    assert "59.9%" in slides[1]
    assert "172" in slides[1]
    assert "Open alerts" in slides[1]
    assert data.data_hash in slides[-1]
    assert "cjis-mobile 6.0" in slides[-1]
    assert "2026-11-20" in slides[-1]


def test_xlsx_has_the_sheets_as_tables_with_number_formats():
    data = sample_briefing()
    wb = load_workbook(io.BytesIO(render_briefing(data, "xlsx")))
    assert wb.sheetnames[:8] == [
        "Summary",
        "Trend",
        "Cabinets",
        "Agencies",
        "Requirements",
        "Failing devices",
        "Participation",
        "Expectations",
    ]
    assert wb.sheetnames[-1] == "About"
    agencies = wb["Agencies"]
    assert list(agencies.tables) == ["Agencies"]
    header = [c.value for c in agencies[3]]
    assert header[:2] == ["Agency", "Cabinet"]
    assert "Ready %" in header
    col = header.index("Ready %") + 1
    assert agencies.cell(row=4, column=col).value == 75.0
    assert agencies.cell(row=4, column=col).number_format == '0.0"%"'
    assert agencies.cell(row=4, column=header.index("Devices") + 1).number_format == "#,##0"
    summary = {
        r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=5, max_col=2, values_only=True) if r[0]
    }
    assert summary["Ready %"] == 59.9
    assert summary["Devices"] == 172
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=2, values_only=True)}
    assert about["Data hash (SHA-256)"] == data.data_hash


def test_pdf_is_two_pages_with_figures_and_the_hash_on_the_last():
    data = sample_briefing()
    reader = PdfReader(io.BytesIO(render_briefing(data, "pdf")))
    assert len(reader.pages) == 2
    first, last = (p.extract_text() for p in reader.pages)
    assert "59.9%" in first
    assert "Statewide" in first
    assert "CJIS-5.20.3-4" in last
    assert "What-if" in last
    assert "What changed since the last briefing" in last
    assert data.data_hash in last.replace("\n", "")


def test_pdf_stays_two_pages_with_hundreds_of_agencies():
    data = sample_briefing()
    many = data.agencies.sample(n=600, replace=True, random_state=1).reset_index(drop=True)
    many["agency"] = [f"Agency {i}" for i in range(len(many))]
    reader = PdfReader(
        io.BytesIO(
            render_briefing(
                replace(
                    data,
                    agencies=many,
                    cabinets=many.drop(columns="cabinet").rename(columns={"agency": "cabinet"}),
                ),
                "pdf",
            )
        )
    )
    assert len(reader.pages) == 2


def test_hash_ignores_generation_time_but_not_figures():
    data = sample_briefing()
    later = replace(data, generated_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert data_hash(later) == data_hash(data)
    changed = replace(data, headline=replace(data.headline, open_alerts=8))
    assert data_hash(changed) != data_hash(data)


def test_pdf_rebuilt_from_the_same_data_is_byte_identical():
    data = sample_briefing()
    assert render_briefing(data, "pdf") == render_briefing(data, "pdf")


def test_renders_without_optional_sections_and_with_empty_tables():
    data = sample_briefing(whatif=None, changes=None, compare_version=None)
    empty = replace(
        data,
        trend=data.trend.iloc[0:0],
        failing_devices=data.failing_devices.iloc[0:0],
        expectations=data.expectations.iloc[0:0],
    )
    for fmt in ("pptx", "xlsx", "pdf"):
        assert len(render_briefing(empty, fmt)) > 1000


def test_unknown_format_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="pptx, xlsx, pdf"):
        render_briefing(sample_briefing(), "docx")
