"""User administration API, mounted at /api/users (thin: `devices.scoping` decides who may,
`devices.users` changes).

GET   /api/users                      accounts you manage (filters: role, agency, is_active)
GET   /api/users/{id}                 one account: role, agency, last login, MFA state
PATCH /api/users/{id}                 change role and/or agency
POST  /api/users/{id}/deactivate      sessions and tokens stop at once
POST  /api/users/{id}/reactivate
GET   /api/users/invitations          invitations to accounts you manage
POST  /api/users/invitations          invite by e-mail (the token goes only in the e-mail)
POST  /api/users/invitations/{id}/revoke
POST  /api/users/invitations/accept   no credentials: the e-mailed token is the credential
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import AfterValidator, StringConstraints

from config.api import NOT_FOUND_ERRORS, WRITE_ERRORS, ErrorOut
from config.errors import InvalidInput
from config.pagination import paginated
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import scoping, sso, users
from devices.models import Invitation, User
from devices.schemas import MAX_ID, SlugText

router = Router(tags=["users"])
Id = Path(..., ge=1, le=MAX_ID)


def _email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValueError("not an e-mail address") from exc
    return value


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
Username = Annotated[str, StringConstraints(max_length=150, pattern=r"^[\w.@+-]*$")]


class UserOut(Schema):
    id: int
    username: str
    email: str
    role: User.Role
    agency: str | None = Field(None, description="Agency slug; none for state staff.")
    is_active: bool
    last_login: dt.datetime | None
    date_joined: dt.datetime
    mfa_enabled: bool = Field(..., description="Whether a second factor is enrolled.")


class UserFilter(Schema):
    role: User.Role | None = None
    agency: SlugText | None = Field(None, description="Agency slug.")
    is_active: bool | None = None


class UserPatch(Schema):
    role: User.Role | None = None
    agency: SlugText | None = Field(
        None, description="Agency slug (state staff only may name another agency)."
    )


class InvitationIn(Schema):
    email: Email
    role: User.Role
    agency: SlugText | None = Field(
        None, description="Agency slug; an agency admin's own agency if left out."
    )
    username: Username = Field("", description="Pre-set username; empty lets the person choose.")


class InvitationOut(Schema):
    id: int
    email: str
    username: str
    role: User.Role
    agency: str | None = None
    invited_by: str | None = None
    created_at: dt.datetime
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: Literal["open", "expired", "accepted", "revoked"]

    @staticmethod
    def resolve_agency(obj: Invitation) -> str | None:
        return obj.agency.slug if obj.agency else None

    @staticmethod
    def resolve_invited_by(obj: Invitation) -> str | None:
        return obj.invited_by.username if obj.invited_by else None

    @staticmethod
    def resolve_status(obj: Invitation) -> str:
        return users.invitation_status(obj, now=timezone.now())


class InvitationFilter(Schema):
    status: Literal["open", "expired", "accepted", "revoked"] | None = None


class AcceptIn(Schema):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    username: Username = Field("", description="Ignored when the invitation pre-set one.")
    password: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = Field(
        None, description="Required, unless password sign-in is off (single sign-on only)."
    )


def _user_rows(queryset: QuerySet[User] | list[User]) -> list[dict[str, Any]]:
    rows = list(queryset)
    with_mfa = users.mfa_enabled_ids([u.pk for u in rows])
    return [
        {
            "id": u.pk,
            "username": u.username,
            "email": u.email,
            "role": u.role,
            "agency": u.agency.slug if u.agency else None,
            "is_active": u.is_active,
            "last_login": u.last_login,
            "date_joined": u.date_joined,
            "mfa_enabled": u.pk in with_mfa,
        }
        for u in rows
    ]


def _managed_user(request: AuthedRequest, user_id: int) -> User:
    scoping.require_user_manager(request.user)
    return scoping.get_visible_or_404(scoping.visible_users(request.user), pk=user_id)


def _grant_agency_id(actor: User, slug: str | None) -> int | None:
    """The id of agency ``slug`` among those ``actor`` sees; 422 for any other (unknown or
    another agency's: the answer does not say which)."""
    if slug is None:
        return None
    agency = scoping.visible_agencies(actor).filter(slug=slug).first()
    if agency is None:
        raise InvalidInput(f"There is no agency {slug!r} you can grant roles in.", field="agency")
    return agency.pk


@router.get("", response={200: list[UserOut], **NOT_FOUND_ERRORS})
@paginated(rows=_user_rows)
def list_users(request: AuthedRequest, filters: Query[UserFilter]):
    """Accounts you manage: every one (state staff) or your agency's (agency admin)."""
    scoping.require_user_manager(request.user)
    found = scoping.visible_users(request.user)
    if filters.role:
        found = found.filter(role=filters.role)
    if filters.agency:
        found = found.filter(agency__slug=filters.agency)
    if filters.is_active is not None:
        found = found.filter(is_active=filters.is_active)
    return found.order_by("username", "id")


@router.get("/{int:user_id}", response={200: UserOut, **NOT_FOUND_ERRORS})
def get_user(request: AuthedRequest, user_id: int = Id):
    """One account: role, agency, last login, active, MFA state. Others' accounts are 404."""
    return _user_rows([_managed_user(request, user_id)])[0]


@router.patch("/{int:user_id}", response={200: UserOut, **WRITE_ERRORS})
def update_user(request: AuthedRequest, payload: UserPatch, user_id: int = Id):
    """Change an account's role and/or agency within what you may grant (agency admins: the
    agency roles in their own agency). State staff need no agency; the others need one."""
    target = _managed_user(request, user_id)
    scoping.require_not_self(request.user, target.pk)
    role = payload.role or target.role
    if role == User.Role.STATE_STAFF and payload.agency is None:
        agency_id = None
    elif payload.agency is None:
        agency_id = target.agency_id
    else:
        agency_id = _grant_agency_id(request.user, payload.agency)
    scoping.require_grantable(request.user, role=role, agency_id=agency_id)
    changed = users.change_user_role(
        actor=request.user,
        user_id=target.pk,
        role=role,
        agency_id=agency_id,
        remote_addr=client_address(request),
    )
    return _user_rows([changed])[0]


@router.post("/{int:user_id}/deactivate", response={200: UserOut, **WRITE_ERRORS})
def deactivate_user(request: AuthedRequest, user_id: int = Id):
    """Deactivate an account: its sessions end and its API tokens are revoked, at once."""
    target = _managed_user(request, user_id)
    scoping.require_not_self(request.user, target.pk)
    changed = users.deactivate_user(
        actor=request.user,
        user_id=target.pk,
        now=timezone.now(),
        remote_addr=client_address(request),
    )
    return _user_rows([changed])[0]


@router.post("/{int:user_id}/reactivate", response={200: UserOut, **WRITE_ERRORS})
def reactivate_user(request: AuthedRequest, user_id: int = Id):
    """Let an account log in again; its old API tokens stay revoked."""
    target = _managed_user(request, user_id)
    scoping.require_not_self(request.user, target.pk)
    changed = users.reactivate_user(
        actor=request.user, user_id=target.pk, remote_addr=client_address(request)
    )
    return _user_rows([changed])[0]


@router.get("/invitations", response={200: list[InvitationOut], **NOT_FOUND_ERRORS})
@paginated
def list_invitations(request: AuthedRequest, filters: Query[InvitationFilter]):
    """Invitations to accounts you manage, newest first (status: open/expired/accepted/revoked)."""
    scoping.require_user_manager(request.user)
    found = scoping.visible_invitations(request.user)
    now = timezone.now()
    if filters.status == "open":
        found = found.filter(accepted_at=None, revoked_at=None, expires_at__gt=now)
    elif filters.status == "expired":
        found = found.filter(accepted_at=None, revoked_at=None, expires_at__lte=now)
    elif filters.status == "accepted":
        found = found.exclude(accepted_at=None)
    elif filters.status == "revoked":
        found = found.filter(accepted_at=None).exclude(revoked_at=None)
    return found.order_by("-created_at", "-id")


@router.post("/invitations", response={201: InvitationOut, **WRITE_ERRORS})
def invite_user(request: AuthedRequest, payload: InvitationIn):
    """Invite someone by e-mail with a one-time link (TRACKER_INVITATION_HOURS, 72 by default).

    The answer never holds the token: it goes only in the e-mail. Agency admins invite agency
    viewers and admins into their own agency; state staff invite anyone.
    """
    actor = request.user
    scoping.require_user_manager(actor)
    slug = payload.agency
    if slug is None and payload.role != User.Role.STATE_STAFF and actor.agency is not None:
        slug = actor.agency.slug
    agency_id = _grant_agency_id(actor, slug)
    scoping.require_grantable(actor, role=payload.role, agency_id=agency_id)
    invitation, _ = users.invite_user(
        actor=actor,
        email=payload.email,
        role=payload.role,
        agency_id=agency_id,
        username=payload.username,
        now=timezone.now(),
        remote_addr=client_address(request),
    )
    return Status(201, invitation)


@router.post(
    "/invitations/{int:invitation_id}/revoke", response={200: InvitationOut, **WRITE_ERRORS}
)
def revoke_invitation(request: AuthedRequest, invitation_id: int = Id):
    """Withdraw an invitation: its link stops working. Revoking twice changes nothing."""
    scoping.require_user_manager(request.user)
    found = scoping.get_visible_or_404(scoping.visible_invitations(request.user), pk=invitation_id)
    return users.revoke_invitation(
        actor=request.user,
        invitation_id=found.pk,
        now=timezone.now(),
        remote_addr=client_address(request),
    )


ACCEPT_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 410: ErrorOut}


@router.post("/invitations/accept", response={201: UserOut, **ACCEPT_ERRORS}, auth=None)
def accept_invitation(request: HttpRequest, payload: AcceptIn):
    """Create the invited account with a password (the e-mailed token is the credential).

    An unknown token is 404; an expired, used or withdrawn one is 410; a weak password 422 and
    a taken username 409. Each says what to do, and none changes anything.
    """
    with_password = sso.password_login_allowed()
    if with_password and payload.password is None:
        raise InvalidInput("Choose a password for the new account.", field="password")
    if not with_password and payload.password is not None:
        raise InvalidInput(
            "Password sign-in is turned off here: accept without a password, then sign in "
            f"with {settings.TRACKER_OIDC_PROVIDER_NAME}.",
            field="password",
        )
    user = users.accept_invitation(
        token=payload.token,
        username=payload.username,
        password=payload.password,
        now=timezone.now(),
        remote_addr=client_address(request),
    )
    return Status(201, _user_rows([user])[0])
