"""Pages for bulk import (upload → preview → confirm) and export downloads.

The uploaded file is kept under MEDIA_ROOT/imports between the preview and the confirm, so
the user does not upload it twice; the session remembers which files are the user's, so
another person's upload answers 404. The preview is recomputed from the file each time it
is shown, and the confirm validates again inside its transaction: what is written is what
was checked at that moment.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.views.decorators.http import require_POST

from config.errors import InvalidInput
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import exporting, importing, listing, scoping
from devices.forms import DeviceFilterForm, set_choices
from devices.models import Agency
from devices.selectors import filter_devices

SESSION_KEY = "device_imports"
UPLOAD_DIR = "imports"
# Uploads not confirmed within a day are removed the next time anyone uploads.
UPLOAD_MAX_AGE_S = 24 * 3600
PREVIEW_ERRORS = 1000
PREVIEW_CHANGES = 500
ALLOWED_SUFFIXES = (".csv", ".xlsx")


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV or XLSX file", help_text="Header row first; columns in any order and any case."
    )
    agency = forms.ChoiceField(label="Into agency")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        files: MultiValueDict[str, UploadedFile] | None = None,
        *,
        agencies: list[tuple[str, str]],
    ) -> None:
        super().__init__(data, files)
        set_choices(self, "agency", agencies)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(ALLOWED_SUFFIXES):
            raise forms.ValidationError(
                "Choose a .csv or .xlsx file (save other spreadsheets as .xlsx)."
            )
        if upload.size > importing.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {importing.MAX_FILE_BYTES // (1024 * 1024)} MB; split it."
            )
        return upload


def _manageable_agencies(request: AuthedRequest) -> list[tuple[str, str]]:
    # visible_agencies is already the user's own agency for everyone but state staff.
    agencies = scoping.visible_agencies(request.user)
    return list(agencies.order_by("name").values_list("slug", "name"))


def _upload_root() -> Path:
    root = Path(settings.MEDIA_ROOT) / UPLOAD_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


def _purge_old_uploads(root: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE_S
    for path in root.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _pending(request: AuthedRequest, token: str) -> tuple[dict[str, str], Path, Agency]:
    """The user's own pending upload, or 404 (unknown, someone else's, or already imported)."""
    entry = request.session.get(SESSION_KEY, {}).get(token)
    if entry is None:
        raise Http404("This upload is not yours or was already imported; upload the file again.")
    path = _upload_root() / entry["stored"]
    if not path.is_file():
        raise Http404("The uploaded file has expired; upload it again.")
    agency = scoping.visible_agencies(request.user).filter(slug=entry["agency"]).first()
    if agency is None:
        raise Http404("Agency not found.")
    scoping.require_manager_of(request.user, agency)
    return entry, path, agency


def _forget(request: HttpRequest, token: str, path: Path) -> None:
    pending = request.session.get(SESSION_KEY, {})
    pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    path.unlink(missing_ok=True)


@login_required
def device_import(request: AuthedRequest) -> HttpResponse:
    """The upload form (agency admins and state staff); a good upload goes to its preview."""
    scoping.require_writer(request.user)
    agencies = _manageable_agencies(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        root = _upload_root()
        _purge_old_uploads(root)
        token = secrets.token_urlsafe(16)
        stored = token + Path(upload.name).suffix.lower()
        with open(root / stored, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        pending = request.session.get(SESSION_KEY, {})
        pending[token] = {
            "stored": stored,
            "name": Path(upload.name).name[:200],
            "agency": form.cleaned_data["agency"],
        }
        request.session[SESSION_KEY] = pending
        return redirect("device_import_preview", token=token)
    return render(
        request,
        "devices/import.html",
        {
            "form": form,
            "export_agencies": list(
                scoping.visible_agencies(request.user).order_by("name").values_list("slug", "name")
            ),
            "columns": importing.COLUMNS,
            "required": importing.REQUIRED_COLUMNS,
        },
    )


@login_required
def device_import_preview(request: AuthedRequest, token: str) -> HttpResponse:
    """The dry run of a pending upload: counts, every error with row and column, the changes."""
    entry, path, agency = _pending(request, token)
    plan = importing.import_devices(
        agency=agency,
        data=path.read_bytes(),
        filename=entry["name"],
        actor=request.user,
        dry_run=True,
    )
    return _render_preview(request, token, agency, plan)


def _render_preview(
    request: HttpRequest, token: str, agency: Agency, plan: importing.ImportPlan, status: int = 200
) -> HttpResponse:
    changes = [c for c in plan.changes if c.action != "unchanged"]
    return render(
        request,
        "devices/import_preview.html",
        {
            "token": token,
            "agency": agency,
            "plan": plan,
            "errors": plan.errors[:PREVIEW_ERRORS],
            "more_errors": max(0, len(plan.errors) - PREVIEW_ERRORS),
            "changes": [
                {
                    "row": c.row,
                    "serial": c.serial,
                    "manufacturer": c.manufacturer,
                    "action": c.action,
                    "changed": ", ".join(
                        importing.COLUMN_FOR_ATTR[f]
                        for f in importing.WRITABLE_FIELDS
                        if f in c.before
                    ),
                }
                for c in changes[:PREVIEW_CHANGES]
            ],
            "more_changes": max(0, len(changes) - PREVIEW_CHANGES),
        },
        status=status,
    )


@login_required
@require_POST
def device_import_confirm(request: AuthedRequest, token: str) -> HttpResponse:
    """Run the real import of a previewed upload; nothing is written if any row is bad."""
    entry, path, agency = _pending(request, token)
    try:
        plan = importing.import_devices(
            agency=agency,
            data=path.read_bytes(),
            filename=entry["name"],
            actor=request.user,
            dry_run=False,
            remote_addr=client_address(request),
        )
    except importing.ImportRejected as rejected:
        messages.error(request, rejected.message)
        return _render_preview(request, token, agency, rejected.plan, status=422)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("device_import_preview", token=token)
    _forget(request, token, path)
    messages.success(request, f"{entry['name']} imported into {agency.name}: {plan.summary()}.")
    return redirect(f"{reverse('device_list')}?agency={agency.slug}")


@login_required
@require_POST
def device_import_cancel(request: AuthedRequest, token: str) -> HttpResponse:
    _, path, _ = _pending(request, token)
    _forget(request, token, path)
    messages.info(request, "Upload discarded; nothing was imported.")
    return redirect("device_import")


@login_required
def device_export(request: AuthedRequest) -> HttpResponseBase:
    """Download the devices the user can see, with the inventory list's filters (?format=xlsx)."""
    agencies = list(scoping.visible_agencies(request.user).values_list("slug", "name"))
    filters = DeviceFilterForm(request.GET or None, agencies=agencies).filters()
    fmt = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    devices = filter_devices(scoping.visible_devices(request.user), **filters)
    # The list's sort too (?sort=), so the file is in the order the list shows.
    devices = listing.sort_devices(devices, listing.parse_sort(request.GET.get("sort")))
    return exporting.export_response(devices, fmt, agency=filters.get("agency"))
