"""Readings API: a device's (or a fleet's) readings over time, bucketed series and exports.

Thin operations over `telemetry.readings` and `telemetry.readings_export`: resolve the scope
once (a device through `devices.scoping.visible_devices`, another agency's answering 404; a
fleet through `telemetry.scoping.visible_readings`, where another agency's slug matches
nothing, as in every list of the API), check the input (422 naming the field), then read.
Times in answers are ISO 8601 in UTC with microseconds, exactly as stored. Mounted by
`telemetry.api`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import field_validator

from config.api import NOT_FOUND_ERRORS, ErrorOut
from config.errors import InvalidInput
from config.typing import AuthedRequest
from devices.scoping import visible_devices
from telemetry import readings, readings_export, readings_jobs
from telemetry.models import TelemetryReading
from telemetry.scoping import visible_readings

router = Router(tags=["readings"])

MAX_ID = 2**63 - 1


class RangeFilter(Schema):
    start: dt.datetime | None = Field(
        None,
        alias="from",
        description="Start, included (ISO 8601; UTC if no offset). Default: to − 24 h.",
    )
    end: dt.datetime | None = Field(
        None, alias="to", description="End, excluded. Default: now. At most 31 days after from."
    )
    fields: str | None = Field(
        None,
        max_length=200,
        description=f"Comma-separated measurements; default all: {', '.join(readings.FIELDS)}.",
    )

    @field_validator("start", "end", "fields", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        # A page's GET form sends an empty date it was not given: the default applies.
        return None if value == "" else value


class ReadingsFilter(RangeFilter):
    order: str = Field("asc", max_length=4, description="asc (oldest first) or desc.")
    limit: int = Field(
        readings.DEFAULT_LIMIT, ge=1, le=readings.MAX_LIMIT, description="Readings per page."
    )
    cursor: str | None = Field(
        None, max_length=200, description="next_cursor of the previous page, unchanged."
    )
    bucket: str | None = Field(
        None,
        max_length=4,
        description="1m, 5m, 1h or 1d: min, max, mean and count per bucket instead of readings.",
    )


class FleetFilter(Schema):
    agency: str | None = Field(None, max_length=64, description="Agency slug.")
    kind: str | None = Field(None, max_length=24, description="Device kind.")


class ExportFilter(RangeFilter):
    format: str = Field("csv", max_length=8, description="csv or parquet.")


class ReadingsOut(Schema):
    start: str = Field(..., description="The range's start (UTC).")
    end: str = Field(..., description="The range's end, excluded (UTC).")
    order: str
    bucket: str | None = Field(None, description="The bucket size, for a bucketed series.")
    items: list[dict[str, Any]] = Field(
        ...,
        description="Readings {device_id, ts, ...fields}, or buckets {start, readings, "
        "measurements: {field: {min, max, mean, count}}}.",
    )
    next_cursor: str | None = Field(None, description="Pass as cursor for the next page.")


def _iso(value: dt.datetime) -> str:
    # Formatted here: the JSON encoder would cut microseconds, and a client paging by time
    # must see exactly the stored instant.
    return value.astimezone(UTC).isoformat()


def _answer(queryset: QuerySet[TelemetryReading], filters: ReadingsFilter) -> dict[str, Any]:
    span = readings.check_range(filters.start, filters.end, now=timezone.now())
    order = readings.check_order(filters.order)
    if filters.bucket is not None:
        seconds = readings.check_bucket(filters.bucket)
        fields = readings.check_fields(filters.fields, numeric_only=True)
        if filters.cursor:
            raise InvalidInput("cursor: a bucketed series comes whole, unpaged.", field="cursor")
        items = readings.bucketed_series(
            queryset.filter(ts__gte=span.start, ts__lt=span.end),
            seconds=seconds,
            fields=fields,
            order=order,
        )
        for item in items:
            item["start"] = _iso(item["start"])
        next_cursor = None
    else:
        fields = readings.check_fields(filters.fields)
        after = readings.Cursor.decode(filters.cursor) if filters.cursor else None
        page = readings.page_of_readings(
            queryset.filter(ts__gte=span.start, ts__lt=span.end),
            fields=fields,
            order=order,
            limit=filters.limit,
            after=after,
        )
        items = [{**row, "ts": _iso(row["ts"])} for row in page.rows]
        next_cursor = page.next_cursor
    return {
        "start": _iso(span.start),
        "end": _iso(span.end),
        "order": order,
        "bucket": filters.bucket,
        "items": items,
        "next_cursor": next_cursor,
    }


def _device_readings(request: AuthedRequest, device_id: int) -> QuerySet[TelemetryReading]:
    device = get_object_or_404(visible_devices(request.user), pk=device_id)
    return TelemetryReading.objects.filter(device_id=device.pk)


@router.get("/devices/{int:device_id}/readings", response={200: ReadingsOut, **NOT_FOUND_ERRORS})
def list_device_readings(
    request: AuthedRequest,
    filters: Query[ReadingsFilter],
    device_id: int = Path(..., ge=1, le=MAX_ID),
):
    """One device's readings in a range (at most 31 days), paged by cursor, or bucketed."""
    return _answer(_device_readings(request, device_id), filters)


