"""The audit log as CSV: streamed, newest first, every cell safe to open in a spreadsheet.

The columns are the API's (`AuditOut`), flattened; before/after are JSON text. Cells a
spreadsheet would run as formulas are neutralised as in the device export
(`devices.exporting.neutralise`): a failed logon's "username" is whatever was typed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from devices.exporting import UTF8_BOM, neutralise
from devices.models import AuditRecord

COLUMNS = (
    "id",
    "at",
    "actor",
    "remote_addr",
    "user_agent",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "agency",
    "before",
    "after",
    "message",
)
_FIELDS = (
    "id",
    "at",
    "actor_name",
    "remote_addr",
    "user_agent",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "agency__slug",
    "before",
    "after",
    "message",
)
_CHUNK = 2000


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, default=str)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    return neutralise(str(value))


def iter_audit_csv(records: QuerySet[AuditRecord]) -> Iterator[str]:
    """The records (already scoped and filtered) as CSV lines, read in chunks."""
    writer = csv.writer(_Echo())
    yield UTF8_BOM + writer.writerow(COLUMNS)
    for values in records.values_list(*_FIELDS).iterator(chunk_size=_CHUNK):
        yield writer.writerow([_cell(v) for v in values])
