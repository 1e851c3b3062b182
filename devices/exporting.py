"""Export of devices to CSV (streamed) and XLSX, in the columns the import reads.

A cell that a spreadsheet would run as a formula (one starting with = + - @, a tab or a
carriage return) is written with a leading apostrophe, so opening an export never runs
anything a device's notes or assigned officer happened to contain (CSV/formula injection,
OWASP). The import removes that apostrophe again, so exporting and re-importing a file
changes nothing.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone

from devices.importing import COLUMNS, FORMULA_PREFIXES, XLSX_MEDIA_TYPE
from devices.models import Assignment, Device

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
# Excel opens a UTF-8 CSV correctly only when it starts with a byte-order mark.
UTF8_BOM = "\ufeff"
# Fields read from the database, in COLUMNS order (model name through the catalog join).
_VALUE_FIELDS: tuple[str, ...] = (
    "serial",
    "manufacturer",
    "model__name",
    "asset_tag",
    "imei",
    "iccid",
    "status",
    "network",
    "assigned_unit",
    "assigned_officer",
    "firmware_version",
    "is_mdm_enrolled",
    "is_encryption_enabled",
    "has_cji_access",
    "notes",
)
_CHUNK = 2000


def neutralise(value: str) -> str:
    """Prefix a would-be formula with an apostrophe so spreadsheets show it as text."""
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise("" if value is None else str(value))


def device_rows(devices: QuerySet[Device]) -> Iterator[list[str]]:
    """Each device as a row of text cells in COLUMNS order, read in chunks (bounded memory)."""
    assert len(_VALUE_FIELDS) == len(COLUMNS)
    for values in devices.values_list(*_VALUE_FIELDS).iterator(chunk_size=_CHUNK):
        yield [_cell(v) for v in values]


class _Echo:
    """A file-like object whose write returns the line, for a streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def iter_csv(devices: QuerySet[Device]) -> Iterator[str]:
    """The CSV export as an iterator of text lines (for a StreamingHttpResponse)."""
    writer = csv.writer(_Echo())
    yield UTF8_BOM + writer.writerow(COLUMNS)
    for row in device_rows(devices):
        yield writer.writerow(row)


def write_csv(devices: QuerySet[Device], out: SupportsWrite[str]) -> int:
    """Write the CSV export to a text stream; returns the number of devices written."""
    count = -1
    for count, line in enumerate(iter_csv(devices)):  # noqa: B007 (count is the result)
        out.write(line)
    return max(count, 0)


# The check-out history of the exported devices, a second XLSX sheet (the import reads the
# first sheet only, so a re-import is unchanged): who held each device, when, and who handed
# it out and took it back.
ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "serial",
    "manufacturer",
    "officer",
    "badge",
    "unit",
    "checked_out_at",
    "checked_out_by",
    "checked_in_at",
    "checked_in_by",
    "condition",
    "notes",
    "return_notes",
)
_ASSIGNMENT_FIELDS: tuple[str, ...] = (
    "device__serial",
    "device__manufacturer",
    "officer__name",
    "officer__badge",
    "unit",
    "checked_out_at",
    "checked_out_by__username",
    "checked_in_at",
    "checked_in_by__username",
    "condition",
    "notes",
    "return_notes",
)


def assignment_rows(devices: QuerySet[Device]) -> Iterator[list[str]]:
    """Every check-out of ``devices`` as text cells in ASSIGNMENT_COLUMNS order, oldest first."""
    assignments = Assignment.objects.filter(device__in=devices.order_by().values("pk"))
    ordered = assignments.order_by("device__serial", "checked_out_at", "pk")
    for values in ordered.values_list(*_ASSIGNMENT_FIELDS).iterator(chunk_size=_CHUNK):
        yield [_cell(v.isoformat() if hasattr(v, "isoformat") else v) for v in values]


def _text_row(sheet: Any, row: list[str]) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=value)
        # openpyxl takes any string starting with "=" for a formula; these are text.
        cell.data_type = "s"
        cells.append(cell)
    return cells


def write_xlsx(devices: QuerySet[Device], out: IO[bytes]) -> int:
    """Write the XLSX export ("devices", then "assignments") to a binary stream.

    Returns the number of devices written.

    Every cell is a typed string, never a formula, and would-be formulas also carry the
    apostrophe, so the sheet stays safe if it is later saved as CSV.
    """
    from openpyxl import Workbook

    # write_only streams rows to a temporary file instead of holding the sheet in memory.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("devices")
    sheet.append(list(COLUMNS))
    count = 0
    for row in device_rows(devices):
        sheet.append(_text_row(sheet, row))
        count += 1
    history = workbook.create_sheet("assignments")
    history.append(list(ASSIGNMENT_COLUMNS))
    for row in assignment_rows(devices):
        history.append(_text_row(history, row))
    workbook.save(out)
    return count


def xlsx_file(devices: QuerySet[Device]) -> IO[bytes]:
    """The XLSX export in a temporary file, rewound, for a FileResponse to stream and close."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (closed by the response)
    write_xlsx(devices, spool)
    spool.seek(0)
    return spool


def export_filename(fmt: str, *, agency: str | None, today: str) -> str:
    scope = agency or "all-agencies"
    return f"devices-{scope}-{today}.{fmt}"


def export_response(
    devices: QuerySet[Device], fmt: str, *, agency: str | None = None
) -> HttpResponseBase:
    """The download for the API and the pages: CSV streamed row by row, XLSX as a file."""
    name = export_filename(fmt, agency=agency, today=timezone.localdate().isoformat())
    if fmt == "csv":
        response = StreamingHttpResponse(iter_csv(devices), content_type=CSV_MEDIA_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(
        xlsx_file(devices), as_attachment=True, filename=name, content_type=XLSX_MEDIA_TYPE
    )
