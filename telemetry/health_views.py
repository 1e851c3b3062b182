"""Health pages: the device health panel (loaded by the device page with HTMX), alerts and
maintenance windows. Scoping goes through `devices.scoping` / `telemetry.scoping` helpers;
another agency's object answers 404.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from config.proxies import client_address
from config.typing import AuthedRequest
from devices.models import Agency, Device, DeviceKind, User
from devices.scoping import visible_agencies, visible_devices
from telemetry import alerts, charts, health, maintenance, scoping, selectors
from telemetry.models import AlertCause, MaintenanceRecurrence


@login_required
def device_health_panel(request: AuthedRequest, pk: int) -> HttpResponse:
    """The health card of one device: level, since when and why, problems, values, flips, and
    the history chart over the range picked (``?range=24h|7d|30d``, a plain GET form)."""
    device = get_object_or_404(visible_devices(request.user), pk=pk)
    now = timezone.now()
    card = selectors.device_health_card(device=device, now=now)
    chosen = selectors.HISTORY_RANGES.get(
        request.GET.get("range", ""), selectors.HISTORY_RANGES[selectors.DEFAULT_HISTORY_RANGE]
    )
    frame = selectors.history_frame(
        device_id=device.pk, span=chosen.span, bucket=chosen.bucket, now=now
    )
    figure = charts.device_telemetry_figure(
        frame,
        now=now,
        span=chosen.span,
        label=chosen.label,
        thresholds=health.thresholds_from_settings(),
    )
    context = {
        "card": card,
        "device": device,
        "chart": charts.figure_html(figure, div_id=f"health-chart-{device.pk}"),
        "chart_range": chosen,
        "chart_ranges": selectors.HISTORY_RANGES.values(),
        "export_from": (now - chosen.span).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "export_to": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    template = "telemetry/_device_health.html" if request.htmx else "telemetry/device_health.html"
    return render(request, template, context)


@login_required
def alert_list(request: AuthedRequest) -> HttpResponse:
    state = request.GET.get("state", "active")
    if state not in alerts.ALERT_STATES:
        state = "active"
    cause = request.GET.get("cause") or None
    if cause not in AlertCause.values:
        cause = None
    agency = request.GET.get("agency") or None
    found = alerts.filter_alerts(
        scoping.visible_alerts(request.user), state=state, cause=cause, agency=agency
    )
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "telemetry/alert_list.html",
        {
            "page": page,
            "state": state,
            "cause": cause or "",
            "agency": agency or "",
            "states": alerts.ALERT_STATES,
            "causes": AlertCause.choices,
            "agencies": visible_agencies(request.user) if request.user.is_state_staff else [],
            "can_acknowledge": scoping.can_acknowledge_alerts(request.user),
        },
    )


@login_required
@require_POST
def alert_acknowledge(request: AuthedRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(scoping.visible_alerts(request.user), pk=pk)
    if not scoping.can_acknowledge_alerts(request.user):
        messages.error(request, "Your role can read alerts but not acknowledge them.")
    else:
        try:
            alerts.acknowledge_alert(alert=alert, user=request.user, request=request)
            messages.success(request, f"Acknowledged: {alert}.")
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect(request.POST.get("next") or "telemetry:alert_list")


class WindowForm(forms.Form):
    agency = forms.ModelChoiceField(queryset=Agency.objects.none(), required=False)
    title = forms.CharField(max_length=200)
    recurrence = forms.ChoiceField(choices=MaintenanceRecurrence.choices)
    device_kind = forms.ChoiceField(
        choices=[("", "Every kind"), *DeviceKind.choices], required=False
    )
    device_serial = forms.CharField(
        max_length=64, required=False, help_text="Only this device (its serial)."
    )
    starts_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    daily_start = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    daily_end = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # Form.fields is typed as plain Field; "agency" is a ModelChoiceField by declaration.
        cast(forms.ModelChoiceField, self.fields["agency"]).queryset = visible_agencies(user)
        if not user.is_state_staff:
            del self.fields["agency"]

    def clean_device_serial(self) -> Device | None:
        serial = self.cleaned_data["device_serial"].strip()
        if not serial:
            return None
        device = visible_devices(self.user).filter(serial=serial).first()
        if device is None:
            raise forms.ValidationError("No device you can see has this serial.")
        return device


@login_required
def maintenance_list(request: AuthedRequest) -> HttpResponse:
    """Windows the user can see; agency admins and state staff add and remove them here."""
    user = request.user
    form = WindowForm(request.POST or None, user=user)
    if request.method == "POST" and user.can_manage_inventory and form.is_valid():
        data = form.cleaned_data
        agency = data.pop("agency", None) or user.agency
        device = data.pop("device_serial")
        try:
            if agency is None:
                raise InvalidInput("Choose the agency.", field="agency")
            scoping.require_window_manager(user, agency)
            window = maintenance.create_window(
                actor=user,
                agency=agency,
                device=device,
                remote_addr=client_address(request),
                **data,
            )
        except DomainError as exc:
            for error in exc.errors:
                field: str | None = error["field"] if error["field"] in form.fields else None
                form.add_error(field, str(error["message"]))
        else:
            messages.success(request, f"Maintenance window added: {window.title}.")
            return redirect("telemetry:maintenance_list")
    windows = scoping.visible_windows(user)
    return render(
        request,
        "telemetry/maintenance_list.html",
        {"windows": windows, "form": form, "can_manage": user.can_manage_inventory},
    )


@login_required
@require_POST
def maintenance_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(scoping.visible_windows(request.user), pk=pk)
    try:
        scoping.require_window_manager(request.user, window.agency_id)
        maintenance.delete_window(
            actor=request.user, window=window, remote_addr=client_address(request)
        )
        messages.success(request, f"Maintenance window removed: {window.title}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("telemetry:maintenance_list")
