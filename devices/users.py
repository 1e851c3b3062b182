"""User administration: invitations, role and agency changes, deactivation.

Every write is one transaction holding the change and one audit record with the account's
state before and after (`devices.audit.record`). Who may do what is decided before these run,
in `devices.scoping` (visible_users, require_grantable, require_not_self); the functions here
take the already-authorised actor only to name them in the audit log.

An invitation is a one-time link sent by e-mail. Only the token's SHA-256 is stored (as for
API tokens), so a copy of the database cannot be turned into accounts. Acceptance claims the
invitation with one conditional UPDATE (open, unexpired, unaccepted), so two clicks on the
same link, racing, create one account: the loser is told the link was used.

Deactivation deletes the user's sessions found through `UserSession` (one row per signed-in
browser, written at logon by `devices.sessions`), so no scan of the session table. A session
without such a row (signed in before that model existed) is refused all the same: Django's
ModelBackend returns no user for an inactive account, so `is_active=False` alone signs it out
on its next request. The user's API tokens are marked revoked too, though
`devices.auth.user_for_token` already refuses any token of an inactive user: the mark keeps
a reactivation from bringing old, possibly leaked tokens back to life.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from config.email import describe_failure
from config.errors import Conflict, DomainError, InvalidInput, NotFound
from devices import audit, mfa
from devices.auth import hash_token
from devices.models import ApiToken, AuditRecord, Invitation, User, UserSession

logger = logging.getLogger(__name__)

INVITATION_PREFIX = "inv_"
ASK_FOR_NEW = "Ask your agency admin (or state staff) to send you a new invitation."


class InvitationUnusable(DomainError):
    """An invitation that exists but cannot be used any more (expired, used, revoked): 410."""

    status = 410


def user_state(user: User) -> dict[str, Any]:
    """What an administration change can alter, as the audit log's before/after holds it."""
    return {
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "agency": user.agency_id,
        "is_active": user.is_active,
    }


