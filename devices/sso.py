"""Who a single sign-on signs in: provider claims → role and agency → a user (devices/oidc.py
checks the protocol first; this module trusts the claims it is given and decides).

The rules, each in one place here:

- **Identity** is (issuer, subject), kept in `OidcIdentity` once linked; e-mail addresses are
  used only to find the account the first time, because they change hands and a subject
  does not.
- **Mapping** (`map_groups`, pure): the values of TRACKER_OIDC_ROLE_CLAIM (default
  ``groups``) looked up in TRACKER_OIDC_GROUP_MAP. Several matches give the strongest role
  (state staff, then agency admin, then agency viewer); two agencies at that strongest role
  are refused rather than guessed between.
- **Mapping gone**: a person whose claim holds no mapped value is refused, and a linked
  account is *deactivated* (by `devices.users.deactivate_user`: its other sessions and API
  tokens stop too, and the audit log says why). Only refusing would leave the account's
  password, sessions and tokens working for someone the provider no longer lets in. An
  administrator reactivates it, as for any deactivation; SSO never reactivates anyone.
- **Changes** of role or agency in the claim apply at each logon, through
  `devices.users.change_user_role` (audited with before and after).
- **First logon of an unknown subject**: linked to an existing active account only when the
  provider says the e-mail address is verified (``email_verified`` true) and exactly one
  account has it; otherwise created when TRACKER_OIDC_CREATE_USERS is on and no account has
  that address, else refused.
  Linking on an unverified address would let anyone who can type someone's address at the
  provider take over that account.

`sign_in` takes the claims and returns the user id to log in; it raises `SignInRefused`
with the message to show. Every write (link, creation, role change, deactivation) is in one
transaction with its audit record. Repeating a logon with the same claims changes nothing
but the identity's last-logon time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from devices import audit, users
from devices.models import Agency, AuditRecord, OidcIdentity, User
from devices.oidc import SignInRefused, enabled

ROLE_STRENGTH: dict[str, int] = {
    User.Role.STATE_STAFF: 3,
    User.Role.AGENCY_ADMIN: 2,
    User.Role.AGENCY_VIEWER: 1,
}
ASK_ADMIN = "Ask your administrator"
LOCAL_OFF_REASON = "refused: password sign-in is turned off (TRACKER_LOCAL_LOGIN)"


@dataclass(frozen=True)
class Mapping:
    role: str
    agency_slug: str | None


def password_login_allowed() -> bool:
    """Passwords are refused only when SSO is on and TRACKER_LOCAL_LOGIN is off."""
    return settings.TRACKER_LOCAL_LOGIN or not enabled()


# RFC 8176 method values: each names a kind of factor; "mfa" and "mca" say there were several.
MULTI_FACTOR_AMR = frozenset({"mfa", "mca"})
KNOWLEDGE_AMR = frozenset({"pwd", "pin", "kba"})
POSSESSION_AMR = frozenset({"otp", "hwk", "swk", "sms", "tel", "sc"})
INHERENCE_AMR = frozenset({"fpt", "face", "iris", "retina", "vbm"})


def provider_did_mfa(claims: dict[str, Any], *, trust_provider: bool) -> bool:
    """Whether the provider's sign-in was multi-factor (pure): ``amr`` says "mfa"/"mca" or
    holds methods of two kinds (something known, held, or one is). ``trust_provider``
    counts every sign-in, for providers that enforce MFA by policy without saying so."""
    if trust_provider:
        return True
    methods = set(claim_values(claims, "amr"))
    if methods & MULTI_FACTOR_AMR:
        return True
    kinds = [methods & kind for kind in (KNOWLEDGE_AMR, POSSESSION_AMR, INHERENCE_AMR)]
    return sum(1 for found in kinds if found) >= 2


def claim_values(claims: dict[str, Any], claim: str) -> list[str]:
    """The claim as a list of strings (providers send a list, or one string)."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def map_groups(values: list[str], group_map: dict[str, dict[str, str]]) -> Mapping | None:
    """The role and agency ``values`` grant through ``group_map``, or None. Pure.

    Raises SignInRefused when the strongest role maps to two different agencies.
    """
    found = [
        Mapping(role=entry["role"], agency_slug=entry.get("agency") or None)
        for value in values
        if (entry := group_map.get(value)) is not None
    ]
    if not found:
        return None
    strongest = max(ROLE_STRENGTH[m.role] for m in found)
    top = {m for m in found if ROLE_STRENGTH[m.role] == strongest}
    if len(top) > 1:
        agencies = ", ".join(sorted(str(m.agency_slug) for m in top))
        raise SignInRefused(
            f"Your groups give you the same role in several agencies ({agencies}); the tracker "
            f"needs one. {ASK_ADMIN} to leave you in one of those groups.",
            reason=f"ambiguous mapping: {agencies}",
        )
    return top.pop()


def _resolve_agency(mapping: Mapping) -> int | None:
    if mapping.role == User.Role.STATE_STAFF:
        return None
    agency = Agency.objects.filter(slug=mapping.agency_slug or "").first()
    if agency is None:
        raise SignInRefused(
            f"Your group maps to the agency {mapping.agency_slug!r}, which the tracker does not "
            f"have. {ASK_ADMIN} to correct TRACKER_OIDC_GROUP_MAP.",
            reason=f"mapped agency {mapping.agency_slug!r} does not exist",
        )
    return agency.pk


