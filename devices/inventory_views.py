"""Daily inventory pages: add and edit a device, check out and in, officers, scan to find.

Thin: scope through `devices.scoping`, write through `devices.services` (devices) and
`devices.assignments` (officers, check-out, check-in), and put a refusal's message next to
the field it names. Every form is a plain POST answered by a redirect on success, so it
works without JavaScript; with HTMX a form posts in place and gets the same page back.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, QuerySet
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from config.errors import DomainError
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import assignments, scoping, services
from devices.forms import CheckInForm, CheckOutForm, DeviceForm, OfficerEditForm, OfficerForm
from devices.models import Assignment, Device, Officer
from devices.scanning import MAX_CODE, lookup

_DEVICE_FIELDS = (
    "serial",
    "asset_tag",
    "imei",
    "iccid",
    "network",
    "firmware_version",
    "is_mdm_enrolled",
    "is_encryption_enabled",
    "has_cji_access",
    "notes",
)


def put_error(form: Form, exc: DomainError) -> None:
    """A refusal from the core, shown next to the field it names (or above the form)."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _done(request: AuthedRequest, pk: int) -> HttpResponse:
    """After a saved form: a redirect, or for HTMX a client redirect (a swap would nest pages)."""
    url = reverse("device_detail", kwargs={"pk": pk})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _managed_agencies(request: AuthedRequest) -> list[tuple[str, str]]:
    """The agencies whose inventory this user may change (an agency admin: their own)."""
    agencies = scoping.visible_agencies(request.user)
    return [(a.slug, a.name) for a in agencies if scoping.can_manage(request.user, a)]