@router.get("/readings", response={200: ReadingsOut, **NOT_FOUND_ERRORS})
def list_readings(
    request: AuthedRequest, filters: Query[ReadingsFilter], fleet: Query[FleetFilter]
):
    """Readings of every device you can see (narrowed by agency and kind), paged or bucketed."""
    queryset = readings.filter_fleet(
        visible_readings(request.user), agency=fleet.agency, kind=readings.check_kind(fleet.kind)
    )
    return _answer(queryset, filters)


class ExportJobOut(Schema):
    id: str
    status: str = Field(..., description="queued, running, done or failed.")
    progress: int = Field(..., description="Percent done.")
    rows_total: int
    rows_written: int
    format: str
    start: str
    end: str
    error: str
    status_url: str
    download_url: str | None = Field(None, description="Once done: the file.")
    page_url: str = Field(..., description="The page that shows the progress and the link.")


def job_out(job: readings_jobs.ExportJob) -> dict[str, Any]:
    return {
        **{k: getattr(job, k) for k in ("id", "status", "progress", "rows_total")},
        **{k: getattr(job, k) for k in ("rows_written", "format", "start", "end", "error")},
        "status_url": f"/api/readings/exports/{job.id}",
        "download_url": f"/api/readings/exports/{job.id}/file" if job.status == "done" else None,
        "page_url": reverse("telemetry:readings_export_job", args=[job.id]),
    }


@dataclass(frozen=True)
class ExportRequest:
    """What to export, checked; `start_export` answers it inline or as a job."""

    selected: QuerySet[TelemetryReading]
    span: readings.TimeRange
    fields: tuple[str, ...]
    fmt: str
    label: str
    # The selection by ids, for a job: device_id, or scope_agency_id with agency and kind.
    what: dict[str, Any]


def check_export(
    queryset: QuerySet[TelemetryReading], filters: ExportFilter, *, label: str, **what: Any
) -> ExportRequest:
    span = readings.check_range(filters.start, filters.end, now=timezone.now())
    fields = readings.check_fields(filters.fields)
    fmt = readings_export.check_format(filters.format)
    return ExportRequest(
        selected=queryset.filter(ts__gte=span.start, ts__lt=span.end),
        span=span,
        fields=fields,
        fmt=fmt,
        label=label,
        what=what,
    )


