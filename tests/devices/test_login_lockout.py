"""Sign-in lockout (django-axes), its page, unlocking, and the audit of every attempt."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from devices.models import AuditRecord, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
UA = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"
LOCKED = "Too many failed sign-ins"
WRONG = "didn't match"


def _client(addr: str = "198.51.100.7") -> Client:
    return Client(REMOTE_ADDR=addr, HTTP_USER_AGENT=UA)


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def _alert(response) -> str:
    html = response.content.decode()
    start = html.index('role="alert"')
    return html[start : html.index("</p>", start)]


def _sign_ins(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("id"))


@pytest.fixture
def trooper(agency_a) -> User:
    return UserFactory(username="trooper", role=User.Role.AGENCY_VIEWER, agency=agency_a)


def test_five_wrong_passwords_lock_and_the_right_one_is_refused_until_unlocked(trooper):
    client = _client()
    for _ in range(4):
        assert WRONG in _login(client, "trooper", "wrong password!").content.decode()
    fifth = _login(client, "trooper", "wrong password!")
    assert fifth.status_code == 429
    assert LOCKED in fifth.content.decode()
    sixth = _login(client, "trooper", PASSWORD)
    assert sixth.status_code == 429
    assert LOCKED in sixth.content.decode()
    assert "_auth_user_id" not in client.session

    call_command("unlock_user", "trooper", stdout=io.StringIO())
    assert _login(client, "trooper", PASSWORD).status_code == 302
    assert "_auth_user_id" in client.session


def test_every_attempt_lockout_and_unlock_is_audited_with_address_and_user_agent(trooper):
    client = _client()
    for _ in range(5):
        _login(client, "trooper", "wrong password!")
    _login(client, "trooper", PASSWORD)  # refused during the lock: a failed logon
    call_command("unlock_user", "trooper", stdout=io.StringIO())
    _login(client, "trooper", PASSWORD)
    client.post("/logout/")

    failed = _sign_ins("login_failed")
    assert len(failed) == 6
    assert failed[-1].message == "refused: locked out"
    assert [r.object_repr for r in _sign_ins("lockout")] == ["trooper"]
    assert len(_sign_ins("unlock")) == 1
    assert len(_sign_ins("login")) == 1
    assert len(_sign_ins("logout")) == 1
    for entry in failed + _sign_ins("lockout") + _sign_ins("login") + _sign_ins("logout"):
        assert entry.remote_addr == "198.51.100.7"
        assert entry.user_agent == UA
        assert entry.agency_id == trooper.agency_id


def test_unknown_user_gets_the_same_messages_as_a_wrong_password(trooper):
    known, unknown = _client("198.51.100.7"), _client("198.51.100.8")
    for _ in range(4):
        a = _login(known, "trooper", "wrong password!")
        b = _login(unknown, "nobody-here", "wrong password!")
        assert a.status_code == b.status_code == 200
        assert _alert(a) == _alert(b)
        assert WRONG in _alert(a)
    a, b = _login(known, "trooper", "x" * 12), _login(unknown, "nobody-here", "x" * 12)
    assert a.status_code == b.status_code == 429
    assert _alert(a) == _alert(b)
    assert LOCKED in _alert(a)
    unknown_failure = _sign_ins("login_failed")[-1]
    assert unknown_failure.actor_id is None
    assert unknown_failure.object_repr == "nobody-here"


def test_failures_from_one_address_across_usernames_lock_that_address(trooper):
    client = _client()
    for n in range(5):
        _login(client, f"guess{n}", "wrong password!")
    assert _login(client, "trooper", PASSWORD).status_code == 429
    assert _login(_client("203.0.113.9"), "trooper", PASSWORD).status_code == 302


def test_a_success_resets_the_count_so_only_consecutive_failures_lock(trooper):
    client = _client()
    for _ in range(4):
        _login(client, "trooper", "wrong password!")
    assert _login(client, "trooper", PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        _login(client, "trooper", "wrong password!")
    assert _login(client, "trooper", PASSWORD).status_code == 302


def test_lock_ends_after_the_cooloff(trooper):
    client = _client()
    for _ in range(5):
        _login(client, "trooper", "wrong password!")
    assert _login(client, "trooper", PASSWORD).status_code == 429
    # django-axes reads its own clock: age its records past TRACKER_LOCKOUT_MINUTES instead
    # of sleeping ten minutes.
    past = timezone.now() - dt.timedelta(minutes=10, seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    AccessAttemptExpiration.objects.update(expires_at=past)
    assert _login(client, "trooper", PASSWORD).status_code == 302


def _lock(username: str) -> None:
    client = _client()
    for _ in range(5):
        _login(client, username, "wrong password!")


def test_state_staff_unlock_through_the_api(trooper, state_staff):
    _lock("trooper")
    response = state_staff.client.post(f"/api/users/{trooper.pk}/unlock")
    assert response.status_code == 200, response.content
    assert response.json()["cleared"] >= 1
    assert _login(_client("203.0.113.1"), "trooper", PASSWORD).status_code == 302
    entry = _sign_ins("unlock")[-1]
    assert entry.actor_name == "cio-analyst"
    assert entry.object_id == str(trooper.pk)


def test_agency_admin_unlocks_own_agency_only(trooper, admin_a, admin_b, viewer_a):
    _lock("trooper")
    assert admin_b.client.post(f"/api/users/{trooper.pk}/unlock").status_code == 404
    assert viewer_a.client.post(f"/api/users/{trooper.pk}/unlock").status_code == 403
    assert _sign_ins("unlock") == []
    assert admin_a.client.post(f"/api/users/{trooper.pk}/unlock").status_code == 200


def test_audit_filters_and_csv_export_of_sign_in_events(trooper, state_staff, admin_b):
    client = _client()
    _login(client, "trooper", "=cmd|' /C calc'!A0")
    _login(client, "=HYPERLINK(1)", "wrong password!")
    listed = state_staff.client.get("/api/audit?action=login_failed").json()["items"]
    assert {r["actor"] for r in listed} == {"trooper", "=HYPERLINK(1)"}
    assert all(r["user_agent"] == UA for r in listed)
    page = state_staff.browser.get("/audit/?action=login_failed")
    assert page.status_code == 200
    assert "trooper" in page.content.decode()

    response = state_staff.client.get("/api/audit/export?format=csv&action=login_failed")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
    assert {r["actor"] for r in rows} == {"trooper", "'=HYPERLINK(1)"}
    assert all(r["remote_addr"] == "198.51.100.7" for r in rows)
    # Another agency's admin sees neither (the unknown name has no agency: state staff only).
    other = admin_b.client.get("/api/audit/export?action=login_failed")
    assert b"".join(other.streaming_content).decode().count("\n") == 1


def test_a_token_used_from_a_new_address_is_audited_once(viewer_a):
    viewer_a.client.get("/api/devices", REMOTE_ADDR="198.51.100.7")
    viewer_a.client.get("/api/devices", REMOTE_ADDR="198.51.100.7")
    assert _sign_ins("token_new_address") == []  # the first use is no change
    viewer_a.client.get("/api/devices", REMOTE_ADDR="203.0.113.4", HTTP_USER_AGENT=UA)
    [entry] = _sign_ins("token_new_address")
    assert entry.remote_addr == "203.0.113.4"
    assert entry.user_agent == UA
    assert entry.agency_id == viewer_a.user.agency_id
