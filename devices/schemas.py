"""API schemas of the inventory: what goes in (`XIn`, `XPatch`, `XFilter`) and out (`XOut`).

Every string has the length of its database column, so an over-long value is a 422 with
the field's name instead of a database error, and text may not contain control
characters (PostgreSQL refuses NUL; nothing else in a serial or a name needs them).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from devices.models import (
    AgencyKind,
    ApiToken,
    AssignmentCondition,
    AuditRecord,
    DeviceKind,
    DeviceNetwork,
    DeviceStatus,
    FirstNetProgram,
    FirstNetStatus,
    User,
)

MAX_ID = 2**63 - 1


def _printable(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _printable_multiline(value: str) -> str:
    if any((ord(ch) < 32 and ch not in "\n\r\t") or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def text(max_length: int, *, min_length: int = 0) -> type[str]:
    """A one-line string of at most ``max_length`` characters, surrounding spaces removed."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_printable),
    ]


SlugText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$"),
]
Notes = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_printable_multiline)]
# An IMEI or ICCID as people type it: digits, maybe grouped by spaces or dashes. Length,
# separators and the Luhn check digit are `devices.rules`, shared with the import; this cap
# (20 digits and a separator between each pair) only keeps absurd input out.
DigitsText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_printable)
]


# --- agencies --------------------------------------------------------------------------


class FirstNetChangeOut(Schema):
    status: FirstNetStatus
    changed_on: dt.date
    note: str


class AgencyOut(Schema):
    id: int
    slug: str
    name: str
    kind: AgencyKind
    cabinet: str = Field(..., alias="cabinet.slug")
    cabinet_name: str = Field(..., alias="cabinet.name")
    county: str
    ori: str
    firstnet_status: FirstNetStatus
    firstnet_status_changed_on: dt.date
    created_at: dt.datetime
    updated_at: dt.datetime


class AgencyDetailOut(AgencyOut):
    firstnet_history: list[FirstNetChangeOut] = Field(..., alias="firstnet_changes")


class AgencyIn(Schema):
    slug: SlugText
    name: text(200, min_length=1)  # type: ignore[valid-type]
    kind: AgencyKind
    cabinet: SlugText = Field(..., description="Slug of the executive-branch cabinet.")
    county: text(100) = ""  # type: ignore[valid-type]
    ori: text(9) = Field("", description="NCIC Originating Agency Identifier, if any.")  # type: ignore[valid-type]
    firstnet_status: FirstNetStatus = FirstNetStatus.NOT_ENGAGED
    firstnet_status_changed_on: dt.date | None = Field(
        None, description="When the FirstNet status took effect; today if left out."
    )


class AgencyPatch(Schema):
    name: text(200, min_length=1) | None = None  # type: ignore[valid-type]
    kind: AgencyKind | None = None
    cabinet: SlugText | None = None
    county: text(100) | None = None  # type: ignore[valid-type]
    ori: text(9) | None = None  # type: ignore[valid-type]
    firstnet_status: FirstNetStatus | None = None
    firstnet_status_changed_on: dt.date | None = Field(
        None, description="When the new FirstNet status took effect; today if left out."
    )
    firstnet_note: text(300) = Field("", description="Why the FirstNet status changed.")  # type: ignore[valid-type]


class AgencyFilter(Schema):
    kind: AgencyKind | None = None
    cabinet: SlugText | None = None
    firstnet_status: FirstNetStatus | None = None
    q: text(100) | None = Field(None, description="Search in the name and slug.")  # type: ignore[valid-type]


# --- catalog ---------------------------------------------------------------------------

UnitCost = Annotated[float, Field(ge=0, le=99_999_999.99, description="US dollars, two decimals.")]


class DeviceModelOut(Schema):
    id: int
    manufacturer: str
    name: str
    kind: DeviceKind
    has_band14: bool
    firstnet_program: FirstNetProgram
    fips_140_level: int | None
    has_mcptt: bool
    has_encryption_at_rest: bool
    is_cellular: bool
    telemetry_interval_s: int
    unit_cost: float
    created_at: dt.datetime
    updated_at: dt.datetime


class DeviceModelIn(Schema):
    manufacturer: text(100, min_length=1)  # type: ignore[valid-type]
    name: text(100, min_length=1)  # type: ignore[valid-type]
    kind: DeviceKind
    has_band14: bool = False
    firstnet_program: FirstNetProgram = FirstNetProgram.UNKNOWN
    fips_140_level: int | None = Field(None, ge=1, le=4)
    has_mcptt: bool = False
    has_encryption_at_rest: bool = False
    is_cellular: bool = False
    telemetry_interval_s: int = Field(300, ge=10, le=7 * 24 * 3600)
    unit_cost: UnitCost = 0


