"""What a briefing says (`BriefingData`), its fingerprint, and how every format prints a figure.

Pure: no database, no clock. The three renderers (`pptx`, `xlsx`, `pdf`) share the labels and
sentences here, so a figure reads the same in every format and tests can compare text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from django.utils import timezone


@dataclass(frozen=True)
class Headline:
    """The headline figures of one scope at one as-of date."""

    devices: int
    online_now: int
    ready: int
    ready_pct: float
    coverage_pct: float
    agencies: int
    agencies_participating: int
    open_alerts: int
    waived: int = 0
    # The current federal expectation for participation, e.g. "60% of agencies subscribed by
    # 2027-01-01"; the actual is in the same unit as the target.
    expectation_label: str = ""
    expectation_actual: float | None = None
    expectation_target: float | None = None


@dataclass(frozen=True)
class WhatIf:
    """Moving from one version of a set to another, for the briefing's scope."""

    from_version: str
    to_version: str
    added: int
    removed: int
    tightened: int
    relaxed: int
    ready_pct_before: float
    ready_pct_after: float
    newly_failing_devices: int
    newly_failing_agencies: int
    estimated_cost: float
    # One row per requirement change: code, change, title.
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Ranked actions: rank, action, devices, ready_pct_after, cost.
    plan: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class ChangesSince:
    """What changed since an earlier briefing (the comparison base)."""

    previous_id: int
    previous_as_of: date
    previous_data_hash: str
    devices_before: int
    devices_after: int
    ready_pct_before: float
    ready_pct_after: float
    agencies_participating_before: int
    agencies_participating_after: int
    # set, version, status, effective, change
    requirement_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # agency, from_status, to_status, changed_on
    participation_changes: pd.DataFrame = field(default_factory=pd.DataFrame)


# The briefing's waiver list: who asked, who decided, when, and why (times as text, local time).
WAIVER_LIST_COLUMNS = [
    "agency",
    "requirement",
    "covers",
    "status",
    "requested_by",
    "requested_at",
    "decided_by",
    "decided_at",
    "comment",
    "starts",
    "expires",
]


def _no_waivers() -> pd.DataFrame:
    return pd.DataFrame(columns=WAIVER_LIST_COLUMNS)


DEADLINE_COLUMNS = ["code", "title", "due_on", "due", "failing"]


def _no_deadlines() -> pd.DataFrame:
    return pd.DataFrame(columns=DEADLINE_COLUMNS)


@dataclass(frozen=True)
class BriefingData:
    """Everything one briefing shows, and the provenance printed on its last page."""

    title: str
    scope: str  # "state", "cabinet:<slug>" or "agency:<slug>"
    scope_label: str
    set_code: str
    set_name: str
    version: str
    compare_version: str | None
    as_of: date
    headline: Headline
    # date, ready_pct, coverage_pct
    trend: pd.DataFrame
    # cabinet, agencies, devices, ready, ready_pct, coverage_pct
    cabinets: pd.DataFrame
    # agency, cabinet, county, kind, firstnet_status, devices, ready, ready_pct, coverage_pct
    agencies: pd.DataFrame
    # code, title, severity, applicable, passed, failed, waived, pass_pct
    requirements: pd.DataFrame
    # agency, serial, model, kind, requirement, reason
    failing_devices: pd.DataFrame
    # agency, cabinet, status, since
    participation: pd.DataFrame
    # label, version, metric, target, actual, by_date, source, met
    expectations: pd.DataFrame
    versions_in_effect: list[str]
    parameters: dict[str, Any]
    whatif: WhatIf | None = None
    changes: ChangesSince | None = None
    failing_devices_total: int = 0
    generated_at: datetime | None = None
    # WAIVER_LIST_COLUMNS: approved waivers counting at the as-of, and requests still pending.
    waivers: pd.DataFrame = field(default_factory=_no_waivers)
    # A today briefing: the evaluation of record it is pinned to, its moment and data hash.
    evaluated_at: datetime | None = None
    evaluation_hash: str = ""
    # DEADLINE_COLUMNS: requirements with a due date, as of the as-of, and devices failing each.
    deadlines: pd.DataFrame = field(default_factory=_no_deadlines)

    @property
    def data_hash(self) -> str:
        """The evaluation's hash for a briefing pinned to one (the dashboard and the API print
        the same), else the hash of the figures themselves."""
        return self.evaluation_hash or data_hash(self)


