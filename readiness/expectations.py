"""Federal expectations maintained in the product: one writer for the page, the API and files.

Contract:

- An expectation version is checked by one strict model (``ExpectationTable``): metric, version,
  target (a share 0-1), due date (``target_by``), effective date, scope ("state" or
  "cabinet:<slug>"), source citation, optional link and change note, and the "illustrative"
  flag for targets without a public source.
- ``record_expectation`` writes one version and links it to the version of the same metric it
  supersedes (the latest one effective before it). Recording the same version again with the
  same values changes nothing (idempotent); with other values it is refused (409): a
  recorded version is corrected by recording a new version.
- ``load_expectation_file`` reads a TOML (``[[expectation]]`` tables) or CSV file (a header
  row naming the fields). Every row is checked before anything is written; a bad file raises
  ``ExpectationFileError`` listing each problem as ``file: line N: problem`` and changes nothing.
- Every new version is in the audit log. The participation page and the briefings read
  whatever is recorded (``readiness.participation``); illustrative rows stay labelled there.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from config.errors import Conflict, InvalidInput
from devices import audit
from devices.models import AuditRecord, User
from readiness.loader import describe_problem
from readiness.models import FederalExpectation, ParticipationMetric

_SCOPE = r"^(state|cabinet:[a-z0-9][a-z0-9-]*)$"
_STORED = (
    "metric",
    "version",
    "target_value",
    "target_by",
    "effective_from",
    "source",
    "source_url",
    "change_note",
    "is_illustrative",
    "scope",
)


class ExpectationTable(BaseModel):
    """One expectation version as a file, the API or the page gives it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metric: Annotated[
        str, StringConstraints(pattern="^(" + "|".join(ParticipationMetric.values) + ")$")
    ]
    version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    target_value: float = Field(ge=0, le=1)
    target_by: date
    effective_from: date
    source: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    source_url: Annotated[str, StringConstraints(max_length=500)] = ""
    change_note: Annotated[str, StringConstraints(max_length=500)] = ""
    is_illustrative: bool = False
    scope: Annotated[str, StringConstraints(pattern=_SCOPE)] = "state"


