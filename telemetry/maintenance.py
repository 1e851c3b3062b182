"""Maintenance windows: when an agency's devices are expected to be silent.

Decision: a device that goes silent inside an active window moves to the ``maintenance``
level (a flip with cause "maintenance") instead of late/offline, and no alert is opened for
it; a silence alert it already had is resolved, because the silence is now expected. When
the window ends, the sweep returns it to the level its deadlines give (and only then alerts
if it is still silent). A device that keeps reporting during a window simply stays online.
Threshold alerts are not opened for a device inside a window, and a gateway's offline alert
is not opened while an agency-wide window (no kind, no device) covers its agency.

`is_window_active()` is pure (values and ``now``); the rest reads the small windows table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Q

from devices.models import Device
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
