"""Maintenance windows: when an agency's devices are expected to be silent.

Decision: a device that goes silent inside an active window moves to the ``maintenance``
level (a flip with cause "maintenance") instead of late/offline, and no alert is opened for
it; a silence alert it already had is resolved, because the silence is now expected. When
the window ends, the sweep returns it to the level its deadlines give (and only then alerts
if it is still silent). A device that keeps reporting during a window simply stays online.
Threshold alerts are not opened for a device inside a window, and a gateway's offline alert
is not opened while an agency-wide window (no kind, no device) covers its agency.

`is_window_active()` and `window_problems()` are pure (values and ``now``); the rest reads
or writes the small windows table. Who may see and manage windows is decided at the
interface (`telemetry.scoping.visible_windows`, `require_window_manager`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from config.errors import InvalidInput
from devices import audit
from devices.models import Agency, Device, DeviceKind, User
from telemetry.models import MaintenanceWindow


def is_window_active(
    *,
    recurrence: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    daily_start: time | None,
    daily_end: time | None,
    time_zone: str,
    now: datetime,
) -> bool:
    """True if a window with these values covers the instant ``now`` (aware).

    A daily window is compared in its own time zone's wall-clock time, so 23:00-06:00 stays
    23:00-06:00 local across daylight-saving changes; start > end wraps past midnight.
    """
    if starts_at is not None and now < starts_at:
        return False
    if ends_at is not None and now >= ends_at:
        return False
    if recurrence == MaintenanceWindow.Recurrence.ONCE:
        return starts_at is not None and ends_at is not None
    if daily_start is None or daily_end is None or daily_start == daily_end:
        return False
    local = now.astimezone(ZoneInfo(time_zone)).time()
    if daily_start < daily_end:
        return daily_start <= local < daily_end
    return local >= daily_start or local < daily_end


def active_windows(now: datetime) -> list[MaintenanceWindow]:
    """Windows covering ``now``. The bounds filter runs in SQL, the time of day in Python."""
    candidates = MaintenanceWindow.objects.filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=now),
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
    )
    return [
        w
        for w in candidates
        if is_window_active(
            recurrence=w.recurrence,
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            daily_start=w.daily_start,
            daily_end=w.daily_end,
            time_zone=w.time_zone,
            now=now,
        )
    ]


def device_q(windows: Iterable[MaintenanceWindow]) -> Q | None:
    """A filter on `Device` matching every device the windows cover, or None for no window."""
    combined: Q | None = None
    for w in windows:
        q = Q(agency_id=w.agency_id)
        if w.device_kind:
            q &= Q(model__kind=w.device_kind)
        if w.device_id:
            q &= Q(pk=w.device_id)
        combined = q if combined is None else combined | q
    return combined


def devices_in_maintenance(device_ids: Iterable[int], now: datetime) -> set[int]:
    """The subset of ``device_ids`` covered by an active window (two small queries)."""
    ids = list(device_ids)
    if not ids:
        return set()
    q = device_q(active_windows(now))
    if q is None:
        return set()
    return set(Device.objects.filter(q, pk__in=ids).values_list("pk", flat=True))


def agency_in_maintenance(agency_id: int, now: datetime) -> bool:
    """True if an agency-wide window (every kind, every device) covers the agency now."""
    return any(
        w.agency_id == agency_id and not w.device_kind and not w.device_id
        for w in active_windows(now)
    )


def _zone(time_zone: str | None) -> tuple[str, ZoneInfo]:
    """The window's zone name and zone; an unknown name is refused, naming the field."""
    zone = time_zone or settings.TIME_ZONE
    try:
        return zone, ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"time_zone: unknown time zone {zone!r}; use e.g. America/New_York", field="time_zone"
        ) from None