class ExpectationFileError(ValueError):
    """A bad expectation file: ``problems`` lists each as ``file: line N: problem``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "expectation file refused, nothing recorded:\n" + "\n".join(f"- {p}" for p in problems)
        )


def _word(error: Any) -> str:
    loc = error["loc"]
    if error["type"] == "string_pattern_mismatch" and loc and loc[0] == "metric":
        return f"metric {error['input']!r} must be one of {', '.join(ParticipationMetric.values)}"
    if error["type"] == "string_pattern_mismatch" and loc and loc[0] == "scope":
        return f"scope {error['input']!r} must be 'state' or 'cabinet:<slug>'"
    return describe_problem(error, ExpectationTable)


def check(
    data: dict[str, Any], *, strict: bool = True
) -> tuple[ExpectationTable | None, list[tuple[str, str]]]:
    """(the checked table, [(field, problem)]); ``strict=False`` for text sources (CSV, forms)."""
    try:
        return ExpectationTable.model_validate(data, strict=strict), []
    except ValidationError as exc:
        return None, [(str(e["loc"][0]) if e["loc"] else "", _word(e)) for e in exc.errors()]


def checked(data: dict[str, Any], *, strict: bool = True) -> ExpectationTable:
    table, problems = check(data, strict=strict)
    if table is None:
        raise InvalidInput(
            "The expectation was not recorded: " + "; ".join(p for _, p in problems),
            errors=[{"field": name or None, "message": p} for name, p in problems],
        )
    return table


def _same(row: FederalExpectation, table: ExpectationTable) -> bool:
    return all(getattr(row, name) == value for name, value in table.model_dump().items())


def _existing_conflict(table: ExpectationTable) -> FederalExpectation | None:
    """The recorded row of this metric and version: None if new; refused if it differs."""
    row = FederalExpectation.objects.filter(metric=table.metric, version=table.version).first()
    if row is not None and not _same(row, table):
        raise Conflict(
            f"Version {table.version} of {table.metric} is already recorded with other values; "
            "record a new version instead.",
            field="version",
        )
    return row


def record_expectation(
    *, table: ExpectationTable, actor: User | None, request: HttpRequest | None = None
) -> tuple[FederalExpectation, bool]:
    """Record one checked expectation version: (the row, whether it was new)."""
    with transaction.atomic():
        existing = _existing_conflict(table)
        if existing is not None:
            return existing, False
        supersedes = (
            FederalExpectation.objects.filter(
                metric=table.metric, effective_from__lt=table.effective_from
            )
            .order_by("-effective_from", "-id")
            .first()
        )
        row = FederalExpectation.objects.create(**table.model_dump(), supersedes=supersedes)
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=row,
            object_type="federalexpectation",
            after=audit.snapshot(row),
            message=f"federal expectation {row.metric} version {row.version} recorded",
            request=request,
        )
    return row, True


# --- files ----------------------------------------------------------------------------------------


def _toml_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    data = tomllib.loads(text)
    unknown = sorted(set(data) - {"expectation"})
    if unknown:
        raise ValueError(f"unknown table {unknown[0]!r} (allowed: [[expectation]])")
    tables = data.get("expectation")
    if not isinstance(tables, list) or not tables:
        raise ValueError("needs at least one [[expectation]] table")
    # TOML parsers keep no line numbers: the n-th table starts at the n-th header line.
    headers = [
        i for i, line in enumerate(text.splitlines(), 1) if line.strip() == "[[expectation]]"
    ]
    return [
        (headers[n] if n < len(headers) else 1, t if isinstance(t, dict) else {"": t})
        for n, t in enumerate(tables)
    ]


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for row in reader:
        # Empty cells are absent (the defaults apply); the line is where the row ends.
        rows.append((reader.line_num, {k: v for k, v in row.items() if k and v not in ("", None)}))
    if not rows:
        raise ValueError("needs a header row and at least one expectation row")
    return rows


def read_expectation_file(path: Path) -> list[tuple[int, ExpectationTable]]:
    """Every expectation of a TOML or CSV file, checked; ExpectationFileError lists the problems."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".csv":
            rows, strict = _csv_rows(text), False
        elif path.suffix.lower() == ".toml":
            rows, strict = _toml_rows(text), True
        else:
            raise ExpectationFileError([f"{name}: line 1: must be a .toml or .csv file"])
    except OSError as exc:
        raise ExpectationFileError([f"{name}: line 1: cannot be read ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ExpectationFileError([f"{name}: line 1: is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        # "Expected ... (at line 3, column 7)": the parser words the line into its message.
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "syntax error"
        raise ExpectationFileError(
            [f"{name}: line {where.group(1) if where else 1}: not valid TOML ({problem})"]
        ) from None
    except ValueError as exc:
        raise ExpectationFileError([f"{name}: line 1: {exc}"]) from None
    problems: list[str] = []
    tables: list[tuple[int, ExpectationTable]] = []
    seen: dict[tuple[str, str], int] = {}
    for line, data in rows:
        table, found = check(data, strict=strict)
        problems += [f"{name}: line {line}: {p}" for _, p in found]
        if table is None:
            continue
        ident = (table.metric, table.version)
        if ident in seen:
            problems.append(
                f"{name}: line {line}: {table.metric} version {table.version} is also on line "
                f"{seen[ident]}"
            )
        seen[ident] = line
        try:
            _existing_conflict(table)
        except Conflict as exc:
            problems.append(f"{name}: line {line}: {exc.message}")
        tables.append((line, table))
    if problems:
        raise ExpectationFileError(problems)
    return tables


def load_expectation_file(path: Path, *, actor: User | None = None) -> tuple[int, int]:
    """Record every expectation of the file, all or nothing: (new, unchanged)."""
    tables = [t for _, t in read_expectation_file(path)]
    new = 0
    with transaction.atomic():
        # Each version is recorded in effective order, so each supersedes the one before.
        for table in sorted(tables, key=lambda t: (t.metric, t.effective_from)):
            new += record_expectation(table=table, actor=actor)[1]
    return new, len(tables) - new
