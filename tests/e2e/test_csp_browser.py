"""Every page in production mode (DEBUG off, the Content-Security-Policy on), in a real
browser, as state staff and as an agency admin: no policy violation, and every chart drawn.

pytest-django runs the live server with DEBUG off; the policy is on in every mode. A
violation shows twice: as a console message and as a ``securitypolicyviolation`` event,
which an init script (run by the browser itself, outside the page's policy) records.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from devices.models import Device
from tests.factories import UserFactory
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # noqa: S105  (tests.factories.UserFactory's)
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""
# Routes that are not pages: probes, the API's JSON and the admin (Django's own).
NOT_PAGES = ("/api/", "/admin/", "/metrics", "/healthz", "/readyz", "/logout/")


def _page_routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    routes: list[str] = []
    for entry in patterns:
        route = str(entry.pattern)
        if "<" in route or route.startswith("^"):
            continue
        if isinstance(entry, URLResolver):
            routes += _page_routes(entry.url_patterns, prefix + route)
        else:
            routes.append("/" + prefix + route)
    return sorted({r for r in routes if not r.startswith(NOT_PAGES)})


@pytest.fixture
def people(agency_a, agency_b):
    staff = UserFactory(username="cio-analyst", role="state_staff", agency=None)
    admin = UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    scenario = build_scenario(agency_a, agency_b, brm=staff, snapshot_days=2)
    return scenario, staff, admin


def _paths(agency, device) -> list[str]:
    return _page_routes(get_resolver().url_patterns) + [
        "/api/docs",  # Swagger UI, served locally
        f"/devices/{device.pk}/",  # the health card arrives by HTMX and draws a chart
        f"/agencies/{agency.slug}/",
        f"/dashboard/agencies/{agency.slug}/",
        "/dashboard/requirements/cjis-mobile/",
        "/dashboard/requirements/cjis-mobile/whatif/?from=6.0&to=7.0",
        "/dashboard/portfolio/justice/",
    ]


def _visit_every_page(chromium, live_server, username: str, paths: list[str]) -> list[str]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    visited = 0
    for path in paths:
        probe = page.request.get(f"{live_server.url}{path}")
        if probe.status != 200 or not probe.headers.get("content-type", "").startswith("text/html"):
            continue  # a download, or a page this role may not open
        if "<html" not in probe.text()[:200]:
            continue  # an HTMX partial: it is checked inside the page that loads it
        assert probe.headers["content-security-policy"] == settings.CONTENT_SECURITY_POLICY
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        _wait_for_charts(page, path)
        problems += [f"{path}: {v}" for v in page.evaluate("() => window.__cspViolations")]
        visited += 1
    context.close()
    assert visited >= 15, f"only {visited} pages opened"
    return problems


def _wait_for_charts(page, path: str) -> None:
    # Each figure's div must end up holding plotly's SVG: drawn from its JSON block by
    # static/js/charts.js, with no inline script. A function, not a bare expression:
    # Playwright evaluates an expression with eval(), which the policy forbids.
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[data-plotly]'))"
            ".every((box) => box.querySelector('.plot-container svg.main-svg'))",
            timeout=30_000,
        )
    except PlaywrightTimeout:
        pytest.fail(f"{path}: a chart was not drawn")


def test_every_page_runs_under_the_policy_for_state_staff(people, chromium, live_server):
    scenario, staff, _ = people
    device = Device.objects.filter(agency=scenario.ksp).first()
    paths = _paths(scenario.ksp, device)
    assert settings.DEBUG is False
    assert _visit_every_page(chromium, live_server, staff.username, paths) == []


def test_every_page_runs_under_the_policy_for_an_agency_admin(people, chromium, live_server):
    scenario, _, admin = people
    device = Device.objects.filter(agency=scenario.ksp).first()
    paths = _paths(scenario.ksp, device)
    assert _visit_every_page(chromium, live_server, admin.username, paths) == []


def test_charts_are_drawn_on_the_dashboard(people, chromium, live_server):
    _, staff, _ = people
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username", exact=True).fill(staff.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")
    _wait_for_charts(page, "/dashboard/")
    drawn = page.evaluate("() => document.querySelectorAll('[data-plotly] svg.main-svg').length")
    context.close()
    assert drawn >= 4
