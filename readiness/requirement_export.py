"""Any stored version of a requirement set as a requirement file (the exchange format).

``export_version(version_id)`` writes the TOML that ``readiness.loader`` reads: loading the
file back gives the same requirements, removals, dates and lineage (the round trip is
tested). Only the few TOML forms the loader's files use are written: tables, arrays of
tables, inline tables for rules, strings, booleans, numbers and dates.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from readiness.models import RequirementSetVersion

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """One value in TOML (a rule as an inline table): what the draft form shows and reads."""
    return _value(value)


def _value(value: Any) -> str:
    # bool before int: a bool is an int to Python, not to TOML.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to a requirement file")


def _table(header: str, fields: dict[str, Any]) -> str:
    lines = [header]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"


def version_document(version: RequirementSetVersion) -> str:
    """The TOML text of ``version``, as ``readiness.loader`` reads it."""
    req_set = version.requirement_set
    parts = [
        _table(
            "[set]",
            {
                "code": req_set.code,
                "name": req_set.name,
                "publisher": req_set.publisher,
                "description": req_set.description or None,
            },
        ),
        _table(
            "[version]",
            {
                "version": version.version,
                "title": version.title or None,
                "status": version.status,
                "effective_on": version.effective_on,
                "published_on": version.published_on,
                "issuing_authority": version.issuing_authority,
                "source_url": version.source_url or None,
                "source_note": version.source_note,
                "supersedes": version.supersedes.version if version.supersedes else None,
            },
        ),
    ]
    for r in version.requirements.order_by("section", "code"):
        parts.append(
            _table(
                "[[requirement]]",
                {
                    "key": r.key,
                    "code": r.code,
                    "section": r.section,
                    "title": r.title,
                    "explanation": r.explanation,
                    "applies_to": sorted(r.applies_to or []),
                    "applies_when": r.applies_when,
                    "severity": r.severity,
                    "weight": r.weight,
                    "due_on": r.due_on,
                    "relation": r.relation,
                    "change_note": r.change_note or None,
                    "rule": r.rule,
                },
            )
        )
    for removal in version.removals.order_by("key"):
        parts.append(_table("[[removed]]", {"key": removal.key, "note": removal.note}))
    return "\n".join(parts)


def export_filename(version: RequirementSetVersion) -> str:
    number = re.sub(r"[^A-Za-z0-9._-]+", "-", version.version)
    return f"{version.requirement_set.code}-{number}.toml"


def export_version(version_id: int) -> tuple[str, str]:
    """(file name, TOML text) of one version, draft or published."""
    version = RequirementSetVersion.objects.select_related("requirement_set", "supersedes").get(
        pk=version_id
    )
    return export_filename(version), version_document(version)