def _plain(value: Any) -> Any:
    """JSON-safe, stable representation of one value (dates ISO, floats rounded)."""
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
        return {
            "columns": [str(c) for c in frame.columns],
            "rows": [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)],
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, float):
        # Round so that a float computed by a different path to the same figure hashes equally.
        return None if value != value else round(value, 6)  # NaN → null
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def data_hash(data: BriefingData) -> str:
    """SHA-256 of the figures behind a briefing (everything except when it was generated).

    Deterministic: the same parameters on the same data give the same hash, which is how a
    rebuilt briefing shows it carries the same figures.
    """
    payload = {k: v for k, v in asdict_shallow(data).items() if k not in ("generated_at",)}
    canonical = json.dumps(_plain(payload), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def asdict_shallow(obj: Any) -> dict[str, Any]:
    # dataclasses.asdict deep-copies DataFrames inside; a shallow walk keeps them as they are.
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        out[name] = asdict_shallow(value) if hasattr(value, "__dataclass_fields__") else value
    return out


# ---------------------------------------------------------------------------------------
# Shared formatting: every format prints a figure the same way, so tests can compare text.

FORMATS: dict[str, str] = {
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def fmt_int(value: int | float | None) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def fmt_money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def fmt_signed(value: float, unit: str = "") -> str:
    return f"{value:+.1f}{unit}"


def headline_rows(data: BriefingData) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary, in the order every format prints them."""
    h = data.headline
    rows = [
        ("Devices", fmt_int(h.devices)),
        ("Online now", fmt_int(h.online_now)),
        ("Ready", fmt_int(h.ready)),
        ("Ready %", fmt_pct(h.ready_pct)),
        ("Telemetry coverage", fmt_pct(h.coverage_pct)),
        ("Agencies", fmt_int(h.agencies)),
        ("Agencies on FirstNet", fmt_int(h.agencies_participating)),
        ("Open alerts", fmt_int(h.open_alerts)),
        ("Waived results", fmt_int(h.waived)),
    ]
    if h.expectation_label:
        rows.append(("Federal expectation", h.expectation_label))
        rows.append(
            (
                "Actual against it",
                f"{h.expectation_actual:.1f} of {h.expectation_target:.1f}"
                if h.expectation_actual is not None and h.expectation_target is not None
                else "n/a",
            )
        )
    return rows


def provenance_rows(data: BriefingData) -> list[tuple[str, str]]:
    """What the last page of every format prints: enough to rebuild and verify the briefing."""
    params = ", ".join(
        f"{k}={v}" for k, v in sorted(data.parameters.items()) if v not in (None, "")
    )
    return [
        ("Parameters", params or "(defaults)"),
        ("Versions in effect", "; ".join(data.versions_in_effect) or "none"),
        ("As of", data.as_of.isoformat()),
        (
            "Evaluated at",
            data.evaluated_at.isoformat(timespec="seconds")
            if data.evaluated_at
            else "end of day (snapshot)",
        ),
        (
            "Generated at",
            data.generated_at.isoformat(timespec="seconds") if data.generated_at else "n/a",
        ),
        ("Data hash (SHA-256)", data.data_hash),
    ]


def subtitle(data: BriefingData) -> str:
    compare = f", compared with version {data.compare_version}" if data.compare_version else ""
    moment = (
        f" {timezone.localtime(data.evaluated_at):%H:%M}" if data.evaluated_at is not None else ""
    )
    return (
        f"{data.scope_label} · {data.set_name} version {data.version}{compare} · "
        f"as of {data.as_of.isoformat()}{moment}"
    )


def change_lines(changes: ChangesSince) -> list[str]:
    """The "what changed since the last briefing" section as sentences."""
    lines = [
        f"Compared with briefing #{changes.previous_id} (as of {changes.previous_as_of.isoformat()}).",
        f"Fleet: {fmt_int(changes.devices_before)} → {fmt_int(changes.devices_after)} devices "
        f"({changes.devices_after - changes.devices_before:+,}).",
        f"Readiness: {fmt_pct(changes.ready_pct_before)} → {fmt_pct(changes.ready_pct_after)} "
        f"({fmt_signed(changes.ready_pct_after - changes.ready_pct_before, ' points')}).",
        f"Agencies on FirstNet: {changes.agencies_participating_before} → "
        f"{changes.agencies_participating_after}.",
    ]
    for row in changes.requirement_changes.itertuples(index=False):
        lines.append(
            f"Requirement set {row.set} version {row.version} ({row.status}, effective "
            f"{row.effective}): {row.change}."
        )
    for row in changes.participation_changes.itertuples(index=False):
        lines.append(
            f"{row.agency}: FirstNet {row.from_status} → {row.to_status} on {row.changed_on}."
        )
    return lines


def top_gaps(requirements: pd.DataFrame, limit: int = 8) -> pd.DataFrame:
    """The requirements failed most (most failing devices first, then by code)."""
    if requirements.empty:
        return requirements
    failing = requirements[requirements["failed"] > 0]
    return failing.sort_values(["failed", "code"], ascending=[False, True]).head(limit)


def deadline_lines(data: BriefingData) -> list[str]:
    """One line per requirement with a due date: "CODE title: due DATE (due in N days), N failing"."""
    return [
        f"{r.code} {r.title}: due {r.due_on} ({r.due}), {int(r.failing):,} devices failing"
        for r in data.deadlines.itertuples()
    ]


def whatif_lines(whatif: WhatIf) -> list[str]:
    return [
        f"Version {whatif.from_version} → {whatif.to_version}: {whatif.added} added, {whatif.removed} removed, "
        f"{whatif.tightened} tightened, {whatif.relaxed} relaxed.",
        f"Ready: {fmt_pct(whatif.ready_pct_before)} → {fmt_pct(whatif.ready_pct_after)}.",
        f"Newly failing: {fmt_int(whatif.newly_failing_devices)} devices in "
        f"{fmt_int(whatif.newly_failing_agencies)} agencies.",
        f"Estimated cost to close the gap: {fmt_money(whatif.estimated_cost)}.",
    ]


def waiver_lines(data: BriefingData, limit: int = 12) -> list[list[str]]:
    """The waiver list as rows of text (requirement, covers, status, requested, decided)."""
    rows = []
    for w in data.waivers.head(limit).itertuples(index=False):
        decided = f"{w.decided_by} {w.decided_at}" if w.decided_by else "not decided yet"
        rows.append(
            [
                f"{w.agency}: {w.requirement}",
                str(w.covers),
                str(w.status),
                f"{w.requested_by} {w.requested_at}",
                decided,
            ]
        )
    return rows


WAIVER_LINE_HEADER = ["Waiver", "Covers", "Status", "Requested", "Decided"]
