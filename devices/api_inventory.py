"""API of daily inventory work: officers, check-out and check-in of a device.

Thin like `devices.api`: scope through `devices.scoping`, call one `devices.assignments`
function, return what the schema shapes. Another agency's device or officer answers 404, a
viewer's write 403, a refused move (checking in a device that is not out, checking out a
retired one) 409 with a message saying what to do instead. Mounted by `devices.api`.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router, Schema, Status

from config.api import NOT_FOUND_ERRORS, WRITE_ERRORS
from config.errors import InvalidInput
from config.pagination import paginated
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import assignments, scoping
from devices.models import Assignment, Device, Officer
from devices.schemas import (
    MAX_ID,
    AssignmentOut,
    CheckInIn,
    CheckOutIn,
    OfficerDetailOut,
    OfficerIn,
    OfficerOut,
    OfficerPatch,
    SlugText,
)

router = Router(tags=["officers"])
Id = Path(..., ge=1, le=MAX_ID)


class OfficerFilter(Schema):
    agency: SlugText | None = None
    q: str | None = None


def _device(request: AuthedRequest, device_id: int) -> Device:
    return get_object_or_404(scoping.visible_devices(request.user), pk=device_id)


def _device_for_write(request: AuthedRequest, device_id: int) -> Device:
    scoping.require_writer(request.user)
    device = _device(request, device_id)
    scoping.require_manager_of(request.user, device.agency_id)
    return device


def _officers(request: AuthedRequest) -> QuerySet[Officer]:
    return scoping.scope_to_user(Officer.objects.select_related("agency"), request.user)


def _assignment(pk: int) -> Assignment:
    return Assignment.objects.select_related(
        "device", "officer", "checked_out_by", "checked_in_by"
    ).get(pk=pk)


@router.post(
    "/devices/{int:device_id}/checkout",
    response={201: AssignmentOut, **WRITE_ERRORS},
    tags=["devices"],
)
def check_out(request: AuthedRequest, payload: CheckOutIn, device_id: int = Id):
    """Check a device out to an officer of its agency (and a unit). 409 if retired or out."""
    device = _device_for_write(request, device_id)
    assignment = assignments.check_out(
        actor=request.user,
        device_id=device.pk,
        officer_id=payload.officer_id,
        unit=payload.unit,
        notes=payload.notes,
        remote_addr=client_address(request),
    )
    return Status(201, _assignment(assignment.pk))


@router.post(
    "/devices/{int:device_id}/checkin",
    response={200: AssignmentOut, **WRITE_ERRORS},
    tags=["devices"],
)
def check_in(request: AuthedRequest, payload: CheckInIn, device_id: int = Id):
    """Check a device back in with its condition and notes. 409 if it is not checked out."""
    device = _device_for_write(request, device_id)
    assignment = assignments.check_in(
        actor=request.user,
        device_id=device.pk,
        condition=payload.condition,
        notes=payload.notes,
        remote_addr=client_address(request),
    )
    return _assignment(assignment.pk)


@router.get(
    "/devices/{int:device_id}/assignments",
    response={200: list[AssignmentOut], **NOT_FOUND_ERRORS},
    tags=["devices"],
)
@paginated
def list_assignments(request: AuthedRequest, device_id: int = Id):
    """Every check-out of a device, newest first (the open one has no ``checked_in_at``)."""
    device = _device(request, device_id)
    return assignments.history(device.pk).select_related("device")


@router.get("/officers", response={200: list[OfficerOut], **NOT_FOUND_ERRORS})
@paginated
def list_officers(request: AuthedRequest, filters: Query[OfficerFilter]):
    """Officers of the agencies you see."""
    officers = _officers(request)
    if filters.agency:
        officers = officers.filter(agency__slug=filters.agency)
    if filters.q:
        officers = officers.filter(name__icontains=filters.q) | officers.filter(
            badge__icontains=filters.q
        )
    return officers.order_by("agency__slug", "name", "badge", "id")


@router.post("/officers", response={201: OfficerOut, **WRITE_ERRORS})
def create_officer(request: AuthedRequest, payload: OfficerIn):
    """Add an officer (agency admins in their agency; state staff name the agency)."""
    scoping.require_writer(request.user)
    slug = payload.agency or (request.user.agency.slug if request.user.agency else None)
    if slug is None:
        raise InvalidInput("State staff must name the agency (its slug).", field="agency")
    agency = scoping.visible_agencies(request.user).filter(slug=slug).first()
    if agency is None:
        raise InvalidInput(f"There is no agency {slug!r} that you can see.", field="agency")
    scoping.require_manager_of(request.user, agency)
    officer = assignments.create_officer(
        actor=request.user,
        agency_id=agency.pk,
        name=payload.name,
        badge=payload.badge,
        unit=payload.unit,
        remote_addr=client_address(request),
    )
    return Status(201, get_object_or_404(_officers(request), pk=officer.pk))


def _officer_detail(request: AuthedRequest, officer_id: int) -> Officer:
    held = Assignment.objects.select_related(
        "device", "officer", "checked_out_by", "checked_in_by"
    ).order_by("-checked_out_at", "-id")
    officers = _officers(request).prefetch_related(Prefetch("assignments", queryset=held))
    return get_object_or_404(officers, pk=officer_id)


@router.get("/officers/{int:officer_id}", response={200: OfficerDetailOut, **NOT_FOUND_ERRORS})
def get_officer(request: AuthedRequest, officer_id: int = Id):
    """One officer with what they hold now and held before."""
    return _officer_detail(request, officer_id)


@router.patch("/officers/{int:officer_id}", response={200: OfficerDetailOut, **WRITE_ERRORS})
def update_officer(request: AuthedRequest, payload: OfficerPatch, officer_id: int = Id):
    officer = get_object_or_404(_officers(request), pk=officer_id)
    scoping.require_manager_of(request.user, officer.agency_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    assignments.update_officer(
        actor=request.user,
        officer_id=officer.pk,
        changes=changes,
        remote_addr=client_address(request),
    )
    return _officer_detail(request, officer_id)
