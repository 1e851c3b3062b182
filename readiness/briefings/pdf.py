"""PDF: two printable pages, vector charts drawn by reportlab itself.

Page one is the summary (headline figures, trend chart, lowest cabinets or agencies); page two
the gaps, participation, what-if, changes and provenance. Each section is one function that
returns its flowables.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import (
    Flowable,
    KeepInFrame,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from readiness.briefings.common import (
    WAIVER_LINE_HEADER,
    BriefingData,
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

BLUE, ORANGE = colors.HexColor("#0072B2"), colors.HexColor("#E69F00")
_STYLES = getSampleStyleSheet()
BODY, H1, H2 = _STYLES["BodyText"], _STYLES["Title"], _STYLES["Heading2"]
SMALL = _STYLES["BodyText"].clone("small", fontSize=8, leading=10)
MARGIN = 0.6 * inch
FRAME_W, FRAME_H = letter[0] - 2 * MARGIN, letter[1] - 2 * MARGIN


def render_pdf(data: BriefingData) -> bytes:
    """The briefing as two letter pages. Pure: no database, no clock; same data, same bytes."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=letter,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=data.title,
        author="Device Readiness Tracker",
        subject=subtitle(data),
        # invariant: no creation time or random id in the file, so a rebuild
        # with the same data gives the same bytes.
        invariant=1,
    )
    # Each page shrinks to fit its frame: the summary is two pages, however long the lists.
    doc.build(
        [
            KeepInFrame(FRAME_W, FRAME_H - 12, _summary_page(data), mode="shrink"),
            PageBreak(),
            KeepInFrame(FRAME_W, FRAME_H - 12, _details_page(data), mode="shrink"),
        ]
    )
    return out.getvalue()


def _summary_page(data: BriefingData) -> list[Flowable]:
    rows = headline_rows(data)
    # The headline figures in two side-by-side label/value columns.
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "")] * (half - len(rows[half:]))
    figures = _grid(
        [[a, b, c, d] for (a, b), (c, d) in zip(left, right, strict=True)],
        [1.6 * inch, 1.9 * inch, 1.6 * inch, FRAME_W - 5.1 * inch],
        header=False,
        font=9,
    )
    return [
        Paragraph(data.title, H1),
        Paragraph(subtitle(data), BODY),
        Spacer(1, 6),
        figures,
        Spacer(1, 8),
        _trend_chart(data),
        Spacer(1, 6),
        _ranking_chart(data),
    ]


def _details_page(data: BriefingData) -> list[Flowable]:
    page = _gaps_section(data) + _expectations_section(data) + _waivers_section(data)
    if not data.deadlines.empty:
        page.append(Paragraph("Due dates", H2))
        page += [Paragraph(line, SMALL) for line in deadline_lines(data)[:6]]
    if data.whatif is not None:
        w = data.whatif
        page.append(Paragraph(f"What-if: version {w.from_version} → {w.to_version}", H2))
        page += [Paragraph(line, BODY) for line in whatif_lines(w)]
    if data.changes is not None:
        page.append(Paragraph("What changed since the last briefing", H2))
        page += [Paragraph(line, SMALL) for line in change_lines(data.changes)[:14]]
    page.append(Paragraph("About this briefing", H2))
    page.append(
        _grid(
            [[k, Paragraph(v, SMALL)] for k, v in provenance_rows(data)],
            [1.5 * inch, FRAME_W - 1.5 * inch],
            header=False,
        )
    )
    return page


def _gaps_section(data: BriefingData) -> list[Flowable]:
    section: list[Flowable] = [Paragraph("Top gaps", H2)]
    gaps = top_gaps(data.requirements)
    if gaps.empty:
        section.append(Paragraph("No requirement fails in this scope.", BODY))
        return section
    rows = [
        [str(r.code), Paragraph(str(r.title), SMALL), fmt_int(r.failed), fmt_pct(r.pass_pct)]
        for r in gaps.itertuples()
    ]
    section.append(
        _grid(
            [["Code", "Requirement", "Failing", "Pass %"], *rows],
            [1.5 * inch, FRAME_W - 3.3 * inch, 0.9 * inch, 0.9 * inch],
        )
    )
    return section


