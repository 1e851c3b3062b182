"""Bulk import of devices from CSV or XLSX into one agency.

Three steps, kept apart so the rules can be tested without a database:

1. ``parse_file`` (pure): bytes → header and rows of strings, with the row numbers a person
   sees in a spreadsheet (the header is row 1, blank lines count but carry nothing).
2. ``validate_rows`` (pure): rows + what the database already holds → an ``ImportPlan``
   listing every create, update and unchanged row, and *every* bad cell.
3. ``import_devices`` (I/O): loads the catalog and the existing devices in a few set-based
   queries, validates, and, unless it is a dry run, writes the whole plan in one transaction
   with bulk inserts and updates, the status history and exactly one audit record.

Upsert rules: a device is identified by serial within its manufacturer (the database's own
uniqueness rule). A column missing from the file leaves that attribute alone; a blank text
cell clears it; a blank status, network or yes/no cell leaves it alone (a new device gets
the default). Rows whose values already match are not written at all, so importing the same
file twice changes nothing but the import's own audit record.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from config import bulk
from config.errors import InvalidInput
from devices import audit, rules
from devices.models import Agency, Device, DeviceModel, DeviceStatusChange, User

COLUMNS: tuple[str, ...] = (
    "serial",
    "manufacturer",
    "model",
    "asset_tag",
    "imei",
    "iccid",
    "status",
    "network",
    "assigned_unit",
    "assigned_officer",
    "firmware_version",
    "mdm_enrolled",
    "encryption_enabled",
    "cji_access",
    "notes",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("serial", "manufacturer", "model")

# Header spellings people use for the same column (after lower-casing and "_" for spaces).
HEADER_ALIASES: dict[str, str] = {
    "serial_number": "serial",
    "serial_no": "serial",
    "model_name": "model",
    "firmware": "firmware_version",
    "is_mdm_enrolled": "mdm_enrolled",
    "is_encryption_enabled": "encryption_enabled",
    "has_cji_access": "cji_access",
}

# Column → Device attribute, for the columns that map one to one.
TEXT_FIELDS: dict[str, str] = {
    "asset_tag": "asset_tag",
    "assigned_unit": "assigned_unit",
    "assigned_officer": "assigned_officer",
    "firmware_version": "firmware_version",
    "notes": "notes",
}
BOOL_FIELDS: dict[str, str] = {
    "mdm_enrolled": "is_mdm_enrolled",
    "encryption_enabled": "is_encryption_enabled",
    "cji_access": "has_cji_access",
}
# Device attributes an import may change, in a stable order (used to diff and to write).
WRITABLE_FIELDS: tuple[str, ...] = (
    "model_id",
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
COLUMN_FOR_ATTR: dict[str, str] = {
    "model_id": "model",
    "imei": "imei",
    "iccid": "iccid",
    "status": "status",
    "network": "network",
    **{attr: column for column, attr in TEXT_FIELDS.items()},
    **{attr: column for column, attr in BOOL_FIELDS.items()},
}
MAX_LENGTHS: dict[str, int] = {
    "serial": 64,
    "asset_tag": 64,
    "assigned_unit": 100,
    "assigned_officer": 100,
    "firmware_version": 64,
    "notes": 5000,
}
M = TypeVar("M", bound=Model)
MAX_ROWS = 200_000
MAX_FILE_BYTES = 50 * 1024 * 1024
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
# Characters that make a spreadsheet treat a cell as a formula; the export prefixes such a
# cell with an apostrophe, and the import removes that apostrophe again (round trip).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_HEADER_SPACES = re.compile(r"[\s\-]+")
# PostgreSQL refuses NUL, and no field but the notes has a use for control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_NOTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CREATE_BATCH = 2000
UPDATE_BATCH = 1000
ANALYZE_AFTER_ROWS = 10_000
# How many row-by-row changes the single audit record keeps (the counts are always complete).
AUDIT_CHANGES_KEPT = 200


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the file: the row as a spreadsheet shows it, the column, the fix."""

    row: int | None
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.column,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class ParsedFile:
    """The file as rows of strings keyed by canonical column name."""

    filename: str
    columns: list[str]
    ignored_columns: list[str]
    rows: list[tuple[int, dict[str, str]]]
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RowChange:
    """What one good row does: create a device, update some of its fields, or nothing."""

    row: int
    action: str  # "create" | "update" | "unchanged"
    manufacturer: str
    serial: str
    device_id: int | None
    # For a create: every writable field. For an update: only the fields that change.
    values: dict[str, Any]
    # For an update: the old value of each changed field.
    before: dict[str, Any]


