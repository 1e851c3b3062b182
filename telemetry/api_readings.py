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
from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema
from pydantic import field_validator

from config.api import NOT_FOUND_ERRORS
from config.errors import InvalidInput
from config.typing import AuthedRequest
from devices.scoping import visible_devices
from telemetry import readings, readings_export
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


def _export(queryset: QuerySet[TelemetryReading], filters: ExportFilter, *, label: str):
    span = readings.check_range(filters.start, filters.end, now=timezone.now())
    fields = readings.check_fields(filters.fields)
    fmt = readings_export.check_format(filters.format)
    selected = queryset.filter(ts__gte=span.start, ts__lt=span.end)
    name = readings_export.filename(label=label, span=span, fmt=fmt)
    if fmt == "csv":
        response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
            readings_export.csv_lines(selected, fields=fields, span=span),
            content_type=readings_export.CONTENT_TYPES[fmt],
        )
    else:
        response = HttpResponse(
            readings_export.parquet_bytes(selected, fields=fields, span=span),
            content_type=readings_export.CONTENT_TYPES[fmt],
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


EXPORT_DOC = {
    "responses": {
        200: {
            "description": "The file: CSV (streamed) or Parquet.",
            "content": {ct.split(";")[0]: {} for ct in readings_export.CONTENT_TYPES.values()},
        }
    }
}


@router.get(
    "/devices/{int:device_id}/readings/export",
    response=NOT_FOUND_ERRORS,
    openapi_extra=EXPORT_DOC,
)
def export_device_readings(
    request: AuthedRequest,
    filters: Query[ExportFilter],
    device_id: int = Path(..., ge=1, le=MAX_ID),
):
    """One device's readings in a range as CSV (streamed) or Parquet, times in UTC."""
    return _export(_device_readings(request, device_id), filters, label=f"device-{device_id}")


@router.get("/readings/export", response=NOT_FOUND_ERRORS, openapi_extra=EXPORT_DOC)
def export_readings(
    request: AuthedRequest, filters: Query[ExportFilter], fleet: Query[FleetFilter]
):
    """Readings of your scope (or one agency, one kind) as CSV (streamed) or Parquet."""
    queryset = readings.filter_fleet(
        visible_readings(request.user), agency=fleet.agency, kind=readings.check_kind(fleet.kind)
    )
    return _export(queryset, filters, label=fleet.agency or "all")