class DeviceModelPatch(Schema):
    manufacturer: text(100, min_length=1) | None = None  # type: ignore[valid-type]
    name: text(100, min_length=1) | None = None  # type: ignore[valid-type]
    kind: DeviceKind | None = None
    has_band14: bool | None = None
    firstnet_program: FirstNetProgram | None = None
    fips_140_level: int | None = Field(None, ge=1, le=4, description="null clears it.")
    has_mcptt: bool | None = None
    has_encryption_at_rest: bool | None = None
    is_cellular: bool | None = None
    telemetry_interval_s: int | None = Field(None, ge=10, le=7 * 24 * 3600)
    unit_cost: UnitCost | None = None


class DeviceModelFilter(Schema):
    kind: DeviceKind | None = None
    manufacturer: text(100) | None = None  # type: ignore[valid-type]
    q: text(100) | None = Field(None, description="Search in manufacturer and model name.")  # type: ignore[valid-type]


# --- devices ---------------------------------------------------------------------------


class DeviceOut(Schema):
    id: int
    agency: str = Field(..., alias="agency.slug")
    model_id: int
    model: str = Field(..., alias="model.name")
    manufacturer: str
    kind: DeviceKind = Field(..., alias="model.kind")
    serial: str
    asset_tag: str
    imei: str
    iccid: str
    status: DeviceStatus
    status_changed_at: dt.datetime
    assigned_unit: str
    assigned_officer: str
    firmware_version: str
    network: DeviceNetwork
    is_mdm_enrolled: bool
    is_encryption_enabled: bool
    has_cji_access: bool
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime


class StatusChangeOut(Schema):
    from_status: str
    to_status: DeviceStatus
    changed_at: dt.datetime
    changed_by: str | None = Field(None, alias="changed_by.username")


class DeviceDetailOut(DeviceOut):
    history: list[StatusChangeOut] = Field(..., alias="status_changes")


class DeviceIn(Schema):
    agency: SlugText | None = Field(
        None, description="Agency slug; an agency admin's own agency if left out."
    )
    model_id: int = Field(..., ge=1, le=MAX_ID)
    serial: text(64, min_length=1)  # type: ignore[valid-type]
    asset_tag: text(64) = ""  # type: ignore[valid-type]
    imei: DigitsText = Field(
        "", description="15 digits with a valid Luhn check digit; spaces and dashes are dropped."
    )
    iccid: DigitsText = Field(
        "",
        description="19 or 20 digits with a valid Luhn check digit; spaces and dashes are dropped.",
    )
    status: DeviceStatus = DeviceStatus.IN_STOCK
    assigned_unit: text(100) = ""  # type: ignore[valid-type]
    assigned_officer: text(100) = ""  # type: ignore[valid-type]
    firmware_version: text(64) = ""  # type: ignore[valid-type]
    network: DeviceNetwork = DeviceNetwork.NONE
    is_mdm_enrolled: bool = False
    is_encryption_enabled: bool = False
    has_cji_access: bool = False
    notes: Notes = ""


class DevicePatch(Schema):
    agency: SlugText | None = Field(None, description="Move to another agency (state staff only).")
    model_id: int | None = Field(None, ge=1, le=MAX_ID)
    serial: text(64, min_length=1) | None = None  # type: ignore[valid-type]
    asset_tag: text(64) | None = None  # type: ignore[valid-type]
    imei: DigitsText | None = None
    iccid: DigitsText | None = None
    status: DeviceStatus | None = Field(
        None, description="A lifecycle change; kept in the history."
    )
    assigned_unit: text(100) | None = None  # type: ignore[valid-type]
    assigned_officer: text(100) | None = None  # type: ignore[valid-type]
    firmware_version: text(64) | None = None  # type: ignore[valid-type]
    network: DeviceNetwork | None = None
    is_mdm_enrolled: bool | None = None
    is_encryption_enabled: bool | None = None
    has_cji_access: bool | None = None
    notes: Notes | None = None


class DeviceFilter(Schema):
    agency: SlugText | None = Field(None, description="Agency slug.")
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None
    network: DeviceNetwork | None = None
    model_id: int | None = Field(None, ge=1, le=MAX_ID)
    q: text(64) | None = Field(None, description="Search in serial and asset tag.")  # type: ignore[valid-type]


class RetireIn(Schema):
    note: text(300) = Field("", description="Why the device is retired.")  # type: ignore[valid-type]


# --- gateways --------------------------------------------------------------------------


class GatewayOut(Schema):
    id: int
    agency: str = Field(..., alias="agency.slug")
    name: str
    description: str
    is_active: bool
    has_credential: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_has_credential(obj: object) -> bool:
        return bool(getattr(obj, "credential_hash", ""))


class GatewayCreatedOut(GatewayOut):
    secret: str = Field(
        ..., description="The gateway's MQTT password. Shown once; only its hash is kept."
    )


