"""The pages that maintain drafts and expectations pass axe, their error states included."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import log_in
from tests.e2e.test_accessibility_browser import _axe, _new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_draft_and_expectation_pages_pass_axe_with_errors_shown(site, chromium, live_server):
    code, draft = site.fields["requirement_set"], site.fields["draft"]
    base = f"/dashboard/requirements/{code}/drafts/{draft}/"
    context, page = _new_page(chromium)
    log_in(page, live_server, site.staff.username)
    problems: list[str] = []
    for path in (
        f"/dashboard/requirements/{code}/drafts/",
        base,
        f"{base}requirements/new/",
        f"{base}requirements/{site.fields['draft_key']}/",
        "/dashboard/participation/expectations/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        problems += _axe(page, path)
    # A refused requirement: the problem is shown next to its field.
    page.goto(f"{live_server.url}{base}requirements/new/")
    page.get_by_label("Key (stable across versions)").fill("cjis.new")
    page.get_by_label("Code").fill("NEW-1")
    page.get_by_label("Title").fill("New")
    page.get_by_label("Explanation").fill("Explained.")
    page.get_by_label("Rule", exact=True).fill(
        '{ attr = "device.nothing", op = "==", value = true }'
    )
    page.get_by_role("button", name="Save the requirement").click()
    page.wait_for_load_state("networkidle")
    assert "device.nothing" in page.locator("#r-rule-error").inner_text()
    problems += _axe(page, f"{base}requirements/new/ (refused)")
    page.goto(f"{live_server.url}/dashboard/participation/expectations/")
    page.get_by_label("Version", exact=True).fill("x")
    page.get_by_role("button", name="Record the expectation").click()
    page.wait_for_load_state("networkidle")
    problems += _axe(page, "/dashboard/participation/expectations/ (refused)")
    context.close()
    assert problems == [], "\n".join(problems)
