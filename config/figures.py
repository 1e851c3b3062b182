"""How a page carries a plotly figure: a ``<div>`` and the figure's JSON in a data block.

``fig.to_html`` would emit an inline ``<script>`` calling ``Plotly.newPlot``, which the
Content-Security-Policy forbids. Here the figure travels as ``<script type="application/json">``,
which browsers never run (so the policy does not block it), and ``static/js/charts.js`` draws
every such block with the same call, on page load and whenever HTMX swaps one in. The div
names its block in ``data-plotly``; that attribute is the contract between the two.
"""

from __future__ import annotations

import json

import plotly.graph_objects as go

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
    )