class GatewayIn(Schema):
    agency: SlugText | None = Field(
        None, description="Agency slug; an agency admin's own agency if left out."
    )
    name: SlugText = Field(..., description="Used in MQTT topics: tracker/v1/<agency>/<name>/…")
    description: text(200) = ""  # type: ignore[valid-type]
    is_active: bool = True


class GatewayPatch(Schema):
    description: text(200) | None = None  # type: ignore[valid-type]
    is_active: bool | None = None


class GatewayFilter(Schema):
    agency: SlugText | None = None
    is_active: bool | None = None


# --- tokens ----------------------------------------------------------------------------


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    username: str = Field(..., alias="user.username")
    role: User.Role = Field(..., alias="user.role")
    scope: ApiToken.Scope = Field(..., description="read (safe methods only) or read_write.")
    created_at: dt.datetime
    expires_at: dt.datetime = Field(..., description="Requests after this answer 401.")
    last_used_at: dt.datetime | None = Field(
        ..., description="To the minute, or sooner when the address changes."
    )
    last_used_ip: str | None = Field(..., description="The address the token was last used from.")
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The bearer token. Shown once; only its hash is kept.")


class TokenIn(Schema):
    name: text(100, min_length=1) = "api"  # type: ignore[valid-type]
    scope: ApiToken.Scope = Field(
        ApiToken.Scope.READ, description="read, or read_write to change things."
    )
    expires_in_days: int | None = Field(
        None,
        description="Lifetime in days: 90 unless set (TRACKER_TOKEN_DEFAULT_DAYS), at most 365 (TRACKER_TOKEN_MAX_DAYS).",
    )


class TokenFilter(Schema):
    include_revoked: bool = False


# --- audit -----------------------------------------------------------------------------


class AuditOut(Schema):
    id: int
    at: dt.datetime
    actor: str = Field(..., alias="actor_name")
    remote_addr: str | None
    user_agent: str
    action: AuditRecord.Action
    object_type: str
    object_id: str
    object_repr: str
    agency: str | None = Field(None, alias="agency.slug")
    before: dict | None
    after: dict | None
    message: str


class AuditFilter(Schema):
    agency: SlugText | None = None
    object_type: text(64) | None = Field(  # type: ignore[valid-type]
        None, description="device, agency, devicemodel, gateway, apitoken …"
    )
    object_id: text(64) | None = None  # type: ignore[valid-type]
    action: AuditRecord.Action | None = None
    actor: text(150) | None = Field(None, description="Username.")  # type: ignore[valid-type]
    since: dt.date | None = Field(None, description="On or after this day.")
    until: dt.date | None = Field(None, description="On or before this day.")


# --- officers, check-out and check-in (devices/api_inventory.py) -----------------------


class OfficerIn(Schema):
    agency: SlugText | None = Field(
        None, description="Agency slug; an agency admin's own agency if left out."
    )
    name: text(100, min_length=1)  # type: ignore[valid-type]
    badge: text(32, min_length=1)  # type: ignore[valid-type]
    unit: text(100) = ""  # type: ignore[valid-type]


class OfficerPatch(Schema):
    name: text(100, min_length=1) | None = None  # type: ignore[valid-type]
    badge: text(32, min_length=1) | None = None  # type: ignore[valid-type]
    unit: text(100) | None = None  # type: ignore[valid-type]
    is_active: bool | None = None


class OfficerOut(Schema):
    id: int
    agency: str = Field(..., alias="agency.slug")
    name: str
    badge: str
    unit: str
    is_active: bool


class CheckOutIn(Schema):
    officer_id: int = Field(..., ge=1, le=MAX_ID)
    unit: text(100) = Field("", description="Left empty: the officer's usual unit.")  # type: ignore[valid-type]
    notes: Notes = ""


class CheckInIn(Schema):
    condition: AssignmentCondition
    notes: Notes = ""


class AssignmentOut(Schema):
    id: int
    device_id: int
    serial: str = Field(..., alias="device.serial")
    officer_id: int
    officer: str = Field(..., alias="officer.name")
    badge: str = Field(..., alias="officer.badge")
    unit: str
    checked_out_at: dt.datetime
    checked_out_by: str | None = Field(None, alias="checked_out_by.username")
    checked_in_at: dt.datetime | None
    checked_in_by: str | None = Field(None, alias="checked_in_by.username")
    condition: AssignmentCondition | None = Field(
        None, description="Condition on return; null while the device is out."
    )
    notes: str
    return_notes: str

    @staticmethod
    def resolve_condition(obj: object) -> str | None:
        return getattr(obj, "condition", "") or None


class OfficerDetailOut(OfficerOut):
    assignments: list[AssignmentOut] = Field(
        ..., description="What the officer holds now and held before, newest first."
    )