@dataclass(slots=True)
class ImportPlan:
    """The outcome of validation: what would be written, and every reason it cannot be."""

    filename: str
    agency_id: int
    rows: int
    changes: list[RowChange]
    errors: list[RowError]
    ignored_columns: list[str]
    notes: list[str] = field(default_factory=list)
    dry_run: bool = True
    written: bool = False
    audit_id: int | None = None

    @property
    def is_valid(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def created(self) -> int:
        return self.count("create")

    @property
    def updated(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    def summary(self) -> str:
        verb = "would be" if self.dry_run or not self.written else "were"
        text = (
            f"{self.rows} rows: {self.created} {verb} created, {self.updated} {verb} updated, "
            f"{self.unchanged} unchanged"
        )
        if self.errors:
            rows = len({e.row for e in self.errors})
            text += f"; {len(self.errors)} errors in {rows} rows, nothing was imported"
        return text


class ImportRejected(InvalidInput):
    """The file has errors, so nothing was written. Carries the plan with every error."""

    def __init__(self, plan: ImportPlan):
        bad_rows = len({e.row for e in plan.errors})
        super().__init__(
            f"{plan.filename}: {len(plan.errors)} problems in {bad_rows} rows; nothing was "
            "imported. Fix the rows listed and upload the file again.",
            errors=[e.as_dict() for e in plan.errors],
        )
        self.plan = plan


# --------------------------------------------------------------------------- parsing (pure)


def normalise_header(text: str) -> str:
    key = _HEADER_SPACES.sub("_", text.strip().lower())
    return HEADER_ALIASES.get(key, key)


def unescape_cell(value: str) -> str:
    """Undo the export's formula neutralisation ("'=x" → "=x"), then trim whitespace."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_PREFIXES:
        value = value[1:]
    return value.strip()


def _cell_to_text(value: Any) -> str:
    """A spreadsheet cell as text; numbers typed into cells come back without ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            # Past 2**53 a float has already lost digits (a 20-digit ICCID typed as a
            # number): keep the float's own text so validation can say so.
            return str(int(value)) if abs(value) < 2**53 else repr(value)
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _looks_like_xlsx(data: bytes, filename: str) -> bool:
    return filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04"


def _decode(data: bytes, notes: list[str]) -> str:
    try:
        # utf-8-sig drops the byte-order mark Excel writes at the start of "CSV UTF-8".
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        notes.append("The file is not UTF-8; it was read as Windows-1252 (Excel's older CSV).")
        return data.decode("cp1252", errors="replace")


def _csv_records(data: bytes, notes: list[str]) -> Iterator[list[str]]:
    text = _decode(data, notes)
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in some locales save with ";" or tabs; pick what the header uses.
    delimiter = max(",;\t", key=first_line.count)
    # newline="" lets the csv module handle \r\n and quoted line breaks itself.
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _xlsx_records(data: bytes) -> Iterator[list[str]]:
    import openpyxl  # imported here: only XLSX uploads pay for it

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        expected = 1
        for row in sheet.iter_rows():
            cells = [c for c in row if getattr(c, "row", None) is not None]
            number = cells[0].row if cells else expected
            # A read-only sheet skips rows with no cells at all; keep the numbering true.
            while expected < number:
                yield []
                expected += 1
            yield [_cell_to_text(c.value) for c in row]
            expected += 1
    finally:
        workbook.close()


def parse_file(data: bytes, filename: str) -> ParsedFile:
    """Read a CSV or XLSX file into rows keyed by canonical column names.

    Never raises for bad content: an unreadable file or a bad header becomes an error in the
    result, so every caller reports problems the same way.
    """
    notes: list[str] = []
    parsed = ParsedFile(filename=filename, columns=[], ignored_columns=[], rows=[], notes=notes)
    if not data.strip():
        parsed.errors.append(RowError(None, None, "The file is empty."))
        return parsed
    if len(data) > MAX_FILE_BYTES:
        parsed.errors.append(
            RowError(
                None,
                None,
                f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it.",
            )
        )
        return parsed
    try:
        if _looks_like_xlsx(data, filename):
            records: Iterable[list[str]] = _xlsx_records(data)
        elif filename.lower().endswith((".xls", ".ods", ".numbers")):
            parsed.errors.append(
                RowError(
                    None,
                    None,
                    "Only CSV and XLSX files can be imported; save the sheet as .xlsx or .csv.",
                )
            )
            return parsed
        else:
            records = _csv_records(data, notes)
        _collect(parsed, records)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, csv.Error) as exc:
        parsed.errors.append(
            RowError(
                None,
                None,
                f"The file could not be read as CSV or XLSX ({exc.__class__.__name__}: {exc}).",
            )
        )
    return parsed


def _collect(parsed: ParsedFile, records: Iterable[list[str]]) -> None:
    header: list[str | None] | None = None
    row_number = 0
    for record in records:
        row_number += 1
        if header is None:
            if not any(cell.strip() for cell in record):
                # Blank lines above the header are tolerated; the header is the first text.
                continue
            header = _read_header(parsed, record, row_number)
            if parsed.errors:
                return
            continue
        if not any(cell.strip() for cell in record):
            continue
        if len(parsed.rows) >= MAX_ROWS:
            parsed.errors.append(
                RowError(row_number, None, f"More than {MAX_ROWS:,} rows; split the file.")
            )
            return
        values = {
            name: unescape_cell(record[i]) if i < len(record) else ""
            for i, name in enumerate(header)
            if name is not None
        }
        parsed.rows.append((row_number, values))
    if header is None:
        parsed.errors.append(RowError(None, None, "The file has no header row."))


def _read_header(parsed: ParsedFile, record: list[str], row_number: int) -> list[str | None]:
    header: list[str | None] = []
    seen: set[str] = set()
    for cell in record:
        name = normalise_header(cell)
        if not name:
            header.append(None)
        elif name not in COLUMNS:
            parsed.ignored_columns.append(cell.strip())
            header.append(None)
        elif name in seen:
            parsed.errors.append(
                RowError(
                    row_number, name, f"The column '{cell.strip()}' appears twice in the header."
                )
            )
            header.append(None)
        else:
            seen.add(name)
            header.append(name)
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            parsed.errors.append(
                RowError(
                    row_number,
                    required,
                    f"The header has no '{required}' column. Required columns: "
                    f"{', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(COLUMNS[3:])}.",
                )
            )
    parsed.columns = [name for name in header if name is not None]
    return header


# --------------------------------------------------------------------------- checks (pure)


def _choice_lookup(choices: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Accepted spellings (value or label, any case, spaces or dashes) → stored value."""
    lookup = {}
    for value, label in choices:
        lookup[value] = value
        lookup[_HEADER_SPACES.sub("_", label.lower())] = value
    return lookup


CHOICES: dict[str, tuple[dict[str, str], str]] = {
    column: (_choice_lookup(choices), ", ".join(v for v, _ in choices))
    for column, choices in (("status", Device.Status.choices), ("network", Device.Network.choices))
}


def _choice(raw: str, lookup: dict[str, str]) -> str | None:
    return lookup.get(_HEADER_SPACES.sub("_", raw.strip().lower()))


def _bool(raw: str) -> bool | None:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: int
    manufacturer: str
    name: str
    is_cellular: bool


@dataclass(slots=True)
class Context:
    """What the database holds that validation needs, as plain values."""

    agency_id: int
    catalog: dict[tuple[str, str], CatalogEntry]  # (manufacturer.lower(), name.lower())
    manufacturers: dict[str, str]  # manufacturer.lower() → catalog spelling
    # (manufacturer, serial) → {"id", "agency_id", and every WRITABLE_FIELDS value}
    existing: dict[tuple[str, str], dict[str, Any]]
    # value → the device holding it
    imei_owner: dict[str, rules.Holder]
    iccid_owner: dict[str, rules.Holder]
    asset_tag_owner: dict[str, rules.Holder]  # within the agency


@dataclass(slots=True)
class _Seen:
    """Values already met earlier in the file, with the row each was first on."""

    devices: dict[tuple[str, str], int] = field(default_factory=dict)
    imei: dict[str, int] = field(default_factory=dict)
    iccid: dict[str, int] = field(default_factory=dict)
    asset_tag: dict[str, int] = field(default_factory=dict)


def validate_rows(parsed: ParsedFile, context: Context) -> ImportPlan:
    """Check every row against the catalog, the file itself and the database state.

    Pure: reads only ``parsed`` and ``context``. Reports every problem, not the first.
    """
    plan = ImportPlan(
        filename=parsed.filename,
        agency_id=context.agency_id,
        rows=len(parsed.rows),
        changes=[],
        errors=list(parsed.errors),
        ignored_columns=parsed.ignored_columns,
        notes=parsed.notes,
    )
    if parsed.errors:
        return plan
    present = frozenset(parsed.columns)
    seen = _Seen()
    for row, raw in parsed.rows:
        change, errors = _validate_row(row, raw, present, context, seen)
        if errors:
            plan.errors.extend(errors)
        elif change is not None:
            plan.changes.append(change)
    return plan


class _RowCheck:
    """One row under check: the device it names, the values it would set, its errors so far."""

    # A plain slotted class: a dataclass's default factories made validating 60,000 rows
    # about 10% slower, one of these being built per row.
    __slots__ = (
        "row",
        "raw",
        "values",
        "errors",
        "serial",
        "manufacturer",
        "entry",
        "this_device",
        "current",
    )

    def __init__(self, row: int, raw: dict[str, str]) -> None:
        self.row = row
        self.raw = raw
        self.values: dict[str, Any] = {}
        self.errors: list[RowError] = []
        self.serial = ""
        self.manufacturer: str | None = None  # the catalog's spelling
        self.entry: CatalogEntry | None = None
        self.this_device: tuple[str, str] | None = None  # (manufacturer, serial)
        self.current: dict[str, Any] | None = None  # the agency's device this row updates

    def bad(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row, column, message))

    def violated(self, violation: rules.Violation | None) -> None:
        if violation is not None:
            self.errors.append(RowError(self.row, violation.field, violation.message))


def _validate_row(
    row: int, raw: dict[str, str], present: frozenset[str], context: Context, seen: _Seen
) -> tuple[RowChange | None, list[RowError]]:
    """One row through every check; every problem of the row is reported, not the first."""
    check = _RowCheck(row, raw)
    _check_control_characters(check)
    if check.errors:
        return None, check.errors
    _check_catalog(check, context)
    _check_identity(check, context, seen)
    _check_text(check, present)
    _check_identifiers(check, present, context, seen)
    _check_choices(check)
    if check.errors or check.manufacturer is None or check.entry is None:
        return None, check.errors
    change = _diff(row, check.manufacturer, check.serial, check.current, check.values)
    errors = _lifecycle_errors(row, check.entry, check.current, change)
    return (None, errors) if errors else (change, [])


def _check_control_characters(check: _RowCheck) -> None:
    for column, text in check.raw.items():
        if (_CONTROL_IN_NOTES if column == "notes" else _CONTROL).search(text):
            check.bad(column, f"{column} contains control characters; remove them.")


def _check_catalog(check: _RowCheck, context: Context) -> None:
    """Serial, and a manufacturer and model the catalog lists."""
    raw = check.raw
    check.serial = serial = raw.get("serial", "")
    manufacturer_raw = raw.get("manufacturer", "")
    model_raw = raw.get("model", "")
    if not serial:
        check.bad("serial", "Serial is required.")
    elif len(serial) > MAX_LENGTHS["serial"]:
        check.bad("serial", f"Serial is longer than {MAX_LENGTHS['serial']} characters.")
    check.manufacturer = manufacturer = context.manufacturers.get(manufacturer_raw.lower())
    if not manufacturer_raw:
        check.bad("manufacturer", "Manufacturer is required.")
    elif manufacturer is None:
        check.bad(
            "manufacturer",
            f"No manufacturer '{manufacturer_raw}' in the catalog; add its models to the "
            "catalog first or correct the spelling.",
        )
    if not model_raw:
        check.bad("model", "Model is required.")
    elif manufacturer is not None:
        check.entry = entry = context.catalog.get((manufacturer.lower(), model_raw.lower()))
        if entry is None:
            known = sorted(
                e.name for k, e in context.catalog.items() if k[0] == manufacturer.lower()
            )
            check.bad(
                "model",
                f"Unknown model '{model_raw}' by {manufacturer}; the catalog has: "
                f"{', '.join(known[:12])}{'…' if len(known) > 12 else ''}.",
            )
        else:
            check.values["model_id"] = entry.id


def _check_identity(check: _RowCheck, context: Context, seen: _Seen) -> None:
    """The device a row names: one row per device, and never another agency's device."""
    serial, manufacturer = check.serial, check.manufacturer
    if not (serial and manufacturer):
        return
    check.this_device = this_device = (manufacturer, serial)
    current = context.existing.get(this_device)
    if this_device in seen.devices:
        check.bad(
            "serial",
            f"Serial {serial} by {manufacturer} appears again (first on row "
            f"{seen.devices[this_device]}); keep one row per device.",
        )
    else:
        seen.devices[this_device] = check.row
    if current is not None and current["agency_id"] != context.agency_id:
        holder = rules.Holder(manufacturer, serial, current["agency_id"])
        check.violated(
            rules.serial_violation(
                serial=serial, manufacturer=manufacturer, holder=holder, agency_id=context.agency_id
            )
        )
        current = None
    check.current = current


def _check_text(check: _RowCheck, present: frozenset[str]) -> None:
    # Only the columns the file has; a blank text cell clears the value.
    for column, attr in TEXT_FIELDS.items():
        if column in present:
            text = check.raw.get(column, "")
            if len(text) > MAX_LENGTHS[column]:
                check.bad(column, f"{column} is longer than {MAX_LENGTHS[column]} characters.")
            check.values[attr] = text


def _check_identifiers(
    check: _RowCheck, present: frozenset[str], context: Context, seen: _Seen
) -> None:
    """IMEI and ICCID (normalised to digits) and asset tag: well formed and not taken."""
    for column, normalise, firsts, owners in (
        ("imei", rules.normalise_imei, seen.imei, context.imei_owner),
        ("iccid", rules.normalise_iccid, seen.iccid, context.iccid_owner),
    ):
        if column not in present:
            continue
        value = check.raw.get(column, "")
        if value:
            value, violation = normalise(value)
            if violation is not None:
                check.violated(violation)
            else:
                _check_unique(check, column, value, firsts, owners, context.agency_id)
        check.values[column] = value
    asset_tag = check.values.get("asset_tag")
    if asset_tag:
        _check_unique(
            check,
            "asset_tag",
            asset_tag,
            seen.asset_tag,
            context.asset_tag_owner,
            context.agency_id,
        )


def _check_unique(
    check: _RowCheck,
    column: str,
    value: str,
    seen_rows: dict[str, int],
    owners: dict[str, rules.Holder],
    agency_id: int,
) -> None:
    if value in seen_rows:
        check.bad(
            column,
            f"{rules.LABELS[column]} {value} appears again (first on row {seen_rows[value]}).",
        )
    else:
        seen_rows[value] = check.row
    holder = owners.get(value)
    if holder is not None and holder[:2] != check.this_device:
        check.violated(rules.taken_violation(column, value, holder, agency_id=agency_id))


def _check_choices(check: _RowCheck) -> None:
    """Status and network by value or label; yes/no columns. A blank cell leaves the value alone."""
    raw = check.raw
    for column, (lookup, allowed) in CHOICES.items():
        text = raw.get(column, "")
        if text:
            choice = _choice(text, lookup)
            if choice is None:
                check.bad(column, f"Unknown {column} '{text}'; use one of: {allowed}.")
            else:
                check.values[column] = choice
    for column, attr in BOOL_FIELDS.items():
        text = raw.get(column, "")
        if text:
            flag = _bool(text)
            if flag is None:
                check.bad(column, f"'{text}' is not yes or no; use yes/no, true/false or 1/0.")
            else:
                check.values[attr] = flag


def _lifecycle_errors(
    row: int, entry: CatalogEntry, current: dict[str, Any] | None, change: RowChange
) -> list[RowError]:
    """The rules checked on the device as it would end up: cellular identity and status."""
    violations: list[rules.Violation | None] = []
    # A model with a radio has nothing to check here; skipping it is most rows of a big file.
    if not entry.is_cellular:
        final = {**(current or {}), **change.values}
        violations += rules.cellular_violations(
            model_label=f"{entry.manufacturer} {entry.name}",
            is_cellular=False,
            imei=final.get("imei", ""),
            iccid=final.get("iccid", ""),
            network=final.get("network", rules.NONE_NETWORK),
        )
    if current is not None:
        violations.append(
            rules.retired_edit_violation(
                serial=change.serial,
                current=current["status"],
                # A status move is the lifecycle rule's below: one refusal, in its words.
                fields=change.values.keys() - {"status"},
            )
        )
    if current is not None and "status" in change.values:
        # An update carries only the fields that change, so this is a real move.
        violations.append(
            rules.status_change_violation(
                serial=change.serial, current=current["status"], new=change.values["status"]
            )
        )
    if not violations:
        return []
    return [RowError(row, v.field, v.message) for v in violations if v is not None]


def _diff(
    row: int, manufacturer: str, serial: str, current: dict[str, Any] | None, values: dict[str, Any]
) -> RowChange:
    if current is None:
        full = {
            "model_id": values["model_id"],
            "asset_tag": "",
            "imei": "",
            "iccid": "",
            "status": rules.IN_STOCK,
            "network": rules.NONE_NETWORK,
            "assigned_unit": "",
            "assigned_officer": "",
            "firmware_version": "",
            "is_mdm_enrolled": False,
            "is_encryption_enabled": False,
            "has_cji_access": False,
            "notes": "",
        }
        full.update(values)
        return RowChange(row, "create", manufacturer, serial, None, full, {})
    changed = {k: v for k, v in values.items() if current[k] != v}
    before = {k: current[k] for k in changed}
    action = "update" if changed else "unchanged"
    return RowChange(row, action, manufacturer, serial, current["id"], changed, before)


# --------------------------------------------------------------------------- database (I/O)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunk_size() -> int:
    # SQLite caps the number of query parameters (999 here); PostgreSQL takes far more.
    limit = connection.features.max_query_params or 10_000
    return max(100, min(5000, limit - 50))


def load_context(parsed: ParsedFile, agency: Agency) -> Context:
    """Load, in a few set-based queries, what validation needs to know about the database."""
    catalog: dict[tuple[str, str], CatalogEntry] = {}
    manufacturers: dict[str, str] = {}
    rows = DeviceModel.objects.values_list("id", "manufacturer", "name", "is_cellular")
    for pk, manufacturer, name, is_cellular in rows:
        catalog[(manufacturer.lower(), name.lower())] = CatalogEntry(
            pk, manufacturer, name, is_cellular
        )
        manufacturers.setdefault(manufacturer.lower(), manufacturer)

    def column_values(column: str, check: Any = None) -> list[str]:
        found = set()
        for _, raw in parsed.rows:
            value = raw.get(column, "")
            if value:
                found.add(check(value)[0] if check else value)
        return sorted(found)

    size = _chunk_size()
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for chunk in _chunks(column_values("serial"), size):
        rows = Device.objects.filter(serial__in=chunk).values(
            "id", "agency_id", "manufacturer", "serial", *WRITABLE_FIELDS
        )
        for row in rows:
            existing[(row["manufacturer"], row["serial"])] = row
    owners: dict[str, dict[str, rules.Holder]] = {"imei": {}, "iccid": {}, "asset_tag": {}}
    for column, check in (
        ("imei", rules.normalise_imei),
        ("iccid", rules.normalise_iccid),
        ("asset_tag", None),
    ):
        devices = (
            Device.objects.filter(agency=agency) if column == "asset_tag" else Device.objects.all()
        )
        for chunk in _chunks(column_values(column, check), size):
            held = devices.filter(**{f"{column}__in": chunk}).values_list(
                column, "manufacturer", "serial", "agency_id"
            )
            for value, manufacturer, serial, agency_id in held:
                owners[column][value] = rules.Holder(manufacturer, serial, agency_id)
    return Context(
        agency_id=agency.pk,
        catalog=catalog,
        manufacturers=manufacturers,
        existing=existing,
        imei_owner=owners["imei"],
        iccid_owner=owners["iccid"],
        asset_tag_owner=owners["asset_tag"],
    )


def plan_import(*, agency: Agency, data: bytes, filename: str) -> ImportPlan:
    """Parse and validate a file against the database. Reads only; writes nothing."""
    parsed = parse_file(data, filename)
    return validate_rows(parsed, load_context(parsed, agency))


def import_devices(
    *,
    agency: Agency,
    data: bytes,
    filename: str,
    actor: User | None,
    dry_run: bool,
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> ImportPlan:
    """Import a CSV/XLSX file of devices into ``agency``, or preview it with ``dry_run``.

    A dry run returns the plan (counts and every error) and writes nothing. A real import
    raises ``ImportRejected`` (nothing written) if any row is bad; otherwise it writes every
    create and update in one transaction, adds a ``DeviceStatusChange`` for each new device
    and each status that changes, and records exactly one audit record (action "import").
    Idempotent: the same file again finds every row unchanged and writes no device.
    """
    now = now or timezone.now()
    if dry_run:
        plan = plan_import(agency=agency, data=data, filename=filename)
        plan.dry_run = True
        return plan
    try:
        with transaction.atomic():
            # Validating inside the transaction means the plan written is the plan checked.
            plan = plan_import(agency=agency, data=data, filename=filename)
            plan.dry_run = False
            if not plan.is_valid:
                raise ImportRejected(plan)
            _write(plan, agency=agency, actor=actor, now=now)
            plan.written = True
            entry = audit.record(
                actor=actor,
                action="import",
                object_type="device",
                object_id="",
                object_repr=filename[:200],
                agency_id=agency.pk,
                after=_audit_after(plan),
                message=f"Imported {filename} into {agency.slug}: {plan.summary()}",
                remote_addr=remote_addr,
            )
            plan.audit_id = entry.pk
        _refresh_statistics(plan)
    except IntegrityError as exc:
        # Another change landed between validation and write (two imports at once).
        raise InvalidInput(
            "The inventory changed while this file was being imported, so nothing was "
            f"imported. Run the import again. ({exc.__class__.__name__})",
            field="file",
        ) from exc
    return plan


def _refresh_statistics(plan: ImportPlan) -> None:
    """After a large import on PostgreSQL, refresh the planner's statistics at once.

    Autovacuum gets there eventually, but until it does the inventory list plans against a
    table that looked empty and may sort the whole table (seen: 100 ms instead of 3 ms).
    """
    if connection.vendor == "postgresql" and plan.created + plan.updated >= ANALYZE_AFTER_ROWS:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Device._meta.db_table}")


def _write(plan: ImportPlan, *, agency: Agency, actor: User | None, now: datetime) -> None:
    actor_id = actor.pk if actor is not None and actor.pk else None
    creates = [c for c in plan.changes if c.action == "create"]
    updates = [c for c in plan.changes if c.action == "update"]
    history = _create_devices(creates, agency_id=agency.pk, actor_id=actor_id, now=now)
    history += _update_devices(updates, actor_id=actor_id, now=now)
    _insert(DeviceStatusChange, history)


def _create_devices(
    creates: list[RowChange], *, agency_id: int, actor_id: int | None, now: datetime
) -> list[DeviceStatusChange]:
    """Insert the new devices; returns the first lifecycle entry of each, to be inserted."""
    new_devices = [
        Device(
            agency_id=agency_id,
            manufacturer=c.manufacturer,
            serial=c.serial,
            status_changed_at=now,
            created_at=now,
            updated_at=now,
            **c.values,
        )
        for c in creates
    ]
    _insert(Device, new_devices)
    if new_devices and new_devices[0].pk is None:
        # COPY returns no ids: every device of this import carries its created_at.
        rows = Device.objects.filter(agency_id=agency_id, created_at=now).values_list(
            "manufacturer", "serial", "id"
        )
        ids = {(manufacturer, serial): pk for manufacturer, serial, pk in rows}
        for device in new_devices:
            device.pk = ids[(device.manufacturer, device.serial)]
    return [
        DeviceStatusChange(
            device_id=device.pk,
            from_status="",
            to_status=device.status,
            changed_at=now,
            changed_by_id=actor_id,
        )
        for device in new_devices
    ]


def _update_devices(
    updates: list[RowChange], *, actor_id: int | None, now: datetime
) -> list[DeviceStatusChange]:
    """Write the changed fields; returns a lifecycle entry per status change, to be inserted."""
    history: list[DeviceStatusChange] = []
    # Rows that change the same fields are written together, so each UPDATE sets only those.
    groups: dict[tuple[str, ...], list[Device]] = {}
    for c in updates:
        assert c.device_id is not None  # the plan found the device it updates
        fields = tuple(f for f in WRITABLE_FIELDS if f in c.values)
        device = Device(pk=c.device_id, updated_at=now, **c.values)
        if "status" in c.values:
            device.status_changed_at = now
            fields = (*fields, "status_changed_at")
            history.append(
                DeviceStatusChange(
                    device_id=c.device_id,
                    from_status=c.before["status"],
                    to_status=c.values["status"],
                    changed_at=now,
                    changed_by_id=actor_id,
                )
            )
        groups.setdefault((*fields, "updated_at"), []).append(device)
    for fields, devices in groups.items():
        Device.objects.bulk_update(devices, list(fields), batch_size=UPDATE_BATCH)
    return history


def _insert(model: type[M], objects: list[M]) -> None:
    """Insert new rows: binary COPY on PostgreSQL (`config.bulk`, several times faster than
    ``bulk_create``), ``bulk_create`` elsewhere. With COPY the objects get no primary keys."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects, batch_size=CREATE_BATCH)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # A concrete field always has a column; Field.column is Optional only for the others.
    columns = [cast(str, f.column) for f in fields]
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] for obj in objects
    ]
    bulk.copy_rows(
        table=model._meta.db_table,
        columns=columns,
        types=bulk.copy_types(model, columns),
        rows=rows,
    )


def _audit_after(plan: ImportPlan) -> dict[str, Any]:
    changes = [
        {
            "row": c.row,
            "serial": c.serial,
            "manufacturer": c.manufacturer,
            "action": c.action,
            "before": c.before or None,
            "after": c.values,
        }
        for c in plan.changes
        if c.action != "unchanged"
    ]
    return {
        "file": plan.filename,
        "rows": plan.rows,
        "created": plan.created,
        "updated": plan.updated,
        "unchanged": plan.unchanged,
        "ignored_columns": plan.ignored_columns,
        "changes": changes[:AUDIT_CHANGES_KEPT],
        "changes_truncated": len(changes) > AUDIT_CHANGES_KEPT,
    }


def plan_to_dict(plan: ImportPlan, *, changes_limit: int = 0) -> dict[str, Any]:
    """The plan as JSON-safe data for the API, the page and the command."""
    return {
        "file": plan.filename,
        "dry_run": plan.dry_run,
        "imported": plan.written,
        "is_valid": plan.is_valid,
        "rows": plan.rows,
        "created": plan.created,
        "updated": plan.updated,
        "unchanged": plan.unchanged,
        "ignored_columns": plan.ignored_columns,
        "notes": plan.notes,
        "errors": [e.as_dict() for e in plan.errors],
        "changes": [
            {
                "row": c.row,
                "serial": c.serial,
                "manufacturer": c.manufacturer,
                "action": c.action,
                "changed": [COLUMN_FOR_ATTR[f] for f in WRITABLE_FIELDS if f in c.before],
            }
            for c in plan.changes
            if c.action != "unchanged"
        ][:changes_limit],
    }
