"""Telemetry pages: dead letters and gateways' connection state (scoped by telemetry.scoping)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from config.typing import AuthedRequest
from telemetry.models import DeadLetter
from telemetry.scoping import get_visible_or_404, visible_dead_letters, visible_gateway_status

PAGE_SIZE = 50


@login_required
def dead_letter_list(request: AuthedRequest) -> HttpResponse:
    """Rejected messages and readings, newest first, filterable by reason and agency."""
    letters = visible_dead_letters(request.user)
    reason = request.GET.get("reason", "")
    if reason in DeadLetter.Reason.values:
        letters = letters.filter(reason=reason)
    agency = request.GET.get("agency", "")
    if agency:
        letters = letters.filter(agency__slug=agency)
    page = Paginator(letters, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "telemetry/deadletter_list.html",
        {
            "page": page,
            "reasons": DeadLetter.Reason.choices,
            "reason": reason,
            "agency": agency,
        },
    )


@login_required
def dead_letter_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    letter = get_visible_or_404(visible_dead_letters(request.user), pk=pk)
    return render(request, "telemetry/deadletter_detail.html", {"letter": letter})


@login_required
def gateway_status_list(request: AuthedRequest) -> HttpResponse:
    """Each gateway online or offline, since when, with its message and gap counts."""
    statuses = visible_gateway_status(request.user).order_by(
        "is_online", "gateway__agency__name", "gateway__name"
    )
    online = sum(1 for s in statuses if s.is_online)
    return render(
        request,
        "telemetry/gateway_status.html",
        {
            "statuses": statuses,
            "online": online,
            "offline": len(statuses) - online,
        },
    )