def _in_zone(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    # A start or end without an offset means wall-clock time in the window's own zone.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=tz)


def _schedule_problems(
    *,
    recurrence: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    daily_start: time | None,
    daily_end: time | None,
) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    if recurrence == MaintenanceWindow.Recurrence.ONCE:
        if starts_at is None or ends_at is None:
            problems.append(
                {"field": "starts_at", "message": "a one-off window needs starts_at and ends_at"}
            )
    elif recurrence == MaintenanceWindow.Recurrence.DAILY:
        if daily_start is None or daily_end is None:
            problems.append(
                {
                    "field": "daily_start",
                    "message": "a daily window needs daily_start and daily_end",
                }
            )
        elif daily_start == daily_end:
            problems.append(
                {"field": "daily_end", "message": "daily_end must differ from daily_start"}
            )
    else:
        problems.append({"field": "recurrence", "message": "use 'once' or 'daily'"})
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        problems.append({"field": "ends_at", "message": "ends_at must be after starts_at"})
    return problems


def _scope_problems(
    *, agency_id: int, device_kind: str, device_agency_id: int | None, device_model_kind: str | None
) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    if device_kind and device_kind not in DeviceKind.values:
        problems.append(
            {
                "field": "device_kind",
                "message": f"unknown device kind; use one of {', '.join(DeviceKind.values)}",
            }
        )
    if device_agency_id is not None:
        if device_agency_id != agency_id:
            problems.append(
                {"field": "device_id", "message": "the device belongs to another agency"}
            )
        elif device_kind and device_model_kind != device_kind:
            problems.append({"field": "device_kind", "message": "the device is not of this kind"})
    return problems


def window_problems(
    *,
    agency_id: int,
    recurrence: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    daily_start: time | None,
    daily_end: time | None,
    device_kind: str = "",
    device_agency_id: int | None = None,
    device_model_kind: str | None = None,
) -> list[dict[str, str]]:
    """Why a window with these values makes no sense, field by field; empty when it does.

    Pure: a one-off window needs both ends, the end after the start; a daily window needs two
    different times; a device (given by its agency and its model's kind) must be the
    agency's and match the kind.
    """
    return _schedule_problems(
        recurrence=recurrence,
        starts_at=starts_at,
        ends_at=ends_at,
        daily_start=daily_start,
        daily_end=daily_end,
    ) + _scope_problems(
        agency_id=agency_id,
        device_kind=device_kind,
        device_agency_id=device_agency_id,
        device_model_kind=device_model_kind,
    )


def create_window(
    *,
    actor: User,
    agency: Agency,
    title: str,
    recurrence: str,
    device_kind: str = "",
    device: Device | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    daily_start: time | None = None,
    daily_end: time | None = None,
    time_zone: str | None = None,
    remote_addr: str | None = None,
) -> MaintenanceWindow:
    """Create a window after checking it makes sense (`window_problems`); audited.

    The caller has checked ``actor`` may (`telemetry.scoping.require_window_manager`). One
    transaction; a refusal (`InvalidInput`) writes nothing. Not idempotent: each call adds one.
    """
    zone, tz = _zone(time_zone)
    starts_at, ends_at = _in_zone(starts_at, tz), _in_zone(ends_at, tz)
    errors = window_problems(
        agency_id=agency.pk,
        recurrence=recurrence,
        starts_at=starts_at,
        ends_at=ends_at,
        daily_start=daily_start,
        daily_end=daily_end,
        device_kind=device_kind,
        device_agency_id=device.agency_id if device is not None else None,
        device_model_kind=device.model.kind if device is not None and device_kind else None,
    )
    if errors:
        raise InvalidInput(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )
    return _insert_window(
        actor=actor,
        remote_addr=remote_addr,
        agency=agency,
        title=title,
        recurrence=recurrence,
        device_kind=device_kind,
        device=device,
        starts_at=starts_at,
        ends_at=ends_at,
        daily_start=daily_start,
        daily_end=daily_end,
        time_zone=zone,
    )


def _insert_window(*, actor: User, remote_addr: str | None, **fields: Any) -> MaintenanceWindow:
    with transaction.atomic():
        window = MaintenanceWindow.objects.create(created_by=actor, **fields)
        audit.record(
            actor=actor,
            action="create",
            obj=window,
            object_type="maintenance_window",
            after=_snapshot(window),
            message=f"Maintenance window created: {window.title}",
            remote_addr=remote_addr,
        )
    return window


def _snapshot(window: MaintenanceWindow) -> dict[str, object]:
    # The audit snapshot is JSON; times of day are not JSON types.
    return {
        k: v.isoformat() if isinstance(v, time) else v for k, v in audit.snapshot(window).items()
    }


def delete_window(
    *, actor: User, window: MaintenanceWindow, remote_addr: str | None = None
) -> None:
    """Delete a window; audited, one transaction. Devices it held in maintenance return at the
    next sweep. The caller has checked ``actor`` may (`telemetry.scoping.require_window_manager`).
    """
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="delete",
            obj=window,
            object_type="maintenance_window",
            before=_snapshot(window),
            message=f"Maintenance window deleted: {window.title}",
            remote_addr=remote_addr,
        )
        window.delete()
