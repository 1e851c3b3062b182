"""PPTX: native charts (python-pptx add_chart), so the deck stays editable in PowerPoint."""

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


def render_pptx(data: BriefingData) -> bytes:
    import io

    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.dml.color import RGBColor
    from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
    from pptx.util import Inches, Pt

    blue, orange, vermillion = RGBColor(0x00, 0x72, 0xB2), RGBColor(0xE6, 0x9F, 0x00), RGBColor(0xD5, 0x5E, 0x00)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    # Fixed document properties: a rebuilt deck differs only where the figures differ.
    prs.core_properties.title = data.title
    prs.core_properties.subject = subtitle(data)
    prs.core_properties.author = "Device Readiness Tracker"
    if data.generated_at:
        prs.core_properties.created = data.generated_at.replace(tzinfo=None)
        prs.core_properties.modified = data.generated_at.replace(tzinfo=None)
    title_only = prs.slide_layouts[5]

    def slide(title: str):  # noqa: ANN202 - python-pptx has no public slide type
        s = prs.slides.add_slide(title_only)
        s.shapes.title.text = title
        s.shapes.title.text_frame.paragraphs[0].font.size = Pt(30)
        s.shapes.title.left, s.shapes.title.top = Inches(0.5), Inches(0.3)
        s.shapes.title.width, s.shapes.title.height = Inches(12.3), Inches(0.9)
        return s

    def text(s, lines: list[str], *, left: float = 0.6, top: float = 1.4, width: float = 12.0,
             height: float = 5.5, size: int = 16) -> None:
        box = s.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
        frame = box.text_frame
        frame.word_wrap = True
        for i, line in enumerate(lines):
            p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            p.text = line
            p.font.size = Pt(size)

    def table(s, header: list[str], rows: list[list[str]], *, left: float = 0.6, top: float = 1.4,
              width: float = 12.0, size: int = 12) -> None:
        shape = s.shapes.add_table(len(rows) + 1, len(header), Inches(left), Inches(top), Inches(width),
                                   Inches(0.35 * (len(rows) + 1)))
        for c, name in enumerate(header):
            shape.table.cell(0, c).text = name
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                shape.table.cell(r, c).text = value
        for cell in shape.table.iter_cells():
            for p in cell.text_frame.paragraphs:
                p.font.size = Pt(size)

    def chart(s, kind, categories: list[str], series: list[tuple[str, list[float], RGBColor]], *,
              left: float = 0.6, top: float = 1.4, width: float = 12.0, height: float = 5.6,
              number_format: str = "0.0", percent_axis: bool = False) -> None:
        chart_data = CategoryChartData(number_format=number_format)
        chart_data.categories = categories
        for name, values, _ in series:
            chart_data.add_series(name, values)
        graphic = s.shapes.add_chart(kind, Inches(left), Inches(top), Inches(width), Inches(height), chart_data)
        ch = graphic.chart
        ch.has_legend = len(series) > 1
        if ch.has_legend:
            ch.legend.position = XL_LEGEND_POSITION.BOTTOM
            ch.legend.include_in_layout = False
        for plot_series, (_, _, colour) in zip(ch.series, series, strict=True):
            fill = plot_series.format.fill if kind != XL_CHART_TYPE.LINE_MARKERS else None
            if fill is not None:
                fill.solid()
                fill.fore_color.rgb = colour
            else:
                plot_series.format.line.color.rgb = colour
        plot = ch.plots[0]
        if kind != XL_CHART_TYPE.LINE_MARKERS:
            plot.has_data_labels = True
            plot.data_labels.number_format = number_format
            plot.data_labels.number_format_is_linked = False
            plot.data_labels.font.size = Pt(10)
        if percent_axis:
            ch.value_axis.maximum_scale = 100
            ch.value_axis.minimum_scale = 0

    # 1. Title
    s = prs.slides.add_slide(prs.slide_layouts[0])
    s.shapes.title.text = data.title
    s.placeholders[1].text = subtitle(data)

    # 2. Summary with the headline figures
    s = slide("Summary")
    rows = headline_rows(data)
    table(s, ["Figure", "Value"], [[k, v] for k, v in rows], width=7.0, size=14)
    text(s, [f"{data.headline.ready_pct:.1f}% of devices are ready",
             f"{fmt_int(data.headline.ready)} of {fmt_int(data.headline.devices)} devices meet every mandatory "
             f"requirement of {data.set_name} {data.version}."], left=8.0, width=4.8, size=18)

    # 3. Trend
    s = slide("Readiness trend")
    if data.trend.empty:
        text(s, ["No snapshots for this period yet."])
    else:
        series = [("Ready %", [round(float(v), 1) for v in data.trend["ready_pct"]], blue)]
        if "coverage_pct" in data.trend:
            series.append(("Telemetry coverage %", [round(float(v), 1) for v in data.trend["coverage_pct"]], orange))
        chart(s, XL_CHART_TYPE.LINE_MARKERS, [str(d) for d in data.trend["date"]], series, percent_axis=True)

    # 4–5. Readiness by cabinet and by agency
    for title, frame, label in (("Readiness by cabinet", data.cabinets, "cabinet"),
                                ("Readiness by agency (lowest first)", data.agencies, "agency")):
        s = slide(title)
        if frame.empty:
            text(s, ["No devices in this scope."])
            continue
        top = frame.sort_values(["ready_pct", label]).head(15)
        chart(s, XL_CHART_TYPE.BAR_CLUSTERED, [str(v) for v in top[label]],
              [("Ready %", [round(float(v), 1) for v in top["ready_pct"]], blue)], percent_axis=True)

    # 6. Top gaps
    s = slide("Top gaps: requirements failed most")
    gaps = data.requirements[data.requirements["failed"] > 0].sort_values(
        ["failed", "code"], ascending=[False, True]).head(8) if not data.requirements.empty else data.requirements
    if gaps.empty:
        text(s, ["No requirement fails in this scope."])
    else:
        chart(s, XL_CHART_TYPE.BAR_CLUSTERED, [str(c) for c in gaps["code"]],
              [("Devices failing", [int(v) for v in gaps["failed"]], vermillion)],
              width=6.2, number_format="#,##0")
        table(s, ["Code", "Requirement", "Pass %"],
              [[str(r.code), str(r.title)[:60], fmt_pct(r.pass_pct)] for r in gaps.itertuples()],
              left=7.0, width=5.9, size=11)

    # 7. Participation against expectation
    s = slide("FirstNet participation against federal expectations")
    if data.expectations.empty:
        text(s, ["No federal expectation is recorded."])
    else:
        chart(s, XL_CHART_TYPE.COLUMN_CLUSTERED, [str(v) for v in data.expectations["label"]],
              [("Actual", [round(float(v), 1) for v in data.expectations["actual"]], blue),
               ("Target", [round(float(v), 1) for v in data.expectations["target"]], orange)],
              width=7.4)
        text(s, [f"{r.label}: {r.actual:.1f} of {r.target:.1f} ({'met' if r.met else 'not met'})"
                 for r in data.expectations.itertuples()], left=8.2, width=4.6, size=13)

    # 8. What-if impact
    if data.whatif is not None:
        s = slide(f"What-if: version {data.whatif.from_version} → {data.whatif.to_version}")
        text(s, whatif_lines(data.whatif), width=5.6, size=15)
        plan = data.whatif.plan.head(8)
        if not plan.empty:
            chart(s, XL_CHART_TYPE.BAR_CLUSTERED, [str(a)[:50] for a in plan["action"]],
                  [("Ready % after the step", [round(float(v), 1) for v in plan["ready_pct_after"]], blue)],
                  left=6.4, width=6.5, percent_axis=True)

    # 9. What changed since the last briefing
    if data.changes is not None:
        s = slide("What changed since the last briefing")
        text(s, change_lines(data.changes)[:18], size=13)

    # Last: provenance
    s = slide("About this briefing")
    table(s, ["", ""], [[k, v] for k, v in provenance_rows(data)], size=12)

    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
