"""How a page carries a plotly figure: a ``<div>`` and the figure's JSON in a data block.

``fig.to_html`` would emit an inline ``<script>`` calling ``Plotly.newPlot``, which the
Content-Security-Policy forbids. Here the figure travels as ``<script type="application/json">``,
which browsers never run (so the policy does not block it), and ``static/js/charts.js`` draws
every such block with the same call, on page load and whenever HTMX swaps one in. The div
names its block in ``data-plotly``; that attribute is the contract between the two.

Each figure also carries its numbers as a table, folded in a ``<details>`` under the chart:
the text alternative a screen reader, a keyboard or a printout can use (WCAG 1.1.1), written
here from the figure's own traces so it can never disagree with the picture. Long series are
cut at ``MAX_TABLE_ROWS`` and say so; the API has the full data.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import plotly.graph_objects as go
from django.utils.html import escape

MAX_TABLE_ROWS = 100

# As Django's json_script: a "</script>" inside a string would otherwise end the block.
_JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def embed_figure(
    fig: go.Figure, *, div_id: str, config: dict[str, object], height: str | None = None
) -> str:
    """The HTML fragment for one figure; plotly.js itself is loaded once by the page (pure)."""
    height = height or (f"{fig.layout.height}px" if fig.layout.height else "100%")
    # plotly's own JSON encoder (fig.to_json), as to_html uses: numpy arrays go as typed arrays.
    spec = f'{{"figure": {fig.to_json()}, "config": {json.dumps(config)}}}'
    return (
        f'<div id="{div_id}" class="plotly-figure" data-plotly="{div_id}-data" '
        f'style="height:{height}; width:100%;"></div>'
        f'<script type="application/json" id="{div_id}-data">'
        f"{spec.translate(_JSON_SCRIPT_ESCAPES)}</script>"
        f"{figure_table(fig)}"
    )


def figure_table(fig: go.Figure) -> str:
    """The figure's numbers as a folded HTML table: a row per category (or time), a column per
    trace; empty when the figure has no data (pure)."""
    columns, rows = _table_cells(fig)
    if not rows:
        return ""
    title = _text(fig.layout.title.text) or "Chart"
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    body = "".join(
        f'<tr><th scope="row">{escape(key)}</th>'
        + "".join(f"<td>{escape(v)}</td>" for v in values)
        + "</tr>"
        for key, values in list(rows.items())[:MAX_TABLE_ROWS]
    )
    more = len(rows) - MAX_TABLE_ROWS
    note = f" (the first {MAX_TABLE_ROWS} of {len(rows)} rows)" if more > 0 else ""
    return (
        f'<details class="chart-data"><summary>{escape(title)}: the data as a table</summary>'
        f'<div class="table-wrap" tabindex="0" role="region" '
        f'aria-label="{escape(title)}: data"><table class="small"><caption>{escape(title)}{note}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></details>"
    )


def _table_cells(fig: go.Figure) -> tuple[list[str], dict[str, list[str]]]:
    """Column headings and, per category, one cell per trace ("" where a trace has none)."""
    traces = [t for t in fig.data if getattr(t, "x", None) is not None]
    axis = _text(fig.layout.xaxis.title.text) or "Category"
    columns = [axis] + [_text(t.name) or f"Series {i + 1}" for i, t in enumerate(traces)]
    rows: dict[str, list[str]] = {}
    for i, trace in enumerate(traces):
        keys, values = trace.x, trace.y
        if getattr(trace, "orientation", None) == "h":  # horizontal bars: categories on y
            keys, values = trace.y, trace.x
            columns[0] = _text(fig.layout.yaxis.title.text) or "Category"
        for key, value in zip(_values(keys), _values(values), strict=False):
            rows.setdefault(key, [""] * len(traces))[i] = value
    return columns, rows


def _values(series: object) -> list[str]:
    if series is None:
        return []
    return [_text(v) for v in series]  # type: ignore[attr-defined]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if value == value else ""  # NaN: no reading
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[s]").item()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
