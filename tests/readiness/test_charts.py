"""Chart builders: plain frames in, figures out; colour-blind-safe colours, no CDN, no geo."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from readiness import charts


def _trend() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": [date(2026, 11, 1), date(2026, 11, 2)],
            "ready_pct": [61.5, 64.0],
            "coverage_pct": [90.0, 91.0],
        }
    )


def test_trend_figure_plots_ready_and_coverage_per_day():
    fig = charts.trend_figure(_trend())
    names = [t.name for t in fig.data]
    assert names == ["Ready %", "Telemetry coverage %"]
    assert list(fig.data[0].y) == [61.5, 64.0]
    assert fig.data[0].line.color == charts.OKABE_ITO["blue"]
    assert tuple(fig.layout.yaxis.range) == (0, 100)


def test_readiness_bar_lists_lowest_groups_first_and_labels_each_bar():
    groups = pd.DataFrame(
        {"agency": ["A", "B", "C"], "ready_pct": [80.0, 20.0, 50.0], "devices": [10, 5, 2]}
    )
    fig = charts.readiness_bar_figure(groups, label="agency", title="By agency", limit=2)
    assert list(fig.data[0].y) == ["B", "C"]
    assert list(fig.data[0].text) == ["20.0%", "50.0%"]


def test_failing_requirements_leaves_out_requirements_nobody_fails():
    reqs = pd.DataFrame({"code": ["R1", "R2", "R3"], "title": ["a", "b", "c"], "failed": [3, 0, 9]})
    fig = charts.failing_requirements_figure(reqs)
    assert list(fig.data[0].y) == ["R3", "R1"]


def test_health_colours_follow_the_level_not_the_position():
    health = pd.DataFrame(
        {"level": ["offline", "online"], "label": ["Offline", "Online"], "devices": [2, 8]}
    )
    fig = charts.health_figure(health)
    assert list(fig.data[0].marker.color) == [
        charts.HEALTH_COLOURS["offline"],
        charts.HEALTH_COLOURS["online"],
    ]


def test_every_palette_colour_is_an_okabe_ito_colour():
    allowed = set(charts.OKABE_ITO.values())
    for palette in (
        charts.SERIES,
        charts.HEALTH_COLOURS.values(),
        charts.FIRSTNET_COLOURS.values(),
        charts.RESULT_COLOURS.values(),
    ):
        assert set(palette) <= allowed


def test_device_mix_stacks_one_trace_per_network():
    mix = pd.DataFrame(
        {
            "kind_label": ["Body camera", "Modem", "Modem"],
            "network_label": ["None", "FirstNet", "Commercial"],
            "devices": [5, 3, 1],
        }
    )
    fig = charts.device_mix_figure(mix)
    assert [t.name for t in fig.data] == ["None", "FirstNet", "Commercial"]
    assert fig.layout.barmode == "stack"


def test_participation_timeline_stacks_statuses_with_their_labels():
    timeline = pd.DataFrame(
        {"date": [date(2020, 1, 1)] * 2, "status": ["subscribed", "declined"], "agencies": [3, 1]}
    )
    fig = charts.participation_timeline_figure(
        timeline, labels={"subscribed": "Subscribed", "declined": "Declined"}
    )
    assert [t.name for t in fig.data] == ["Subscribed", "Declined"]
    assert fig.data[1].line.color == charts.FIRSTNET_COLOURS["declined"]


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        (lambda: charts.trend_figure(pd.DataFrame()), "snapshot_readiness"),
        (
            lambda: charts.health_figure(pd.DataFrame(columns=["level", "label", "devices"])),
            "register devices",
        ),
        (lambda: charts.remediation_figure(pd.DataFrame()), "Nothing to remediate"),
    ],
)
def test_empty_data_gives_a_figure_that_says_what_to_do(builder, message):
    fig = builder()
    assert not fig.data
    assert message in fig.layout.annotations[0].text


def test_rendered_html_loads_nothing_from_outside_and_has_no_logo_link():
    html = charts.render(charts.trend_figure(_trend()), div_id="trend")
    assert 'id="trend"' in html
    assert "cdn" not in html.lower()
    assert "https://" not in html
    assert '"displaylogo": false' in html
    assert "<script src" not in html  # plotly.js comes once, from the page's own static file


def test_no_geo_or_map_traces_anywhere():
    # A geo trace fetches topojson from a CDN at render time: the product must never use one.
    import inspect

    source = inspect.getsource(charts)
    for forbidden in ("Choropleth", "Scattergeo", "Scattermap", "Densitymap", "topojson_url"):
        assert forbidden not in source.replace("geo traces", "")
