"""Asset labels as a PDF: label rows in, PDF bytes out (pure: no database, no request).

Two stocks:

* ``avery5160``: Avery 5160 / 8160 address labels, 30 to a US-letter sheet (3 columns of
  10, each 2 5/8" × 1").
* ``single``: one 62 × 29 mm label per page, the size of the common label printers'
  continuous and die-cut rolls.

Each label carries the asset tag in a QR code (reportlab's own barcode support, no other
library), and as text with the serial and the agency. A device without an asset tag gets its
serial in the QR code, so every label scans to something the scan box finds. Output is
byte-for-byte the same for the same rows (reportlab's invariant mode), so a label sheet can
be compared or cached.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch, mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

MAX_LABELS = 1_000
STOCKS: dict[str, str] = {
    "avery5160": "Avery 5160 (30 per letter sheet)",
    "single": "Single label 62 × 29 mm (label printer)",
}


@dataclass(frozen=True)
class LabelRow:
    """What one label shows."""

    asset_tag: str
    serial: str
    agency: str

    @property
    def code(self) -> str:
        """The text the QR code holds: the asset tag, or the serial when there is none."""
        return self.asset_tag or self.serial


@dataclass(frozen=True)
class _Layout:
    page: tuple[float, float]
    columns: int
    rows: int
    width: float
    height: float
    left: float  # page edge to the first label
    top: float
    pitch_x: float  # one label's left edge to the next one's
    pitch_y: float
    padding: float


# Avery's template: 3/16" side margins, 1/2" top margin, 1/8" between columns, none between rows.
_LAYOUTS = {
    "avery5160": _Layout(
        page=letter,
        columns=3,
        rows=10,
        width=2.625 * inch,
        height=1 * inch,
        left=0.1875 * inch,
        top=0.5 * inch,
        pitch_x=2.75 * inch,
        pitch_y=1 * inch,
        padding=0.08 * inch,
    ),
    "single": _Layout(
        page=(62 * mm, 29 * mm),
        columns=1,
        rows=1,
        width=62 * mm,
        height=29 * mm,
        left=0,
        top=0,
        pitch_x=62 * mm,
        pitch_y=29 * mm,
        padding=2 * mm,
    ),
}


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` points (a long agency name, say)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_label(canvas: Canvas, row: LabelRow, x: float, y: float, layout: _Layout) -> None:
    """One label with its lower-left corner at (x, y)."""
    pad = layout.padding
    side = layout.height - 2 * pad
    # The widget draws the code with its own quiet zone (border) inside its bounds; it is
    # scaled to a square of ``side`` points.
    widget = QrCodeWidget(row.code, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(
        side, side, transform=[side / (right - left), 0, 0, side / (top - bottom), 0, 0]
    )
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x + pad, y + pad)
    text_x = x + pad + side + pad
    text_width = layout.width - (text_x - x) - pad
    lines = (
        ("Helvetica-Bold", 11, row.asset_tag or row.serial),
        ("Helvetica", 8, f"S/N {row.serial}"),
        ("Helvetica", 7, row.agency),
    )
    baseline = y + layout.height - pad - 11
    for font, size, text in lines:
        canvas.setFont(font, size)
        canvas.drawString(text_x, baseline, _fit(text, font, size, text_width))
        baseline -= size + 4


def render_labels(rows: list[LabelRow], *, stock: str) -> bytes:
    """The PDF of one label per row on ``stock`` (a key of STOCKS), in the rows' order.

    Raises ValueError for an unknown stock or an empty list: the caller checks both first.
    """
    if stock not in _LAYOUTS:
        raise ValueError(f"unknown label stock {stock!r}")
    if not rows:
        raise ValueError("no labels to print")
    layout = _LAYOUTS[stock]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=layout.page, invariant=True)
    canvas.setTitle("Asset labels")
    per_page = layout.columns * layout.rows
    page_height = layout.page[1]
    for index, row in enumerate(rows):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        column, line = slot % layout.columns, slot // layout.columns
        x = layout.left + column * layout.pitch_x
        y = page_height - layout.top - (line + 1) * layout.pitch_y
        _draw_label(canvas, row, x, y, layout)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
