"""The one place that decides what a user may see and change in the inventory.

State staff see every agency. Agency users see only their own agency; anything else
answers 404 (not 403), so another agency's objects cannot even be confirmed to exist.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from devices.models import (
    Agency,
    ApiToken,
    AuditRecord,
    Device,
    DeviceQuerySet,
    Gateway,
    Invitation,
    User,
)

M = TypeVar("M", bound=Model)
QS = TypeVar("QS", bound=QuerySet[Any])


def scope_to_user(queryset: QS, user: User, *, agency_field: str = "agency") -> QS:
    """Filter any queryset with an agency relation to what ``user`` may see."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_state_staff:
        return queryset
    if user.agency_id is None:
        return queryset.none()
    if agency_field == "self":
        return queryset.filter(pk=user.agency_id)
    return queryset.filter(**{f"{agency_field}_id": user.agency_id})


def get_visible_or_404(queryset: QuerySet[M], **lookup: object) -> M:
    """One object from an already scoped queryset, or 404 (never 403: see module docstring)."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404("Not found, or not visible to you.")
    return obj


def visible_agencies(user: User) -> QuerySet[Agency]:
    return scope_to_user(
        Agency.objects.select_related("cabinet", "cabinet__brm"), user, agency_field="self"
    )


def visible_devices(user: User) -> DeviceQuerySet:
    return scope_to_user(Device.objects.select_related("agency", "model"), user)


def visible_gateways(user: User) -> QuerySet[Gateway]:
    return scope_to_user(Gateway.objects.select_related("agency"), user)


def visible_audit(user: User) -> QuerySet[AuditRecord]:
    return scope_to_user(AuditRecord.objects.select_related("agency"), user)


def require_state_staff(user: User, message: str = "Only state staff can do this.") -> None:
    """Refuse (403) anyone but state staff; ``message`` says what the page or action is for."""
    if not user.is_state_staff:
        raise PermissionDenied(message)


def require_manager_of(user: User, agency: Agency | int) -> None:
    """Agency admins manage their own agency's inventory; state staff manage every agency."""
    agency_id = agency if isinstance(agency, int) else agency.pk
    if user.is_state_staff:
        return
    if user.role == User.Role.AGENCY_ADMIN and user.agency_id == agency_id:
        return
    raise PermissionDenied("Your role can read this agency's inventory but not change it.")


def visible_tokens(user: User) -> QuerySet[ApiToken]:
    """State staff see every token (to revoke a leaked one); everyone else only their own."""
    tokens = ApiToken.objects.select_related("user")
    if not user.is_authenticated or not user.is_active:
        return tokens.none()
    if user.is_state_staff:
        return tokens
    return tokens.filter(user=user)


def require_writer(user: User) -> None:
    """Refuse a read-only role before anything is looked up for a write."""
    if not user.can_manage_inventory:
        raise PermissionDenied("Your role can read this agency's inventory but not change it.")


def can_manage(user: User, agency: Agency | int) -> bool:
    """Whether pages should offer ``user`` the write actions on ``agency``'s inventory."""
    try:
        require_manager_of(user, agency)
    except PermissionDenied:
        return False
    return True


# --- users ---------------------------------------------------------------------------
# State staff manage every user; an agency admin manages their own agency's users and grants
# only the agency roles there; a viewer manages no one. Another agency's user (and, for an
# agency admin, any state staff account) answers 404 like any other hidden object.

AGENCY_ROLES = (User.Role.AGENCY_VIEWER, User.Role.AGENCY_ADMIN)


def visible_users(user: User) -> QuerySet[User]:
    """The accounts ``user`` may see and manage: all (state staff), their agency's (agency
    admin), none (a viewer, or anyone inactive)."""
    users = User.objects.select_related("agency")
    if not user.is_authenticated or not user.is_active:
        return users.none()
    if user.is_state_staff:
        return users
    if user.role == User.Role.AGENCY_ADMIN and user.agency_id is not None:
        return users.filter(agency_id=user.agency_id)
    return users.none()


def visible_invitations(user: User) -> QuerySet[Invitation]:
    """Invitations to the accounts ``user`` may manage (same rule as `visible_users`)."""
    invitations = Invitation.objects.select_related("agency", "invited_by")
    if not user.is_authenticated or not user.is_active:
        return invitations.none()
    if user.is_state_staff:
        return invitations
    if user.role == User.Role.AGENCY_ADMIN and user.agency_id is not None:
        return invitations.filter(agency_id=user.agency_id)
    return invitations.none()


def require_user_manager(user: User) -> None:
    """Refuse (403) a role that manages no accounts, before anything is looked up."""
    if not (user.is_state_staff or user.role == User.Role.AGENCY_ADMIN):
        raise PermissionDenied(
            "Your role cannot manage user accounts; ask your agency admin or state staff."
        )


def grantable_roles(actor: User) -> list[str]:
    """The roles ``actor`` may give: every role (state staff), the agency roles (agency admin)."""
    if actor.is_state_staff:
        return list(User.Role.values)
    if actor.role == User.Role.AGENCY_ADMIN:
        return [str(role) for role in AGENCY_ROLES]
    return []


def require_grantable(actor: User, *, role: str, agency_id: int | None) -> None:
    """Refuse (403) a role or an agency ``actor`` may not grant: an agency admin grants only
    the agency roles, and only in their own agency."""
    if role not in grantable_roles(actor):
        raise PermissionDenied(
            f"You cannot grant the role {role!r}: "
            + (
                "only state staff grant the state staff role."
                if actor.role == User.Role.AGENCY_ADMIN
                else "your role cannot manage user accounts."
            )
        )
    if not actor.is_state_staff and agency_id != actor.agency_id:
        raise PermissionDenied(
            "You can grant roles only in your own agency; ask state staff to move a user "
            "to another agency."
        )


def require_not_self(actor: User, user_id: int) -> None:
    """Refuse (403) a change to one's own account: it takes a second administrator, so nobody
    locks themselves (or the last administrator) out by accident."""
    if actor.pk == user_id:
        raise PermissionDenied(
            "You cannot change your own role or deactivate yourself; ask another administrator."
        )
