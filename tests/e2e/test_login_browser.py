"""In a real browser: five wrong passwords lock the account and the right one is refused
until an administrator unlocks it; an idle session is sent to login saying why. The locked
login page and "Your sessions" pass axe-core."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from tests.e2e.conftest import PASSWORD, log_in
from tests.e2e.test_accessibility_browser import _axe, _new_page
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _try(page, live_server, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username", exact=True).fill("trooper")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def test_five_wrong_passwords_lock_and_the_sixth_right_one_is_refused(
    agency_a, chromium, live_server
):
    UserFactory(username="trooper", role="agency_viewer", agency=agency_a)
    context, page = _new_page(chromium)
    for _ in range(5):
        _try(page, live_server, "not the password")
    _try(page, live_server, PASSWORD)
    alert = page.get_by_role("alert").inner_text()
    assert "Too many failed sign-ins" in alert
    assert page.url.endswith("/login/")
    assert _axe(page, "/login/ (locked)") == []

    call_command("unlock_user", "trooper", stdout=io.StringIO())
    _try(page, live_server, PASSWORD)
    assert page.url.endswith("/")
    assert page.get_by_role("button", name="Log out").is_visible()
    context.close()


def test_an_idle_session_is_sent_to_login(agency_a, chromium, live_server, settings):
    UserFactory(username="trooper", role="agency_viewer", agency=agency_a)
    context, page = _new_page(chromium)
    log_in(page, live_server, "trooper")
    page.goto(f"{live_server.url}/account/sessions/")
    assert page.get_by_role("button", name="End this session").is_visible()
    assert _axe(page, "/account/sessions/") == []
    # The server reads the limit on each request: shorten it now, then stay idle past it.
    settings.TRACKER_SESSION_IDLE_MINUTES = 0.01  # 0.6 s
    time.sleep(1.0)
    page.goto(f"{live_server.url}/devices/")
    page.wait_for_load_state("networkidle")
    assert "/login/?next=" in page.url
    assert "minutes idle" in page.get_by_role("status").inner_text()
    context.close()
