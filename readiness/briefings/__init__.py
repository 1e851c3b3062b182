"""Briefings: what one says (`BriefingData`) and how it is rendered (`render_briefing`).

Pure: the briefing data assembler fills a `BriefingData` from the database;
`render_briefing(data, fmt)` turns it into PPTX, XLSX or PDF bytes without touching the
database or the clock, so every format shows the same figures, and `data_hash` fingerprints
exactly those figures. The I/O around it (the export row, the Celery task) is in
`readiness.exports`.

`common` holds the dataclasses, the hash and the shared formatting every format prints
with; `pptx`, `xlsx` and `pdf` hold one renderer each.
"""

from __future__ import annotations

from importlib import import_module

from readiness.briefings.common import (
    FORMATS,
    BriefingData,
    ChangesSince,
    Headline,
    WhatIf,
    data_hash,
)

__all__ = [
    "FORMATS",
    "BriefingData",
    "ChangesSince",
    "Headline",
    "WhatIf",
    "data_hash",
    "render_briefing",
]

# Format -> (module, renderer). The modules load on first use: python-pptx, openpyxl and
# reportlab together take most of a second to import, and every web process imports this
# package (for FORMATS) while only the export worker renders.
_RENDERERS: dict[str, tuple[str, str]] = {
    "pptx": ("readiness.briefings.pptx", "render_pptx"),
    "xlsx": ("readiness.briefings.xlsx", "render_xlsx"),
    "pdf": ("readiness.briefings.pdf", "render_pdf"),
}


def render_briefing(data: BriefingData, fmt: str) -> bytes:
    """The briefing as ``fmt`` ("pptx", "xlsx" or "pdf") bytes. Pure: no database, no clock."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown briefing format {fmt!r}: use one of {', '.join(_RENDERERS)}")
    module, name = _RENDERERS[fmt]
    return getattr(import_module(module), name)(data)
