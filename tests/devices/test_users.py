"""User administration: who may see and change which account (API and pages), deactivation
ending sessions and tokens at once, and the audit log's before/after for each change."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from devices import users
from devices.auth import issue_token
from devices.models import ApiToken, AuditRecord, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # noqa: S105  (tests.factories.UserFactory's)


def _changes(user: User):
    """Administration changes to ``user`` (sign-in events are audited on users too)."""
    return AuditRecord.objects.filter(
        object_type="user",
        object_id=str(user.pk),
        action__in=[AuditRecord.Action.CREATE, AuditRecord.Action.UPDATE],
    )


def _patch(client: Client, path: str, body: dict) -> object:
    return client.patch(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def accounts(agency_a, agency_b, state_staff):
    """One plain account in each place: agency A, agency B, state staff."""
    return {
        "a": UserFactory(username="ksp-officer", role="agency_viewer", agency=agency_a),
        "b": UserFactory(username="lex-officer", role="agency_viewer", agency=agency_b),
        "staff": UserFactory(username="cio-other", role="state_staff", agency=None),
    }


# (persona, account) -> what the API answers for GET /api/users/{id}
MATRIX = [
    ("state_staff", "a", 200),
    ("state_staff", "b", 200),
    ("state_staff", "staff", 200),
    ("admin_a", "a", 200),
    ("admin_a", "b", 404),
    ("admin_a", "staff", 404),
    ("admin_b", "a", 404),
    ("admin_b", "b", 200),
    ("viewer_a", "a", 403),
    ("viewer_a", "b", 403),
]


@pytest.mark.parametrize(("persona", "account", "status"), MATRIX)
def test_each_role_sees_exactly_the_accounts_it_manages(
    request, accounts, admin_a, admin_b, viewer_a, persona, account, status
):
    who = request.getfixturevalue(persona)
    target = accounts[account]
    urls = [
        ("get", f"/api/users/{target.pk}"),
        ("patch", f"/api/users/{target.pk}"),
        ("post", f"/api/users/{target.pk}/deactivate"),
        ("post", f"/api/users/{target.pk}/reactivate"),
    ]
    for method, url in urls:
        if method == "patch":
            response = _patch(who.client, url, {})
        else:
            response = getattr(who.client, method)(url)
        assert response.status_code == status, (method, url, response.content)
        assert "message" in response.json() or status == 200
    page = who.browser.get(f"/users/{target.pk}/")
    assert page.status_code == status
    for action in ("role", "deactivate", "reactivate"):
        posted = who.browser.post(f"/users/{target.pk}/{action}/", {"role": "agency_viewer"})
        assert posted.status_code in ((302,) if status == 200 else (status,)), action
    if status != 200:
        target.refresh_from_db()
        assert target.is_active
        assert not _changes(target).exists()


def test_lists_hold_only_the_accounts_each_role_manages(accounts, state_staff, admin_a, viewer_a):
    staff_names = {u["username"] for u in state_staff.client.get("/api/users").json()["items"]}
    assert {"ksp-officer", "lex-officer", "cio-other", "ksp-admin"} <= staff_names
    admin_names = {u["username"] for u in admin_a.client.get("/api/users").json()["items"]}
    assert admin_names == {"ksp-officer", "ksp-admin", "ksp-viewer"}
    assert viewer_a.client.get("/api/users").status_code == 403
    assert viewer_a.browser.get("/users/").status_code == 403
    page = admin_a.browser.get("/users/").content.decode()
    assert "ksp-officer" in page
    assert "lex-officer" not in page
    assert "cio-other" not in page
    filtered = state_staff.client.get("/api/users?agency=lex-pd&role=agency_viewer").json()
    assert [u["username"] for u in filtered["items"]] == ["lex-officer"]


def test_detail_shows_last_login_active_and_mfa_state(accounts, state_staff):
    body = state_staff.client.get(f"/api/users/{accounts['a'].pk}").json()
    assert body["last_login"] is None
    assert body["is_active"] is True
    assert body["mfa_enabled"] is False
    assert body["agency"] == "ksp"


def test_agency_admin_cannot_grant_state_staff_or_move_a_user_away(accounts, admin_a):
    target = accounts["a"]
    refused = _patch(admin_a.client, f"/api/users/{target.pk}", {"role": "state_staff"})
    assert refused.status_code == 403
    assert "only state staff grant the state staff role" in refused.json()["message"]
    moved = _patch(admin_a.client, f"/api/users/{target.pk}", {"agency": "lex-pd"})
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"] == "agency"
    page = admin_a.browser.post(f"/users/{target.pk}/role/", {"role": "state_staff"})
    assert page.status_code == 302
    target.refresh_from_db()
    assert (target.role, target.agency.slug) == ("agency_viewer", "ksp")
    assert not _changes(target).exists()


def test_agency_admin_promotes_in_their_agency_with_before_and_after_audited(accounts, admin_a):
    target = accounts["a"]
    response = _patch(admin_a.client, f"/api/users/{target.pk}", {"role": "agency_admin"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "agency_admin"
    record = _changes(target).get()
    assert record.action == AuditRecord.Action.UPDATE
    assert record.actor == admin_a.user
    assert record.before["role"] == "agency_viewer"
    assert record.after["role"] == "agency_admin"
    assert record.agency_id == target.agency_id
    # Asking again changes nothing and records nothing.
    _patch(admin_a.client, f"/api/users/{target.pk}", {"role": "agency_admin"})
    assert _changes(target).count() == 1


def test_state_staff_move_a_user_to_another_agency_and_to_state_staff(accounts, state_staff):
    target = accounts["a"]
    moved = _patch(state_staff.client, f"/api/users/{target.pk}", {"agency": "lex-pd"})
    assert moved.json()["agency"] == "lex-pd"
    promoted = _patch(state_staff.client, f"/api/users/{target.pk}", {"role": "state_staff"})
    assert promoted.json()["agency"] is None
    bad = _patch(state_staff.client, f"/api/users/{target.pk}", {"role": "agency_admin"})
    assert bad.status_code == 422
    assert "needs an agency" in bad.json()["message"]


def test_nobody_changes_or_deactivates_their_own_account(admin_a):
    me = admin_a.user.pk
    assert admin_a.client.post(f"/api/users/{me}/deactivate").status_code == 403
    assert _patch(admin_a.client, f"/api/users/{me}", {"role": "agency_viewer"}).status_code == 403


def test_deactivation_ends_sessions_and_tokens_at_once(accounts, state_staff, clock):
    target = accounts["a"]
    session = Client()  # signed in through the login page, as a person does
    signed_in = session.post("/login/", {"username": target.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert session.get("/devices/").status_code == 200
    _, token = issue_token(
        user=target, now=clock.now, name="script", scope=ApiToken.Scope.READ_WRITE
    )
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.get("/api/devices").status_code == 200

    response = state_staff.client.post(f"/api/users/{target.pk}/deactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is False

    page = session.get("/devices/")
    assert page.status_code == 302
    assert page["Location"].startswith("/login/")
    assert session.get("/api/devices").status_code == 401
    assert bearer.get("/api/devices").status_code == 401
    assert not ApiToken.objects.filter(user=target, revoked_at=None).exists()
    record = _changes(target).get()
    assert (record.before["is_active"], record.after["is_active"]) == (True, False)
    assert "1 session(s)" in record.message
    assert "1 API token(s)" in record.message

    # Twice is harmless; reactivating lets them log in but old tokens stay revoked.
    state_staff.client.post(f"/api/users/{target.pk}/deactivate")
    assert _changes(target).count() == 1
    assert state_staff.client.post(f"/api/users/{target.pk}/reactivate").json()["is_active"]
    assert bearer.get("/api/devices").status_code == 401
    again = Client()
    login = again.post("/login/", {"username": target.username, "password": PASSWORD})
    assert login.status_code == 302, login.content


def test_deactivating_from_the_page_keeps_other_users_sessions(accounts, admin_a, viewer_a):
    target = accounts["a"]
    session = Client()
    session.force_login(target)
    response = admin_a.browser.post(f"/users/{target.pk}/deactivate/")
    assert response.status_code == 302
    assert session.get("/devices/").status_code == 302
    assert viewer_a.browser.get("/devices/").status_code == 200
    assert admin_a.browser.get(f"/users/{target.pk}/").status_code == 200


def test_core_functions_are_idempotent_and_take_ids(accounts, state_staff, clock):
    target = accounts["b"]
    users.change_user_role(
        actor=state_staff.user, user_id=target.pk, role="agency_viewer", agency_id=target.agency_id
    )
    users.reactivate_user(actor=state_staff.user, user_id=target.pk)
    assert not _changes(target).exists()
    users.deactivate_user(actor=state_staff.user, user_id=target.pk, now=clock.now)
    users.deactivate_user(actor=state_staff.user, user_id=target.pk, now=clock.now)
    assert User.objects.get(pk=target.pk).is_active is False
    assert _changes(target).count() == 1


def test_user_pages_render_for_state_staff_with_history(accounts, state_staff):
    target = accounts["b"]
    state_staff.client.post(f"/api/users/{target.pk}/deactivate")
    page = state_staff.browser.get(f"/users/{target.pk}/").content.decode()
    assert "Deactivated" in page
    assert "deactivated; ended" in page
    listing = state_staff.browser.get("/users/").content.decode()
    assert "<caption>Accounts you manage</caption>" in listing
    assert 'href="/users/"' in listing  # the nav link
    assert timezone.now()
