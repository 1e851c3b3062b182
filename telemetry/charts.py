"""Plotly figures of a device's telemetry. Pure: a DataFrame in, a figure (or its HTML) out.

plotly.js is never inlined or fetched from a CDN: `figure_html` leaves it out and
static/js/charts.js loads the copy served from ``static/vendor/plotly`` when a page needs it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from config.figures import embed_figure
from telemetry.health import Thresholds

# Okabe-Ito colours, as in app.css: readable for colour-blind people.
BATTERY, STORAGE, SIGNAL = "#0072b2", "#e69f00", "#009e73"
# More points than this are averaged into time buckets: the chart stays light to send.
MAX_POINTS = 700


def downsample(frame: pd.DataFrame, *, start: datetime, end: datetime) -> pd.DataFrame:
    """Mean per bucket when there are more than ``MAX_POINTS`` readings; else unchanged."""
    if len(frame) <= MAX_POINTS:
        return frame
    # Buckets align to the epoch, so a span of N buckets can touch N + 1: leave room for it.
    seconds = max(60, math.ceil((end - start).total_seconds() / (MAX_POINTS - 1)))
    resampled = frame.set_index("ts").resample(f"{seconds}s").mean(numeric_only=True)
    return resampled.dropna(how="all").reset_index()


def device_telemetry_figure(
    frame: pd.DataFrame,
    *,
    now: datetime,
    days: int = 7,
    thresholds: Thresholds | None = None,
    span: timedelta | None = None,
    label: str | None = None,
) -> go.Figure:
    """Battery and storage (%, left axis) and signal (dBm, right axis) over the last ``days``
    (or ``span``, titled ``label``, e.g. "last 24 hours").

    ``frame`` has columns ts (aware), battery_pct, storage_pct, rsrp_dbm; missing values
    leave gaps. Threshold lines show where each measure becomes a problem.
    """
    thresholds = thresholds or Thresholds()
    start = now - (span or timedelta(days=days))
    label = label or f"last {days} days"
    data = downsample(frame, start=start, end=now) if len(frame) else frame
    fig = go.Figure()
    if len(data):
        fig.add_trace(
            go.Scatter(
                x=data["ts"], y=data["battery_pct"], name="Battery %", line={"color": BATTERY}
            )
        )
        fig.add_trace(
            go.Scatter(
                x=data["ts"], y=data["storage_pct"], name="Storage used %", line={"color": STORAGE}
            )
        )
        fig.add_trace(
            go.Scatter(
                x=data["ts"],
                y=data["rsrp_dbm"],
                name="Signal (RSRP dBm)",
                yaxis="y2",
                line={"color": SIGNAL, "dash": "dot"},
            )
        )
    fig.add_hline(y=thresholds.battery_min_pct, line={"color": BATTERY, "dash": "dash", "width": 1})
    fig.add_hline(y=thresholds.storage_max_pct, line={"color": STORAGE, "dash": "dash", "width": 1})
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 60, "t": 30, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        xaxis={"range": [start, now], "title": None},
        yaxis={"range": [0, 100], "title": "%"},
        yaxis2={"overlaying": "y", "side": "right", "range": [-140, -44], "title": "dBm"},
        title={
            "text": label.capitalize() if len(data) else f"No readings in the {label}",
            "x": 0,
        },
        plot_bgcolor="#fff",
        paper_bgcolor="#fff",
    )
    return fig


def figure_html(fig: go.Figure, *, div_id: str) -> str:
    """The figure as an HTML fragment drawn by static/js/charts.js (see config.figures)."""
    return embed_figure(fig, div_id=div_id, config={"displaylogo": False, "responsive": True})
