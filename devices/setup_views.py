"""Setup pages: state staff add and edit agencies, cabinets and catalog models; agency admins
(and state staff) edit their gateways (registering one is on the gateway list).

Thin like `devices.inventory_views`: scope and role through `devices.scoping`, write through
`devices.services`, a refusal's message next to the field it names, a redirect on success.
Every form is one template, ``devices/setup_form.html``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from config.errors import DomainError
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import scoping, services
from devices.forms import AgencyForm, CabinetForm, DeviceModelForm, GatewayEditForm
from devices.inventory_views import put_error
from devices.models import Cabinet, DeviceModel

STAFF_SETUP = "Only state staff set up agencies, cabinets and the catalog."


def _form_page(
    request: AuthedRequest, form: Form, *, back: tuple[str, tuple[Any, ...]], **context: Any
) -> HttpResponse:
    """The one setup form page; ``back`` names the page it came from (url name, args)."""
    back_url = reverse(back[0], args=back[1])
    return render(request, "devices/setup_form.html", {"form": form, "back": back_url, **context})


@login_required
def agency_create(request: AuthedRequest) -> HttpResponse:
    scoping.require_state_staff(request.user, STAFF_SETUP)
    form = AgencyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agency = services.create_agency(
                actor=request.user, remote_addr=client_address(request), **form.cleaned_data
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{agency.name} is added.")
            return redirect("agency_detail", slug=agency.slug)
    return _form_page(
        request, form, title="Add an agency", back=("agency_list", ()), submit="Add agency"
    )


@login_required
def agency_edit(request: AuthedRequest, slug: str) -> HttpResponse:
    agency = get_object_or_404(scoping.visible_agencies(request.user), slug=slug)
    scoping.require_state_staff(request.user, STAFF_SETUP)
    initial = {
        name: getattr(agency, name) for name in ("name", "kind", "county", "ori", "firstnet_status")
    }
    initial["cabinet"] = agency.cabinet_id
    initial["firstnet_status_changed_on"] = agency.firstnet_status_changed_on
    form = AgencyForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.update_agency(
                actor=request.user,
                agency=agency,
                firstnet_status=data.pop("firstnet_status"),
                firstnet_status_changed_on=data.pop("firstnet_status_changed_on"),
                firstnet_note=data.pop("firstnet_note"),
                changes=data,
                remote_addr=client_address(request),
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{data['name']} is saved.")
            return redirect("agency_detail", slug=agency.slug)
    return _form_page(
        request,
        form,
        title=f"Edit {agency.name}",
        back=("agency_detail", (agency.slug,)),
        submit="Save agency",
    )


@login_required
def cabinet_list(request: AuthedRequest) -> HttpResponse:
    """Cabinets with their agencies' count; state staff add one here."""
    scoping.require_state_staff(request.user, STAFF_SETUP)
    form = CabinetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_cabinet(
                actor=request.user,
                cabinet=Cabinet(),
                changes=form.cleaned_data,
                remote_addr=client_address(request),
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['name']} is added.")
            return redirect("cabinet_list")
    cabinets = Cabinet.objects.select_related("brm").annotate(n_agencies=Count("agencies"))
    return render(request, "devices/cabinet_list.html", {"cabinets": cabinets, "form": form})


@login_required
def cabinet_edit(request: AuthedRequest, slug: str) -> HttpResponse:
    scoping.require_state_staff(request.user, STAFF_SETUP)
    cabinet = get_object_or_404(Cabinet, slug=slug)
    initial = {"slug": cabinet.slug, "name": cabinet.name, "brm": cabinet.brm_id}
    form = CabinetForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_cabinet(
                actor=request.user,
                cabinet=cabinet,
                changes=form.cleaned_data,
                remote_addr=client_address(request),
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{cabinet.name} is saved.")
            return redirect("cabinet_list")
    return _form_page(
        request, form, title=f"Edit {cabinet.name}", back=("cabinet_list", ()), submit="Save"
    )


@login_required
def catalog_list(request: AuthedRequest) -> HttpResponse:
    """The device catalog: everyone reads it, state staff add and edit models."""
    models = DeviceModel.objects.annotate(n_devices=Count("devices")).order_by(
        "manufacturer", "name"
    )
    return render(request, "devices/catalog_list.html", {"models": models})


@login_required
def catalog_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    scoping.require_state_staff(request.user, STAFF_SETUP)
    model = get_object_or_404(DeviceModel, pk=pk) if pk is not None else None
    initial = {f: getattr(model, f) for f in DeviceModelForm.base_fields} if model else {}
    form = DeviceModelForm(request.POST or None, initial=initial or {"telemetry_interval_s": 300})
    if request.method == "POST" and form.is_valid():
        try:
            if model is None:
                services.create_device_model(
                    actor=request.user, remote_addr=client_address(request), **form.cleaned_data
                )
            else:
                services.update_device_model(
                    actor=request.user,
                    model=model,
                    changes=form.cleaned_data,
                    remote_addr=client_address(request),
                )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['name']} is saved in the catalog.")
            return redirect("catalog_list")
    title = f"Edit {model}" if model else "Add a catalog model"
    return _form_page(request, form, title=title, back=("catalog_list", ()), submit="Save model")


@login_required
def gateway_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    """A gateway's description and whether it is active (its name is fixed: topics use it)."""
    gateway = get_object_or_404(scoping.visible_gateways(request.user), pk=pk)
    scoping.require_manager_of(request.user, gateway.agency_id)
    initial = {"description": gateway.description, "is_active": gateway.is_active}
    form = GatewayEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_gateway(
                actor=request.user,
                gateway=gateway,
                changes=form.cleaned_data,
                remote_addr=client_address(request),
            )
        except DomainError as exc:
            put_error(form, exc)
        else:
            messages.success(request, f"Gateway {gateway.name} is saved.")
            return redirect("gateway_list")
    return _form_page(
        request,
        form,
        title=f"Edit gateway {gateway.agency.slug}/{gateway.name}",
        back=("gateway_list", ()),
        submit="Save gateway",
    )
