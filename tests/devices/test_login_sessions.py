"""Session limits (idle, absolute), "Your sessions", and logout ending the session."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from devices.models import AuditRecord, User, UserSession
from devices.sessions import SEEN_KEY, STARTED_KEY, expiry_reason
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
UA = "Mozilla/5.0 TestBrowser/2.0"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def trooper(agency_a) -> User:
    return UserFactory(username="trooper", role=User.Role.AGENCY_VIEWER, agency=agency_a)


def _signed_in(addr: str = "198.51.100.7") -> Client:
    client = Client(REMOTE_ADDR=addr, HTTP_USER_AGENT=UA)
    assert client.post("/login/", {"username": "trooper", "password": PASSWORD}).status_code == 302
    return client


def test_expiry_rule_idle_and_absolute(settings):
    settings.TRACKER_SESSION_IDLE_MINUTES = 30
    settings.TRACKER_SESSION_MAX_HOURS = 12
    later = T0 + dt.timedelta(minutes=29)
    assert expiry_reason(started_at=T0, seen_at=T0, now=later) is None
    idle = expiry_reason(started_at=T0, seen_at=T0, now=T0 + dt.timedelta(minutes=30))
    assert idle == "signed out after 30 minutes idle"
    busy_all_day = T0 + dt.timedelta(hours=12)
    reason = expiry_reason(started_at=T0, seen_at=busy_all_day, now=busy_all_day)
    assert reason == "signed out 12 hours after signing in"


def test_idle_session_is_sent_to_login_with_a_message(trooper):
    client = _signed_in()
    assert client.get("/devices/").status_code == 200
    # The last activity 31 minutes back (the limit is read from the session, not slept out).
    session = client.session
    session[SEEN_KEY] = (timezone.now() - dt.timedelta(minutes=31)).isoformat()
    session.save()
    response = client.get("/devices/", follow=True)
    assert response.redirect_chain[0][0].startswith("/login/?next=")
    assert "30 minutes idle" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not UserSession.objects.exists()
    logout = AuditRecord.objects.get(action="logout")
    assert "idle" in logout.message
    assert logout.user_agent == UA


def test_a_busy_session_still_ends_at_the_absolute_limit(trooper):
    client = _signed_in()
    session = client.session
    session[STARTED_KEY] = (timezone.now() - dt.timedelta(hours=12)).isoformat()
    session.save()
    response = client.get("/devices/", follow=True)
    assert "12 hours after signing in" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_user_sees_their_sessions_and_ends_another(trooper, admin_a):
    office, phone = _signed_in("198.51.100.7"), _signed_in("203.0.113.5")
    page = office.get("/account/sessions/").content.decode()
    assert "198.51.100.7" in page
    assert "203.0.113.5" in page
    assert UA in page
    phone_row = UserSession.objects.get(remote_addr="203.0.113.5")
    assert admin_a.browser.post(f"/account/sessions/{phone_row.pk}/end/").status_code == 404
    assert office.post(f"/account/sessions/{phone_row.pk}/end/").status_code == 302
    assert not Session.objects.filter(session_key=phone_row.session_key).exists()
    assert phone.get("/devices/").status_code == 302  # signed out
    assert office.get("/devices/").status_code == 200
    assert AuditRecord.objects.filter(action="session_ended").count() == 1


def test_logout_ends_the_session_server_side(trooper):
    client = _signed_in()
    key = client.session.session_key
    assert client.get("/logout/").status_code == 405  # POST with CSRF only
    assert client.post("/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.exists()
