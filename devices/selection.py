"""Which devices a bulk edit or a label sheet is for: picked ids, or every device a filter matches.

The pages and the API both select devices in one of two ways, and both resolve the
selection here, against a queryset the interface has already scoped to the user
(`devices.scoping.visible_devices`):

* ``ids``: the devices ticked on the list (or sent to the API). An id the user cannot see,
  whether it does not exist or belongs to another agency, is `NotFound` naming the ids only,
  so another agency's devices cannot be confirmed to exist.
* ``filters``: "all N matching the filter", the inventory list's filters
  (`devices.selectors.filter_devices`).

Either way an empty selection, or one over the caller's limit, is `InvalidInput` with a
message saying what to do. Reads only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from config.errors import InvalidInput, NotFound
from devices import scoping
from devices.forms import DeviceFilters
from devices.labels import LabelRow
from devices.models import Device, User
from devices.selectors import filter_devices

# SQLite binds at most 32,766 parameters; looking ids up in chunks keeps any limit portable.
_ID_CHUNK = 5_000


@dataclass(frozen=True)
class Selection:
    """Picked ``ids``, or (``ids`` None) the devices matching ``filters``."""

    ids: list[int] | None
    filters: DeviceFilters

    @property
    def is_filter(self) -> bool:
        return self.ids is None


def parse_ids(values: Iterable[str]) -> list[int]:
    """Ids from form values; each value may hold one id or several separated by commas."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or len(part) > 18:
                raise InvalidInput(f"{part[:30]!r} is not a device id.", field="ids")
            ids.append(int(part))
    return ids


def _visible_ids(devices: QuerySet[Device], wanted: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(wanted), _ID_CHUNK):
        chunk = wanted[start : start + _ID_CHUNK]
        found.update(devices.filter(pk__in=chunk).values_list("pk", flat=True))
    return found


def resolve(devices: QuerySet[Device], selection: Selection, *, limit: int, task: str) -> list[int]:
    """The ids of the selected devices among ``devices`` (already scoped), in list order.

    ``task`` names what the devices are for in messages ("a bulk edit", "a label sheet").
    """
    if selection.ids is None:
        matching = filter_devices(devices, **selection.filters)
        ids = list(matching.values_list("pk", flat=True)[: limit + 1])
    else:
        ids = list(dict.fromkeys(selection.ids))  # unique, in the order given
    if not ids:
        raise InvalidInput(
            f"No devices are selected for {task}: tick at least one device, or choose all "
            "devices matching the filter.",
            field="ids",
        )
    if len(ids) > limit:
        # Counted only when over the limit: the common case never pays for a COUNT(*).
        total = matching.count() if selection.ids is None else len(ids)
        raise InvalidInput(
            f"{task[0].upper()}{task[1:]} takes at most {limit:,} devices; this selection has "
            f"{total:,}. Narrow the filter and do it in parts.",
            field="ids",
        )
    if selection.ids is not None:
        found = _visible_ids(devices, ids)
        missing = [i for i in ids if i not in found]
        if missing:
            shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
            raise NotFound(
                f"Devices not found, or not visible to you: {shown}. Nothing was done; "
                "reload the list and select again.",
                field="ids",
            )
    return ids


def resolve_for_writer(user: User, chosen: Selection, *, limit: int, task: str) -> list[int]:
    """The interfaces' one step: refuse a read-only role (403) before any lookup, resolve the
    selection among the devices ``user`` sees, and require that ``user`` manages each
    device's agency."""
    scoping.require_writer(user)
    ids = resolve(scoping.visible_devices(user), chosen, limit=limit, task=task)
    for agency_id in agency_ids(ids):
        scoping.require_manager_of(user, agency_id)
    return ids


def agency_ids(device_ids: list[int]) -> set[int]:
    """The agencies the devices belong to, for the interface's permission check."""
    found: set[int] = set()
    for start in range(0, len(device_ids), _ID_CHUNK):
        chunk = device_ids[start : start + _ID_CHUNK]
        found.update(
            Device.objects.filter(pk__in=chunk).order_by().values_list("agency_id", flat=True)
        )
    return found


def label_rows(device_ids: list[int]) -> list[LabelRow]:
    """The devices as label rows (asset tag, serial, agency), in the list's order."""
    rows = (
        Device.objects.filter(pk__in=device_ids)
        .order_by("agency__name", "serial", "id")
        .values_list("asset_tag", "serial", "agency__name")
    )
    return [LabelRow(asset_tag=a, serial=s, agency=n) for a, s, n in rows]