def _expectations_section(data: BriefingData) -> list[Flowable]:
    section: list[Flowable] = [Paragraph("FirstNet participation against federal expectations", H2)]
    if data.expectations.empty:
        section.append(Paragraph("No federal expectation is recorded.", BODY))
        return section
    rows = [
        [
            Paragraph(str(r.label), SMALL),
            f"{r.target:.1f}",
            f"{r.actual:.1f}",
            str(r.by_date),
            "yes" if r.met else "no",
        ]
        for r in data.expectations.itertuples()
    ]
    section.append(
        _grid(
            [["Expectation", "Target", "Actual", "By", "Met"], *rows],
            [FRAME_W - 3.6 * inch, 0.8 * inch, 0.8 * inch, 1.2 * inch, 0.8 * inch],
        )
    )
    return section


def _waivers_section(data: BriefingData) -> list[Flowable]:
    section: list[Flowable] = [Paragraph("Waivers", H2)]
    rows = waiver_lines(data)
    if not rows:
        section.append(Paragraph("No waiver is in force or pending in this scope.", BODY))
        return section
    cells = [[Paragraph(value, SMALL) for value in row] for row in rows]
    widths = [FRAME_W - 5.6 * inch, 1.4 * inch, 0.8 * inch, 1.7 * inch, 1.7 * inch]
    section.append(_grid([WAIVER_LINE_HEADER, *cells], widths))
    return section


def _trend_chart(data: BriefingData) -> Drawing:
    d = Drawing(FRAME_W, 150)
    d.add(String(0, 140, "Readiness trend (ready %, coverage % dashed)", fontSize=9))
    if data.trend.empty:
        d.add(String(0, 70, "No snapshots for this period yet.", fontSize=9))
        return d
    lc = HorizontalLineChart()
    lc.x, lc.y, lc.width, lc.height = 30, 20, FRAME_W - 50, 110
    series = [[float(v) for v in data.trend["ready_pct"]]]
    if "coverage_pct" in data.trend:
        series.append([float(v) for v in data.trend["coverage_pct"]])
    lc.data = series
    # At most about six date labels, or they overprint each other.
    dates = [str(x) for x in data.trend["date"]]
    step = max(1, len(dates) // 6)
    lc.categoryAxis.categoryNames = [d_ if i % step == 0 else "" for i, d_ in enumerate(dates)]
    lc.categoryAxis.labels.fontSize = 7
    lc.valueAxis.valueMin, lc.valueAxis.valueMax, lc.valueAxis.valueStep = 0, 100, 25
    lc.valueAxis.labels.fontSize = 7
    lc.lines[0].strokeColor, lc.lines[0].strokeWidth = BLUE, 2
    if len(series) > 1:
        lc.lines[1].strokeColor, lc.lines[1].strokeDashArray = ORANGE, (3, 2)
    d.add(lc)
    return d


def _ranking_chart(data: BriefingData) -> Drawing:
    """Ready % of the ten lowest cabinets, or agencies when the scope has one cabinet."""
    frame = data.cabinets if len(data.cabinets) > 1 or data.agencies.empty else data.agencies
    label = "cabinet" if frame is data.cabinets else "agency"
    top = frame.sort_values(["ready_pct", label]).head(10) if not frame.empty else frame
    h = 30 + 16 * max(1, len(top))
    d = Drawing(FRAME_W, h + 20)
    d.add(String(0, h + 8, f"Ready % by {label} (lowest first)", fontSize=9))
    if top.empty:
        d.add(String(0, h / 2, "No devices in this scope.", fontSize=9))
        return d
    bc = HorizontalBarChart()
    bc.x, bc.y, bc.width, bc.height = 170, 10, FRAME_W - 200, h - 20
    bc.data = [[round(float(v), 1) for v in top["ready_pct"]][::-1]]
    bc.categoryAxis.categoryNames = [str(v)[:34] for v in top[label]][::-1]
    bc.categoryAxis.labels.fontSize = 7
    bc.valueAxis.valueMin, bc.valueAxis.valueMax, bc.valueAxis.valueStep = 0, 100, 25
    bc.valueAxis.labels.fontSize = 7
    bc.bars[0].fillColor = BLUE
    bc.barLabelFormat = "%.1f%%"
    bc.barLabels.fontSize = 7
    bc.barLabels.boxAnchor = "w"
    bc.barLabels.dx = 3
    d.add(bc)
    return d


def _grid(
    rows: list[list[Any]], col_widths: list[float], *, header: bool = True, font: int = 8
) -> Table:
    t = Table(rows, colWidths=col_widths, repeatRows=1 if header else 0)
    style = [
        ("FONTSIZE", (0, 0), (-1, -1), font),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d9dee5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ]
    t.setStyle(TableStyle(style))
    return t
