"""The inventory list's columns and sort orders: which exist, and how each one sorts.

Both are read from the URL (``?sort=serial`` or ``?sort=-serial``, ``?cols=serial&cols=imei``)
and checked against the columns below, so a URL never reaches ``order_by`` with a field of
its own choosing; an unknown value falls back to the default. The list page and its CSV/XLSX
export sort with the same function, so the export is in the order the list shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from devices.models import Device


@dataclass(frozen=True)
class Column:
    """One column of the list: its URL key, its heading and the fields it sorts by."""

    key: str
    label: str
    order: tuple[str, ...]


COLUMNS: tuple[Column, ...] = (
    Column("serial", "Serial", ("serial",)),
    Column("asset_tag", "Asset tag", ("asset_tag",)),
    Column("agency", "Agency", ("agency__name",)),
    Column("model", "Model", ("model__manufacturer", "model__name")),
    Column("status", "Status", ("status",)),
    Column("network", "Network", ("network",)),
    Column("health", "Health", ("health__level",)),
    Column("assigned", "Assigned", ("assigned_unit", "assigned_officer")),
    Column("imei", "IMEI", ("imei",)),
    Column("iccid", "ICCID", ("iccid",)),
    Column("firmware", "Firmware", ("firmware_version",)),
    Column("mdm", "MDM", ("is_mdm_enrolled",)),
    Column("encryption", "Encryption", ("is_encryption_enabled",)),
    Column("status_since", "Status since", ("status_changed_at",)),
)
BY_KEY = {column.key: column for column in COLUMNS}
DEFAULT_COLUMNS: tuple[str, ...] = (
    "serial",
    "asset_tag",
    "agency",
    "model",
    "status",
    "network",
    "health",
    "assigned",
)


@dataclass(frozen=True)
class Sort:
    """A valid sort: the column's key and its direction."""

    key: str
    descending: bool = False

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


@dataclass(frozen=True)
class Heading:
    """A column heading: the sort its link asks for, and its aria-sort state."""

    column: Column
    next_sort: str
    aria_sort: str | None


def parse_sort(raw: str | None) -> Sort | None:
    """``serial`` / ``-serial`` → Sort; anything not a column is no sort (the default order)."""
    raw = (raw or "").strip()
    key = raw.removeprefix("-")
    if key not in BY_KEY:
        return None
    return Sort(key=key, descending=raw.startswith("-"))


def sort_devices(devices: QuerySet[Device], sort: Sort | None) -> QuerySet[Device]:
    """``devices`` in ``sort``'s order (id last, so pages never overlap); unchanged if None."""
    if sort is None:
        return devices
    prefix = "-" if sort.descending else ""
    return devices.order_by(*(prefix + f for f in BY_KEY[sort.key].order), prefix + "id")


def chosen_columns(raw: Iterable[str]) -> list[Column]:
    """The columns asked for, in the list's own order; none (or none valid) → the defaults."""
    wanted = set(raw) & set(BY_KEY)
    keys = wanted or set(DEFAULT_COLUMNS)
    return [column for column in COLUMNS if column.key in keys]


def headings(columns: list[Column], sort: Sort | None) -> list[Heading]:
    """Each heading's link toggles its column between ascending and descending."""
    result = []
    for column in columns:
        current = sort is not None and sort.key == column.key
        descending = current and sort is not None and sort.descending
        aria = ("descending" if descending else "ascending") if current else None
        next_sort = column.key if (not current or descending) else f"-{column.key}"
        result.append(Heading(column=column, next_sort=next_sort, aria_sort=aria))
    return result