def start_export(
    request: AuthedRequest, export: ExportRequest
) -> HttpResponse | StreamingHttpResponse | readings_jobs.ExportJob:
    """The file itself for an ordinary export; a queued job for one past the row threshold."""
    rows = export.selected.count()
    if readings_jobs.is_large(rows):
        return readings_jobs.request_readings_export(
            requested_by_id=request.user.pk,
            rows_total=rows,
            fmt=export.fmt,
            span=export.span,
            fields=list(export.fields),
            label=export.label,
            **export.what,
        )
    content_type = readings_export.CONTENT_TYPES[export.fmt]
    response: HttpResponse | StreamingHttpResponse
    if export.fmt == "csv":
        lines = readings_export.csv_lines(export.selected, fields=export.fields, span=export.span)
        response = StreamingHttpResponse(lines, content_type=content_type)
    else:
        blob = readings_export.parquet_bytes(
            export.selected, fields=export.fields, span=export.span
        )
        response = HttpResponse(blob, content_type=content_type)
    name = readings_export.filename(label=export.label, span=export.span, fmt=export.fmt)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _answer_export(request: AuthedRequest, export: ExportRequest) -> Any:
    answer = start_export(request, export)
    if isinstance(answer, readings_jobs.ExportJob):
        # A person following a page's link sees the job's page (progress, then the link);
        # a program gets the job as JSON.
        if "text/html" in request.headers.get("Accept", ""):
            return HttpResponseRedirect(job_out(answer)["page_url"], status=303)
        return Status(202, job_out(answer))
    return answer


EXPORT_DOC = {
    "responses": {
        200: {
            "description": "The file: CSV (streamed) or Parquet.",
            "content": {ct.split(";")[0]: {} for ct in readings_export.CONTENT_TYPES.values()},
        }
    }
}
EXPORT_RESPONSES: dict[int, Any] = {202: ExportJobOut, **NOT_FOUND_ERRORS}


@router.get(
    "/devices/{int:device_id}/readings/export",
    response=EXPORT_RESPONSES,
    openapi_extra=EXPORT_DOC,
)
def export_device_readings(
    request: AuthedRequest,
    filters: Query[ExportFilter],
    device_id: int = Path(..., ge=1, le=MAX_ID),
):
    """One device's readings in a range as CSV (streamed) or Parquet, times in UTC.

    More rows than the server's threshold: 202 with a job to follow (status_url) instead.
    """
    export = check_export(
        _device_readings(request, device_id),
        filters,
        label=f"device-{device_id}",
        device_id=device_id,
    )
    return _answer_export(request, export)


def fleet_export(
    request: AuthedRequest, filters: ExportFilter, fleet: FleetFilter
) -> ExportRequest:
    kind = readings.check_kind(fleet.kind)
    queryset = readings.filter_fleet(visible_readings(request.user), agency=fleet.agency, kind=kind)
    scope = None if request.user.is_state_staff else request.user.agency_id
    return check_export(
        queryset,
        filters,
        label=fleet.agency or "all",
        scope_agency_id=scope,
        agency=fleet.agency,
        kind=kind,
    )


@router.get("/readings/export", response=EXPORT_RESPONSES, openapi_extra=EXPORT_DOC)
def export_readings(
    request: AuthedRequest, filters: Query[ExportFilter], fleet: Query[FleetFilter]
):
    """Readings of your scope (or one agency, one kind) as CSV (streamed) or Parquet.

    More rows than the server's threshold: 202 with a job to follow (status_url) instead.
    """
    return _answer_export(request, fleet_export(request, filters, fleet))


@router.get("/readings/exports/{job_id}", response={200: ExportJobOut, **NOT_FOUND_ERRORS})
def get_readings_export(request: AuthedRequest, job_id: str = Path(..., max_length=32)):
    """A large export's progress; its download_url once built. Only its requester sees it."""
    return job_out(readings_jobs.find_job(job_id, user_id=request.user.pk))


@router.get(
    "/readings/exports/{job_id}/file",
    response={409: ErrorOut, **NOT_FOUND_ERRORS},
    openapi_extra=EXPORT_DOC,
)
def download_readings_export(request: AuthedRequest, job_id: str = Path(..., max_length=32)):
    """The built file of a large export (409 while it is still being built)."""
    return readings_jobs.open_file(readings_jobs.find_job(job_id, user_id=request.user.pk))
