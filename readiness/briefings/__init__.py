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

from readiness.briefings.common import (
    FORMATS,
    BriefingData,
    ChangesSince,
    Headline,
    WhatIf,
    data_hash,
)
from readiness.briefings.pdf import render_pdf
from readiness.briefings.pptx import render_pptx
from readiness.briefings.xlsx import render_xlsx

__all__ = [
    "FORMATS",
    "BriefingData",
    "ChangesSince",
    "Headline",
    "WhatIf",
    "data_hash",
    "render_briefing",
    "render_pdf",
    "render_pptx",
    "render_xlsx",
]


def render_briefing(data: BriefingData, fmt: str) -> bytes:
    """The briefing as ``fmt`` ("pptx", "xlsx" or "pdf") bytes. Pure: no database, no clock."""
    renderers = {"pptx": render_pptx, "xlsx": render_xlsx, "pdf": render_pdf}
    if fmt not in renderers:
        raise ValueError(f"unknown briefing format {fmt!r}: use one of {', '.join(renderers)}")
    return renderers[fmt](data)
