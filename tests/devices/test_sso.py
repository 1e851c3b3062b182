"""Single sign-on with OpenID Connect, end to end against providers on loopback: node's
oidc-provider for sign-in, mapping and a replayed code; a crafted provider for ID tokens of
another audience, expired, or badly signed. Each refusal says why and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from joserfc.jwk import RSAKey

from devices.models import AuditRecord, OidcIdentity, User, UserSession
from devices.sso import provider_did_mfa
from tests.factories import UserFactory
from tests.oidc import CLIENT_ID, CLIENT_SECRET, CraftedProvider, NodeProvider

BASE = "http://testserver"
CALLBACK = f"{BASE}/sso/callback/"
PASSWORD = "correct horse battery staple"  # noqa: S105  (tests.factories.UserFactory's)
GROUP_MAP = {
    "tracker-state-staff": {"role": "state_staff"},
    "ksp-admins": {"role": "agency_admin", "agency": "ksp"},
    "ksp-viewers": {"role": "agency_viewer", "agency": "ksp"},
    "lex-admins": {"role": "agency_admin", "agency": "lex-pd"},
}


@pytest.fixture(scope="module")
def provider() -> Iterator[NodeProvider]:
    node = NodeProvider(redirect_uri=CALLBACK).start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def crafted() -> Iterator[CraftedProvider]:
    fake = CraftedProvider().start()
    yield fake
    fake.stop()


def _configure(settings, issuer: str, **extra: object) -> None:
    settings.TRACKER_BASE_URL = BASE
    settings.TRACKER_OIDC_ISSUER = issuer
    settings.TRACKER_OIDC_CLIENT_ID = CLIENT_ID
    settings.TRACKER_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.TRACKER_OIDC_SCOPES = "openid email groups"
    settings.TRACKER_OIDC_GROUP_MAP = GROUP_MAP
    settings.TRACKER_OIDC_PROVIDER_NAME = "State ID"
    for name, value in extra.items():
        setattr(settings, name, value)


@pytest.fixture
def sso(settings, provider, agency_a, agency_b) -> NodeProvider:
    _configure(settings, provider.issuer)
    return provider


def _sign_in(browser: Client, provider: NodeProvider, sub: str):
    start = browser.get("/sso/login/")
    assert start.status_code == 302
    back = urlsplit(provider.sign_in(start["Location"], sub))
    return browser.get(f"{back.path}?{back.query}")


def _failed_logons() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=AuditRecord.Action.LOGIN_FAILED))


def test_the_login_page_offers_the_provider_by_name(sso, client):
    page = client.get("/login/").content.decode()
    assert "Sign in with State ID" in page
    assert 'name="password"' in page  # local accounts stay on by default


def test_an_agency_admin_signs_in_and_lands_on_their_agency(sso, agency_a, client):
    user = UserFactory(username="trooper", email="trooper@ksp.example.gov", agency=agency_a)
    sso.add_account("sub-trooper", email="Trooper@ksp.example.gov", groups=["ksp-admins"])

    landed = _sign_in(client, sso, "sub-trooper")

    assert landed.status_code == 302
    assert client.get(landed["Location"])["Location"] == "/dashboard/agencies/ksp/"
    user.refresh_from_db()
    assert (user.role, user.agency_id) == (User.Role.AGENCY_ADMIN, agency_a.pk)
    assert OidcIdentity.objects.get(subject="sub-trooper").user == user
    assert UserSession.objects.filter(user=user).count() == 1  # the session registry saw it
    logon = AuditRecord.objects.get(action=AuditRecord.Action.LOGIN)
    assert logon.actor == user
    assert logon.message == f"method: single sign-on ({sso.issuer})"
    change = AuditRecord.objects.get(action=AuditRecord.Action.UPDATE, object_id=str(user.pk))
    assert change.before["role"] == User.Role.AGENCY_VIEWER
    assert change.after["role"] == User.Role.AGENCY_ADMIN
    # Signed in by the provider, they see their agency and only theirs.
    assert client.get("/agencies/ksp/").status_code == 200
    assert client.get("/agencies/lex-pd/").status_code == 404


def test_a_change_of_group_moves_the_user_at_the_next_logon(sso, agency_b):
    sso.add_account("sub-mover", email="mover@example.gov", groups=["ksp-viewers"])
    UserFactory(username="mover", email="mover@example.gov", agency=None, role="state_staff")
    _sign_in(Client(), sso, "sub-mover")
    sso.add_account("sub-mover", email="mover@example.gov", groups=["lex-admins", "other"])

    _sign_in(Client(), sso, "sub-mover")

    user = User.objects.get(username="mover")
    assert (user.role, user.agency_id) == (User.Role.AGENCY_ADMIN, agency_b.pk)
    changes = AuditRecord.objects.filter(action=AuditRecord.Action.UPDATE, object_id=str(user.pk))
    assert [(c.before["role"], c.after["role"]) for c in changes.order_by("id")] == [
        ("state_staff", "agency_viewer"),
        ("agency_viewer", "agency_admin"),
    ]


def test_a_user_whose_mapping_disappears_is_refused_and_deactivated(sso, agency_a):
    sso.add_account("sub-leaver", email="leaver@example.gov", groups=["ksp-admins"])
    UserFactory(username="leaver", email="leaver@example.gov", agency=agency_a)
    first = Client()
    assert _sign_in(first, sso, "sub-leaver").status_code == 302
    sso.add_account("sub-leaver", email="leaver@example.gov", groups=["unrelated"])

    refused = _sign_in(Client(), sso, "sub-leaver")

    assert refused.status_code == 403
    assert "in no group that gives access" in refused.content.decode()
    user = User.objects.get(username="leaver")
    assert not user.is_active
    assert first.get("/devices/").status_code == 302  # the earlier session ended too
    assert "single sign-on refused: no mapped group" in _failed_logons()[0].message


def test_an_unknown_subject_is_created_only_when_creation_is_on(sso, settings, client):
    sso.add_account("sub-new", email="new@example.gov", groups=["tracker-state-staff"])
    refused = _sign_in(client, sso, "sub-new")
    assert refused.status_code == 403
    assert "No tracker account is linked" in refused.content.decode()
    assert not User.objects.filter(email="new@example.gov").exists()

    settings.TRACKER_OIDC_CREATE_USERS = True
    assert _sign_in(client, sso, "sub-new").status_code == 302
    user = User.objects.get(email="new@example.gov")
    assert user.role == User.Role.STATE_STAFF
    assert not user.has_usable_password()
    created = AuditRecord.objects.get(action=AuditRecord.Action.CREATE, object_type="oidcidentity")
    assert created.message == f"{user.username}: created at first single sign-on"
    assert created.after["role"] == User.Role.STATE_STAFF


def test_an_unverified_email_links_nobody(sso, settings, agency_a, client):
    UserFactory(username="victim", email="victim@example.gov", agency=agency_a)
    sso.add_account(
        "sub-claimer", email="victim@example.gov", groups=["ksp-admins"], email_verified=False
    )
    refused = _sign_in(client, sso, "sub-claimer")
    assert refused.status_code == 403
    assert "does not vouch for your e-mail" in refused.content.decode()
    assert not OidcIdentity.objects.exists()
    settings.TRACKER_OIDC_CREATE_USERS = True  # nor does it make a second account of that address
    assert _sign_in(Client(), sso, "sub-claimer").status_code == 403
    assert User.objects.filter(email="victim@example.gov").count() == 1


def test_a_replayed_code_is_refused(sso, agency_a):
    UserFactory(username="trooper", email="trooper@example.gov", agency=agency_a)
    sso.add_account("sub-trooper", email="trooper@example.gov", groups=["ksp-admins"])
    victim = Client()
    start = victim.get("/sso/login/")
    back = urlsplit(sso.sign_in(start["Location"], "sub-trooper"))
    assert victim.get(f"{back.path}?{back.query}").status_code == 302
    code = parse_qs(back.query)["code"][0]

    attacker = Client()  # a fresh sign-in of its own, answered with the used code
    state = parse_qs(urlsplit(attacker.get("/sso/login/")["Location"]).query)["state"][0]
    replayed = attacker.get("/sso/callback/", {"code": code, "state": state})

    assert replayed.status_code == 403
    assert "refused the sign-in code (invalid_grant)" in replayed.content.decode()
    assert "_auth_user_id" not in attacker.session
    assert "single sign-on refused" in _failed_logons()[0].message


def test_a_forged_state_is_refused_and_changes_nothing(sso, client):
    client.get("/sso/login/")
    before = AuditRecord.objects.exclude(action=AuditRecord.Action.LOGIN_FAILED).count()

    forged = client.get("/sso/callback/", {"code": "anything", "state": "forged"})

    assert forged.status_code == 403
    body = forged.content.decode()
    assert "does not belong to a sign-in started in this browser" in body
    assert "Nothing was changed" in body
    assert "_auth_user_id" not in client.session
    assert AuditRecord.objects.exclude(action=AuditRecord.Action.LOGIN_FAILED).count() == before
    assert _failed_logons()[0].message.startswith("single sign-on refused: state")


@pytest.mark.parametrize(
    ("mischief", "says"),
    [
        ("audience", "issued for another application"),
        ("expired", "ID token has expired"),
        ("signature", "signature does not match"),
        ("nonce", "nonce does not match"),
        ("issuer", "issued by another identity provider"),
    ],
)
def test_a_bad_id_token_is_refused(mischief, says, settings, crafted, agency_a, client):
    _configure(settings, crafted.issuer)
    user = UserFactory(username="trooper", email="crafted@example.gov", agency=agency_a)
    start = parse_qs(urlsplit(client.get("/sso/login/")["Location"]).query)
    assert start["code_challenge_method"] == ["S256"]
    nonce, state = start["nonce"][0], start["state"][0]
    crafted.signing_key = crafted.trusted_key
    changes = {
        "audience": {"aud": "another-application"},
        "expired": {"iat": 1_000_000_000, "exp": 1_000_000_600},
        "nonce": {"nonce": "not-this-browsers"},
        "issuer": {"iss": "https://impostor.example"},
    }.get(mischief, {})
    crafted.id_token_claims = crafted.claims(**{"nonce": nonce, **changes})
    if mischief == "signature":  # same key id, another key: a forged token
        crafted.signing_key = RSAKey.generate_key(2048, parameters={"kid": "trusted"})

    refused = client.get("/sso/callback/", {"code": "c", "state": state})

    assert refused.status_code == 403
    assert says in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert not OidcIdentity.objects.exists()
    user.refresh_from_db()
    assert user.role == User.Role.AGENCY_VIEWER
    assert _failed_logons()[0].message.startswith("single sign-on refused")


def test_a_good_crafted_token_signs_in(settings, crafted, agency_a, client):
    """The crafted provider is not refused for itself: the same path accepts a good token."""
    _configure(settings, crafted.issuer)
    UserFactory(username="trooper", email="crafted@example.gov", agency=agency_a)
    start = parse_qs(urlsplit(client.get("/sso/login/")["Location"]).query)
    crafted.signing_key = crafted.trusted_key
    crafted.id_token_claims = crafted.claims(nonce=start["nonce"][0])
    signed_in = client.get("/sso/callback/", {"code": "c", "state": start["state"][0]})
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(username="trooper").pk)


def test_local_accounts_off_hide_the_form_and_refuse_passwords(sso, settings, agency_a, client):
    settings.TRACKER_LOCAL_LOGIN = False
    UserFactory(username="trooper", agency=agency_a)

    page = client.get("/login/").content.decode()
    assert 'name="password"' not in page
    assert "Sign in with State ID" in page
    refused = client.post("/login/", {"username": "trooper", "password": PASSWORD})

    assert refused.status_code == 403
    assert "Password sign-in is turned off" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Any other password form (the admin's login) is refused by the backend gate as well.
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="trooper", password=PASSWORD) is None
    assert [r.message for r in _failed_logons()] == [
        "refused: password sign-in is turned off (TRACKER_LOCAL_LOGIN)"
    ] * 2  # the login page's, and the other form's


def test_without_a_provider_there_is_no_button_and_no_sso_route(client):
    assert "Sign in with" not in client.get("/login/").content.decode()
    assert client.get("/sso/login/").status_code == 404


@pytest.mark.parametrize(
    ("amr", "trust", "counts"),
    [
        (["pwd", "mfa"], False, True),
        (["pwd", "otp"], False, True),
        (["hwk", "fpt"], False, True),
        (["pwd"], False, False),
        (["pwd", "pin"], False, False),
        (None, False, False),
        (None, True, True),
    ],
)
def test_the_providers_amr_decides_whether_its_sign_in_was_multi_factor(amr, trust, counts):
    claims = {} if amr is None else {"amr": amr}
    assert provider_did_mfa(claims, trust_provider=trust) is counts


@pytest.mark.parametrize(("amr", "held_for_enrolment"), [(["pwd", "mfa"], False), (["pwd"], True)])
def test_with_mfa_required_an_sso_sign_in_without_a_second_factor_is_sent_to_enrol(
    settings, crafted, agency_a, client, amr, held_for_enrolment
):
    settings.TRACKER_MFA_REQUIRED = True
    _configure(settings, crafted.issuer)
    UserFactory(username="trooper", email="crafted@example.gov", agency=agency_a)
    start = parse_qs(urlsplit(client.get("/sso/login/")["Location"]).query)
    crafted.signing_key = crafted.trusted_key
    crafted.id_token_claims = crafted.claims(nonce=start["nonce"][0], amr=amr)
    assert (
        client.get("/sso/callback/", {"code": "c", "state": start["state"][0]}).status_code == 302
    )

    page = client.get("/devices/")

    if held_for_enrolment:
        assert page.status_code == 302
        assert page["Location"].startswith("/account/security/")
    else:
        assert page.status_code == 200
