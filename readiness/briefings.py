"""Briefings: what one says (`BriefingData`) and how it is rendered (`render_briefing`).

Pure: `readiness.dashboards.build_briefing_data` fills a `BriefingData` from the database;
`render_briefing(data, fmt)` turns it into PPTX, XLSX or PDF bytes without touching the
database or the clock, so every format shows the same figures, and `data_hash` fingerprints
exactly those figures. The I/O around it (the export row, the Celery task) is in
`readiness.exports`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Headline:
    """The headline figures of one scope at one as-of date."""

    devices: int
    online_now: int
    ready: int
    ready_pct: float
    coverage_pct: float
    agencies: int
    agencies_participating: int
    open_alerts: int
    waived: int = 0
    # The current federal expectation for participation, e.g. "60% of agencies subscribed by
    # 2027-01-01"; the actual is in the same unit as the target.
    expectation_label: str = ""
    expectation_actual: float | None = None
    expectation_target: float | None = None


@dataclass(frozen=True)
class WhatIf:
    """Moving from one version of a set to another, for the briefing's scope."""

    from_version: str
    to_version: str
    added: int
    removed: int
    tightened: int
    relaxed: int
    ready_pct_before: float
    ready_pct_after: float
    newly_failing_devices: int
    newly_failing_agencies: int
    estimated_cost: float
    # One row per requirement change: code, change, title.
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Ranked actions: rank, action, devices, ready_pct_after, cost.
    plan: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class ChangesSince:
    """What changed since an earlier briefing (the comparison base)."""

    previous_id: int
    previous_as_of: date
    previous_data_hash: str
    devices_before: int
    devices_after: int
    ready_pct_before: float
    ready_pct_after: float
    agencies_participating_before: int
    agencies_participating_after: int
    # set, version, status, effective, change
    requirement_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # agency, from_status, to_status, changed_on
    participation_changes: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class BriefingData:
    """Everything one briefing shows, and the provenance printed on its last page."""

    title: str
    scope: str  # "state", "cabinet:<slug>" or "agency:<slug>"
    scope_label: str
    set_code: str
    set_name: str
    version: str
    compare_version: str | None
    as_of: date
    headline: Headline
    # date, ready_pct, coverage_pct
    trend: pd.DataFrame
    # cabinet, agencies, devices, ready, ready_pct, coverage_pct
    cabinets: pd.DataFrame
    # agency, cabinet, county, kind, firstnet_status, devices, ready, ready_pct, coverage_pct
    agencies: pd.DataFrame
    # code, title, severity, applicable, passed, failed, waived, pass_pct
    requirements: pd.DataFrame
    # agency, serial, model, kind, requirement, reason
    failing_devices: pd.DataFrame
    # agency, cabinet, status, since
    participation: pd.DataFrame
    # label, version, metric, target, actual, by_date, source, met
    expectations: pd.DataFrame
    versions_in_effect: list[str]
    parameters: dict[str, Any]
    whatif: WhatIf | None = None
    changes: ChangesSince | None = None
    failing_devices_total: int = 0
    generated_at: datetime | None = None

    @property
    def data_hash(self) -> str:
        return data_hash(self)


