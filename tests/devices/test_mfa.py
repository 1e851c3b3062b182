"""Two-factor sign-in: the second step after the password, enrolment, recovery codes, removal,
the requirement, an administrator's reset, and the audit record each change leaves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.production import site_warnings
from devices import mfa
from devices.models import AuditRecord, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # noqa: S105  (tests.factories.UserFactory's)
AGENT = "Mozilla/5.0 (test browser)"


def _code(device: TOTPDevice, at: dt.datetime) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = at.timestamp()
    return f"{totp.token():0{device.digits}d}"


def _browser() -> Client:
    return Client(HTTP_USER_AGENT=AGENT)


def _signed_in(username: str) -> Client:
    """A browser past the password (and only the password)."""
    browser = _browser()
    response = browser.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return browser


def _verified(username: str, device: TOTPDevice, at: dt.datetime) -> Client:
    """A browser past the password and the second step."""
    browser = _signed_in(username)
    assert browser.post("/account/verify/", {"code": _code(device, at)}).status_code == 302
    return browser


def _app(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name=mfa.TOTP_DEVICE_NAME, confirmed=True)


def _mfa_records(user: User) -> list[AuditRecord]:
    return list(
        AuditRecord.objects.filter(object_type="user", object_id=str(user.pk))
        .exclude(action__in=["login", "logout"], message="")
        .order_by("pk")
    )


def _assert_from_browser(record: AuditRecord) -> None:
    assert (record.remote_addr, record.user_agent) == ("127.0.0.1", AGENT)


@pytest.fixture
def trooper(agency_a) -> User:
    return UserFactory(username="trooper", role="agency_viewer", agency=agency_a)


def test_a_user_with_an_app_passes_the_second_step_before_reaching_their_dashboard(trooper, clock):
    device = _app(trooper)
    browser = _signed_in("trooper")
    held = browser.get("/devices/")
    assert held.status_code == 302
    assert held["Location"] == "/account/verify/?next=%2Fdevices%2F"
    page = browser.get(held["Location"])
    assert "Second step" in page.content.decode()

    done = browser.post("/account/verify/", {"code": _code(device, clock.now), "next": "/devices/"})
    assert done.status_code == 302
    assert done["Location"] == "/devices/"
    assert browser.get("/devices/").status_code == 200
    assert browser.get("/").headers["Location"] == "/dashboard/agencies/ksp/"


def test_a_wrong_code_at_the_second_step_says_so_changes_nothing_and_is_audited(trooper):
    device = _app(trooper)
    browser = _signed_in("trooper")
    before = AuditRecord.objects.count()

    response = browser.post("/account/verify/", {"code": "000000"})

    assert response.status_code == 422
    assert "That code did not match" in response.content.decode()
    assert browser.get("/devices/").status_code == 302  # still held at the second step
    assert list(TOTPDevice.objects.filter(user=trooper)) == [device]
    assert AuditRecord.objects.count() == before + 1
    failed = AuditRecord.objects.latest("pk")
    assert (failed.action, failed.message) == ("login_failed", "wrong second-factor code")
    assert failed.object_id == str(trooper.pk)
    _assert_from_browser(failed)


def test_five_wrong_codes_lock_the_account_as_wrong_passwords_do(trooper, settings):
    settings.TRACKER_LOCKOUT_FAILURES = settings.AXES_FAILURE_LIMIT = 5
    _app(trooper)
    browser = _signed_in("trooper")
    for _ in range(4):
        assert browser.post("/account/verify/", {"code": "000000"}).status_code == 422

    fifth = browser.post("/account/verify/", {"code": "000000"})

    assert fifth.status_code == 429
    assert "Too many failed sign-ins" in fifth.content.decode()
    assert browser.get("/devices/")["Location"].startswith("/login/")  # signed out
    again = _browser().post("/login/", {"username": "trooper", "password": PASSWORD})
    assert again.status_code == 429
    assert AuditRecord.objects.filter(action="lockout", object_id=str(trooper.pk)).count() == 1


def test_enrolling_an_app_needs_a_right_code_and_a_wrong_one_confirms_nothing(trooper, clock):
    browser = _browser()
    browser.force_login(trooper)
    page = browser.get("/account/security/totp/")
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    pending = TOTPDevice.objects.get(user=trooper)
    assert not pending.confirmed

    wrong = browser.post("/account/security/totp/", {"code": "12345"})

    assert wrong.status_code == 422
    assert "That code did not match" in wrong.content.decode()
    pending.refresh_from_db()
    assert (pending.confirmed, pending.throttling_failure_count) == (False, 0)
    assert _mfa_records(trooper) == []

    right = browser.post("/account/security/totp/", {"code": _code(pending, clock.now)})

    assert right.status_code == 302
    assert TOTPDevice.objects.get(user=trooper).confirmed
    assert mfa.mfa_enabled_ids([trooper.pk]) == {trooper.pk}
    [enrolled] = _mfa_records(trooper)
    assert (enrolled.action, enrolled.message) == (
        "create",
        "two-factor sign-in: authenticator app enrolled",
    )
    assert enrolled.before == {"factors": []}
    assert enrolled.after == {"factors": [f"totp:{pending.pk} Authenticator app"]}
    _assert_from_browser(enrolled)
    # The code that confirmed the app cannot also pass a second step.
    assert mfa.verify_second_step(user_id=trooper.pk, code=_code(pending, clock.now)) is None


def test_recovery_codes_are_shown_once_work_once_and_regenerating_replaces_them(trooper, clock):
    browser = _verified("trooper", _app(trooper), clock.now)
    first = browser.post("/account/security/recovery-codes/")
    old_codes = first.context["codes"]
    assert len(old_codes) == 10
    assert all(code in first.content.decode() for code in old_codes)
    codes = browser.post("/account/security/recovery-codes/").context["codes"]
    assert set(codes).isdisjoint(old_codes)
    assert "no longer work" in _mfa_records(trooper)[-1].message

    signing_in = _signed_in("trooper")
    assert signing_in.post("/account/verify/", {"code": codes[0]}).status_code == 302
    assert signing_in.get("/devices/").status_code == 200
    used = AuditRecord.objects.filter(object_id=str(trooper.pk), action="login").latest("pk")
    assert used.message == "second step passed with a recovery code (9 left)"
    _assert_from_browser(used)
    again = _signed_in("trooper")
    assert again.post("/account/verify/", {"code": codes[0]}).status_code == 422  # used
    assert again.post("/account/verify/", {"code": old_codes[1]}).status_code == 422  # replaced


def test_recovery_codes_need_an_app_or_a_key_first(trooper):
    browser = _browser()
    browser.force_login(trooper)
    response = browser.post("/account/security/recovery-codes/", follow=True)
    assert "Set up an authenticator app or a security key first" in response.content.decode()
    assert not StaticDevice.objects.filter(user=trooper).exists()


def test_removing_a_factor_takes_the_password_and_takes_the_recovery_codes_with_the_last(
    trooper, clock
):
    device = _app(trooper)
    browser = _verified("trooper", device, clock.now)
    browser.post("/account/security/recovery-codes/")
    form = {"kind": "totp", "device_id": device.pk}

    refused = browser.post("/account/security/remove/", {**form, "secret": "a guess"}, follow=True)

    assert "neither your password nor a current code" in refused.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    browser.post("/account/security/remove/", {**form, "secret": PASSWORD})

    assert not TOTPDevice.objects.filter(user=trooper).exists()
    assert not StaticDevice.objects.filter(user=trooper).exists()
    generated, removed = _mfa_records(trooper)
    assert generated.message == "two-factor sign-in: 10 recovery codes generated"
    _assert_from_browser(generated)
    assert (removed.action, removed.after) == ("delete", {"factors": []})
    assert f"totp:{device.pk} Authenticator app" in removed.before["factors"]
    _assert_from_browser(removed)


def test_when_required_a_user_without_a_factor_is_sent_to_enrol_first(trooper, settings):
    settings.TRACKER_MFA_REQUIRED = True
    browser = _signed_in("trooper")
    assert browser.get("/devices/")["Location"] == "/account/security/?next=%2Fdevices%2F"
    assert browser.get("/account/security/").status_code == 200
    assert browser.get("/account/security/totp/").status_code == 200
    assert browser.get("/healthz").status_code == 200
    session_api = browser.get("/api/devices")
    assert session_api.status_code == 403
    assert "Finish two-factor sign-in" in session_api.json()["message"]


def test_the_api_answers_bearer_tokens_whatever_the_requirement(viewer_a, settings):
    settings.TRACKER_MFA_REQUIRED = True
    assert viewer_a.client.get("/api/devices").status_code == 200


def test_when_not_required_a_user_without_a_factor_signs_in_with_the_password(trooper):
    login_page = _browser().get("/login/").content.decode()
    assert "Two-factor sign-in is not required in this demo" in login_page
    browser = _signed_in("trooper")
    assert browser.get("/devices/").status_code == 200


def test_the_login_page_says_nothing_of_the_demo_when_required(settings):
    settings.TRACKER_MFA_REQUIRED = True
    assert "not required" not in _browser().get("/login/").content.decode()


def test_an_agency_admin_resets_their_agency_users_mfa_and_the_change_is_audited(
    admin_a, admin_b, viewer_a, state_staff, trooper
):
    device = _app(viewer_a.user)
    listed = admin_a.browser.get("/users/").content.decode()
    assert "Enrolled" in listed
    assert (
        "Reset two-factor sign-in of ksp-viewer"
        in admin_a.browser.get(f"/users/{viewer_a.user.pk}/").content.decode()
    )

    assert admin_b.browser.post(f"/users/{viewer_a.user.pk}/mfa-reset/").status_code == 404
    another_viewer = Client()
    another_viewer.force_login(trooper)
    assert another_viewer.post(f"/users/{viewer_a.user.pk}/mfa-reset/").status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    admin = Client(HTTP_USER_AGENT=AGENT)
    admin.force_login(admin_a.user)
    done = admin.post(f"/users/{viewer_a.user.pk}/mfa-reset/")

    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=viewer_a.user).exists()
    reset = AuditRecord.objects.latest("pk")
    assert (reset.action, reset.actor, reset.object_id) == (
        "delete",
        admin_a.user,
        str(viewer_a.user.pk),
    )
    assert reset.before == {"factors": [f"totp:{device.pk} Authenticator app"]}
    assert reset.after == {"factors": []}
    _assert_from_browser(reset)
    assert state_staff.browser.post(f"/users/{viewer_a.user.pk}/mfa-reset/").status_code == 302


def test_a_production_start_says_so_when_mfa_is_not_required(settings):
    settings.TRACKER_MFA_REQUIRED = False
    assert "TRACKER_MFA_REQUIRED is off" in site_warnings()[0]
    settings.TRACKER_MFA_REQUIRED = True
    assert site_warnings() == []


def test_the_api_resets_a_users_mfa_within_the_admins_scope(
    admin_a, admin_b, viewer_a, state_staff
):
    device = _app(viewer_a.user)
    path = f"/api/users/{viewer_a.user.pk}/mfa-reset"

    other_agency = admin_b.client.post(path)
    viewer = viewer_a.client.post(f"/api/users/{admin_a.user.pk}/mfa-reset")
    own = admin_a.client.post(f"/api/users/{admin_a.user.pk}/mfa-reset")

    assert (other_agency.status_code, viewer.status_code, own.status_code) == (404, 403, 403)
    assert all(r.json()["message"] for r in (other_agency, viewer, own))
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    done = admin_a.client.post(path, HTTP_USER_AGENT=AGENT)

    assert done.status_code == 200
    assert done.json() == {"user_id": viewer_a.user.pk, "username": "ksp-viewer", "removed": 1}
    reset = AuditRecord.objects.latest("pk")
    assert (reset.actor, reset.before, reset.after) == (
        admin_a.user,
        {"factors": [f"totp:{device.pk} Authenticator app"]},
        {"factors": []},
    )
    _assert_from_browser(reset)
    assert state_staff.client.post(path).json()["removed"] == 0


def test_a_refused_security_key_at_the_second_step_is_audited(trooper):
    _app(trooper)
    browser = _signed_in("trooper")
    before = AuditRecord.objects.count()

    # No ceremony was begun: the library refuses the answer, as it would a replayed one.
    response = browser.post(
        "/webauthn/authentication/complete/", data="{}", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"]
    assert browser.get("/devices/").status_code == 302  # still held at the second step
    assert AuditRecord.objects.count() == before + 1
    refused = AuditRecord.objects.latest("pk")
    assert (refused.action, refused.message) == ("login_failed", "wrong second-factor security key")
    _assert_from_browser(refused)
