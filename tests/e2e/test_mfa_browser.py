"""In a real browser, with two-factor sign-in required: an invited person sets a password,
sets up an authenticator app from the key the page shows and reaches their agency's dashboard;
a security key (Chromium's virtual authenticator) is registered, then completes a later sign-in
as the second factor. Each page passes axe-core and runs under the Content-Security-Policy
(a blocked script would be a console error)."""

from __future__ import annotations

from base64 import b32decode

import pytest
from django.utils import timezone
from django_otp.oath import totp

from devices.models import AuditRecord
from devices.users import invite_user
from tests.e2e.conftest import PASSWORD, log_in
from tests.e2e.test_accessibility_browser import _axe, _new_page
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a long walk to the lighthouse"  # noqa: S105


def _watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _code_for(key_text: str) -> str:
    # The key as the page shows it for typing into an app: base32 in groups of four.
    raw = key_text.replace(" ", "")
    key = b32decode(raw + "=" * (-len(raw) % 8))
    # django-otp's own TOTP, on the wall clock: the server checks the code against it too.
    return f"{totp(key):06d}"


def _enrolment_records(username: str) -> list[AuditRecord]:
    return list(
        AuditRecord.objects.filter(
            object_type="user",
            object_repr=username,
            action="create",
            message__startswith="two-factor sign-in",
        ).order_by("pk")
    )


def test_an_invited_person_sets_up_an_app_and_reaches_their_agency_dashboard(
    agency_a, chromium, live_server, settings
):
    settings.TRACKER_MFA_REQUIRED = True
    admin = UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    _, token = invite_user(
        actor=admin,
        email="new.trooper@ksp.example.gov",
        role="agency_viewer",
        agency_id=agency_a.pk,
        now=timezone.now(),
    )
    context, page = _new_page(chromium)
    errors = _watch_console(page)

    page.goto(f"{live_server.url}/accounts/invitation/{token}/")
    page.get_by_label("Username", exact=True).fill("new-trooper")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_load_state("networkidle")
    assert "/account/security/" in page.url  # sent to enrol before anything else
    assert _axe(page, "/account/security/") == []

    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_load_state("networkidle")
    assert _axe(page, "/account/security/totp/") == []
    page.get_by_label("Code", exact=True).fill("000000")
    page.get_by_role("button", name="Confirm").click()
    assert "did not match" in page.get_by_role("alert").inner_text()
    # The refused code's page is a 422, which Chromium reports as a failed load; nothing else.
    assert [e for e in errors if "422" not in e] == []
    code = _code_for(page.locator("#totp-key").inner_text())
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state("networkidle")

    assert page.url.endswith("/dashboard/agencies/ksp/")
    assert page.get_by_role("heading", level=1).first.inner_text().startswith("Kentucky")

    # The dashboard is not this test's subject (its console is its own tests'): the account
    # page opens in a tab of its own, the session shared, its console watched alone.
    page = context.new_page()
    errors = _watch_console(page)
    page.goto(f"{live_server.url}/account/security/")
    page.get_by_role("button", name="Generate recovery codes").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".codes li").count() == 10
    assert _axe(page, "recovery codes") == []
    assert errors == []
    context.close()

    app, codes = _enrolment_records("new-trooper")
    assert app.message == "two-factor sign-in: authenticator app enrolled"
    assert codes.message == "two-factor sign-in: 10 recovery codes generated"
    for entry in (app, codes):
        assert entry.remote_addr == "127.0.0.1"
        assert "Chrome" in entry.user_agent


def test_a_security_key_is_registered_and_then_completes_a_sign_in(
    agency_a, chromium, live_server, settings
):
    settings.TRACKER_MFA_REQUIRED = True
    UserFactory(username="trooper", role="agency_viewer", agency=agency_a)
    context, page = _new_page(chromium)
    errors = _watch_console(page)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )

    log_in(page, live_server, "trooper")
    assert "/account/security/" in page.url
    page.get_by_role("button", name="Register a security key or passkey").click()
    page.get_by_text("Security key or passkey:").wait_for()
    [key] = _enrolment_records("trooper")
    assert key.message.startswith("two-factor sign-in: security key enrolled")
    assert (key.remote_addr, "Chrome" in key.user_agent) == ("127.0.0.1", True)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username", exact=True).fill("trooper")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    assert "/account/verify/" in page.url
    assert _axe(page, "/account/verify/") == []
    assert errors == []  # the security page, its scripts and the second step: no CSP refusal

    page.get_by_role("button", name="Use a security key or passkey").click()
    page.wait_for_url(f"{live_server.url}/dashboard/agencies/ksp/")
    assert page.get_by_role("button", name="Log out").is_visible()
    context.close()
