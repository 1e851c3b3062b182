"""Invitations: the e-mailed one-time link, acceptance, and the refusals of an expired, reused,
withdrawn or unknown link (a clear message, JSON on the API, and nothing changed)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core import mail
from django.test import Client

from devices import users
from devices.auth import hash_token
from devices.models import AuditRecord, Invitation, User

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a long walk to the lighthouse"  # noqa: S105


def _post(client: Client, path: str, body: dict) -> object:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _link_token(message: mail.EmailMessage) -> str:
    found = re.search(r"/accounts/invitation/([^/\s]+)/", message.body)
    assert found, message.body
    return found.group(1)


def _invite(client, django_capture_on_commit_callbacks, **body) -> tuple[dict, str]:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "/api/users/invitations", body)
    assert response.status_code == 201, response.content
    return response.json(), _link_token(mail.outbox[-1])


def test_invited_person_sets_a_password_logs_in_and_lands_on_their_agency(
    admin_a, django_capture_on_commit_callbacks
):
    invitation, token = _invite(
        admin_a.client,
        django_capture_on_commit_callbacks,
        email="New.Trooper@ksp.example.gov",
        role="agency_viewer",
    )
    assert "token" not in json.dumps(invitation)
    assert invitation["email"] == "new.trooper@ksp.example.gov"
    assert (invitation["agency"], invitation["status"]) == ("ksp", "open")
    assert mail.outbox[-1].to == ["new.trooper@ksp.example.gov"]
    assert Invitation.objects.get().token_hash == hash_token(token)

    browser = Client()
    page = browser.get(f"/accounts/invitation/{token}/")
    assert page.status_code == 200
    assert "Kentucky State Police" in page.content.decode()
    weak = browser.post(
        f"/accounts/invitation/{token}/", {"username": "trooper", "password": "password"}
    )
    assert weak.status_code == 200
    assert "too short" in weak.content.decode()
    assert not User.objects.filter(username="trooper").exists()

    done = browser.post(
        f"/accounts/invitation/{token}/", {"username": "trooper", "password": GOOD_PASSWORD}
    )
    assert done.status_code == 302
    assert browser.get(done["Location"], follow=True).request["PATH_INFO"] == (
        "/dashboard/agencies/ksp/"
    )
    user = User.objects.get(username="trooper")
    assert (user.role, user.agency.slug, user.email) == (
        "agency_viewer",
        "ksp",
        invitation["email"],
    )
    record = AuditRecord.objects.get(object_type="user", object_id=str(user.pk), action="create")
    assert record.after["role"] == "agency_viewer"
    assert record.before is None
    fresh = Client()
    assert (
        fresh.post("/login/", {"username": "trooper", "password": GOOD_PASSWORD}).status_code == 302
    )


def test_a_used_link_is_refused_with_a_clear_message_and_changes_nothing(
    state_staff, agency_b, django_capture_on_commit_callbacks
):
    _, token = _invite(
        state_staff.client,
        django_capture_on_commit_callbacks,
        email="chief@lex.example.gov",
        role="agency_admin",
        agency="lex-pd",
        username="lex-chief",
    )
    body = {"token": token, "username": "ignored", "password": GOOD_PASSWORD}
    first = _post(Client(), "/api/users/invitations/accept", body)
    assert first.status_code == 201, first.content
    assert first.json()["username"] == "lex-chief"  # pre-set by the administrator
    users_before = User.objects.count()
    again = _post(Client(), "/api/users/invitations/accept", {**body, "username": "other"})
    assert again.status_code == 410
    assert "already used" in again.json()["message"]
    page = Client().get(f"/accounts/invitation/{token}/")
    assert page.status_code == 410
    assert "already used" in page.content.decode()
    assert User.objects.count() == users_before


def test_an_expired_link_is_refused_and_changes_nothing(admin_a, clock):
    invitation, token = users.invite_user(
        actor=admin_a.user,
        email="late@ksp.example.gov",
        role="agency_viewer",
        agency_id=admin_a.user.agency_id,
        now=clock.now - dt.timedelta(hours=73),
    )
    with pytest.raises(users.InvitationUnusable, match="expired"):
        users.accept_invitation(token=token, username="late", password=GOOD_PASSWORD, now=clock.now)
    response = _post(
        Client(),
        "/api/users/invitations/accept",
        {"token": token, "username": "late", "password": GOOD_PASSWORD},
    )
    assert response.status_code == 410
    assert "expired" in response.json()["message"]
    assert "new invitation" in response.json()["message"]
    page = Client().post(
        f"/accounts/invitation/{token}/", {"username": "late", "password": GOOD_PASSWORD}
    )
    assert page.status_code == 410
    assert "Ask your agency admin" in page.content.decode()
    assert not User.objects.filter(username="late").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    # The expired invitation does not block a new one to the same address.
    users.invite_user(
        actor=admin_a.user,
        email="late@ksp.example.gov",
        role="agency_viewer",
        agency_id=admin_a.user.agency_id,
        now=clock.now,
    )
    assert Invitation.objects.filter(email="late@ksp.example.gov").count() == 2


def test_an_unknown_or_withdrawn_link_is_refused(admin_a, django_capture_on_commit_callbacks):
    unknown = _post(
        Client(),
        "/api/users/invitations/accept",
        {"token": "inv_nope", "username": "x", "password": GOOD_PASSWORD},
    )
    assert unknown.status_code == 404
    assert "not valid" in unknown.json()["message"]
    assert Client().get("/accounts/invitation/inv_nope/").status_code == 404

    invitation, token = _invite(
        admin_a.client,
        django_capture_on_commit_callbacks,
        email="x@ksp.example.gov",
        role="agency_viewer",
    )
    revoked = admin_a.client.post(f"/api/users/invitations/{invitation['id']}/revoke")
    assert revoked.json()["status"] == "revoked"
    assert AuditRecord.objects.filter(object_type="invitation", action="revoke").count() == 1
    page = Client().get(f"/accounts/invitation/{token}/")
    assert page.status_code == 410
    assert "withdrawn" in page.content.decode()


def test_a_second_open_invitation_to_one_address_is_a_conflict(admin_a):
    body = {"email": "dup@ksp.example.gov", "role": "agency_viewer"}
    assert _post(admin_a.client, "/api/users/invitations", body).status_code == 201
    again = _post(
        admin_a.client, "/api/users/invitations", {**body, "email": "DUP@ksp.example.gov"}
    )
    assert again.status_code == 409
    assert "revoke it" in again.json()["message"]


INVITE_MATRIX = [
    ("state_staff", {"role": "state_staff"}, 201),
    ("state_staff", {"role": "agency_admin", "agency": "lex-pd"}, 201),
    ("admin_a", {"role": "agency_admin"}, 201),
    ("admin_a", {"role": "state_staff"}, 403),
    ("admin_a", {"role": "agency_viewer", "agency": "lex-pd"}, 422),
    ("admin_b", {"role": "agency_viewer", "agency": "ksp"}, 422),
    ("viewer_a", {"role": "agency_viewer"}, 403),
]


@pytest.mark.parametrize(("persona", "body", "status"), INVITE_MATRIX)
def test_who_may_invite_whom(request, agency_b, persona, body, status):
    who = request.getfixturevalue(persona)
    response = _post(who.client, "/api/users/invitations", {"email": "p@x.example.gov", **body})
    assert response.status_code == status, response.content
    assert Invitation.objects.exists() == (status == 201)


def test_invitations_are_listed_and_withdrawn_only_within_an_agency(admin_a, admin_b, state_staff):
    _post(
        admin_a.client,
        "/api/users/invitations",
        {"email": "a@x.example.gov", "role": "agency_viewer"},
    )
    invitation = Invitation.objects.get()
    assert [i["email"] for i in admin_a.client.get("/api/users/invitations").json()["items"]] == [
        "a@x.example.gov"
    ]
    assert admin_b.client.get("/api/users/invitations").json()["items"] == []
    assert state_staff.client.get("/api/users/invitations?status=open").json()["count"] == 1
    assert admin_b.client.post(f"/api/users/invitations/{invitation.pk}/revoke").status_code == 404
    assert admin_b.browser.post(f"/users/invitations/{invitation.pk}/revoke/").status_code == 404
    assert admin_a.browser.post(f"/users/invitations/{invitation.pk}/revoke/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_the_invite_form_on_the_users_page_sends_the_email(
    admin_a, django_capture_on_commit_callbacks
):
    page = admin_a.browser.get("/users/").content.decode()
    assert "Send invitation" in page
    assert 'value="state_staff"' not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_a.browser.post(
            "/users/invite/",
            {
                "email": "form@ksp.example.gov",
                "role": "agency_viewer",
                "agency": admin_a.user.agency_id,
            },
        )
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["form@ksp.example.gov"]
    assert "/accounts/invitation/inv_" in mail.outbox[-1].body


def test_with_password_sign_in_off_an_invitation_makes_an_account_without_one(
    admin_a, settings, django_capture_on_commit_callbacks
):
    settings.TRACKER_OIDC_ISSUER = "https://id.example.gov"  # never contacted here
    settings.TRACKER_OIDC_PROVIDER_NAME = "State ID"
    settings.TRACKER_LOCAL_LOGIN = False
    _, token = _invite(
        admin_a.client,
        django_capture_on_commit_callbacks,
        email="sso.trooper@ksp.example.gov",
        role="agency_viewer",
    )
    browser = Client()
    page = browser.get(f"/accounts/invitation/{token}/").content.decode()
    assert 'name="password"' not in page
    assert "sign in with State ID" in page

    done = browser.post(
        f"/accounts/invitation/{token}/", {"username": "trooper", "password": GOOD_PASSWORD}
    )

    # The account exists, with no password that could ever sign in, and nobody is signed in:
    # the provider's sign-in (and its factors) is the only way in.
    assert (done.status_code, done["Location"]) == (302, "/login/")
    user = User.objects.get(username="trooper")
    assert not user.has_usable_password()
    assert "_auth_user_id" not in browser.session
    shown = browser.get("/login/").content.decode()
    assert "sign in with State ID" in shown


def test_the_api_says_whether_a_password_belongs_in_an_acceptance(
    admin_a, settings, django_capture_on_commit_callbacks
):
    _, token = _invite(
        admin_a.client,
        django_capture_on_commit_callbacks,
        email="a@ksp.example.gov",
        role="agency_viewer",
    )
    missing = _post(Client(), "/api/users/invitations/accept", {"token": token, "username": "a"})
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "password")

    settings.TRACKER_OIDC_ISSUER = "https://id.example.gov"
    settings.TRACKER_LOCAL_LOGIN = False
    given = _post(
        Client(),
        "/api/users/invitations/accept",
        {"token": token, "username": "a", "password": GOOD_PASSWORD},
    )
    assert (given.status_code, given.json()["errors"][0]["field"]) == (422, "password")
    assert not User.objects.filter(username="a").exists()
    accepted = _post(Client(), "/api/users/invitations/accept", {"token": token, "username": "a"})
    assert accepted.status_code == 201
    assert not User.objects.get(username="a").has_usable_password()
