"""Bulk import and export endpoints of the inventory (mounted under the devices router).

POST /api/devices/import   multipart: file (CSV or XLSX), agency (slug), dry_run
GET  /api/devices/export   ?format=csv|xlsx and the device list's filters
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import Http404
from ninja import Field, File, Form, Query, Router, Schema, UploadedFile

from config.api import NOT_FOUND_ERRORS
from config.errors import InvalidInput
from config.proxies import client_address
from config.typing import AuthedRequest
from devices import exporting, importing, scoping
from devices.models import Agency
from devices.schemas import DeviceFilter, SlugText
from devices.selectors import filter_devices

router = Router(tags=["devices"])


class ImportErrorOut(Schema):
    """One bad cell: the row as a spreadsheet numbers it (header = 1), the column, the fix."""

    field: str | None = None
    row: int | None = None
    column: str | None = None
    message: str


class ImportRejectedOut(Schema):
    """A rejected import (nothing was written), or any other 422, with every problem listed."""

    message: str
    errors: list[ImportErrorOut] = []


class ImportChangeOut(Schema):
    row: int
    serial: str
    manufacturer: str
    action: Literal["create", "update"]
    changed: list[str] = Field(..., description="Columns an update changes.")


class ImportReportOut(Schema):
    """The preview (dry run) or the result of an import."""

    file: str
    agency: str
    dry_run: bool
    imported: bool = Field(..., description="True when the devices were written.")
    is_valid: bool = Field(
        ..., description="False when any row has an error (then nothing is written)."
    )
    rows: int
    created: int
    updated: int
    unchanged: int
    ignored_columns: list[str]
    notes: list[str]
    errors: list[ImportErrorOut]
    changes: list[ImportChangeOut] = Field(..., description="The first 500 creates and updates.")
    audit_id: int | None = None


class ExportFilter(DeviceFilter):
    format: Literal["csv", "xlsx"] = Field("csv", description="csv (streamed) or xlsx.")


IMPORT_RESPONSES: dict[int, Any] = {
    **NOT_FOUND_ERRORS,
    200: ImportReportOut,
    422: ImportRejectedOut,
}
PREVIEW_CHANGES = 500


def _target_agency(request: AuthedRequest, slug: str | None) -> Agency:
    """The agency to import into: named, or an agency user's own. Hidden agencies are 404."""
    user = request.user
    if not slug:
        if user.agency is None:
            raise InvalidInput(
                "State staff must name the agency to import into (its slug).", field="agency"
            )
        slug = user.agency.slug
    agency = scoping.visible_agencies(user).filter(slug=slug).first()
    if agency is None:
        raise Http404(f"There is no agency {slug!r} that you can see.")
    scoping.require_manager_of(user, agency)
    return agency


@router.post("/devices/import", response=IMPORT_RESPONSES, tags=["devices"])
def import_devices(
    request: AuthedRequest,
    file: File[UploadedFile],
    agency: Form[SlugText | None] = None,
    dry_run: Form[bool] = False,
):
    """Import devices from a CSV or XLSX file into one agency (upsert by serial per manufacturer).

    Columns (any case, any order; others are ignored and listed): serial, manufacturer, model
    (required), asset_tag, imei, iccid, status, network, assigned_unit, assigned_officer,
    firmware_version, mdm_enrolled, encryption_enabled, cji_access, notes. With
    ``dry_run=true`` the answer is a preview with every error and nothing is written. A real
    import writes nothing unless every row is good (422 lists each bad row and column).
    Agency admins import into their own agency; state staff name any agency.
    """
    scoping.require_writer(request.user)
    target = _target_agency(request, agency)
    if file.size is not None and file.size > importing.MAX_FILE_BYTES:
        raise InvalidInput(
            f"The file is larger than {importing.MAX_FILE_BYTES // (1024 * 1024)} MB; split it.",
            field="file",
        )
    plan = importing.import_devices(
        agency=target,
        data=file.read(),
        filename=file.name or "upload",
        actor=request.user,
        dry_run=dry_run,
        remote_addr=client_address(request),
    )
    return {
        **importing.plan_to_dict(plan, changes_limit=PREVIEW_CHANGES),
        "agency": target.slug,
        "audit_id": plan.audit_id,
    }


EXPORT_DOC = {
    "responses": {
        200: {
            "description": "The devices, in the columns the import reads.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                importing.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
}


@router.get(
    "/devices/export", response=NOT_FOUND_ERRORS, tags=["devices"], openapi_extra=EXPORT_DOC
)
def export_devices(request: AuthedRequest, filters: Query[ExportFilter]):
    """Download the devices you can see as CSV (streamed) or XLSX, filtered like the list.

    Cells that a spreadsheet would run as a formula start with an apostrophe.
    """
    options = filters.dict()
    fmt = options.pop("format")
    devices = filter_devices(scoping.visible_devices(request.user), **options)
    return exporting.export_response(devices, fmt, agency=options.get("agency"))