def _plain(value: Any) -> Any:
    """JSON-safe, stable representation of one value (dates ISO, floats rounded)."""
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
        return {"columns": [str(c) for c in frame.columns],
                "rows": [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, float):
        # Round so that a float computed by a different path to the same figure hashes equally.
        return None if value != value else round(value, 6)  # NaN → null
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def data_hash(data: BriefingData) -> str:
    """SHA-256 of the figures behind a briefing (everything except when it was generated).

    Deterministic: the same parameters on the same data give the same hash, which is how a
    rebuilt briefing shows it carries the same figures.
    """
    payload = {k: v for k, v in asdict_shallow(data).items() if k not in ("generated_at",)}
    canonical = json.dumps(_plain(payload), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def asdict_shallow(obj: Any) -> dict[str, Any]:
    # dataclasses.asdict deep-copies DataFrames inside; a shallow walk keeps them as they are.
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        out[name] = asdict_shallow(value) if hasattr(value, "__dataclass_fields__") else value
    return out



# ---------------------------------------------------------------------------------------
# Shared formatting: every format prints a figure the same way, so tests can compare text.

FORMATS: dict[str, str] = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def fmt_int(value: int | float | None) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def fmt_money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def fmt_signed(value: float, unit: str = "") -> str:
    return f"{value:+.1f}{unit}"


def headline_rows(data: BriefingData) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary, in the order every format prints them."""
    h = data.headline
    rows = [
        ("Devices", fmt_int(h.devices)),
        ("Online now", fmt_int(h.online_now)),
        ("Ready", fmt_int(h.ready)),
        ("Ready %", fmt_pct(h.ready_pct)),
        ("Telemetry coverage", fmt_pct(h.coverage_pct)),
        ("Agencies", fmt_int(h.agencies)),
        ("Agencies on FirstNet", fmt_int(h.agencies_participating)),
        ("Open alerts", fmt_int(h.open_alerts)),
        ("Waived results", fmt_int(h.waived)),
    ]
    if h.expectation_label:
        rows.append(("Federal expectation", h.expectation_label))
        rows.append(("Actual against it",
                     f"{h.expectation_actual:.1f} of {h.expectation_target:.1f}"
                     if h.expectation_actual is not None and h.expectation_target is not None else "n/a"))
    return rows


def provenance_rows(data: BriefingData) -> list[tuple[str, str]]:
    """What the last page of every format prints: enough to rebuild and verify the briefing."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(data.parameters.items()) if v not in (None, ""))
    return [
        ("Parameters", params or "(defaults)"),
        ("Versions in effect", "; ".join(data.versions_in_effect) or "none"),
        ("As of", data.as_of.isoformat()),
        ("Generated at", data.generated_at.isoformat(timespec="seconds") if data.generated_at else "n/a"),
        ("Data hash (SHA-256)", data.data_hash),
    ]


def subtitle(data: BriefingData) -> str:
    compare = f", compared with version {data.compare_version}" if data.compare_version else ""
    return (f"{data.scope_label} · {data.set_name} version {data.version}{compare} · "
            f"as of {data.as_of.isoformat()}")


def change_lines(changes: ChangesSince) -> list[str]:
    """The "what changed since the last briefing" section as sentences."""
    lines = [
        f"Compared with briefing #{changes.previous_id} (as of {changes.previous_as_of.isoformat()}).",
        f"Fleet: {fmt_int(changes.devices_before)} → {fmt_int(changes.devices_after)} devices "
        f"({changes.devices_after - changes.devices_before:+,}).",
        f"Readiness: {fmt_pct(changes.ready_pct_before)} → {fmt_pct(changes.ready_pct_after)} "
        f"({fmt_signed(changes.ready_pct_after - changes.ready_pct_before, ' points')}).",
        f"Agencies on FirstNet: {changes.agencies_participating_before} → "
        f"{changes.agencies_participating_after}.",
    ]
    for row in changes.requirement_changes.itertuples(index=False):
        lines.append(f"Requirement set {row.set} version {row.version} ({row.status}, effective "
                     f"{row.effective}): {row.change}.")
    for row in changes.participation_changes.itertuples(index=False):
        lines.append(f"{row.agency}: FirstNet {row.from_status} → {row.to_status} on {row.changed_on}.")
    return lines


def whatif_lines(whatif: WhatIf) -> list[str]:
    return [
        f"Version {whatif.from_version} → {whatif.to_version}: {whatif.added} added, {whatif.removed} removed, "
        f"{whatif.tightened} tightened, {whatif.relaxed} relaxed.",
        f"Ready: {fmt_pct(whatif.ready_pct_before)} → {fmt_pct(whatif.ready_pct_after)}.",
        f"Newly failing: {fmt_int(whatif.newly_failing_devices)} devices in "
        f"{fmt_int(whatif.newly_failing_agencies)} agencies.",
        f"Estimated cost to close the gap: {fmt_money(whatif.estimated_cost)}.",
    ]


def render_briefing(data: BriefingData, fmt: str) -> bytes:
    """The briefing as ``fmt`` ("pptx", "xlsx" or "pdf") bytes. Pure: no database, no clock."""
    renderers = {"pptx": render_pptx, "xlsx": render_xlsx, "pdf": render_pdf}
    if fmt not in renderers:
        raise ValueError(f"unknown briefing format {fmt!r}: use one of {', '.join(renderers)}")
    return renderers[fmt](data)


# ---------------------------------------------------------------------------------------
# PPTX: native charts (python-pptx add_chart), so the deck stays editable in PowerPoint.

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


# ---------------------------------------------------------------------------------------
# XLSX: one real table (header row, filters, number formats) per sheet.

PCT_FORMAT = '0.0"%"'
INT_FORMAT = "#,##0"
MONEY_FORMAT = '"$"#,##0'
DATE_FORMAT = "yyyy-mm-dd"


def render_xlsx(data: BriefingData) -> bytes:
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    wb = Workbook()
    if data.generated_at:
        wb.properties.created = data.generated_at.replace(tzinfo=None)
        wb.properties.modified = data.generated_at.replace(tzinfo=None)
    wb.properties.title = data.title
    wb.properties.creator = "Device Readiness Tracker"
    bold = Font(bold=True)

    def sheet(name: str, frame: pd.DataFrame, formats: dict[str, str], *, caption: str, widths: dict[str, int]):
        ws = wb.create_sheet(name)
        ws.append([caption])
        ws["A1"].font = Font(bold=True, size=13)
        header_row = 3
        columns = list(frame.columns)
        ws.append([])
        ws.append([header_label(c) for c in columns])
        for row in frame.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
        for idx, col in enumerate(columns, start=1):
            letter = get_column_letter(idx)
            ws.column_dimensions[letter].width = widths.get(col, 14)
            if col in formats:
                for cell in ws[letter][header_row:]:
                    cell.number_format = formats[col]
        if frame.empty:
            ws.append(["(none)"])
        else:
            ref = f"A{header_row}:{get_column_letter(len(columns))}{header_row + len(frame)}"
            tab = Table(displayName=name.replace(" ", "_").replace("-", "_"), ref=ref)
            tab.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
            ws.add_table(tab)
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        return ws

    # Summary (the default first sheet)
    ws = wb.active
    ws.title = "Summary"
    ws.append([data.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([subtitle(data)])
    ws.append([])
    ws.append(["Figure", "Value"])
    h = data.headline
    summary = [
        ("Devices", h.devices, INT_FORMAT), ("Online now", h.online_now, INT_FORMAT),
        ("Ready", h.ready, INT_FORMAT), ("Ready %", round(h.ready_pct, 1), PCT_FORMAT),
        ("Telemetry coverage %", round(h.coverage_pct, 1), PCT_FORMAT), ("Agencies", h.agencies, INT_FORMAT),
        ("Agencies on FirstNet", h.agencies_participating, INT_FORMAT),
        ("Open alerts", h.open_alerts, INT_FORMAT), ("Waived results", h.waived, INT_FORMAT),
    ]
    for label, value, number_format in summary:
        ws.append([label, value])
        ws.cell(row=ws.max_row, column=2).number_format = number_format
    if h.expectation_label:
        ws.append(["Federal expectation", h.expectation_label])
        ws.append(["Actual against it", h.expectation_actual])
        ws.append(["Target", h.expectation_target])
    tab = Table(displayName="Summary", ref=f"A4:B{ws.max_row}")
    tab.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(tab)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 60
    if data.whatif is not None:
        ws.append([])
        ws.append(["What-if"])
        ws.cell(row=ws.max_row, column=1).font = bold
        for line in whatif_lines(data.whatif):
            ws.append([line])
    if data.changes is not None:
        ws.append([])
        ws.append(["What changed since the last briefing"])
        ws.cell(row=ws.max_row, column=1).font = bold
        for line in change_lines(data.changes):
            ws.append([line])

    sheet("Trend", data.trend, {"ready_pct": PCT_FORMAT, "coverage_pct": PCT_FORMAT, "date": DATE_FORMAT},
          caption="Readiness per day (from the nightly snapshots)", widths={"date": 12})
    sheet("Cabinets", data.cabinets, {"agencies": INT_FORMAT, "devices": INT_FORMAT, "ready": INT_FORMAT,
                                      "ready_pct": PCT_FORMAT, "coverage_pct": PCT_FORMAT},
          caption="Readiness by cabinet", widths={"cabinet": 40})
    sheet("Agencies", data.agencies, {"devices": INT_FORMAT, "ready": INT_FORMAT, "ready_pct": PCT_FORMAT,
                                      "coverage_pct": PCT_FORMAT},
          caption="Readiness by agency", widths={"agency": 36, "cabinet": 36, "county": 16, "firstnet_status": 16})
    sheet("Requirements", data.requirements, {"applicable": INT_FORMAT, "passed": INT_FORMAT,
                                              "failed": INT_FORMAT, "waived": INT_FORMAT, "pass_pct": PCT_FORMAT},
          caption=f"Requirements of {data.set_name} version {data.version}", widths={"title": 60, "code": 22})
    shown = len(data.failing_devices)
    caption = "Failing devices and why"
    if data.failing_devices_total > shown:
        caption += f" (first {shown:,} of {data.failing_devices_total:,}; the API lists all)"
    sheet("Failing devices", data.failing_devices, {}, caption=caption,
          widths={"agency": 30, "serial": 18, "model": 26, "requirement": 22, "reason": 60})
    sheet("Participation", data.participation, {"since": DATE_FORMAT},
          caption="FirstNet participation per agency", widths={"agency": 36, "cabinet": 36, "status": 16})
    sheet("Expectations", data.expectations, {"target": "0.0", "actual": "0.0", "by_date": DATE_FORMAT},
          caption="Participation against each federal expectation version",
          widths={"label": 40, "metric": 26, "source": 40})
    if data.whatif is not None:
        sheet("What-if plan", data.whatif.plan, {"devices": INT_FORMAT, "ready_pct_after": PCT_FORMAT,
                                                 "cost": MONEY_FORMAT},
              caption=f"Remediation plan, version {data.whatif.from_version} → {data.whatif.to_version}",
              widths={"action": 60})
    if data.changes is not None:
        sheet("Requirement changes", data.changes.requirement_changes, {},
              caption="Requirement changes since the last briefing", widths={"change": 60})

    # Last sheet: provenance.
    ws = wb.create_sheet("About")
    ws.append(["About this briefing"])
    ws["A1"].font = Font(bold=True, size=13)
    for label, value in provenance_rows(data):
        ws.append([label, value])
        ws.cell(row=ws.max_row, column=1).font = bold
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 90

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HEADER_LABELS: dict[str, str] = {
    "ready_pct": "Ready %", "coverage_pct": "Coverage %", "pass_pct": "Pass %", "firstnet_status": "FirstNet status",
    "ready_pct_after": "Ready % after", "by_date": "By date",
}


def header_label(column: str) -> str:
    return HEADER_LABELS.get(column, column.replace("_", " ").capitalize())


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


# ---------------------------------------------------------------------------------------
# PDF: two printable pages, vector charts drawn by reportlab itself.

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
