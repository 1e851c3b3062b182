"""The attributes a requirement rule may test: the documented list, with types.

A rule names an attribute (``"device.firmware"``), an operator and a value. The attribute's
type decides which operators and values are allowed; anything else is a load error
(``readiness.rules.RuleError``). The fleet frame (``readiness.frames``) has one column per
attribute, named exactly like the attribute, with the dtype its type implies:

=========  ==================================  =====================================
type       operators                           frame column
=========  ==================================  =====================================
bool       == != is_set is_not_set             pandas "boolean" (nullable)
enum       == != in not_in is_set is_not_set   category (values from ``choices``)
text       == != in not_in is_set is_not_set   category (free text)
number     == != < <= > >= in not_in           float64 (NaN = not set)
           is_set is_not_set
version    == != < <= > >= in not_in           category with the raw string, plus the
           is_set is_not_set                   parsed key columns (see ``versions``)
timestamp  within is_set is_not_set            datetime64[ns, UTC] (NaT = never)
=========  ==================================  =====================================

The list:

device.kind, device.status, device.network, device.manufacturer, device.is_mdm_enrolled,
device.is_encryption_enabled, device.has_cji_access, device.firmware_version (the inventory
record), device.firmware (reported by telemetry if ever reported, else the inventory record);
model.has_band14, model.firstnet_program, model.fips_140_level, model.has_mcptt,
model.has_encryption_at_rest, model.is_cellular, model.telemetry_interval_s;
agency.kind, agency.firstnet_status, agency.county;
health.level, health.last_seen, health.battery_pct, health.storage_pct, health.rsrp_dbm,
health.firmware, health.gps_fix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from django.db.models import TextChoices

from devices.models import (
    AgencyKind,
    DeviceKind,
    DeviceNetwork,
    DeviceStatus,
    FirstNetProgram,
    FirstNetStatus,
)
from telemetry.models import HealthLevel


class AttrType(enum.StrEnum):
    BOOL = "bool"
    ENUM = "enum"
    TEXT = "text"
    NUMBER = "number"
    VERSION = "version"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Attribute:
    """One attribute a rule may test, and how to talk about it in a reason."""

    name: str
    type: AttrType
    label: str  # used in reasons: "firmware 3.1.0 is below 3.2.1"
    description: str
    choices: tuple[str, ...] = ()  # enum only
    # bool only: how a true / false value reads in a reason ("not enrolled in MDM").
    yes: str = ""
    no: str = ""
    unit: str = ""  # number only, e.g. "%"
    operators: frozenset[str] = field(default=frozenset())


def _values(choices: type[TextChoices]) -> tuple[str, ...]:
    return tuple(c.value for c in choices)


_OPS = {
    AttrType.BOOL: frozenset({"==", "!=", "is_set", "is_not_set"}),
    AttrType.ENUM: frozenset({"==", "!=", "in", "not_in", "is_set", "is_not_set"}),
    AttrType.TEXT: frozenset({"==", "!=", "in", "not_in", "is_set", "is_not_set"}),
    AttrType.NUMBER: frozenset(
        {"==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_set", "is_not_set"}
    ),
    AttrType.VERSION: frozenset(
        {"==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_set", "is_not_set"}
    ),
    AttrType.TIMESTAMP: frozenset({"within", "is_set", "is_not_set"}),
}


def _attr(
    name: str,
    type_: AttrType,
    label: str,
    description: str,
    *,
    choices: tuple[str, ...] = (),
    yes: str = "",
    no: str = "",
    unit: str = "",
) -> Attribute:
    return Attribute(
        name=name,
        type=type_,
        label=label,
        description=description,
        choices=choices,
        yes=yes,
        no=no,
        unit=unit,
        operators=_OPS[type_],
    )


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in [
        _attr(
            "device.kind",
            AttrType.ENUM,
            "kind",
            "The device's kind (from its catalog model).",
            choices=_values(DeviceKind),
        ),
        _attr(
            "device.status",
            AttrType.ENUM,
            "status",
            "Lifecycle status.",
            choices=_values(DeviceStatus),
        ),
        _attr(
            "device.network",
            AttrType.ENUM,
            "network",
            "The network its SIM is on.",
            choices=_values(DeviceNetwork),
        ),
        _attr("device.manufacturer", AttrType.TEXT, "manufacturer", "Manufacturer name."),
        _attr(
            "device.is_mdm_enrolled",
            AttrType.BOOL,
            "MDM enrolment",
            "Enrolled in mobile device management.",
            yes="enrolled in MDM",
            no="not enrolled in MDM",
        ),
        _attr(
            "device.is_encryption_enabled",
            AttrType.BOOL,
            "encryption",
            "Storage encryption switched on.",
            yes="encryption enabled",
            no="encryption not enabled",
        ),
        _attr(
            "device.has_cji_access",
            AttrType.BOOL,
            "CJI access",
            "Used to access criminal justice information.",
            yes="has CJI access",
            no="no CJI access",
        ),
        _attr(
            "device.firmware_version",
            AttrType.VERSION,
            "recorded firmware",
            "Firmware version as recorded in the inventory.",
        ),
        _attr(
            "device.firmware",
            AttrType.VERSION,
            "firmware",
            "Firmware last reported by telemetry; the inventory record if never reported.",
        ),
        _attr(
            "model.has_band14",
            AttrType.BOOL,
            "Band 14",
            "The model supports LTE Band 14.",
            yes="supports Band 14",
            no="no Band 14",
        ),
        _attr(
            "model.firstnet_program",
            AttrType.ENUM,
            "FirstNet programme",
            "FirstNet device programme label of the model (an open list, not an official definition).",
            choices=_values(FirstNetProgram),
        ),
        _attr(
            "model.fips_140_level",
            AttrType.NUMBER,
            "FIPS 140 level",
            "FIPS 140 validation level of the model's cryptographic module (not set: none).",
        ),
        _attr(
            "model.has_mcptt",
            AttrType.BOOL,
            "MCPTT",
            "The model supports Mission Critical Push-to-Talk.",
            yes="supports MCPTT",
            no="no MCPTT",
        ),
        _attr(
            "model.has_encryption_at_rest",
            AttrType.BOOL,
            "encryption at rest",
            "The model can encrypt stored data.",
            yes="encryption at rest",
            no="no encryption at rest",
        ),
        _attr(
            "model.is_cellular",
            AttrType.BOOL,
            "cellular",
            "The model has a cellular radio.",
            yes="cellular",
            no="not cellular",
        ),
        _attr(
            "model.telemetry_interval_s",
            AttrType.NUMBER,
            "telemetry interval",
            "Expected seconds between two reports.",
            unit=" s",
        ),
        _attr(
            "agency.kind",
            AttrType.ENUM,
            "agency kind",
            "Kind of the owning agency.",
            choices=_values(AgencyKind),
        ),
        _attr(
            "agency.firstnet_status",
            AttrType.ENUM,
            "agency FirstNet status",
            "The owning agency's FirstNet participation.",
            choices=_values(FirstNetStatus),
        ),
        _attr("agency.county", AttrType.TEXT, "county", "County of the owning agency."),
        _attr(
            "health.level",
            AttrType.ENUM,
            "health",
            "Latest health level (never_seen when no report).",
            choices=_values(HealthLevel),
        ),
        _attr("health.last_seen", AttrType.TIMESTAMP, "last seen", "Time of the latest reading."),
        _attr("health.battery_pct", AttrType.NUMBER, "battery", "Latest battery level.", unit="%"),
        _attr(
            "health.storage_pct", AttrType.NUMBER, "storage used", "Latest storage use.", unit="%"
        ),
        _attr("health.rsrp_dbm", AttrType.NUMBER, "signal (RSRP)", "Latest LTE RSRP.", unit=" dBm"),
        _attr(
            "health.firmware",
            AttrType.VERSION,
            "reported firmware",
            "Firmware in the latest reading.",
        ),
        _attr(
            "health.gps_fix",
            AttrType.BOOL,
            "GPS fix",
            "GPS fix in the latest reading.",
            yes="has a GPS fix",
            no="no GPS fix",
        ),
    ]
}


def get_attribute(name: str) -> Attribute | None:
    """The attribute called ``name``, or None when the list has no such attribute."""
    return ATTRIBUTES.get(name)


def version_key_columns(name: str) -> tuple[str, str]:
    """Names of the two int64 columns holding the parsed, sortable key of a version attribute."""
    return f"{name}#hi", f"{name}#lo"
