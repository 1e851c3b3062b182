"""PDF: two printable pages, vector charts drawn by reportlab itself."""

from __future__ import annotations

from readiness.briefings.common import (
    BriefingData,
    change_lines,
    fmt_int,
    fmt_pct,
    headline_rows,
    provenance_rows,
    subtitle,
    whatif_lines,
)


def render_pdf(data: BriefingData) -> bytes:
    import io

    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import (
        KeepInFrame,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    blue, orange = colors.HexColor("#0072B2"), colors.HexColor("#E69F00")
    styles = getSampleStyleSheet()
    body, small, h1, h2 = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10), \
        styles["Title"], styles["Heading2"]
    width, height = letter
    frame_w, frame_h = width - 1.2 * inch, height - 1.2 * inch

    def grid(rows: list[list[str]], col_widths: list[float], *, header: bool = True, font: int = 8) -> Table:
        t = Table(rows, colWidths=col_widths, repeatRows=1 if header else 0)
        style = [("FONTSIZE", (0, 0), (-1, -1), font), ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d9dee5")),
                 ("VALIGN", (0, 0), (-1, -1), "TOP")]
        if header:
            style += [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                      ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold")]
        t.setStyle(TableStyle(style))
        return t

    def trend_chart() -> Drawing:
        d = Drawing(frame_w, 150)
        d.add(String(0, 140, "Readiness trend (ready %, coverage % dashed)", fontSize=9))
        if data.trend.empty:
            d.add(String(0, 70, "No snapshots for this period yet.", fontSize=9))
            return d
        lc = HorizontalLineChart()
        lc.x, lc.y, lc.width, lc.height = 30, 20, frame_w - 50, 110
        series = [[float(v) for v in data.trend["ready_pct"]]]
        if "coverage_pct" in data.trend:
            series.append([float(v) for v in data.trend["coverage_pct"]])
        lc.data = series
        dates = [str(x) for x in data.trend["date"]]
        step = max(1, len(dates) // 6)
        lc.categoryAxis.categoryNames = [d_ if i % step == 0 else "" for i, d_ in enumerate(dates)]
        lc.categoryAxis.labels.fontSize = 7
        lc.valueAxis.valueMin, lc.valueAxis.valueMax, lc.valueAxis.valueStep = 0, 100, 25
        lc.valueAxis.labels.fontSize = 7
        lc.lines[0].strokeColor, lc.lines[0].strokeWidth = blue, 2
        if len(series) > 1:
            lc.lines[1].strokeColor, lc.lines[1].strokeDashArray = orange, (3, 2)
        d.add(lc)
        return d

    def cabinet_chart() -> Drawing:
        frame = data.cabinets if len(data.cabinets) > 1 or data.agencies.empty else data.agencies
        label = "cabinet" if frame is data.cabinets else "agency"
        top = frame.sort_values(["ready_pct", label]).head(10) if not frame.empty else frame
        h = 30 + 16 * max(1, len(top))
        d = Drawing(frame_w, h + 20)
        d.add(String(0, h + 8, f"Ready % by {label} (lowest first)", fontSize=9))
        if top.empty:
            d.add(String(0, h / 2, "No devices in this scope.", fontSize=9))
            return d
        bc = HorizontalBarChart()
        bc.x, bc.y, bc.width, bc.height = 170, 10, frame_w - 200, h - 20
        values = [round(float(v), 1) for v in top["ready_pct"]][::-1]
        bc.data = [values]
        bc.categoryAxis.categoryNames = [str(v)[:34] for v in top[label]][::-1]
        bc.categoryAxis.labels.fontSize = 7
        bc.valueAxis.valueMin, bc.valueAxis.valueMax, bc.valueAxis.valueStep = 0, 100, 25
        bc.valueAxis.labels.fontSize = 7
        bc.bars[0].fillColor = blue
        bc.barLabelFormat = "%.1f%%"
        bc.barLabels.fontSize = 7
        bc.barLabels.boxAnchor = "w"
        bc.barLabels.dx = 3
        d.add(bc)
        return d

    page1 = [
        Paragraph(data.title, h1),
        Paragraph(subtitle(data), body),
        Spacer(1, 6),
    ]
    rows = headline_rows(data)
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "")] * (half - len(rows[half:]))
    page1.append(grid([[a, b, c, d] for (a, b), (c, d) in zip(left, right, strict=True)],
                      [1.6 * inch, 1.9 * inch, 1.6 * inch, frame_w - 5.1 * inch], header=False, font=9))
    page1 += [Spacer(1, 8), trend_chart(), Spacer(1, 6), cabinet_chart()]

    page2: list = [Paragraph("Top gaps", h2)]
    gaps = data.requirements[data.requirements["failed"] > 0].sort_values(
        ["failed", "code"], ascending=[False, True]).head(8) if not data.requirements.empty else data.requirements
    if gaps.empty:
        page2.append(Paragraph("No requirement fails in this scope.", body))
    else:
        page2.append(grid([["Code", "Requirement", "Failing", "Pass %"]] +
                          [[str(r.code), Paragraph(str(r.title), small), fmt_int(r.failed), fmt_pct(r.pass_pct)]
                           for r in gaps.itertuples()],
                          [1.5 * inch, frame_w - 3.3 * inch, 0.9 * inch, 0.9 * inch]))
    page2.append(Paragraph("FirstNet participation against federal expectations", h2))
    if data.expectations.empty:
        page2.append(Paragraph("No federal expectation is recorded.", body))
    else:
        page2.append(grid([["Expectation", "Target", "Actual", "By", "Met"]] +
                          [[Paragraph(str(r.label), small), f"{r.target:.1f}", f"{r.actual:.1f}", str(r.by_date),
                            "yes" if r.met else "no"] for r in data.expectations.itertuples()],
                          [frame_w - 3.6 * inch, 0.8 * inch, 0.8 * inch, 1.2 * inch, 0.8 * inch]))
    if data.whatif is not None:
        page2.append(Paragraph(f"What-if: version {data.whatif.from_version} → {data.whatif.to_version}", h2))
        page2 += [Paragraph(line, body) for line in whatif_lines(data.whatif)]
    if data.changes is not None:
        page2.append(Paragraph("What changed since the last briefing", h2))
        page2 += [Paragraph(line, small) for line in change_lines(data.changes)[:14]]
    page2.append(Paragraph("About this briefing", h2))
    page2.append(grid([[k, Paragraph(v, small)] for k, v in provenance_rows(data)],
                      [1.5 * inch, frame_w - 1.5 * inch], header=False))

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=letter, leftMargin=0.6 * inch, rightMargin=0.6 * inch,
                            topMargin=0.6 * inch, bottomMargin=0.6 * inch, title=data.title,
                            author="Device Readiness Tracker", subject=subtitle(data),
                            # invariant: no creation time or random id in the file, so a rebuild
                            # with the same data gives the same bytes.
                            invariant=1)
    # Each page shrinks to fit its frame: the summary is two pages, however long the lists.
    doc.build([KeepInFrame(frame_w, frame_h - 12, page1, mode="shrink"), PageBreak(),
               KeepInFrame(frame_w, frame_h - 12, page2, mode="shrink")])
    return out.getvalue()
