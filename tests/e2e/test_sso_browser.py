"""In a real browser: an SSO login through the test OpenID provider (node's oidc-provider on
loopback) lands an agency admin on their agency; a forged callback shows why it was refused.
The login page with its provider button, and the refusal page, pass axe-core."""

from __future__ import annotations

import pytest

from devices.models import AuditRecord, User
from tests.e2e.test_accessibility_browser import _axe, _new_page
from tests.factories import UserFactory
from tests.oidc import CLIENT_ID, CLIENT_SECRET, NodeProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider(live_server, settings):
    node = NodeProvider(redirect_uri=f"{live_server.url}/sso/callback/").start()
    settings.TRACKER_BASE_URL = live_server.url
    settings.TRACKER_OIDC_ISSUER = node.issuer
    settings.TRACKER_OIDC_CLIENT_ID = CLIENT_ID
    settings.TRACKER_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.TRACKER_OIDC_SCOPES = "openid email groups"
    settings.TRACKER_OIDC_PROVIDER_NAME = "State ID"
    settings.TRACKER_OIDC_GROUP_MAP = {"ksp-admins": {"role": "agency_admin", "agency": "ksp"}}
    yield node
    node.stop()


def test_an_sso_login_lands_an_agency_admin_on_their_agency(
    provider, agency_a, chromium, live_server
):
    user = UserFactory(username="trooper", email="trooper@ksp.example.gov", agency=agency_a)
    provider.add_account("sub-trooper", email="trooper@ksp.example.gov", groups=["ksp-admins"])
    context, page = _new_page(chromium)

    page.goto(f"{live_server.url}/login/")
    assert _axe(page, "/login/ (with single sign-on)") == []
    page.get_by_role("link", name="Sign in with State ID").click()
    page.get_by_label("Subject").fill("sub-trooper")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("networkidle")

    assert page.url == f"{live_server.url}/dashboard/agencies/ksp/"
    assert page.get_by_role("heading", level=1).inner_text() == agency_a.name
    assert page.get_by_role("button", name="Log out").is_visible()
    user.refresh_from_db()
    assert user.role == User.Role.AGENCY_ADMIN
    logon = AuditRecord.objects.get(action=AuditRecord.Action.LOGIN)
    assert logon.message.startswith("method: single sign-on")
    context.close()


def test_a_forged_callback_shows_why_it_was_refused(provider, chromium, live_server):
    context, page = _new_page(chromium)
    page.goto(f"{live_server.url}/sso/login/")  # a real sign-in started, then a forged answer
    page.goto(f"{live_server.url}/sso/callback/?code=stolen&state=forged")

    alert = page.get_by_role("alert").inner_text()
    assert "does not belong to a sign-in started in this browser" in alert
    assert _axe(page, "/sso/callback/ (refused)") == []
    assert page.get_by_role("link", name="Back to the login page").is_visible()
    context.close()