def sign_in(*, claims: dict[str, Any], now: dt.datetime, remote_addr: str | None) -> int:
    """The id of the user the checked ``claims`` sign in (see the module docstring)."""
    issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
    identity = OidcIdentity.objects.filter(issuer=issuer, subject=subject).first()
    mapping = map_groups(
        claim_values(claims, settings.TRACKER_OIDC_ROLE_CLAIM), settings.TRACKER_OIDC_GROUP_MAP
    )
    if mapping is None:
        if identity is not None:
            users.deactivate_user(
                actor=None,
                user_id=identity.user_id,
                now=now,
                remote_addr=remote_addr,
                reason="single sign-on: no mapped group left in the provider's claim",
            )
        raise SignInRefused(
            f"Your account at the identity provider is in no group that gives access to the "
            f"tracker (claim {settings.TRACKER_OIDC_ROLE_CLAIM!r}). {ASK_ADMIN} for access.",
            reason="no mapped group in the claim",
        )
    agency_id = _resolve_agency(mapping)
    user_id = identity.user_id if identity is not None else _link_or_create(claims, mapping, now)
    user = User.objects.get(pk=user_id)
    if not user.is_active:
        raise SignInRefused(
            f"Your tracker account is deactivated. {ASK_ADMIN} to reactivate it.",
            reason="account deactivated",
        )
    users.change_user_role(
        actor=None,
        user_id=user_id,
        role=mapping.role,
        agency_id=agency_id,
        remote_addr=remote_addr,
        reason="single sign-on: role or agency from the provider's claim",
    )
    OidcIdentity.objects.filter(issuer=issuer, subject=subject).update(last_login_at=now)
    return user_id


def _link_or_create(claims: dict[str, Any], mapping: Mapping, now: dt.datetime) -> int:
    email = str(claims.get("email") or "").strip().lower()
    verified = claims.get("email_verified") is True
    matches = list(User.objects.filter(email__iexact=email, is_active=True)[:2]) if email else []
    if verified and len(matches) == 1:
        return _link(claims, matches[0], now, how=f"linked by verified e-mail {email}")
    # An account with this address exists but the provider does not vouch for it: creating a
    # second account for the same address would be as wrong as linking.
    if settings.TRACKER_OIDC_CREATE_USERS and not matches:
        agency_id = _resolve_agency(mapping)
        user = User(username=_free_username(claims, email), email=email, role=mapping.role)
        user.agency_id = agency_id
        user.set_unusable_password()  # signs in through the provider only
        return _link(claims, user, now, how="created at first single sign-on")
    raise SignInRefused(
        "No tracker account is linked to your sign-in"
        + ("" if verified or not email else " (your provider does not vouch for your e-mail)")
        + f". {ASK_ADMIN} to invite you, then sign in with the same e-mail address.",
        reason=f"unknown subject {claims.get('sub')!r}, e-mail {email!r}, verified {verified}",
    )


def _free_username(claims: dict[str, Any], email: str) -> str:
    wanted = str(claims.get("preferred_username") or email or f"sso-{claims.get('sub')}")[:150]
    if not User.objects.filter(username__iexact=wanted).exists():
        return wanted
    return f"sso-{claims.get('sub')}"[:150]


def _link(claims: dict[str, Any], user: User, now: dt.datetime, *, how: str) -> int:
    created = user.pk is None
    try:
        with transaction.atomic():
            if created:
                user.save()
            identity = OidcIdentity.objects.create(
                issuer=str(claims["iss"]), subject=str(claims["sub"]), user=user, created_at=now
            )
            audit.record(
                actor=None,
                actor_name="single sign-on",
                action=AuditRecord.Action.CREATE,
                obj=identity,
                agency_id=user.agency_id,
                after={"user": user.pk, **(users.user_state(user) if created else {})},
                message=f"{user.get_username()}: {how}",
            )
    except IntegrityError as exc:
        # Two first logons racing, or an account already linked to another subject here.
        raise SignInRefused(
            f"Your sign-in could not be linked to a tracker account (it is already linked to "
            f"another identity at this provider). {ASK_ADMIN}.",
            reason=f"link refused: {exc}"[:200],
        ) from exc
    return int(user.pk)


def audit_refusal(*, claims: dict[str, Any] | None, reason: str, request: HttpRequest) -> None:
    """One failed-logon record for a refused single sign-on (not idempotent: one per try)."""
    claims = claims or {}
    identity = OidcIdentity.objects.filter(
        issuer=str(claims.get("iss", "")), subject=str(claims.get("sub", ""))
    ).first()
    user = User.objects.filter(pk=identity.user_id).first() if identity else None
    who = claims.get("email") or claims.get("sub") or "(unknown)"
    audit.record(
        actor=user,
        actor_name=user.get_username() if user else f"sso:{who}",
        action=AuditRecord.Action.LOGIN_FAILED,
        object_type="user",
        object_id=str(user.pk) if user else "",
        object_repr=str(user.get_username() if user else who)[:200],
        agency_id=user.agency_id if user else None,
        message=f"single sign-on refused: {reason}",
        request=request,
    )


class LocalLoginGate:
    """Refuses every password while local accounts are off (before ModelBackend runs).

    The login page already refuses with a message; this covers every other form that
    authenticates with a password (the admin's login), so none is a way around it. Raising
    PermissionDenied stops Django's authenticate() at this backend; otherwise it answers
    None and the next backend checks the password as usual. No `get_user`: it signs nobody
    in, and Django's test client picks the first backend that has one for force_login.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if password is not None and not password_login_allowed():
            if request is not None:  # for the failed-logon record (devices/login_audit.py)
                request.login_refusal = LOCAL_OFF_REASON  # type: ignore[attr-defined]
            raise PermissionDenied("password sign-in is turned off")
        return
