"""Inventory pages (server-rendered; scoping through `devices.scoping`, writes through `devices.services`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST

from config.errors import DomainError
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import listing, scoping, services
from devices.bulk_forms import BulkEditForm, LabelForm
from devices.forms import (
    AuditFilterForm,
    DeviceFilterForm,
    DeviceFilters,
    GatewayForm,
    StatusChangeForm,
)
from devices.inventory_views import assignment_context
from devices.models import Device, DeviceStatus, DeviceStatusChange, FirstNetStatusChange
from devices.selectors import count_devices_by, count_devices_by_pair, filter_audit, filter_devices

PAGE_SIZE = 50
# Health levels as the telemetry app names them; a device with no health row was never seen.
HEALTH_LEVELS = ["online", "late", "offline", "unreachable", "maintenance", "never_seen"]


class KnownCountPaginator(Paginator):
    """A paginator told its total, so a list whose facets already counted it skips a COUNT(*)."""

    def __init__(self, object_list: QuerySet[Device], per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    # State staff land on the statewide overview, an agency user on their agency's dashboard.
    if request.user.is_state_staff:
        return redirect("readiness:overview")
    if request.user.agency is not None:
        return redirect("readiness:agency", slug=request.user.agency.slug)
    return render(request, "devices/home.html")


def _agency_choices(request: AuthedRequest) -> list[tuple[str, str]]:
    return list(scoping.visible_agencies(request.user).values_list("slug", "name"))


@login_required
def device_list(request: AuthedRequest) -> HttpResponse:
    """The inventory: filters, counts per status and health (one grouped query each), pages."""
    form = DeviceFilterForm(request.GET or None, agencies=_agency_choices(request))
    filters = form.filters()
    scoped = scoping.visible_devices(request.user)
    sort = listing.parse_sort(request.GET.get("sort"))
    columns = listing.chosen_columns(request.GET.getlist("cols"))
    devices = listing.sort_devices(filter_devices(scoped, **filters), sort)
    # Status counts ignore the status filter, so each count says what clicking it would show;
    # health counts honour it. Both come from one scan grouped by (status, health level).
    any_status: DeviceFilters = {**filters, "status": None}
    pairs = count_devices_by_pair(filter_devices(scoped, **any_status), "status", "health__level")
    status_counts: dict[str, int] = {}
    health_counts: dict[str, int] = {}
    for (status, level), n in pairs.items():
        status_counts[status] = status_counts.get(status, 0) + n
        if not filters.get("status") or status == filters["status"]:
            # A device with no health row was never seen.
            level = level or "never_seen"
            health_counts[level] = health_counts.get(level, 0) + n
    total = sum(health_counts.values())
    paginator = KnownCountPaginator(devices.select_related("health"), PAGE_SIZE, count=total)
    context = {
        "form": form,
        "page": paginator.get_page(request.GET.get("page")),
        "total": total,
        "status_counts": [(s, label, status_counts.get(s, 0)) for s, label in DeviceStatus.choices],
        "health_counts": [(level, health_counts.get(level, 0)) for level in HEALTH_LEVELS],
        "current_status": filters.get("status", ""),
        **_list_tools(request, filters, columns, sort),
    }
    template = "devices/_device_results.html" if request.htmx else "devices/device_list.html"
    return render(request, template, context)


def _list_tools(
    request: AuthedRequest,
    filters: DeviceFilters,
    columns: list[listing.Column],
    sort: listing.Sort | None,
) -> dict[str, object]:
    """The list's sort headings, column chooser, export links and bulk actions."""
    return {
        "headings": listing.headings(columns, sort),
        "column_keys": [c.key for c in columns],
        "all_columns": listing.COLUMNS,
        "sort": sort.param if sort else "",
        "filter_items": [(name, value) for name, value in filters.items() if value],
        "can_bulk": request.user.can_manage_inventory,
        "bulk_form": BulkEditForm(),
        "label_form": LabelForm(),
    }


def _visible_device(request: AuthedRequest, pk: int) -> Device:
    history = DeviceStatusChange.objects.select_related("changed_by").order_by("-changed_at", "-id")
    devices = scoping.visible_devices(request.user).prefetch_related(
        Prefetch("status_changes", queryset=history)
    )
    return get_object_or_404(devices, pk=pk)


@login_required
def device_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    device = _visible_device(request, pk)
    return render(
        request,
        "devices/device_detail.html",
        {
            "device": device,
            "can_manage": scoping.can_manage(request.user, device.agency_id),
            "status_form": StatusChangeForm(initial={"status": device.status}),
            **assignment_context(device),
        },
    )


