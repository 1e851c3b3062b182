"""In a real browser at 1024, 1400 and 1920 pixels wide: every plot on the overview, agency,
participation and portfolio pages fits inside its card, also after the window is resized."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import log_in, wait_for_charts
from tests.factories import UserFactory
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1024, 1400, 1920)
PAGES = (
    "/dashboard/",
    "/dashboard/agencies/ksp/",
    "/dashboard/participation/",
    "/dashboard/portfolio/justice/",
)

# For each drawn plot: how far its drawing (plotly's SVG) reaches past its card, in pixels.
OVERFLOWS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((plot) => {
  const card = plot.closest('.card') || plot.parentElement;
  const svg = plot.querySelector('svg.main-svg');
  const box = card.getBoundingClientRect();
  const style = getComputedStyle(card);
  const inner = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  return {
    id: plot.id,
    svg: Math.round(svg.getBoundingClientRect().width),
    card: Math.round(inner - box.left - parseFloat(style.paddingLeft)),
    over: Math.round(svg.getBoundingClientRect().right - inner),
  };
})"""


@pytest.fixture
def scenario(agency_a, agency_b):
    staff = UserFactory(username="cio-analyst", role="state_staff", agency=None)
    return build_scenario(agency_a, agency_b, brm=staff, snapshot_days=3)


def plots_that_overflow(page) -> list[dict]:
    return [p for p in page.evaluate(OVERFLOWS) if p["over"] > 1]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_plot_is_wider_than_its_card(scenario, browser_page, live_server, width):
    page, watched = browser_page
    page.set_viewport_size({"width": width, "height": 1000})
    log_in(page, live_server, "cio-analyst")
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        wait_for_charts(page, path)
        assert page.locator(".js-plotly-plot").count() >= 1, path
        assert plots_that_overflow(page) == [], (path, width)
        # The window changes width after drawing: the plots follow their cards.
        other = 1024 if width != 1024 else 1920
        page.set_viewport_size({"width": other, "height": 1000})
        page.wait_for_timeout(400)
        assert plots_that_overflow(page) == [], (path, width, "resized to", other)
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(400)
        assert plots_that_overflow(page) == [], (path, width, "resized back")
        # A card narrows with no window resize (the grid reflows, a scrollbar appears).
        page.evaluate("() => { document.getElementById('main').style.maxWidth = '900px'; }")
        page.wait_for_timeout(400)
        assert plots_that_overflow(page) == [], (path, width, "content narrowed")
    watched.assert_clean()
