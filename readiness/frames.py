"""The only ORM -> pandas boundary of readiness: the fleet frame.

``build_fleet_frame(devices=None, *, agency_ids=None, device_ids=None, now=None)`` reads the
in-service devices (or the queryset given) with their catalog model, agency, cabinet and
latest health in ONE query and returns a frame with explicit columns and dtypes
(``FLEET_COLUMNS``): one column per rule attribute, named like the attribute
(``readiness.attributes``), plus the ids and deadlines scoring needs. A device with no
``DeviceHealth`` row has never been seen (``health.level`` "never_seen", no last_seen).

Firmware strings are parsed here, once per distinct string, into the sortable int64 keys
``<attr>#hi`` / ``<attr>#lo`` (``readiness.versions``), so evaluating rules never touches a
string. ``fleet_frame_from_records`` builds the same frame from plain rows (tests, the
benchmark, what-if fleets) with the same coercions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from devices.models import Device
from readiness.attributes import ATTRIBUTES, AttrType, version_key_columns
from readiness.versions import parse_version_series, text_categorical

# Columns that are not rule attributes but that scoring, aggregation and what-if read.
ID_COLUMNS = ["device_id", "agency_id", "cabinet_id", "model_id"]
EXTRA_COLUMNS = {
    "device.serial": "string",
    "model.unit_cost": "float64",
    "health.late_after": "datetime64[ns, UTC]",
    "health.offline_after": "datetime64[ns, UTC]",
}

# Column -> ORM path of the value, read with values_list. "device.firmware" is derived.
_SOURCES: dict[str, str] = {
    "device_id": "id",
    "agency_id": "agency_id",
    "cabinet_id": "agency__cabinet_id",
    "model_id": "model_id",
    "device.serial": "serial",
    "device.kind": "model__kind",
    "device.status": "status",
    "device.network": "network",
    "device.manufacturer": "manufacturer",
    "device.is_mdm_enrolled": "is_mdm_enrolled",
    "device.is_encryption_enabled": "is_encryption_enabled",
    "device.has_cji_access": "has_cji_access",
    "device.firmware_version": "firmware_version",
    "model.has_band14": "model__has_band14",
    "model.firstnet_program": "model__firstnet_program",
    "model.fips_140_level": "model__fips_140_level",
    "model.has_mcptt": "model__has_mcptt",
    "model.has_encryption_at_rest": "model__has_encryption_at_rest",
    "model.is_cellular": "model__is_cellular",
    "model.telemetry_interval_s": "model__telemetry_interval_s",
    "model.unit_cost": "model__unit_cost",
    "agency.kind": "agency__kind",
    "agency.firstnet_status": "agency__firstnet_status",
    "agency.county": "agency__county",
    "health.level": "health__level",
    "health.last_seen": "health__last_reading_at",
    "health.battery_pct": "health__battery_pct",
    "health.storage_pct": "health__storage_pct",
    "health.rsrp_dbm": "health__rsrp_dbm",
    "health.firmware": "health__firmware",
    "health.gps_fix": "health__gps_fix",
    "health.late_after": "health__late_after",
    "health.offline_after": "health__offline_after",
}


_TIMESTAMPS = {"health.last_seen", "health.late_after", "health.offline_after"}


def _dtype_of(attr_type: AttrType) -> str:
    return {
        AttrType.BOOL: "boolean",
        AttrType.ENUM: "category",
        AttrType.TEXT: "category",
        AttrType.NUMBER: "float64",
        AttrType.VERSION: "category",
        AttrType.TIMESTAMP: "datetime64[ns, UTC]",
    }[attr_type]


# The frame's columns and dtypes, in order ("#hi"/"#lo" are the parsed version keys).
FLEET_COLUMNS: dict[str, str] = {
    **dict.fromkeys(ID_COLUMNS, "int64"),
    **{name: _dtype_of(a.type) for name, a in ATTRIBUTES.items()},
    **EXTRA_COLUMNS,
    **{
        col: "int64"
        for name, a in ATTRIBUTES.items()
        if a.type is AttrType.VERSION
        for col in version_key_columns(name)
    },
}


def fleet_frame_from_records(records: Iterable[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """The fleet frame from plain rows keyed by column name (pure, no database).

    Missing columns are filled as "not set" (health.level: "never_seen"); values are coerced
    to FLEET_COLUMNS' dtypes; enum values outside their choices become missing; version
    strings are parsed once per distinct string. ``device.firmware`` defaults to
    ``health.firmware`` when reported, else ``device.firmware_version``.
    """
    raw = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    n = len(raw)
    if "device_id" not in raw.columns:
        raise ValueError("every fleet row needs a device_id")
    out: dict[str, Any] = {}
    for col in ID_COLUMNS:
        values = raw[col] if col in raw.columns else pd.Series(np.zeros(n, dtype=np.int64))
        out[col] = pd.to_numeric(values).fillna(0).to_numpy(dtype=np.int64)
    if "device.firmware" not in raw.columns:
        # Reported firmware when there is some, else the inventory record; decided on the
        # categorical codes, never per string.
        reported = text_categorical(_column(raw, "health.firmware", n))
        recorded = text_categorical(_column(raw, "device.firmware_version", n))
        merged = pd.Categorical(
            np.where(reported.codes >= 0, reported.astype(object), recorded.astype(object))
        )
        raw["device.firmware"] = merged
    out.update(_attribute_columns(raw, n))
    out.update(_extra_columns(raw, n))
    return pd.DataFrame(out, columns=list(FLEET_COLUMNS))


def _attribute_columns(raw: pd.DataFrame, n: int) -> dict[str, Any]:
    """Each rule attribute's column coerced to its type (versions also give their key columns)."""
    out: dict[str, Any] = {}
    for name, attr in ATTRIBUTES.items():
        values = _column(raw, name, n)
        if attr.type is AttrType.BOOL:
            out[name] = (
                pd.array(values, dtype="boolean")
                if values.dtype == object
                else values.astype("boolean")
            )
        elif attr.type is AttrType.NUMBER:
            out[name] = pd.to_numeric(values).astype("float64")
        elif attr.type is AttrType.TIMESTAMP:
            out[name] = _utc(values)
        elif attr.type in (AttrType.ENUM, AttrType.TEXT):
            cats = text_categorical(
                values, list(attr.choices) if attr.type is AttrType.ENUM else None
            )
            if name == "health.level":  # no health row, or no level: never seen
                cats = cats.fillna("never_seen")
            out[name] = cats
        else:  # VERSION: raw text kept for reasons, keys for comparisons
            cats, hi, lo = parse_version_series(values)
            out[name] = cats
            hi_col, lo_col = version_key_columns(name)
            out[hi_col], out[lo_col] = hi, lo
    return out


