"""The one place that decides which readiness results a user may see.

Same rule as the inventory (it delegates to ``devices.scoping``): state staff see every
agency; agency users see their own agency only, and another agency's device, waiver or
results answer 404, so they cannot even be confirmed to exist. Requirement sets and
federal expectations are public catalog data that every signed-in user may read.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

from devices.models import Agency, Device, User
from devices.scoping import require_state_staff, scope_to_user, visible_agencies, visible_devices

M = TypeVar("M", bound=Model)

__all__ = [
    "get_visible_or_404",
    "require_state_staff",
    "scope_readiness",
    "visible_agencies",
    "visible_agency_ids",
    "visible_devices",
    "visible_snapshots",
    "visible_waivers",
]


def scope_readiness(queryset: QuerySet[M], user: User, *, agency_field: str = "agency") -> QuerySet[M]:
    """Filter any readiness queryset with an agency relation to what ``user`` may see."""
    return scope_to_user(queryset, user, agency_field=agency_field)


def visible_agency_ids(user: User) -> list[int] | None:
    """The agencies whose results ``user`` may see; None means all (state staff)."""
    if user.is_authenticated and user.is_active and user.is_state_staff:
        return None
    return list(visible_agencies(user).values_list("pk", flat=True))


def visible_waivers(user: User) -> QuerySet:
    from readiness.models import Waiver

    return scope_readiness(
        Waiver.objects.select_related("agency", "device", "requirement_set", "approved_by"), user
    )


def visible_snapshots(user: User) -> QuerySet:
    from readiness.models import ReadinessSnapshot

    return scope_readiness(ReadinessSnapshot.objects.all(), user)


def get_visible_or_404(queryset: QuerySet[M], **lookup: object) -> M:
    """One object from an already scoped queryset, or 404 (never 403: see module docstring)."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404("Not found, or not visible to you.")
    return obj


def get_visible_agency(user: User, slug: str) -> Agency:
    return get_visible_or_404(visible_agencies(user), slug=slug)


def get_visible_device(user: User, device_id: int) -> Device:
    return get_visible_or_404(visible_devices(user), pk=device_id)
