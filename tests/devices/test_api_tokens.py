"""API tokens: issued once, stored hashed, revocable, scoped, expiring, with a last use."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from config.errors import Forbidden, InvalidInput
from devices import services
from devices.auth import TokenExpired, issue_token, token_expiry, user_for_token
from devices.management.commands.demo_logins import scope_for
from devices.models import ApiToken, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

READ, READ_WRITE = ApiToken.Scope.READ, ApiToken.Scope.READ_WRITE
T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
MS = dt.timedelta(milliseconds=1)


def _bearer(token: str, addr: str = "127.0.0.1") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=addr)


def test_a_new_token_works_and_is_stored_only_as_a_hash(viewer_a):
    response = viewer_a.client.post(
        "/api/tokens", {"name": "laptop"}, content_type="application/json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert token not in (row.key_hash, row.prefix)
    assert row.user == viewer_a.user
    fresh = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert fresh.get("/api/devices").status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_new_token_is_read_only_and_lives_the_default_90_days(admin_a):
    response = admin_a.client.post(
        "/api/tokens", {"name": "script"}, content_type="application/json"
    )
    assert response.status_code == 201
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert row.scope == READ
    assert row.expires_at - row.created_at == dt.timedelta(days=90)
    assert response.json()["scope"] == "read"


def test_a_token_asks_for_its_scope_and_lifetime_within_the_bound(admin_a):
    response = admin_a.client.post(
        "/api/tokens",
        {"name": "sync", "scope": "read_write", "expires_in_days": 365},
        content_type="application/json",
    )
    assert response.status_code == 201
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert (row.scope, row.expires_at - row.created_at) == (READ_WRITE, dt.timedelta(days=365))


@pytest.mark.parametrize("days", [0, -5, 366, 10_000])
def test_a_lifetime_beyond_the_bound_is_refused_with_422_and_nothing_is_written(admin_a, days):
    before = ApiToken.objects.count()
    response = admin_a.client.post(
        "/api/tokens", {"name": "forever", "expires_in_days": days}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "at most 365 days" in response.json()["message"]
    assert response.json()["errors"][0]["field"] == "expires_in_days"
    assert ApiToken.objects.count() == before


def test_token_expiry_follows_the_settings(settings):
    settings.TRACKER_TOKEN_DEFAULT_DAYS = 30
    settings.TRACKER_TOKEN_MAX_DAYS = 60
    assert token_expiry(now=T0, expires_in_days=None) == T0 + dt.timedelta(days=30)
    assert token_expiry(now=T0, expires_in_days=60) == T0 + dt.timedelta(days=60)
    with pytest.raises(InvalidInput, match="at most 60 days"):
        token_expiry(now=T0, expires_in_days=61)


def test_an_expired_token_answers_401_saying_when_and_how_to_get_another(viewer_a):
    row, token = issue_token(user=viewer_a.user, now=timezone.now() - dt.timedelta(days=100))
    response = _bearer(token).get("/api/devices")
    assert response.status_code == 401
    message = response.json()["message"]
    assert f"expired on {row.expires_at.astimezone(dt.UTC):%Y-%m-%d}" in message
    assert "POST /api/tokens" in message
    assert "create_api_token" in message


def test_a_token_expires_at_its_instant_by_the_injected_clock(viewer_a):
    row, token = issue_token(user=viewer_a.user, now=T0, expires_in_days=1)
    assert user_for_token(token, now=row.expires_at - dt.timedelta(seconds=1)) == viewer_a.user
    with pytest.raises(TokenExpired, match="expired on 2026-03-03 09:30 UTC"):
        user_for_token(token, now=row.expires_at)


def test_a_read_token_reads_but_gets_403_on_every_write_method(admin_a):
    _, token = issue_token(user=admin_a.user, now=timezone.now(), scope=READ)
    client = _bearer(token)
    assert client.get("/api/devices").status_code == 200
    for method, path in (
        ("post", "/api/devices"),
        ("patch", "/api/devices/1"),
        ("delete", "/api/devices/1"),
    ):
        response = getattr(client, method)(path, {}, content_type="application/json")
        assert response.status_code == 403, method
        assert response.json()["message"].startswith(
            "This token is read-only; create a read-and-write"
        )


def test_a_read_token_cannot_mint_itself_a_read_write_token(admin_a):
    _, token = issue_token(user=admin_a.user, now=timezone.now(), scope=READ)
    response = _bearer(token).post(
        "/api/tokens", {"scope": "read_write"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not ApiToken.objects.filter(user=admin_a.user, scope=READ_WRITE, name="api").exists()


def test_the_scope_rule_lives_in_user_for_token(viewer_a):
    _, token = issue_token(user=viewer_a.user, now=T0, scope=READ)
    for method in ("GET", "HEAD", "OPTIONS"):
        assert user_for_token(token, now=T0, method=method) == viewer_a.user
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(Forbidden, match="read-only"):
            user_for_token(token, now=T0, method=method)


def test_a_deactivated_users_token_answers_401_at_once(viewer_a):
    assert viewer_a.client.get("/api/devices").status_code == 200
    User.objects.filter(pk=viewer_a.user.pk).update(is_active=False)
    response = viewer_a.client.get("/api/devices")
    assert response.status_code == 401
    assert response.json()["message"]


def test_a_revoked_token_answers_401(viewer_a):
    row = ApiToken.objects.get(user=viewer_a.user)
    assert viewer_a.client.get("/api/devices").status_code == 200
    response = viewer_a.client.post(f"/api/tokens/{row.pk}/revoke")
    assert response.status_code == 200
    assert response.json()["revoked_at"]
    response = viewer_a.client.get("/api/devices")
    assert response.status_code == 401
    assert response.json()["message"]


def test_the_token_list_shows_scope_expiry_and_last_use(viewer_a, state_staff):
    _bearer(viewer_a.token, addr="203.0.113.7").get("/api/devices")
    items = state_staff.client.get("/api/tokens").json()["items"]
    (item,) = [t for t in items if t["username"] == "ksp-viewer"]
    row = ApiToken.objects.get(user=viewer_a.user)
    assert item["scope"] == "read_write"
    # JSON carries milliseconds.
    assert abs(dt.datetime.fromisoformat(item["expires_at"]) - row.expires_at) < MS
    assert abs(dt.datetime.fromisoformat(item["last_used_at"]) - row.last_used_at) < MS
    assert item["last_used_ip"] == "203.0.113.7"


def test_use_is_recorded_once_a_minute_or_when_the_address_changes(viewer_a):
    row, token = issue_token(user=viewer_a.user, now=T0)

    def seen() -> tuple[dt.datetime | None, str | None]:
        row.refresh_from_db()
        return row.last_used_at, row.last_used_ip

    user_for_token(token, now=T0, remote_addr="198.51.100.1")
    assert seen() == (T0, "198.51.100.1")
    user_for_token(token, now=T0 + dt.timedelta(seconds=30), remote_addr="198.51.100.1")
    assert seen() == (T0, "198.51.100.1")
    later = T0 + dt.timedelta(seconds=40)
    user_for_token(token, now=later, remote_addr="2001:db8::5")
    assert seen() == (later, "2001:db8::5")
    much_later = later + dt.timedelta(minutes=2)
    user_for_token(token, now=much_later, remote_addr="2001:db8::5")
    assert seen() == (much_later, "2001:db8::5")
    # A request stamped earlier than the recorded use does not move it back.
    user_for_token(token, now=later, remote_addr="198.51.100.9")
    assert seen() == (much_later, "2001:db8::5")


def test_the_database_refuses_an_unknown_scope():
    user = UserFactory(role=User.Role.STATE_STAFF, agency=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            user=user,
            prefix="rt_x",
            key_hash="a" * 64,
            scope="admin",
            created_at=T0,
            expires_at=T0 + dt.timedelta(days=1),
        )


@pytest.mark.parametrize("expires_at", [T0, T0 - dt.timedelta(days=1)])
def test_the_database_refuses_an_expiry_not_after_creation(expires_at):
    user = UserFactory(role=User.Role.STATE_STAFF, agency=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            user=user, prefix="rt_x", key_hash="b" * 64, created_at=T0, expires_at=expires_at
        )


def test_users_list_their_own_tokens_and_state_staff_list_all(viewer_a, admin_a, state_staff):
    assert [t["username"] for t in viewer_a.client.get("/api/tokens").json()["items"]] == [
        "ksp-viewer"
    ]
    everyone = {t["username"] for t in state_staff.client.get("/api/tokens").json()["items"]}
    assert everyone == {"ksp-viewer", "ksp-admin", "cio-analyst"}


def test_state_staff_revoke_a_leaked_token_of_anyone(viewer_a, state_staff):
    row = ApiToken.objects.get(user=viewer_a.user)
    assert state_staff.client.post(f"/api/tokens/{row.pk}/revoke").status_code == 200
    assert viewer_a.client.get("/api/devices").status_code == 401
    revoked = state_staff.client.get("/api/tokens", {"include_revoked": True}).json()["items"]
    assert any(t["id"] == row.pk and t["revoked_at"] for t in revoked)


def test_revoking_twice_is_a_conflict(viewer_a, state_staff):
    row = ApiToken.objects.get(user=viewer_a.user)
    state_staff.client.post(f"/api/tokens/{row.pk}/revoke")
    assert state_staff.client.post(f"/api/tokens/{row.pk}/revoke").status_code == 409


def test_the_service_issues_with_the_injected_clock(viewer_a):
    row, _ = services.create_api_token(
        actor=viewer_a.user, user=viewer_a.user, scope=READ_WRITE, expires_in_days=7, now=T0
    )
    assert (row.created_at, row.expires_at, row.scope) == (
        T0,
        T0 + dt.timedelta(days=7),
        READ_WRITE,
    )


# --- create_api_token and demo_logins ----------------------------------------------------


def _command(*args: str) -> str:
    out = StringIO()
    call_command(
        "create_api_token", "--username", "cio-script", "--role", "state_staff", *args, stdout=out
    )
    return out.getvalue().strip()


def test_the_command_issues_read_tokens_unless_asked_and_honours_the_lifetime(db):
    _command()
    _command("--scope", "read_write", "--expires-in-days", "30")
    read, read_write = ApiToken.objects.filter(user__username="cio-script").order_by("id")
    assert (read.scope, read.expires_at - read.created_at) == (READ, dt.timedelta(days=90))
    assert (read_write.scope, read_write.expires_at - read_write.created_at) == (
        READ_WRITE,
        dt.timedelta(days=30),
    )


def test_the_command_refuses_a_lifetime_beyond_the_bound_and_creates_nothing(db):
    with pytest.raises(CommandError, match="--expires-in-days must be between 1 and 365"):
        _command("--expires-in-days", "400")
    assert not User.objects.filter(username="cio-script").exists()
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (User.Role.STATE_STAFF, READ_WRITE),
        (User.Role.AGENCY_ADMIN, READ_WRITE),
        (User.Role.AGENCY_VIEWER, READ),
    ],
)
def test_demo_tokens_have_the_scope_their_role_needs(role, scope):
    assert scope_for(User(role=role)) == scope