@login_required
@require_POST
def device_change_status(request: AuthedRequest, pk: int) -> HttpResponse:
    device = _visible_device(request, pk)
    scoping.require_manager_of(request.user, device.agency_id)
    form = StatusChangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed statuses.")
        return redirect("device_detail", pk=pk)
    try:
        services.change_device_status(
            actor=request.user,
            device=device,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            remote_addr=client_address(request),
        )
        messages.success(
            request,
            f"{device.serial} is now {Device.Status(form.cleaned_data['status']).label.lower()}.",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("device_detail", pk=pk)


@login_required
@require_POST
def device_retire(request: AuthedRequest, pk: int) -> HttpResponse:
    device = _visible_device(request, pk)
    scoping.require_manager_of(request.user, device.agency_id)
    try:
        services.retire_device(
            actor=request.user,
            device=device,
            note=request.POST.get("note", "")[:300],
            remote_addr=client_address(request),
        )
        messages.success(request, f"{device.serial} is retired.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("device_detail", pk=pk)


@login_required
def audit_list(request: AuthedRequest) -> HttpResponse:
    """The audit log: everything for state staff, their own agency's for agency users."""
    form = AuditFilterForm(request.GET or None, agencies=_agency_choices(request))
    records = filter_audit(scoping.visible_audit(request.user), **form.filters())
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "devices/_audit_results.html" if request.htmx else "devices/audit_list.html"
    return render(request, template, {"form": form, "page": page})


@login_required
def agency_list(request: AuthedRequest) -> HttpResponse:
    agencies = scoping.visible_agencies(request.user)
    # Two grouped queries, not a count per agency.
    devices = dict(
        scoping.visible_devices(request.user)
        .in_service()
        .order_by()
        .values_list("agency_id")
        .annotate(n=Count("pk"))
    )
    gateways = dict(
        scoping.visible_gateways(request.user)
        .order_by()
        .values_list("agency_id")
        .annotate(n=Count("pk"))
    )
    rows = [(a, devices.get(a.pk, 0), gateways.get(a.pk, 0)) for a in agencies]
    return render(request, "devices/agency_list.html", {"rows": rows})


@login_required
def agency_detail(request: AuthedRequest, slug: str) -> HttpResponse:
    agency = get_object_or_404(
        scoping.visible_agencies(request.user).prefetch_related(
            Prefetch(
                "firstnet_changes",
                queryset=FirstNetStatusChange.objects.order_by("-changed_on", "-id"),
            )
        ),
        slug=slug,
    )
    counts = count_devices_by(scoping.visible_devices(request.user).filter(agency=agency), "status")
    return render(
        request,
        "devices/agency_detail.html",
        {
            "agency": agency,
            "status_counts": [(s, label, counts.get(s, 0)) for s, label in DeviceStatus.choices],
            "total": sum(counts.values()),
            "gateways": scoping.visible_gateways(request.user).filter(agency=agency),
        },
    )


@login_required
def gateway_list(request: AuthedRequest) -> HttpResponse:
    """Gateways of the agencies you see; agency admins register gateways here (secret shown once)."""
    user = request.user
    gateways = scoping.visible_gateways(user).order_by("agency__name", "name")
    agency_slug = request.GET.get("agency", "")
    if agency_slug:
        gateways = gateways.filter(agency__slug=agency_slug)
    form, created = GatewayForm(), None
    if request.method == "POST":
        scoping.require_writer(user)
        form = GatewayForm(request.POST)
        agency = (
            scoping.visible_agencies(user)
            .filter(slug=request.POST.get("agency") or getattr(user.agency, "slug", ""))
            .first()
        )
        if agency is None:
            form.add_error(None, "Choose the agency the gateway belongs to.")
        elif form.is_valid():
            scoping.require_manager_of(user, agency)
            try:
                # The secret is rendered in this response only: never stored, never redirected.
                created = services.create_gateway(
                    actor=user,
                    agency=agency,
                    remote_addr=client_address(request),
                    **form.cleaned_data,
                )
                form = GatewayForm()
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(
        request,
        "devices/gateway_list.html",
        {
            "gateways": gateways,
            "form": form,
            "created": created,
            "agencies": _agency_choices(request),
            "agency_slug": agency_slug,
            "can_register": user.can_manage_inventory,
        },
    )


@login_required
@require_POST
def gateway_rotate(request: AuthedRequest, pk: int) -> HttpResponse:
    gateway = get_object_or_404(scoping.visible_gateways(request.user), pk=pk)
    scoping.require_manager_of(request.user, gateway.agency_id)
    gateway, secret = services.rotate_gateway_credential(
        actor=request.user, gateway=gateway, remote_addr=client_address(request)
    )
    return render(request, "devices/gateway_secret.html", {"gateway": gateway, "secret": secret})
