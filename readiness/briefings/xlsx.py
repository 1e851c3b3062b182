"""XLSX: one real table (header row, filters, number formats) per sheet."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

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
