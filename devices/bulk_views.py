"""Pages of the inventory list's bulk actions: bulk edit (preview → confirm) and label sheets.

All work without JavaScript: the list is one GET form whose ticked rows (``ids``) or
"all matching the filter" (``scope=filter`` and the filters) name the devices. The preview
is a GET (it writes nothing) whose confirm button POSTs the exact ids previewed, so what is
changed is what was shown. The selection is scoped to the user once, here
(`devices.scoping`), then `devices.selection`, `devices.bulk_edits` and `devices.labels` do
the work. A refused request renders the reasons with the status the API would answer.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from config.errors import Conflict, DomainError
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import bulk_edits, labels, scoping, selection
from devices.audit import request_user_agent
from devices.bulk_forms import BulkEditForm, LabelForm, selection_from

EDIT_TASK = "a bulk edit"
LABEL_TASK = "a label sheet"
# A preview lists this many devices; the rest are counted (the audit record lists them all).
PREVIEW_ROWS = 1_000


def _selected_ids(request: AuthedRequest, data: QueryDict, *, limit: int, task: str) -> list[int]:
    """The visible devices the form names, after refusing a read-only role (403)."""
    user = request.user
    scoping.require_writer(user)
    agencies = list(scoping.visible_agencies(user).values_list("slug", "name"))
    chosen = selection_from(data, agencies=agencies)
    return selection.resolve_for_writer(user, chosen, limit=limit, task=task)


def _refused(request: AuthedRequest, error: DomainError, *, title: str) -> HttpResponse:
    back = reverse("device_list")
    return render(
        request,
        "devices/selection_refused.html",
        {"title": title, "error": error, "back": back},
        status=error.status,
    )


def _preview(
    request: AuthedRequest, form: BulkEditForm, plan: bulk_edits.BulkPlan, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "plan": plan,
        "rows": plan.devices[:PREVIEW_ROWS],
        "more": max(0, len(plan.devices) - PREVIEW_ROWS),
        "field_label": plan.change.field_label,
        "ids": ",".join(str(d.id) for d in plan.devices),
        "hidden": form.hidden_values(),
    }
    return render(request, "devices/bulk_preview.html", context, status=status)


@login_required
@require_GET
def device_bulk_preview(request: AuthedRequest) -> HttpResponse:
    """What a bulk edit would change, per device, and every reason it would be refused."""
    form = BulkEditForm(request.GET)
    try:
        change = form.change()
        ids = _selected_ids(request, request.GET, limit=bulk_edits.MAX_DEVICES, task=EDIT_TASK)
        plan = bulk_edits.plan_bulk_edit(device_ids=ids, change=change)
    except DomainError as exc:
        return _refused(request, exc, title="Bulk edit refused")
    return _preview(request, form, plan)


@login_required
@require_POST
def device_bulk_apply(request: AuthedRequest) -> HttpResponse:
    """Apply the previewed bulk edit in one transaction, or show why it is refused whole."""
    form = BulkEditForm(request.POST)
    try:
        change = form.change()
        ids = _selected_ids(request, request.POST, limit=bulk_edits.MAX_DEVICES, task=EDIT_TASK)
    except DomainError as exc:
        return _refused(request, exc, title="Bulk edit refused")
    try:
        plan = bulk_edits.apply_bulk_edit(
            device_ids=ids,
            change=change,
            actor_id=request.user.pk,
            remote_addr=client_address(request),
            user_agent=request_user_agent(request),
        )
    except Conflict:
        # Refused whole (a device changed since the preview): show the preview with its reasons.
        replan = bulk_edits.plan_bulk_edit(device_ids=ids, change=change)
        return _preview(request, form, replan, status=409)
    except DomainError as exc:
        return _refused(request, exc, title="Bulk edit refused")
    count = len(plan.changed)
    messages.success(
        request,
        f"Bulk edit done: {count} device{'s' if count != 1 else ''} changed "
        f"({change.describe()}); {len(plan.devices) - count} already had that value.",
    )
    return redirect("device_list")


@login_required
@require_GET
def device_labels(request: AuthedRequest) -> HttpResponse:
    """A PDF of asset labels for the selected devices (at most 1,000), on the chosen stock."""
    form = LabelForm(request.GET)
    try:
        ids = _selected_ids(request, request.GET, limit=labels.MAX_LABELS, task=LABEL_TASK)
    except DomainError as exc:
        return _refused(request, exc, title="Labels refused")
    stock = form.cleaned_data["stock"] if form.is_valid() else "avery5160"
    pdf = labels.render_labels(selection.label_rows(ids), stock=stock)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"asset-labels-{stock}-{timezone.localdate().isoformat()}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
