"""Every page in production mode (DEBUG off, the Content-Security-Policy on), in a real
browser, as state staff and as an agency admin: no policy violation, and every chart drawn.

pytest-django runs the live server with DEBUG off; the policy is on in every mode. A
violation shows twice: as a console message and as a ``securitypolicyviolation`` event,
which an init script (run by the browser itself, outside the page's policy) records.
The pages are the shared list in tests/e2e/conftest.py.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.e2e.conftest import log_in, open_each_page, wait_for_charts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


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
    log_in(page, live_server, username)
    visited = 0
    for path, probe in open_each_page(page, live_server, paths):
        assert probe.headers["content-security-policy"] == settings.CONTENT_SECURITY_POLICY
        problems += [f"{path}: {v}" for v in page.evaluate("() => window.__cspViolations")]
        visited += 1
    context.close()
    assert visited >= 15, f"only {visited} pages opened"
    return problems


def test_every_page_runs_under_the_policy_for_state_staff(site, chromium, live_server):
    assert settings.DEBUG is False
    assert _visit_every_page(chromium, live_server, site.staff.username, site.paths()) == []


def test_every_page_runs_under_the_policy_for_an_agency_admin(site, chromium, live_server):
    assert _visit_every_page(chromium, live_server, site.admin.username, site.paths()) == []


def test_charts_are_drawn_on_the_dashboard(site, chromium, live_server):
    context = chromium.new_context()
    page = context.new_page()
    log_in(page, live_server, site.staff.username)
    assert page.url == f"{live_server.url}/dashboard/"
    wait_for_charts(page, "/dashboard/")
    drawn = page.evaluate("() => document.querySelectorAll('[data-plotly] svg.main-svg').length")
    context.close()
    assert drawn >= 4
