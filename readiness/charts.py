"""Plotly figures for the dashboards: plain DataFrames in, ``go.Figure`` out.

Pure: nothing here reads the database or the clock. Colours come from the Okabe-Ito
palette (the one ``static/css/app.css`` uses), which stays distinguishable for the common
forms of colour blindness; every series also carries a text label or a legend entry, so
colour is never the only cue. Only cartesian traces are used: geo traces fetch topojson
from a CDN at render time, and the product runs air-gapped.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from config.figures import embed_figure

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
# The order series take when nothing more specific applies.
SERIES: list[str] = [
    OKABE_ITO[k]
    for k in ("blue", "orange", "green", "vermillion", "sky_blue", "purple", "yellow", "black")
]

HEALTH_COLOURS: dict[str, str] = {
    "online": OKABE_ITO["blue"],
    "late": OKABE_ITO["orange"],
    "offline": OKABE_ITO["vermillion"],
    "unreachable": OKABE_ITO["purple"],
    "maintenance": OKABE_ITO["sky_blue"],
    "never_seen": OKABE_ITO["grey"],
}
FIRSTNET_COLOURS: dict[str, str] = {
    "subscribed": OKABE_ITO["blue"],
    "pilot": OKABE_ITO["sky_blue"],
    "evaluating": OKABE_ITO["orange"],
    "not_engaged": OKABE_ITO["grey"],
    "declined": OKABE_ITO["vermillion"],
}
RESULT_COLOURS: dict[str, str] = {
    "pass": OKABE_ITO["blue"],
    "waived": OKABE_ITO["orange"],
    "fail": OKABE_ITO["vermillion"],
    "na": OKABE_ITO["grey"],
}

PLOTLY_CONFIG: dict[str, object] = {
    "displaylogo": False,
    "responsive": True,
    # The image download is drawn in the browser; nothing leaves the server.
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


def _layout(fig: go.Figure, *, title: str, height: int = 320, **extra: object) -> go.Figure:
    # template "none" keeps each embedded figure small (the default template is ~8 KB of JSON).
    # No width: autosize takes the card's, and static/js/charts.js redraws the plot whenever
    # the card changes width (a window from 1024 to 1920 pixels, a sidebar, a font loading).
    fig.update_layout(
        template="none",
        autosize=True,
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 60, "r": 20, "t": 48, "b": 48},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
        **extra,
    )
    fig.update_xaxes(showgrid=False, linecolor="#d9dee5")
    fig.update_yaxes(gridcolor="#eef2f6", zeroline=False)
    return fig


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 14, "color": "#5b6675"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title=title, height=200)


def render(fig: go.Figure, *, div_id: str | None = None) -> str:
    """The HTML fragment for one figure, drawn by static/js/charts.js (see config.figures)."""
    return embed_figure(
        fig,
        div_id=div_id or f"chart-{uuid.uuid4().hex[:12]}",
        config=PLOTLY_CONFIG,
        height=f"{fig.layout.height or 320}px",
    )


def trend_figure(trend: pd.DataFrame, *, title: str = "Readiness trend") -> go.Figure:
    """Ready % (and telemetry coverage %, if present) per day. Columns: date, ready_pct[, coverage_pct]."""
    if trend.empty:
        return _empty(title, "No snapshots yet: run `manage.py snapshot_readiness` to record one.")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=trend["date"],
            y=trend["ready_pct"],
            mode="lines+markers",
            name="Ready %",
            line={"color": OKABE_ITO["blue"], "width": 3},
            marker={"symbol": "circle"},
        )
    )
    if "coverage_pct" in trend:
        fig.add_trace(
            go.Scatter(
                x=trend["date"],
                y=trend["coverage_pct"],
                mode="lines",
                name="Telemetry coverage %",
                line={"color": OKABE_ITO["orange"], "dash": "dash"},
            )
        )
    _layout(fig, title=title)
    fig.update_yaxes(range=[0, 100], ticksuffix="%", title_text="%")
    # Daily points: label days, never the hours plotly would otherwise interpolate.
    fig.update_xaxes(type="date", tickformat="%b %d", dtick=86_400_000 * max(1, len(trend) // 8))
    return fig


def readiness_bar_figure(
    groups: pd.DataFrame, *, label: str, title: str, limit: int = 25
) -> go.Figure:
    """Horizontal bars of ready % per group (cabinet, agency, county), lowest first.

    Columns: ``label``, ready_pct, devices.
    """
    if groups.empty:
        return _empty(title, "No devices in this selection.")
    data = groups.sort_values(["ready_pct", label]).head(limit)
    fig = go.Figure(
        go.Bar(
            x=data["ready_pct"],
            y=data[label],
            orientation="h",
            marker_color=OKABE_ITO["blue"],
            text=[f"{v:.1f}%" for v in data["ready_pct"]],
            textposition="auto",
            customdata=data["devices"],
            hovertemplate="%{y}: %{x:.1f}% ready of %{customdata} devices<extra></extra>",
            name="Ready %",
        )
    )
    _layout(fig, title=title, height=max(220, 60 + 26 * len(data)), showlegend=False)
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def failing_requirements_figure(
    reqs: pd.DataFrame, *, title: str = "Requirements failed most", limit: int = 10
) -> go.Figure:
    """Devices failing each requirement, most first. Columns: code, title, failed."""
    if reqs.empty or int(reqs["failed"].sum()) == 0:
        return _empty(title, "No requirement is failing in this selection.")
    data = (
        reqs[reqs["failed"] > 0]
        .sort_values(["failed", "code"], ascending=[False, True])
        .head(limit)
    )
    fig = go.Figure(
        go.Bar(
            x=data["failed"],
            y=data["code"],
            orientation="h",
            marker_color=OKABE_ITO["vermillion"],
            text=data["failed"],
            textposition="auto",
            customdata=data["title"],
            hovertemplate="%{y} %{customdata}: %{x} devices fail<extra></extra>",
            name="Devices failing",
        )
    )
    _layout(fig, title=title, height=max(220, 60 + 28 * len(data)), showlegend=False)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title_text="devices failing")
    return fig


def health_figure(health: pd.DataFrame, *, title: str = "Device health") -> go.Figure:
    """Devices per health level. Columns: level, label, devices."""
    if health.empty or int(health["devices"].sum()) == 0:
        return _empty(title, "No devices yet: register devices or import a spreadsheet.")
    colours = [HEALTH_COLOURS.get(level, OKABE_ITO["grey"]) for level in health["level"]]
    fig = go.Figure(
        go.Bar(
            x=health["label"],
            y=health["devices"],
            marker_color=colours,
            text=health["devices"],
            textposition="auto",
            name="Devices",
        )
    )
    _layout(fig, title=title, showlegend=False)
    fig.update_yaxes(title_text="devices")
    return fig


def device_mix_figure(
    mix: pd.DataFrame, *, title: str = "Device mix by kind and network"
) -> go.Figure:
    """Stacked bars: devices per kind, split by network. Columns: kind_label, network_label, devices."""
    if mix.empty:
        return _empty(title, "No devices yet: register devices or import a spreadsheet.")
    fig = go.Figure()
    networks = list(dict.fromkeys(mix["network_label"]))
    for i, network in enumerate(networks):
        part = mix[mix["network_label"] == network]
        fig.add_trace(
            go.Bar(
                x=part["kind_label"],
                y=part["devices"],
                name=network,
                marker_color=SERIES[i % len(SERIES)],
            )
        )
    _layout(fig, title=title, barmode="stack")
    fig.update_yaxes(title_text="devices")
    return fig


def participation_timeline_figure(
    timeline: pd.DataFrame,
    *,
    labels: dict[str, str],
    title: str = "FirstNet participation over time",
) -> go.Figure:
    """Agencies per FirstNet status at each date (stacked areas). Columns: date, status, agencies."""
    if timeline.empty:
        return _empty(title, "No participation history recorded yet.")
    fig = go.Figure()
    for status in ["subscribed", "pilot", "evaluating", "not_engaged", "declined"]:
        part = timeline[timeline["status"] == status]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["date"],
                y=part["agencies"],
                name=labels.get(status, status),
                stackgroup="one",
                mode="lines",
                line={"color": FIRSTNET_COLOURS.get(status, OKABE_ITO["grey"]), "width": 1},
            )
        )
    _layout(fig, title=title)
    fig.update_yaxes(title_text="agencies")
    return fig


def pass_rate_figure(
    reqs: pd.DataFrame, *, versions: Sequence[str], title: str = "Pass rate per requirement"
) -> go.Figure:
    """Grouped bars: pass % of each requirement in each version. Columns: code, and one per version."""
    if reqs.empty:
        return _empty(title, "This version has no requirements that apply to the selection.")
    fig = go.Figure()
    for i, version in enumerate(versions):
        if version not in reqs:
            continue
        fig.add_trace(
            go.Bar(
                x=reqs["code"],
                y=reqs[version],
                name=f"Version {version}",
                marker_color=SERIES[i % len(SERIES)],
            )
        )
    _layout(fig, title=title, barmode="group")
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    fig.update_xaxes(tickangle=-30, automargin=True)
    return fig


def remediation_figure(
    plan: pd.DataFrame,
    *,
    title: str = "Remediation plan: readiness gained per step",
    limit: int = 10,
) -> go.Figure:
    """Cumulative ready % after each ranked action. Columns: action, ready_pct_after."""
    if plan.empty:
        return _empty(title, "Nothing to remediate: no device newly fails.")
    data = plan.head(limit)
    fig = go.Figure(
        go.Bar(
            x=data["action"],
            y=data["ready_pct_after"],
            marker_color=OKABE_ITO["green"],
            text=[f"{v:.1f}%" for v in data["ready_pct_after"]],
            textposition="auto",
            name="Ready % after the step",
        )
    )
    _layout(fig, title=title, showlegend=False)
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    fig.update_xaxes(tickangle=-20, automargin=True)
    return fig


def participation_share_figure(
    history: pd.DataFrame,
    *,
    title: str = "Agencies engaged and subscribed against the federal targets",
) -> go.Figure:
    """Shares over time with the target in effect at each date as a step line.

    Columns: date, engaged_share, subscribed_share (0-1) and agencies_engaged_target,
    agencies_subscribed_target (0-1 or None).
    """
    if history.empty:
        return _empty(title, "No participation history recorded yet.")
    fig = go.Figure()
    series = [
        ("engaged_share", "Engaged", OKABE_ITO["sky_blue"], "solid"),
        ("subscribed_share", "Subscribed", OKABE_ITO["blue"], "solid"),
        ("agencies_engaged_target", "Engaged: target", OKABE_ITO["orange"], "dot"),
        ("agencies_subscribed_target", "Subscribed: target", OKABE_ITO["vermillion"], "dash"),
    ]
    for column, name, colour, dash in series:
        if column not in history or history[column].isna().all():
            continue
        values = [
            None if v is None or v != v else round(100.0 * float(v), 1) for v in history[column]
        ]
        fig.add_trace(
            go.Scatter(
                x=history["date"],
                y=values,
                name=name,
                mode="lines",
                line={
                    "color": colour,
                    "dash": dash,
                    "width": 2.5 if dash == "solid" else 2,
                    "shape": "hv" if dash != "solid" else "linear",
                },
            )
        )
    _layout(fig, title=title)
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    return fig


def history_to_long(history: pd.DataFrame, statuses: list[str]) -> pd.DataFrame:
    """Wide monthly history (one column per status) to the long form the timeline takes."""
    if history.empty:
        return pd.DataFrame(columns=["date", "status", "agencies"])
    present = [s for s in statuses if s in history]
    return history.melt(
        id_vars=["date"], value_vars=present, var_name="status", value_name="agencies"
    )
