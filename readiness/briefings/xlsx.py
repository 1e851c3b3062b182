"""XLSX: one real table (header row, filters, number formats) per sheet.

The summary sheet comes first, then one sheet per table of the briefing (`_table_sheets`
lists them, `_LAYOUT` gives each its number formats and column widths), and the provenance
sheet last.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from readiness.briefings.common import (
    BriefingData,
    change_lines,
    provenance_rows,
    subtitle,
    whatif_lines,
)

PCT_FORMAT = '0.0"%"'
INT_FORMAT = "#,##0"
MONEY_FORMAT = '"$"#,##0'
DATE_FORMAT = "yyyy-mm-dd"

BOLD = Font(bold=True)

HEADER_LABELS: dict[str, str] = {
    "ready_pct": "Ready %",
    "coverage_pct": "Coverage %",
    "pass_pct": "Pass %",
    "firstnet_status": "FirstNet status",
    "ready_pct_after": "Ready % after",
    "by_date": "By date",
}


# Per table sheet: number format per column, and column widths (14 where not given).
_LAYOUT: dict[str, tuple[dict[str, str], dict[str, int]]] = {
    "Trend": (
        {"ready_pct": PCT_FORMAT, "coverage_pct": PCT_FORMAT, "date": DATE_FORMAT},
        {"date": 12},
    ),
    "Cabinets": (
        {
            "agencies": INT_FORMAT,
            "devices": INT_FORMAT,
            "ready": INT_FORMAT,
            "ready_pct": PCT_FORMAT,
            "coverage_pct": PCT_FORMAT,
        },
        {"cabinet": 40},
    ),
    "Agencies": (
        {
            "devices": INT_FORMAT,
            "ready": INT_FORMAT,
            "ready_pct": PCT_FORMAT,
            "coverage_pct": PCT_FORMAT,
        },
        {"agency": 36, "cabinet": 36, "county": 16, "firstnet_status": 16},
    ),
    "Requirements": (
        {
            "applicable": INT_FORMAT,
            "passed": INT_FORMAT,
            "failed": INT_FORMAT,
            "waived": INT_FORMAT,
            "pass_pct": PCT_FORMAT,
        },
        {"title": 60, "code": 22},
    ),
    "Failing devices": (
        {},
        {"agency": 30, "serial": 18, "model": 26, "requirement": 22, "reason": 60},
    ),
    "Participation": (
        {"since": DATE_FORMAT},
        {"agency": 36, "cabinet": 36, "status": 16},
    ),
    "Expectations": (
        {"target": "0.0", "actual": "0.0", "by_date": DATE_FORMAT},
        {"label": 40, "metric": 26, "source": 40},
    ),
    "What-if plan": (
        {"devices": INT_FORMAT, "ready_pct_after": PCT_FORMAT, "cost": MONEY_FORMAT},
        {"action": 60},
    ),
    "Requirement changes": ({}, {"change": 60}),
    "Due dates": (
        {"due_on": DATE_FORMAT, "failing": INT_FORMAT},
        {"code": 14, "title": 40, "due_on": 12, "due": 20},
    ),
    "Waivers": (
        {},
        {
            "agency": 30,
            "requirement": 20,
            "covers": 22,
            "requested_at": 17,
            "decided_at": 17,
            "comment": 50,
        },
    ),
}


def render_xlsx(data: BriefingData) -> bytes:
    """The briefing as a workbook. Pure: no database, no clock."""
    wb = Workbook()
    if data.generated_at:
        wb.properties.created = data.generated_at.replace(tzinfo=None)
        wb.properties.modified = data.generated_at.replace(tzinfo=None)
    wb.properties.title = data.title
    wb.properties.creator = "Device Readiness Tracker"
    ws = wb.active
    ws.title = "Summary"  # the workbook's default first sheet
    _summary_sheet(ws, data)
    _summary_notes(ws, data)
    for name, frame, caption in _table_sheets(data):
        _write_table_sheet(wb.create_sheet(name), frame, caption)
    _about_sheet(wb.create_sheet("About"), data)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _summary_sheet(ws: Worksheet, data: BriefingData) -> None:
    """Title, subtitle and the headline figures as a table with number formats."""
    ws.append([data.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([subtitle(data)])
    ws.append([])
    ws.append(["Figure", "Value"])
    h = data.headline
    summary = [
        ("Devices", h.devices, INT_FORMAT),
        ("Online now", h.online_now, INT_FORMAT),
        ("Ready", h.ready, INT_FORMAT),
        ("Ready %", round(h.ready_pct, 1), PCT_FORMAT),
        ("Telemetry coverage %", round(h.coverage_pct, 1), PCT_FORMAT),
        ("Agencies", h.agencies, INT_FORMAT),
        ("Agencies on FirstNet", h.agencies_participating, INT_FORMAT),
        ("Open alerts", h.open_alerts, INT_FORMAT),
        ("Waived results", h.waived, INT_FORMAT),
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


def _summary_notes(ws: Worksheet, data: BriefingData) -> None:
    """The what-if and what-changed sentences, below the summary table."""
    sections = []
    if data.whatif is not None:
        sections.append(("What-if", whatif_lines(data.whatif)))
    if data.changes is not None:
        sections.append(("What changed since the last briefing", change_lines(data.changes)))
    for heading, lines in sections:
        ws.append([])
        ws.append([heading])
        ws.cell(row=ws.max_row, column=1).font = BOLD
        for line in lines:
            ws.append([line])


def _table_sheets(data: BriefingData) -> list[tuple[str, pd.DataFrame, str]]:
    """(sheet name, table, caption) of the briefing's tables, in workbook order."""
    shown = len(data.failing_devices)
    failing_caption = "Failing devices and why"
    if data.failing_devices_total > shown:
        failing_caption += (
            f" (first {shown:,} of {data.failing_devices_total:,}; the API lists all)"
        )
    sheets = [
        ("Trend", data.trend, "Readiness per day (from the nightly snapshots)"),
        ("Cabinets", data.cabinets, "Readiness by cabinet"),
        ("Agencies", data.agencies, "Readiness by agency"),
        (
            "Requirements",
            data.requirements,
            f"Requirements of {data.set_name} version {data.version}",
        ),
        ("Failing devices", data.failing_devices, failing_caption),
        ("Participation", data.participation, "FirstNet participation per agency"),
        (
            "Expectations",
            data.expectations,
            "Participation against each federal expectation version",
        ),
        (
            "Waivers",
            data.waivers,
            "Waivers in force and requests pending approval: who requested, who decided, when",
        ),
    ]
    if not data.deadlines.empty:
        sheets.append(
            (
                "Due dates",
                data.deadlines,
                "Requirements with a due date: how far off, and the devices still failing each",
            )
        )
    if data.whatif is not None:
        w = data.whatif
        caption = f"Remediation plan, version {w.from_version} → {w.to_version}"
        sheets.append(("What-if plan", w.plan, caption))
    if data.changes is not None:
        sheets.append(
            (
                "Requirement changes",
                data.changes.requirement_changes,
                "Requirement changes since the last briefing",
            )
        )
    return sheets


def _write_table_sheet(ws: Worksheet, frame: pd.DataFrame, caption: str) -> None:
    """Caption, a blank row, then the frame as a filterable table with frozen headers."""
    formats, widths = _LAYOUT[ws.title]
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
        tab = Table(displayName=ws.title.replace(" ", "_").replace("-", "_"), ref=ref)
        tab.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(tab)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)


def _about_sheet(ws: Worksheet, data: BriefingData) -> None:
    """Provenance: enough to rebuild and verify the briefing."""
    ws.append(["About this briefing"])
    ws["A1"].font = Font(bold=True, size=13)
    for label, value in provenance_rows(data):
        ws.append([label, value])
        ws.cell(row=ws.max_row, column=1).font = BOLD
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 90


def header_label(column: str) -> str:
    return HEADER_LABELS.get(column, column.replace("_", " ").capitalize())


def _cell(value: Any) -> Any:
    """A DataFrame value as openpyxl writes it (dates as dates, NaN as an empty cell)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
