"""In a real browser: state staff approve a pending waiver from the pending-approvals page, with
no JavaScript needed, and both pages pass axe-core (WCAG 2.0/2.1 A and AA)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from readiness.models import Waiver
from readiness.waivers import request_waiver
from tests.e2e.conftest import log_in
from tests.e2e.test_accessibility_browser import _axe, _new_page
from tests.factories import UserFactory
from tests.readiness.catalog_helpers import cjis_catalog, phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pending(agency_a, settings):
    settings.READINESS_WAIVER_CEILING = 0.5
    cjis_catalog(encryption_in_59=True)
    unenrolled = phone(agency_a, mdm=False)
    phone(agency_a)
    UserFactory(username="cio-analyst", role="state_staff", agency=None)
    admin = UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    return request_waiver(
        actor=admin,
        agency=agency_a,
        set_code="cjis-mobile",
        requirement_key="cjis.mdm",
        device=unenrolled,
        reason="MDM licence on order",
        expires_at=timezone.now() + timedelta(days=30),
    )


def test_state_staff_approve_a_pending_waiver_from_an_accessible_page(
    pending, chromium, live_server
):
    context, page = _new_page(chromium)
    log_in(page, live_server, "cio-analyst")
    page.goto(f"{live_server.url}/waivers/pending/")
    problems = _axe(page, "/waivers/pending/")
    page.get_by_label("Comment (kept with the audit)").fill("licences funded")
    page.get_by_role("button", name=f"Approve waiver {pending.pk}").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/waivers/{pending.pk}/")
    text = page.locator("main").inner_text()
    problems += _axe(page, f"/waivers/{pending.pk}/")
    context.close()
    assert problems == [], "\n".join(problems)
    assert "ksp-admin" in text
    assert "cio-analyst" in text
    assert "licences funded" in text
    assert Waiver.objects.get(pk=pending.pk).status == "approved"
