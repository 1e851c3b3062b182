"""In a real browser: log in, open every dashboard page, change a filter, build and download a
briefing; no page logs a console error or requests anything outside the server."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.e2e.conftest import log_in
from tests.factories import UserFactory
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    """The briefing task runs in a real Celery worker thread on the configured broker."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


@pytest.fixture
def scenario(agency_a, agency_b):
    staff = UserFactory(username="cio-analyst", role="state_staff", agency=None)
    viewer = UserFactory(username="ksp-viewer", role="agency_viewer", agency=agency_a)
    return build_scenario(agency_a, agency_b, brm=staff, snapshot_days=2), staff, viewer


def wait_for_plotly(page, count: int = 1) -> None:
    # Each figure's div gets the "js-plotly-plot" class once plotly.js has drawn it.
    # A function, not a bare expression: Playwright evaluates an expression with eval(),
    # which the site's Content-Security-Policy forbids.
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {count}")


def build_and_download(page, *, fmt: str) -> bytes:
    page.get_by_label("Format", exact=True).select_option(fmt)
    page.get_by_role("button", name="Build briefing").click()
    page.wait_for_url(re.compile(r"/briefings/\d+/$"))
    # The status partial polls every 2 s until the worker has built the file.
    link = page.locator("#download")
    link.wait_for(state="visible", timeout=90_000)
    with page.expect_download() as info:
        link.click()
    return open(info.value.path(), "rb").read()


def test_state_staff_use_every_page_and_take_a_briefing_home(
    scenario, browser_page, live_server, worker
):
    page, watched = browser_page
    log_in(page, live_server, "cio-analyst")
    assert page.url.endswith("/dashboard/")
    wait_for_plotly(page, 4)
    assert page.locator('[data-figure="devices"]').inner_text() == "7"
    assert page.locator('[data-figure="ready-pct"]').inner_text() == "57.1%"

    # The live figures refresh in place (the HTMX partial the 30 s timer fetches).
    before = page.locator("#live time").first.get_attribute("datetime")
    page.evaluate(
        "() => htmx.ajax('GET', document.querySelector('#live').getAttribute('hx-get'),"
        " {target: '#live', swap: 'outerHTML'})"
    )
    page.wait_for_function(
        f"() => document.querySelector('#live time').getAttribute('datetime') !== '{before}'"
    )
    assert page.url.endswith("/dashboard/")  # no full page load

    # A filter narrows every figure.
    page.get_by_label("Cabinet", exact=True).select_option("public-protection")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"cabinet=public-protection"))
    assert page.locator('[data-figure="devices"]').inner_text() == "1"
    assert page.locator('[data-figure="ready-pct"]').inner_text() == "100.0%"

    # The agency table sorts by a column.
    page.goto(f"{live_server.url}/dashboard/")
    page.locator("#agency-table th a", has_text="Ready %").click()
    page.wait_for_url(re.compile(r"sort=ready_pct"))

    for path, text in [
        ("/dashboard/agencies/lex-pd/", "Devices that are not ready"),
        ("/dashboard/requirements/", "Requirement sets"),
        ("/dashboard/requirements/cjis-mobile/", "Requirements across versions"),
        ("/dashboard/participation/", "Actual against each federal expectation"),
        ("/dashboard/portfolio/justice/", "Agencies at a glance"),
    ]:
        page.goto(f"{live_server.url}{path}")
        assert text in page.content(), path
    page.goto(f"{live_server.url}/dashboard/agencies/lex-pd/")
    page.locator("#failing-table").wait_for()
    assert "LEX-NOMDM" in page.locator("#failing-table").inner_text()
    page.goto(f"{live_server.url}/dashboard/requirements/cjis-mobile/whatif/?from=6.0&to=7.0")
    page.locator('[data-figure="ready-after"]').wait_for(timeout=30_000)
    wait_for_plotly(page, 1)

    # A cabinet briefing from the portfolio page, in one click.
    page.goto(f"{live_server.url}/dashboard/portfolio/justice/")
    page.get_by_label("Cabinet briefing as", exact=True).select_option("pdf")
    page.get_by_role("button", name="Build cabinet briefing").click()
    page.locator("#download").wait_for(state="visible", timeout=90_000)
    with page.expect_download() as info:
        page.locator("#download").click()
    pdf = PdfReader(info.value.path())
    assert len(pdf.pages) == 2
    assert "Justice and Public Safety Cabinet" in pdf.pages[0].extract_text()

    # A statewide deck with a what-if, from the briefing form.
    page.goto(f"{live_server.url}/briefings/")
    page.get_by_label("Compare with version (what-if)", exact=True).select_option("7.0")
    blob = build_and_download(page, fmt="pptx")
    assert blob[:2] == b"PK"
    watched.assert_clean()


def test_agency_user_sees_only_their_agency_and_briefs_on_it(
    scenario, browser_page, live_server, worker
):
    page, watched = browser_page
    page.set_viewport_size({"width": 800, "height": 1100})  # a tablet
    log_in(page, live_server, "ksp-viewer")
    assert page.url.endswith("/dashboard/agencies/ksp/")
    wait_for_plotly(page, 2)
    page.locator("#failing-table").wait_for()
    failing = page.locator("#failing-table").inner_text()
    assert "KSP-NOENC" in failing
    assert "not reporting" in failing
    assert "post-1" in page.content()

    # A filter on the agency page (the as-of date of the readiness figures).
    page.get_by_label("As of", exact=True).fill(str(scenario[0].today))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"as_of="))

    # Nothing else is reachable: statewide pages refuse, another agency does not exist.
    request = page.context.request
    assert request.get(f"{live_server.url}/dashboard/").status == 403
    assert request.get(f"{live_server.url}/dashboard/participation/").status == 403
    assert request.get(f"{live_server.url}/dashboard/agencies/lex-pd/").status == 404
    nav = page.locator("nav[aria-label='Main']").inner_text()
    assert "Overview" not in nav

    page.goto(f"{live_server.url}/briefings/")
    options = page.locator("#b-scope option").all_inner_texts()
    assert options == ["Agency: Kentucky State Police"]
    blob = build_and_download(page, fmt="xlsx")
    wb = load_workbook(io.BytesIO(blob))
    summary = {
        r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=5, max_col=2, values_only=True) if r[0]
    }
    assert summary["Devices"] == 4
    assert summary["Ready %"] == 50.0
    watched.assert_clean()