@login_required
def device_create(request: AuthedRequest) -> HttpResponse:
    """Register one device: agency admins for their agency, state staff for any."""
    scoping.require_writer(request.user)
    form = DeviceForm(request.POST or None, agencies=_managed_agencies(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agency = get_object_or_404(scoping.visible_agencies(request.user), slug=data["agency"])
        scoping.require_manager_of(request.user, agency)
        try:
            device = services.register_device(
                actor=request.user,
                agency=agency,
                model=data["model"],
                serial=data["serial"],
                status=data["status"],
                remote_addr=client_address(request),
                **{name: data[name] for name in _DEVICE_FIELDS if name != "serial"},
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{device.serial} is added to the inventory.")
            return _done(request, device.pk)
    return render(request, "devices/device_form.html", {"form": form, "device": None})


@login_required
def device_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(scoping.visible_devices(request.user), pk=pk)
    scoping.require_manager_of(request.user, device.agency_id)
    initial = {name: getattr(device, name) for name in _DEVICE_FIELDS}
    form = DeviceForm(
        request.POST or None,
        agencies=[(device.agency.slug, device.agency.name)],
        editing=True,
        initial={**initial, "model": device.model_id},
    )
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in _DEVICE_FIELDS}
        changes["model"] = form.cleaned_data["model"]
        try:
            services.update_device(
                actor=request.user,
                device=device,
                changes=changes,
                remote_addr=client_address(request),
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{changes['serial']} is saved.")
            return _done(request, device.pk)
    return render(request, "devices/device_form.html", {"form": form, "device": device})


def officer_choices(agency_id: int) -> list[tuple[int, str]]:
    officers = Officer.objects.filter(agency_id=agency_id, is_active=True)
    return [(o.pk, str(o)) for o in officers.order_by("name", "badge")]


def assignment_context(device: Device) -> dict[str, Any]:
    """What the device page shows of its holders: the history and the forms that fit."""
    history = list(assignments.history(device.pk))
    current = next((a for a in history if a.is_open), None)
    return {
        "assignments": history,
        "current_assignment": current,
        "checkout_form": CheckOutForm(officers=officer_choices(device.agency_id)),
        "checkin_form": CheckInForm(),
    }


def _device_for_write(request: AuthedRequest, pk: int) -> Device:
    scoping.require_writer(request.user)
    device = get_object_or_404(scoping.visible_devices(request.user), pk=pk)
    scoping.require_manager_of(request.user, device.agency_id)
    return device


def _form_refused(request: AuthedRequest, form: Form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        for error in errors:
            messages.error(request, f"{label or field.title()}: {error}")


@login_required
@require_POST
def device_checkout(request: AuthedRequest, pk: int) -> HttpResponse:
    device = _device_for_write(request, pk)
    form = CheckOutForm(request.POST, officers=officer_choices(device.agency_id))
    if not form.is_valid():
        _form_refused(request, form)
        return redirect("device_detail", pk=pk)
    try:
        assignment = assignments.check_out(
            actor=request.user,
            device_id=device.pk,
            officer_id=form.cleaned_data["officer"],
            unit=form.cleaned_data["unit"],
            notes=form.cleaned_data["notes"],
            remote_addr=client_address(request),
        )
        messages.success(request, f"{device.serial} is checked out to {assignment.officer}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("device_detail", pk=pk)


@login_required
@require_POST
def device_checkin(request: AuthedRequest, pk: int) -> HttpResponse:
    device = _device_for_write(request, pk)
    form = CheckInForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return redirect("device_detail", pk=pk)
    try:
        assignment = assignments.check_in(
            actor=request.user,
            device_id=device.pk,
            condition=form.cleaned_data["condition"],
            notes=form.cleaned_data["notes"],
            remote_addr=client_address(request),
        )
        messages.success(request, f"{device.serial} is checked in from {assignment.officer}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("device_detail", pk=pk)


# --- officers --------------------------------------------------------------------------


def _visible_officers(request: AuthedRequest) -> QuerySet[Officer]:
    return scoping.scope_to_user(Officer.objects.select_related("agency"), request.user)


@login_required
def officer_list(request: AuthedRequest) -> HttpResponse:
    """Officers of the agencies you see; managers add one here."""
    agencies = _managed_agencies(request)
    form = OfficerForm(request.POST or None)
    if request.method == "POST":
        scoping.require_writer(request.user)
        slug = request.POST.get("agency") or (agencies[0][0] if len(agencies) == 1 else "")
        agency = get_object_or_404(scoping.visible_agencies(request.user), slug=slug)
        scoping.require_manager_of(request.user, agency)
        if form.is_valid():
            try:
                officer = assignments.create_officer(
                    actor=request.user,
                    agency_id=agency.pk,
                    remote_addr=client_address(request),
                    **form.cleaned_data,
                )
            except DomainError as exc:
                put_error(form, exc)
            else:
                messages.success(request, f"{officer} is added.")
                return redirect("officer_detail", pk=officer.pk)
    officers = _visible_officers(request).order_by("agency__name", "name", "badge")
    return render(
        request,
        "devices/officer_list.html",
        {"officers": officers, "form": form, "agencies": agencies},
    )


@login_required
def officer_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """One officer: what they hold now and held before; managers edit the officer here."""
    held = Assignment.objects.select_related("device", "device__model", "checked_out_by")
    officer = get_object_or_404(
        _visible_officers(request).prefetch_related(
            Prefetch("assignments", queryset=held.order_by("-checked_out_at", "-id"))
        ),
        pk=pk,
    )
    initial = {
        "name": officer.name,
        "badge": officer.badge,
        "unit": officer.unit,
        "is_active": officer.is_active,
    }
    form = OfficerEditForm(request.POST or None, initial=initial)
    if request.method == "POST":
        scoping.require_manager_of(request.user, officer.agency_id)
        if form.is_valid():
            try:
                assignments.update_officer(
                    actor=request.user,
                    officer_id=officer.pk,
                    changes=form.cleaned_data,
                    remote_addr=client_address(request),
                )
            except DomainError as exc:
                put_error(form, exc)
            else:
                messages.success(request, "The officer is saved.")
                return redirect("officer_detail", pk=officer.pk)
    rows = list(officer.assignments.all())
    return render(
        request,
        "devices/officer_detail.html",
        {
            "officer": officer,
            "holding": [a for a in rows if a.is_open],
            "held": [a for a in rows if not a.is_open],
            "form": form,
            "can_manage": scoping.can_manage(request.user, officer.agency_id),
        },
    )


# --- scan to find ----------------------------------------------------------------------


@login_required
def scan(request: AuthedRequest) -> HttpResponse:
    """A scanner types the code and Enter: straight to the device, or say why not."""
    code = request.GET.get("code", "").strip()[:MAX_CODE]
    result = lookup(code, visible=scoping.visible_devices(request.user))
    if len(result.devices) == 1:
        return redirect("device_detail", pk=result.devices[0].pk)
    return render(
        request,
        "devices/scan.html",
        {"code": code, "result": result},
        status=200 if not code or result.found or result.held_by else 404,
    )