def mfa_enabled_ids(user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` have a confirmed second factor: the one place the list, the
    detail and the API read it (`devices.mfa` knows the factors)."""
    return mfa.mfa_enabled_ids(user_ids)


def invitation_status(invitation: Invitation, *, now: dt.datetime) -> str:
    """open, expired, accepted or revoked (pure)."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "open"


def _check_role_agency(role: str, agency_id: int | None) -> None:
    # The database refuses it too (devices_user_role_matches_agency); this says how to fix it.
    if role == User.Role.STATE_STAFF and agency_id is not None:
        raise InvalidInput(
            "State staff belong to no agency: leave the agency empty.", field="agency"
        )
    if role != User.Role.STATE_STAFF and agency_id is None:
        raise InvalidInput("An agency role needs an agency: choose one.", field="agency")


def invite_user(
    *,
    actor: User,
    email: str,
    role: str,
    agency_id: int | None,
    now: dt.datetime,
    username: str = "",
    remote_addr: str | None = None,
) -> tuple[Invitation, str]:
    """Create an invitation and e-mail its one-time link once the transaction commits.

    Returns the row and the token (for the e-mail only; never stored or shown). Not
    idempotent: a second call for an address with an open invitation is a Conflict (409); an
    expired open one is closed first. One transaction with one audit record.
    """
    email = email.strip().lower()
    _check_role_agency(role, agency_id)
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(
            f"{email} already has an account; change that account instead.", field="email"
        )
    if username and User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"The username {username!r} is taken; choose another.", field="username")
    token = INVITATION_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        _close_expired(email, now=now)
        if Invitation.objects.filter(email=email, accepted_at=None, revoked_at=None).exists():
            raise Conflict(
                f"{email} already has an open invitation; revoke it to send a new one.",
                field="email",
            )
        invitation = Invitation.objects.create(
            email=email,
            username=username,
            role=role,
            agency_id=agency_id,
            invited_by=actor,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.TRACKER_INVITATION_HOURS),
        )
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=invitation,
            after=_invitation_state(invitation),
            message=f"invited {email} as {invitation.get_role_display()}",
            remote_addr=remote_addr,
        )
        # After the commit: a rolled-back invitation must not have sent a working-looking link.
        transaction.on_commit(lambda: _send_invitation(invitation, token))
    return invitation, token


def _close_expired(email: str, *, now: dt.datetime) -> None:
    Invitation.objects.filter(
        email=email, accepted_at=None, revoked_at=None, expires_at__lte=now
    ).update(revoked_at=now)


def _invitation_state(invitation: Invitation) -> dict[str, Any]:
    return {
        "email": invitation.email,
        "username": invitation.username,
        "role": invitation.role,
        "agency": invitation.agency_id,
        "expires_at": invitation.expires_at.isoformat(),
    }


def invitation_link(token: str) -> str:
    return settings.TRACKER_BASE_URL + reverse("invitation_accept", args=[token])


def _send_invitation(invitation: Invitation, token: str) -> None:
    where = f" at {invitation.agency.name}" if invitation.agency else ""
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "An administrator"
    body = (
        f"{inviter} invited you to the device readiness tracker as "
        f"{invitation.get_role_display().lower()}{where}.\n\n"
        f"Set your password here (the link works once, until "
        f"{invitation.expires_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC):\n"
        f"{invitation_link(token)}\n\n"
        "If you did not expect this, ignore this message.\n"
    )
    try:
        send_mail("Your invitation to the readiness tracker", body, None, [invitation.email])
    except OSError as exc:
        # The invitation stands; an administrator sees it open and can revoke and resend.
        logger.error("invitation %s not sent: %s", invitation.pk, describe_failure(exc))


def find_invitation(token: str) -> Invitation | None:
    """The invitation of ``token`` in any state, or None for a token that was never issued."""
    return (
        Invitation.objects.select_related("agency", "invited_by")
        .filter(token_hash=hash_token(token))
        .first()
    )


def check_invitation(token: str, *, now: dt.datetime) -> Invitation:
    """The usable invitation of ``token``; NotFound (404) or InvitationUnusable (410) saying
    what happened and whom to ask. Reads only."""
    invitation = find_invitation(token)
    if invitation is None:
        raise NotFound(f"This invitation link is not valid (mistyped or cut short?). {ASK_FOR_NEW}")
    status = invitation_status(invitation, now=now)
    if status == "accepted":
        raise InvitationUnusable(
            "This invitation was already used to create an account: log in with it, or use "
            "'forgot password' if you lost the password."
        )
    if status == "revoked":
        raise InvitationUnusable(f"This invitation was withdrawn. {ASK_FOR_NEW}")
    if status == "expired":
        raise InvitationUnusable(
            f"This invitation expired on {invitation.expires_at.astimezone(dt.UTC):%Y-%m-%d %H:%M}"
            f" UTC. {ASK_FOR_NEW}"
        )
    return invitation


def accept_invitation(
    *,
    token: str,
    username: str,
    password: str | None,
    now: dt.datetime,
    remote_addr: str | None = None,
) -> User:
    """Turn an open invitation into an active account with ``password``.

    ``password`` None (the interface passes it when password sign-in is off,
    ``devices.sso.password_login_allowed``): the account gets no usable password and signs
    in only through single sign-on, which links it by its verified e-mail address.

    Raises NotFound/InvitationUnusable (see `check_invitation`), InvalidInput for a password
    the validators refuse, Conflict for a taken username; each changes nothing. One
    transaction: a conditional UPDATE claims the invitation (a racing second use loses),
    then the account and one audit record. Not repeatable: the second call is told it was used.
    """
    invitation = check_invitation(token, now=now)
    username = (invitation.username or username).strip()
    if not username:
        raise InvalidInput("Choose a username.", field="username")
    user = User(
        username=username,
        email=invitation.email,
        role=invitation.role,
        agency_id=invitation.agency_id,
    )
    _validate_new_account(user, password)
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, revoked_at=None, expires_at__gt=now
        ).update(accepted_at=now)
        if not claimed:
            raise InvitationUnusable(f"This invitation was used a moment ago. {ASK_FOR_NEW}")
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        Invitation.objects.filter(pk=invitation.pk).update(user=user)
        audit.record(
            actor=user,
            action=AuditRecord.Action.CREATE,
            obj=user,
            after=user_state(user),
            message=f"accepted invitation {invitation.pk} from {_name(invitation.invited_by)}",
            remote_addr=remote_addr,
        )
    return user


def _name(user: User | None) -> str:
    return user.get_username() if user is not None else "a removed user"


def _validate_new_account(user: User, password: str | None) -> None:
    try:
        User.username_validator(user.username)
    except ValidationError as exc:
        raise InvalidInput(
            "A username has letters, digits and @ . + - _ only (at most 150).", field="username"
        ) from exc
    if len(user.username) > 150:
        raise InvalidInput("A username has at most 150 characters.", field="username")
    if User.objects.filter(username__iexact=user.username).exists():
        raise Conflict(
            f"The username {user.username!r} is taken; choose another.", field="username"
        )
    if password is None:
        return
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from exc


def revoke_invitation(
    *, actor: User, invitation_id: int, now: dt.datetime, remote_addr: str | None = None
) -> Invitation:
    """Withdraw an invitation so its link stops working. Idempotent (a revoked one stays as
    it was, with no second record); an accepted one is a Conflict (409): deactivate the
    account instead. One transaction with one audit record."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
        if invitation.accepted_at is not None:
            raise Conflict("This invitation was accepted; deactivate the account instead.")
        if invitation.revoked_at is not None:
            return invitation
        invitation.revoked_at = now
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor,
            action=AuditRecord.Action.REVOKE,
            obj=invitation,
            before={"revoked_at": None},
            after={"revoked_at": now.isoformat()},
            message=f"withdrew the invitation of {invitation.email}",
            remote_addr=remote_addr,
        )
    return invitation


def change_user_role(
    *,
    actor: User | None,
    user_id: int,
    role: str,
    agency_id: int | None,
    remote_addr: str | None = None,
    reason: str = "changed role or agency",
) -> User:
    """Give user ``user_id`` ``role`` in ``agency_id`` (None for state staff).

    Idempotent: asking for the current role and agency writes nothing. Otherwise one
    transaction (the row locked) with one audit record holding before and after. ``actor``
    is None for a change nobody made by hand (single sign-on applying the provider's claim).
    """
    _check_role_agency(role, agency_id)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.role == role and user.agency_id == agency_id:
            return user
        before = user_state(user)
        user.role, user.agency_id = role, agency_id
        user.save(update_fields=["role", "agency"])
        _record_user_change(actor, user, before, reason, remote_addr)
    return user


def _record_user_change(
    actor: User | None, user: User, before: dict[str, Any], message: str, remote_addr: str | None
) -> None:
    audit.record(
        actor=actor,
        action=AuditRecord.Action.UPDATE,
        obj=user,
        # An agency admin reads their agency's log: a user moved away stays in the old one's.
        agency_id=user.agency_id or before["agency"],
        before=before,
        after=user_state(user),
        message=message,
        remote_addr=remote_addr,
    )


def deactivate_user(
    *,
    actor: User | None,
    user_id: int,
    now: dt.datetime,
    remote_addr: str | None = None,
    reason: str = "deactivated",
) -> User:
    """Stop user ``user_id`` at once: inactive, every session deleted, every token revoked.

    Idempotent: an inactive user is left as is, with no second record. One transaction with
    one audit record; see the module docstring for how sessions are found. ``actor`` is None
    when nobody did it by hand (single sign-on: the provider's mapping is gone).
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.is_active:
            return user
        before = user_state(user)
        user.is_active = False
        user.save(update_fields=["is_active"])
        tokens = ApiToken.objects.filter(user_id=user_id, revoked_at=None).update(revoked_at=now)
        sessions = _end_sessions(user_id)
        _record_user_change(
            actor,
            user,
            before,
            f"{reason}; ended {sessions} session(s), revoked {tokens} API token(s)",
            remote_addr,
        )
    return user


def _end_sessions(user_id: int) -> int:
    rows = UserSession.objects.filter(user_id=user_id)
    Session.objects.filter(session_key__in=rows.values("session_key")).delete()
    ended, _ = rows.delete()
    return ended


def reactivate_user(*, actor: User, user_id: int, remote_addr: str | None = None) -> User:
    """Let user ``user_id`` log in again. Their old API tokens stay revoked (new ones are
    needed). Idempotent; one transaction with one audit record."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.is_active:
            return user
        before = user_state(user)
        user.is_active = True
        user.save(update_fields=["is_active"])
        _record_user_change(actor, user, before, "reactivated", remote_addr)
    return user
