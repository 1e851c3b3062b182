"""The one place that decides what a user may see and change in the inventory.

State staff see every agency. Agency users see only their own agency; anything else
answers 404 (not 403), so another agency's objects cannot even be confirmed to exist.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from devices.models import Agency, ApiToken, AuditRecord, Device, DeviceQuerySet, Gateway, User

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
