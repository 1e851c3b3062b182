"""API schemas of readiness: query parameters in, results, scores, waivers and plans out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

SetCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_.]+$")
]
VersionNo = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[-a-zA-Z0-9_.+]+$")
]
GroupBy = Literal["agency", "cabinet", "county", "state"]


# --- catalog -------------------------------------------------------------------------------


class VersionOut(Schema):
    version: str
    title: str
    status: str
    effective_on: dt.date
    published_on: dt.date | None
    issuing_authority: str
    source_url: str
    source_note: str
    supersedes: str | None = Field(None, description="The version this one supersedes.")
    requirements: int


class SetOut(Schema):
    code: str
    name: str
    publisher: str
    description: str
    in_effect: str | None = Field(None, description="The version in effect today, if any.")
    versions: list[str]


class RequirementOut(Schema):
    key: str
    code: str
    section: str
    title: str
    explanation: str
    severity: str
    weight: int
    applies_to: list[str]
    relation: str
    change_note: str
    rule: dict
    rule_text: str


class VersionDetailOut(VersionOut):
    requirement_list: list[RequirementOut]


# --- scores --------------------------------------------------------------------------------


class ScoresQuery(Schema):
    set_code: SetCode = Field(
        ..., alias="set", description="Requirement set code, e.g. cjis-mobile."
    )
    version: VersionNo | None = Field(
        None, description="A version; default: the one in effect on as_of."
    )
    as_of: dt.date | None = Field(
        None,
        description="A past date reads that date's snapshot; default today (the latest "
        "evaluation of record).",
    )
    group_by: GroupBy = "agency"
    live: bool = Field(
        False, description="Evaluate today's fleet now instead of reading the latest evaluation."
    )


class ScoreRow(Schema):
    group: str
    name: str
    devices: int
    ready: int
    ready_pct: float
    score: float | None = Field(
        None, description="Weighted share of applicable results passed or waived, 0-100."
    )
    coverage: float = Field(
        ..., description="Share of devices that reported within their interval, 0-1."
    )
    n_pass: int
    n_fail: int
    n_waived: int


class ScoresOut(Schema):
    set: str
    version: str
    as_of: dt.date
    group_by: str
    source: Literal["evaluation", "live", "snapshot"]
    snapshot_date: dt.date | None
    evaluated_at: dt.datetime | None = Field(
        None, description="The moment today's figures describe (None for a past date)."
    )
    data_hash: str = Field(
        "", description="SHA-256 of the evaluation of record read (empty when live or past)."
    )
    rows: list[ScoreRow]


class VersionQuery(Schema):
    set_code: SetCode = Field(..., alias="set")
    version: VersionNo | None = None


class ResultOut(Schema):
    key: str
    code: str
    title: str
    severity: str
    weight: int
    status: str
    reason: str
    waiver_id: int | None


class DeviceResultsOut(Schema):
    device_id: int
    serial: str
    agency: str
    set: str
    version: str
    is_ready: bool
    is_silent: bool
    is_reporting: bool
    not_ready_reason: str
    results: list[ResultOut]


class FailingDeviceOut(Schema):
    device_id: int
    serial: str
    kind: str
    health: str
    not_ready_reason: str
    failing: list[str] = Field(..., description="'CODE: reason' for each failing requirement.")


class FailingDevicesOut(Schema):
    agency: str
    set: str
    version: str
    devices: int
    ready: int
    failing_devices: list[FailingDeviceOut]


# --- what-if and remediation ---------------------------------------------------------------


class WhatIfQuery(Schema):
    set_code: SetCode = Field(..., alias="set")
    from_version: VersionNo | None = Field(
        None, alias="from", description="Default: the version in effect today."
    )
    to_version: VersionNo | None = Field(
        None, alias="to", description="Default: the newest other version."
    )


class ChangeOut(Schema):
    key: str
    change: str
    title: str
    old_code: str
    new_code: str
    old_section: str
    new_section: str
    details: list[str]
    is_declared: bool
    newly_failing: int
    newly_passing: int


class NewlyFailingOut(Schema):
    device_id: int
    serial: str
    agency: str
    kind: str
    reasons: list[str]


class AgencyImpactOut(Schema):
    slug: str
    name: str
    devices: int
    ready_before: int
    ready_after: int
    newly_failing: int


class PlanStepOut(Schema):
    rank: int
    action_key: str
    action_kind: str
    description: str
    devices_touched: int
    devices_made_ready: int
    cost: Decimal
    ready_after: int
    readiness_after_pct: float
    gain_per_device: float
    requirements: list[str]


class CostOut(Schema):
    replace: Decimal
    firmware: Decimal
    configure: Decimal
    telemetry: Decimal
    total: Decimal
    currency: str = "USD"


class WhatIfOut(Schema):
    set: str
    from_version: str
    to_version: str
    devices: int
    ready_before: int
    ready_after: int
    ready_pct_before: float
    ready_pct_after: float
    newly_failing_agencies: int
    changes: list[ChangeOut]
    newly_failing_devices: list[NewlyFailingOut]
    agencies: list[AgencyImpactOut]
    cost: CostOut
    plan: list[PlanStepOut]


class RemediationOut(Schema):
    set: str
    version: str
    devices: int
    ready: int
    cost: CostOut
    plan: list[PlanStepOut]


# --- waivers -------------------------------------------------------------------------------


class WaiverIn(Schema):
    set_code: SetCode = Field(..., alias="set")
    requirement_key: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    agency: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        ..., description="Agency slug."
    )
    device_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="Omit to waive for the whole agency."
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    expires_at: dt.datetime
    starts_at: dt.datetime | None = None


class RevokeIn(Schema):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class DecisionIn(Schema):
    comment: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        ..., description="Why the waiver is approved or rejected; kept with the audit."
    )


class WaiverFilter(Schema):
    set_code: SetCode | None = Field(None, alias="set")
    agency: str | None = Field(None, max_length=64)
    status: Literal["pending", "approved", "rejected", "revoked"] | None = Field(
        None, description="The decision. With a status alone, every waiver of that status."
    )
    state: Literal["active", "expired", "revoked", "all"] | None = Field(
        None, description="Where an approved waiver stands now; default active (counting now)."
    )


class WaiverOut(Schema):
    id: int
    set: str
    requirement_key: str
    agency: str
    device_id: int | None
    device_serial: str | None
    reason: str
    status: str
    requested_by: str | None
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_comment: str
    approver: str
    starts_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str
    state: str


# --- snapshots and trend -------------------------------------------------------------------


class SnapshotQuery(Schema):
    set_code: SetCode = Field(..., alias="set")
    date: dt.date | None = Field(None, description="Default: the latest snapshot date.")
    agency: str | None = Field(None, max_length=64)


class SnapshotRowOut(Schema):
    date: dt.date
    agency: str
    version: str
    requirement_key: str = Field(
        ..., description="Empty: the agency's whole-version row (n_pass = ready devices)."
    )
    n_pass: int
    n_fail: int
    n_waived: int
    n_na: int
    n_reporting: int
    score: float
    coverage: float
    source: str


class TrendQuery(Schema):
    set_code: SetCode = Field(..., alias="set")
    start: dt.date | None = Field(None, description="Default: 180 days before end.")
    end: dt.date | None = Field(None, description="Default: today.")
    agency: str | None = Field(None, max_length=64)


class TrendPointOut(Schema):
    date: dt.date
    version: str
    devices: int
    ready: int
    ready_pct: float
    score: float
    coverage: float


# --- portfolios ----------------------------------------------------------------------------


class PortfolioAgencyOut(Schema):
    slug: str
    name: str
    devices: int
    open_alerts: int
    readiness: dict[str, dict]


class ExpiringWaiverOut(Schema):
    id: int
    set: str
    requirement_key: str
    agency: str
    device_serial: str | None
    expires_at: dt.datetime


class UpcomingVersionOut(Schema):
    set: str
    version: str
    effective_on: dt.date
    issuing_authority: str


class PortfolioOut(Schema):
    cabinet: str
    cabinet_name: str
    brm: str | None
    open_alerts: int
    agencies: list[PortfolioAgencyOut]
    expiring_waivers: list[ExpiringWaiverOut]
    upcoming_versions: list[UpcomingVersionOut]


# --- participation -------------------------------------------------------------------------


class ParticipationQuery(Schema):
    as_of: dt.date | None = None
    by: Literal["state", "cabinet"] = "state"


class StageOut(Schema):
    stage: str
    label: str
    count: int
    of: int
    share: float | None


class FunnelOut(Schema):
    as_of: dt.date
    scope: str
    name: str
    device_source: str
    stages: list[StageOut]
    metrics: dict[str, float | None]


class ExpectationOut(Schema):
    metric: str
    version: str
    target_value: float
    target_by: dt.date
    effective_from: dt.date
    source: str
    source_url: str
    change_note: str
    is_illustrative: bool
    supersedes: str | None
    scope: str = "state"


class ComparisonOut(Schema):
    scope: str
    name: str
    metric: str
    version: str
    target_value: float
    target_by: dt.date
    actual: float | None
    gap: float | None
    is_met: bool | None
    is_current: bool
    is_illustrative: bool


class ExpectationsOut(Schema):
    as_of: dt.date
    expectations: list[ExpectationOut]
    comparisons: list[ComparisonOut]


class HistoryQuery(Schema):
    start: dt.date | None = Field(None, description="Default: 2017-01-01.")
    end: dt.date | None = None


class HistoryPointOut(Schema):
    date: dt.date
    eligible: int
    not_engaged: int
    evaluating: int
    pilot: int
    subscribed: int
    declined: int
    engaged_share: float | None
    subscribed_share: float | None
    devices_firstnet_share: float | None
    agencies_engaged_target: float | None
    agencies_subscribed_target: float | None


class AgencyStatusChangeOut(Schema):
    agency: str
    agency_name: str
    status: str
    changed_on: dt.date
    note: str


class HistoryOut(Schema):
    points: list[HistoryPointOut]
    changes: list[AgencyStatusChangeOut]