def _extra_columns(raw: pd.DataFrame, n: int) -> dict[str, Any]:
    """The columns the engine carries beside the attributes, coerced to EXTRA_COLUMNS' dtypes."""
    out: dict[str, Any] = {}
    for name, dtype in EXTRA_COLUMNS.items():
        values = (
            raw[name].reset_index(drop=True)
            if name in raw.columns
            else pd.Series([None] * n, dtype=object)
        )
        if dtype.startswith("datetime"):
            out[name] = _utc(values)
        elif dtype == "float64":
            out[name] = pd.to_numeric(values).astype("float64")
        else:
            out[name] = values.astype(dtype)
    return out


def _column(raw: pd.DataFrame, name: str, n: int) -> pd.Series:
    if name in raw.columns:
        return raw[name].reset_index(drop=True)
    return pd.Series([None] * n, dtype=object)


def _utc(values: pd.Series) -> pd.Series:
    first = values.dropna().head(1).tolist()
    if first and isinstance(first[0], str):
        return pd.to_datetime(values, utc=True, format="ISO8601").dt.as_unit("ns")
    return pd.to_datetime(values, utc=True).dt.as_unit("ns")


def build_fleet_frame(
    devices: QuerySet[Device] | None = None,
    *,
    agency_ids: Iterable[int] | None = None,
    device_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The fleet frame for ``devices`` (default: every in-service device), one row per device.

    ``agency_ids`` / ``device_ids`` narrow it (tenancy scoping is the caller's job: pass
    ``devices.scoping.visible_devices(user)``); ``now`` leaves out devices registered after
    it, for "as of" figures. Read-only; one query, whatever the size.
    """
    qs = Device.objects.in_service() if devices is None else devices
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=list(agency_ids))
    if device_ids is not None:
        qs = qs.filter(id__in=list(device_ids))
    if now is not None:
        qs = qs.filter(created_at__lte=now)
    columns = list(_SOURCES)
    # The ORM writes the SQL (joins, the LEFT JOIN to health, the filters); rows are fetched
    # with the bare cursor because the ORM's per-row conversion costs more than the query at
    # 100,000 devices. The coercions in fleet_frame_from_records do that conversion per column.
    # Timestamps come back as text: the driver's per-value datetime parsing was most of the
    # time; pandas parses the whole column at once.
    text_of = {
        path: f"_text_{i}" for i, (col, path) in enumerate(_SOURCES.items()) if col in _TIMESTAMPS
    }
    as_text = {name: Cast(path, output_field=CharField()) for path, name in text_of.items()}
    fields = [text_of.get(path, path) for path in _SOURCES.values()]
    sql, params = qs.order_by("id").annotate(**as_text).values_list(*fields).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    raw = pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))
    for name in (
        "device.is_mdm_enrolled",
        "device.is_encryption_enabled",
        "device.has_cji_access",
        "model.has_band14",
        "model.has_mcptt",
        "model.has_encryption_at_rest",
        "model.is_cellular",
        "health.gps_fix",
    ):
        # SQLite returns 0/1 for booleans; PostgreSQL returns bools. Both become "boolean".
        raw[name] = raw[name].astype("boolean")
    return fleet_frame_from_records(raw)
