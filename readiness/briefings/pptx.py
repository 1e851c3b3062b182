"""PPTX: native charts (python-pptx add_chart), so the deck stays editable in PowerPoint.

One function per slide, in the order the deck shows them; `_Deck` holds the few layout
helpers they share (a titled slide, a text box, a table, a chart).
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.util import Inches, Pt

from readiness.briefings.common import (
    WAIVER_LINE_HEADER,
    BriefingData,
    WhatIf,
    change_lines,
    deadline_lines,
    fmt_int,
    fmt_pct,
    headline_rows,
    provenance_rows,
    subtitle,
    top_gaps,
    waiver_lines,
    whatif_lines,
)

BLUE = RGBColor(0x00, 0x72, 0xB2)
ORANGE = RGBColor(0xE6, 0x9F, 0x00)
VERMILLION = RGBColor(0xD5, 0x5E, 0x00)

Series = tuple[str, list[float], RGBColor]


def render_pptx(data: BriefingData) -> bytes:
    """The briefing as a widescreen deck. Pure: no database, no clock."""
    deck = _Deck(data)
    _title_slide(deck, data)
    _summary_slide(deck, data)
    _trend_slide(deck, data)
    _ranking_slide(deck, "Readiness by cabinet", data.cabinets, "cabinet")
    _ranking_slide(deck, "Readiness by agency (lowest first)", data.agencies, "agency")
    _gaps_slide(deck, data)
    _expectations_slide(deck, data)
    _waivers_slide(deck, data)
    if not data.deadlines.empty:
        deck.text(deck.slide("Due dates"), deadline_lines(data)[:12], size=14)
    if data.whatif is not None:
        _whatif_slide(deck, data.whatif)
    if data.changes is not None:
        deck.text(
            deck.slide("What changed since the last briefing"),
            change_lines(data.changes)[:18],
            size=13,
        )
    deck.table(
        deck.slide("About this briefing"),
        ["", ""],
        [[k, v] for k, v in provenance_rows(data)],
        size=12,
    )
    out = io.BytesIO()
    deck.prs.save(out)
    return out.getvalue()


class _Deck:
    """A 16:9 presentation and the layout helpers every slide uses."""

    def __init__(self, data: BriefingData) -> None:
        prs = Presentation()
        prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
        # Fixed document properties: a rebuilt deck differs only where the figures differ.
        prs.core_properties.title = data.title
        prs.core_properties.subject = subtitle(data)
        prs.core_properties.author = "Device Readiness Tracker"
        if data.generated_at:
            prs.core_properties.created = data.generated_at.replace(tzinfo=None)
            prs.core_properties.modified = data.generated_at.replace(tzinfo=None)
        self.prs = prs

    def slide(self, title: str) -> Any:  # python-pptx has no public slide type
        s = self.prs.slides.add_slide(self.prs.slide_layouts[5])  # "title only"
        s.shapes.title.text = title
        s.shapes.title.text_frame.paragraphs[0].font.size = Pt(30)
        s.shapes.title.left, s.shapes.title.top = Inches(0.5), Inches(0.3)
        s.shapes.title.width, s.shapes.title.height = Inches(12.3), Inches(0.9)
        return s

    def text(
        self,
        s: Any,
        lines: list[str],
        *,
        left: float = 0.6,
        top: float = 1.4,
        width: float = 12.0,
        height: float = 5.5,
        size: int = 16,
    ) -> None:
        box = s.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
        frame = box.text_frame
        frame.word_wrap = True
        for i, line in enumerate(lines):
            p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            p.text = line
            p.font.size = Pt(size)

    def table(
        self,
        s: Any,
        header: list[str],
        rows: list[list[str]],
        *,
        left: float = 0.6,
        top: float = 1.4,
        width: float = 12.0,
        size: int = 12,
    ) -> None:
        shape = s.shapes.add_table(
            len(rows) + 1,
            len(header),
            Inches(left),
            Inches(top),
            Inches(width),
            Inches(0.35 * (len(rows) + 1)),
        )
        for c, name in enumerate(header):
            shape.table.cell(0, c).text = name
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                shape.table.cell(r, c).text = value
        for cell in shape.table.iter_cells():
            for p in cell.text_frame.paragraphs:
                p.font.size = Pt(size)

    def chart(
        self,
        s: Any,
        kind: Any,
        categories: list[str],
        series: list[Series],
        *,
        left: float = 0.6,
        top: float = 1.4,
        width: float = 12.0,
        height: float = 5.6,
        number_format: str = "0.0",
        percent_axis: bool = False,
    ) -> None:
        chart_data = CategoryChartData(number_format=number_format)
        chart_data.categories = categories
        for name, values, _ in series:
            chart_data.add_series(name, values)
        graphic = s.shapes.add_chart(
            kind, Inches(left), Inches(top), Inches(width), Inches(height), chart_data
        )
        ch = graphic.chart
        ch.has_legend = len(series) > 1
        if ch.has_legend:
            ch.legend.position = XL_LEGEND_POSITION.BOTTOM
            ch.legend.include_in_layout = False
        _colour_series(ch, kind, series)
        if kind != XL_CHART_TYPE.LINE_MARKERS:
            plot = ch.plots[0]
            plot.has_data_labels = True
            plot.data_labels.number_format = number_format
            plot.data_labels.number_format_is_linked = False
            plot.data_labels.font.size = Pt(10)
        if percent_axis:
            ch.value_axis.maximum_scale = 100
            ch.value_axis.minimum_scale = 0


def _colour_series(ch: Any, kind: Any, series: list[Series]) -> None:
    # Bars and columns are filled; a line chart's series has only a line to colour.
    for plot_series, (_, _, colour) in zip(ch.series, series, strict=True):
        if kind != XL_CHART_TYPE.LINE_MARKERS:
            fill = plot_series.format.fill
            fill.solid()
            fill.fore_color.rgb = colour
        else:
            plot_series.format.line.color.rgb = colour


def _rounded(values: pd.Series) -> list[float]:
    return [round(float(v), 1) for v in values]


def _title_slide(deck: _Deck, data: BriefingData) -> None:
    s = deck.prs.slides.add_slide(deck.prs.slide_layouts[0])
    s.shapes.title.text = data.title
    s.placeholders[1].text = subtitle(data)


def _summary_slide(deck: _Deck, data: BriefingData) -> None:
    s = deck.slide("Summary")
    deck.table(s, ["Figure", "Value"], [[k, v] for k, v in headline_rows(data)], width=7.0, size=14)
    h = data.headline
    deck.text(
        s,
        [
            f"{h.ready_pct:.1f}% of devices are ready",
            f"{fmt_int(h.ready)} of {fmt_int(h.devices)} devices meet every mandatory "
            f"requirement of {data.set_name} {data.version}.",
        ],
        left=8.0,
        width=4.8,
        size=18,
    )


def _trend_slide(deck: _Deck, data: BriefingData) -> None:
    s = deck.slide("Readiness trend")
    if data.trend.empty:
        deck.text(s, ["No snapshots for this period yet."])
        return
    series: list[Series] = [("Ready %", _rounded(data.trend["ready_pct"]), BLUE)]
    if "coverage_pct" in data.trend:
        series.append(("Telemetry coverage %", _rounded(data.trend["coverage_pct"]), ORANGE))
    deck.chart(
        s,
        XL_CHART_TYPE.LINE_MARKERS,
        [str(d) for d in data.trend["date"]],
        series,
        percent_axis=True,
    )


def _ranking_slide(deck: _Deck, title: str, frame: pd.DataFrame, label: str) -> None:
    """Ready % of the 15 lowest cabinets or agencies."""
    s = deck.slide(title)
    if frame.empty:
        deck.text(s, ["No devices in this scope."])
        return
    top = frame.sort_values(["ready_pct", label]).head(15)
    deck.chart(
        s,
        XL_CHART_TYPE.BAR_CLUSTERED,
        [str(v) for v in top[label]],
        [("Ready %", _rounded(top["ready_pct"]), BLUE)],
        percent_axis=True,
    )


def _gaps_slide(deck: _Deck, data: BriefingData) -> None:
    s = deck.slide("Top gaps: requirements failed most")
    gaps = top_gaps(data.requirements)
    if gaps.empty:
        deck.text(s, ["No requirement fails in this scope."])
        return
    deck.chart(
        s,
        XL_CHART_TYPE.BAR_CLUSTERED,
        [str(c) for c in gaps["code"]],
        [("Devices failing", [int(v) for v in gaps["failed"]], VERMILLION)],
        width=6.2,
        number_format="#,##0",
    )
    deck.table(
        s,
        ["Code", "Requirement", "Pass %"],
        [[str(r.code), str(r.title)[:60], fmt_pct(r.pass_pct)] for r in gaps.itertuples()],
        left=7.0,
        width=5.9,
        size=11,
    )


def _expectations_slide(deck: _Deck, data: BriefingData) -> None:
    s = deck.slide("FirstNet participation against federal expectations")
    expectations = data.expectations
    if expectations.empty:
        deck.text(s, ["No federal expectation is recorded."])
        return
    deck.chart(
        s,
        XL_CHART_TYPE.COLUMN_CLUSTERED,
        [str(v) for v in expectations["label"]],
        [
            ("Actual", _rounded(expectations["actual"]), BLUE),
            ("Target", _rounded(expectations["target"]), ORANGE),
        ],
        width=7.4,
    )
    deck.text(
        s,
        [
            f"{r.label}: {r.actual:.1f} of {r.target:.1f} ({'met' if r.met else 'not met'})"
            for r in expectations.itertuples()
        ],
        left=8.2,
        width=4.6,
        size=13,
    )


def _waivers_slide(deck: _Deck, data: BriefingData) -> None:
    s = deck.slide("Waivers: requested and approved by two people")
    rows = waiver_lines(data)
    if not rows:
        deck.text(s, ["No waiver is in force or pending in this scope."])
        return
    deck.table(s, WAIVER_LINE_HEADER, rows, size=10)


def _whatif_slide(deck: _Deck, whatif: WhatIf) -> None:
    s = deck.slide(f"What-if: version {whatif.from_version} → {whatif.to_version}")
    deck.text(s, whatif_lines(whatif), width=5.6, size=15)
    plan = whatif.plan.head(8)
    if not plan.empty:
        deck.chart(
            s,
            XL_CHART_TYPE.BAR_CLUSTERED,
            [str(a)[:50] for a in plan["action"]],
            [("Ready % after the step", _rounded(plan["ready_pct_after"]), BLUE)],
            left=6.4,
            width=6.5,
            percent_axis=True,
        )
