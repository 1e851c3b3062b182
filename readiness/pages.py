"""The data behind the overview, agency and portfolio pages, as plain dataclasses and DataFrames.

Reads only: inventory and health come from small aggregate queries (counts grouped in the
database, never one row per device), readiness from the latest evaluation of record
(`readiness.evaluation_store`, resolved by the view) for today and from the nightly snapshot
table for a past date, through `readiness.results`. Nothing here scores a device unless live
figures were asked for (``?live=true``): the overview of 100,000 devices is a
handful of GROUP BY queries over small tables. Every function takes the scope (the agencies
it covers) already resolved by `readiness.scoping`, never a user. The participation pages
are in `readiness.participation_pages`, the requirement catalog and what-if pages in
`readiness.catalog_pages`, the failing-devices list in `readiness.failing_devices`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from django.db.models import Count, Max, Sum

from config.errors import InvalidInput
from devices.models import Agency, Device, DeviceKind, DeviceModel, DeviceNetwork, Gateway
from readiness import evaluation_store, figures_cache, portfolios, results
from readiness.filters import Filters, requirement_sets
from readiness.models import (
    ReadinessEvaluation,
    ReadinessSnapshot,
    Requirement,
    RequirementSet,
    RequirementSetVersion,
    Waiver,
)
from readiness.scoping import Scope
from telemetry.models import Alert, HealthLevel

# Live figures: inventory and health, refreshed by the HTMX partial every 30 s


@dataclass(frozen=True)
class LiveFigures:
    """What changes minute by minute: devices, who is online, open alerts, the mix."""

    devices: int
    online_now: int
    open_alerts: int
    # level, label, devices (every level, zeros included, in a fixed order)
    health: pd.DataFrame
    # kind, kind_label, network, network_label, devices
    mix: pd.DataFrame
    last_reading_at: datetime | None
    refreshed_at: datetime

    @property
    def online_pct(self) -> float:
        return 100.0 * self.online_now / self.devices if self.devices else 0.0


HEALTH_ORDER = ["online", "late", "offline", "unreachable", "maintenance", "never_seen"]


def live_figures(scope: Scope, *, now: datetime) -> LiveFigures:
    """Two aggregate queries, whatever the fleet size (no per-device rows reach Python).

    One GROUP BY model, network and health level gives the total, the health levels, the
    device mix and the newest reading together; the other counts open alerts.
    """
    devices = scope.filter(Device.objects.in_service())
    grouped = pd.DataFrame(
        list(
            devices.values("model_id", "network", "health__level")
            .annotate(n=Count("id"), last=Max("health__last_reading_at"))
            .order_by()
        ),
        columns=["model_id", "network", "health__level", "n", "last"],
    )
    grouped["level"] = grouped["health__level"].fillna("never_seen")
    by_level = grouped.groupby("level")["n"].sum()
    counts = {level: int(by_level.get(level, 0)) for level in HEALTH_ORDER}
    health = pd.DataFrame(
        {
            "level": HEALTH_ORDER,
            "label": [HealthLevel(lv).label for lv in HEALTH_ORDER],
            "devices": [counts[lv] for lv in HEALTH_ORDER],
        }
    )
    kinds = dict(DeviceModel.objects.values_list("pk", "kind"))
    grouped["kind"] = grouped["model_id"].map(kinds)
    mix = (
        grouped.groupby(["kind", "network"], as_index=False)["n"]
        .sum()
        .rename(columns={"n": "devices"})
        if not grouped.empty
        else pd.DataFrame(columns=["kind", "network", "devices"])
    )
    mix["kind_label"] = [choice_label(DeviceKind, str(k)) for k in mix["kind"]]
    mix["network_label"] = [choice_label(DeviceNetwork, str(n)) for n in mix["network"]]
    mix = mix[["kind", "kind_label", "network", "network_label", "devices"]]
    lasts = grouped["last"].dropna()
    open_alerts = scope.filter(Alert.objects.filter(resolved_at__isnull=True)).count()
    return LiveFigures(
        devices=int(grouped["n"].sum()),
        online_now=counts["online"],
        open_alerts=open_alerts,
        health=health,
        mix=mix,
        last_reading_at=lasts.max() if not lasts.empty else None,
        refreshed_at=now,
    )


def choice_label(choices: type, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# ---------------------------------------------------------------------------------------
# The agency page's own lists


@dataclass(frozen=True)
class GatewayRow:
    name: str
    description: str
    is_active: bool
    is_online: bool | None
    last_message_at: datetime | None
    gaps_total: int


@dataclass(frozen=True)
class AlertRow:
    opened_at: datetime
    cause: str
    cause_label: str
    subject: str
    detail: str
    state: str


def agency_gateways(agency_id: int) -> list[GatewayRow]:
    rows = []
    for gw in Gateway.objects.filter(agency_id=agency_id).select_related("status").order_by("name"):
        status = getattr(gw, "status", None)
        rows.append(
            GatewayRow(
                name=gw.name,
                description=gw.description,
                is_active=gw.is_active,
                is_online=status.is_online if status else None,
                last_message_at=status.last_message_at if status else None,
                gaps_total=status.gaps_total if status else 0,
            )
        )
    return rows


def _alert_subject(alert: Alert) -> str:
    if alert.device is not None:
        return f"device {alert.device.serial}"
    # The model's check constraint: an alert without a device has a gateway.
    assert alert.gateway is not None
    return f"gateway {alert.gateway.name}"


def open_alerts(scope: Scope, *, limit: int = 50) -> list[AlertRow]:
    qs = scope.filter(Alert.objects.filter(resolved_at__isnull=True)).select_related(
        "device", "gateway"
    )
    return [
        AlertRow(
            opened_at=a.opened_at,
            cause=a.cause,
            cause_label=a.get_cause_display(),
            subject=_alert_subject(a),
            detail=a.detail,
            state=a.state,
        )
        for a in qs.order_by("-opened_at")[:limit]
    ]


# ---------------------------------------------------------------------------------------
# Readiness from the snapshot table (the overview never evaluates the fleet per request)

TREND_DAYS = 90


@dataclass
class ReadinessFigures:
    """Readiness of a scope for one version, from the latest snapshot on or before as-of."""

    set_code: str
    set_name: str
    version: str
    version_status: str
    version_effective_on: date | None
    as_of: date
    snapshot_date: date | None
    # devices, ready, ready_pct, score, coverage (the whole scope)
    total: dict[str, object]
    cabinets: pd.DataFrame
    agencies: pd.DataFrame
    # code, key, title, severity, applicable, passed, failed, waived, pass_pct
    requirements: pd.DataFrame
    # date, version, devices, ready, ready_pct, score, coverage
    trend: pd.DataFrame
    # What to do when there is nothing to show (empty: there is something).
    empty_message: str = ""
    # Names this exact data (scope, filters, the snapshots' computed_at): the key its charts are
    # cached under too. Empty for an empty state.
    cache_key: str = ""
    # Today's figures: "evaluation" (of record) or "live" (asked for); "snapshot" otherwise.
    source: str = "snapshot"
    # The moment today's figures describe, and the evaluation's data hash (empty when live).
    evaluated_at: datetime | None = None
    data_hash: str = ""
    evaluation_id: int | None = None

    @property
    def ready_pct(self) -> float | None:
        value = self.total.get("ready_pct")
        return None if value is None else float(value)  # type: ignore[arg-type]


def _empty_readiness(
    set_code: str,
    set_name: str,
    as_of: date,
    message: str,
    version: RequirementSetVersion | None = None,
) -> ReadinessFigures:
    return ReadinessFigures(
        set_code=set_code,
        set_name=set_name,
        version=version.version if version else "",
        version_status=version.status if version else "",
        version_effective_on=version.effective_on if version else None,
        as_of=as_of,
        snapshot_date=None,
        total={},
        cabinets=pd.DataFrame(),
        agencies=pd.DataFrame(),
        requirements=pd.DataFrame(),
        trend=pd.DataFrame(),
        empty_message=message,
    )


def requirement_table(counts: pd.DataFrame, version_id: int) -> pd.DataFrame:
    """Per requirement of the version: applicable, passed, failed, waived and pass %, from counts."""
    meta = pd.DataFrame(
        list(
            Requirement.objects.filter(version_id=version_id).values(
                "key", "code", "title", "severity", "section"
            )
        ),
        columns=["key", "code", "title", "severity", "section"],
    )
    columns = [
        "code",
        "key",
        "title",
        "severity",
        "applicable",
        "passed",
        "failed",
        "waived",
        "pass_pct",
    ]
    if meta.empty:
        return pd.DataFrame(columns=columns)
    per_key = counts[~counts["key"].eq(ReadinessSnapshot.TOTAL_KEY)]
    sums = (
        per_key.groupby("key")[["n_pass", "n_fail", "n_waived"]].sum()
        if not per_key.empty
        else pd.DataFrame(columns=["n_pass", "n_fail", "n_waived"])
    )
    out = meta.merge(sums, left_on="key", right_index=True, how="left").fillna(
        {"n_pass": 0, "n_fail": 0, "n_waived": 0}
    )
    out = out.rename(columns={"n_pass": "passed", "n_fail": "failed", "n_waived": "waived"})
    for col in ("passed", "failed", "waived"):
        out[col] = out[col].astype("int64")
    out["applicable"] = out["passed"] + out["failed"] + out["waived"]
    # Pass % counts waived results as passing, as the scores do; n/a when nothing applies.
    out["pass_pct"] = [
        round(100.0 * (p + w) / a, 1) if a else None
        for p, w, a in zip(out["passed"], out["waived"], out["applicable"], strict=True)
    ]
    return out.sort_values(["section", "code"])[columns].reset_index(drop=True)


def group_frame(counts: pd.DataFrame, meta: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """``results.aggregate_counts`` by state, cabinet or agency, with coverage in percent."""
    frame = results.aggregate_counts(counts, meta, group_by=group_by)
    frame["coverage_pct"] = (100.0 * frame["coverage"].astype(float)).round(1)
    return frame


def trend_totals(
    set_code: str, agency_ids: list[int] | None, *, start: date, end: date
) -> pd.DataFrame:
    """date, ready_pct, coverage_pct per snapshot date: the pages' trend line.

    The same figures as ``readiness.snapshots.trend`` (ready devices over devices, reporting
    over devices, summed over the agencies' whole-version rows), but summed by the database
    over the total rows only: that function also reads every per-requirement row for the
    weighted score, about 160,000 rows for 500 agencies and 30 days, which the overview has
    no time for and does not show.
    """
    qs = ReadinessSnapshot.objects.filter(
        version__requirement_set__code=set_code,
        requirement_key=ReadinessSnapshot.TOTAL_KEY,
        date__gte=start,
        date__lte=end,
    )
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    rows = list(
        qs.values("date")
        .annotate(ready=Sum("n_pass"), not_ready=Sum("n_fail"), reporting=Sum("n_reporting"))
        .order_by("date")
    )
    devices = [r["ready"] + r["not_ready"] for r in rows]
    return pd.DataFrame(
        {
            "date": [r["date"] for r in rows],
            "devices": devices,
            "ready_pct": [
                round(100.0 * r["ready"] / n, 2) if n else 0.0
                for r, n in zip(rows, devices, strict=True)
            ],
            "coverage_pct": [
                round(100.0 * r["reporting"] / n, 2) if n else 0.0
                for r, n in zip(rows, devices, strict=True)
            ],
        },
        columns=["date", "devices", "ready_pct", "coverage_pct"],
    )


def readiness_figures(
    scope: Scope,
    filters: Filters,
    *,
    today: date,
    now: datetime,
    evaluation: ReadinessEvaluation | None = None,
    live: bool = False,
) -> ReadinessFigures:
    """Readiness for the overview and the agency page: stored counts only, a few queries.

    Today reads ``evaluation`` (of record, resolved by the interface) when it covers the
    version, or evaluates the scope at ``now`` when ``live`` was asked for; otherwise (a past
    date, or no evaluation given) the latest snapshot on or before the date. Read-only. The
    figures are cached (``readiness.figures_cache``, expiry judged at ``now``) under a key
    that changes whenever a snapshot or the evaluation they read changes.
    """
    as_of = filters.as_of or today
    if as_of == today and (live or evaluation is not None):
        # Which set and version a page reads changes only when a version takes effect or is
        # published: one answer serves every request for the live figures' few seconds.
        chosen = figures_cache.shared(
            f"version-to-read:{filters.set_code}:{filters.version}:{as_of}"
            f":{scope.with_drafts_in_progress}",
            lambda: version_to_read(
                filters, as_of=as_of, with_drafts_in_progress=scope.with_drafts_in_progress
            ),
            now=now,
        )
        if isinstance(chosen, ReadinessFigures):
            return chosen
        req_set, version = chosen
        if live or (evaluation is not None and evaluation_store.has_version(evaluation, version)):
            return _figures_now(
                scope, req_set, version, as_of=as_of, now=now, evaluation=evaluation, live=live
            )
    picked = _snapshot_to_read(
        filters, as_of=as_of, with_drafts_in_progress=scope.with_drafts_in_progress
    )
    if isinstance(picked, ReadinessFigures):
        return picked  # nothing to read: the page says why
    req_set, version, snap_date = picked
    key = _figures_cache_key(scope, version, as_of=as_of, snap_date=snap_date, now=now)
    cached = figures_cache.get(key, now=now)
    if isinstance(cached, ReadinessFigures):
        return cached
    counts = results.snapshot_counts(version, on=snap_date, agency_ids=scope.agency_ids)
    meta = results.agency_meta(scope.agency_ids)
    state = group_frame(counts, meta, "state")
    total = (
        state.iloc[0].to_dict()
        if not state.empty
        else {"devices": 0, "ready": 0, "ready_pct": None, "score": None, "coverage": 0.0}
    )
    trend = trend_totals(
        req_set.code, scope.agency_ids, start=as_of - timedelta(days=TREND_DAYS), end=as_of
    )
    fig = ReadinessFigures(
        set_code=req_set.code,
        set_name=req_set.name,
        as_of=as_of,
        snapshot_date=snap_date,
        total=total,
        cabinets=group_frame(counts, meta, "cabinet"),
        agencies=group_frame(counts, meta, "agency"),
        requirements=requirement_table(counts, version.pk),
        trend=trend,
        cache_key=key,
        version=version.version,
        version_status=version.status,
        version_effective_on=version.effective_on,
    )
    figures_cache.put(key, fig, now=now)
    return fig


def _figures_now(
    scope: Scope,
    req_set: RequirementSet,
    version: RequirementSetVersion,
    *,
    as_of: date,
    now: datetime,
    evaluation: ReadinessEvaluation | None,
    live: bool,
) -> ReadinessFigures:
    """Today's figures from the evaluation of record, or live at ``now``; the trend's past
    days from the snapshots, its last point these figures (so the line ends where the page
    says it is)."""
    key = ""
    if live or evaluation is None:
        counts = results.agency_counts(
            results.evaluate_fleet(version=version, at=now, agency_ids=scope.agency_ids)
        )
        evaluated_at, data_hash, evaluation_id = now, "", None
    else:
        key = (
            _figures_cache_key(scope, version, as_of=as_of, snap_date=as_of, now=now)
            + f":evaluation:{evaluation.pk}"
        )
        cached = figures_cache.get(key, now=now)
        if isinstance(cached, ReadinessFigures):
            return cached
        counts = evaluation_store.evaluation_counts(
            evaluation, version=version, agency_ids=scope.agency_ids
        )
        evaluated_at, data_hash, evaluation_id = (
            evaluation.evaluated_at,
            evaluation.data_hash,
            evaluation.pk,
        )
    meta = results.agency_meta(scope.agency_ids)
    state = group_frame(counts, meta, "state")
    total = (
        state.iloc[0].to_dict()
        if not state.empty
        else {"devices": 0, "ready": 0, "ready_pct": None, "score": None, "coverage": 0.0}
    )
    past = trend_totals(
        req_set.code,
        scope.agency_ids,
        start=as_of - timedelta(days=TREND_DAYS),
        end=as_of - timedelta(days=1),
    )
    fig = ReadinessFigures(
        set_code=req_set.code,
        set_name=req_set.name,
        as_of=as_of,
        snapshot_date=None,
        total=total,
        cabinets=group_frame(counts, meta, "cabinet"),
        agencies=group_frame(counts, meta, "agency"),
        requirements=requirement_table(counts, version.pk),
        trend=with_today(past, as_of, total),
        cache_key=key,
        version=version.version,
        version_status=version.status,
        version_effective_on=version.effective_on,
        source="live" if live or evaluation is None else "evaluation",
        evaluated_at=evaluated_at,
        data_hash=data_hash,
        evaluation_id=evaluation_id,
    )
    if key:
        figures_cache.put(key, fig, now=now)
    return fig


def with_today(past: pd.DataFrame, today: date, total: dict[str, object]) -> pd.DataFrame:
    """Pure: ``trend_totals`` rows with today's point (from ``total``) appended."""
    devices = int(total.get("devices") or 0)  # type: ignore[call-overload]
    point = pd.DataFrame(
        {
            "date": [today],
            "devices": [devices],
            "ready_pct": [round(float(total.get("ready_pct") or 0.0), 2)],  # type: ignore[arg-type]
            "coverage_pct": [round(100.0 * float(total.get("coverage") or 0.0), 2)],  # type: ignore[arg-type]
        }
    )
    if past.empty:
        return point
    return pd.concat([past, point], ignore_index=True)


def version_to_read(
    filters: Filters, *, as_of: date, with_drafts_in_progress: bool
) -> tuple[RequirementSet, RequirementSetVersion] | ReadinessFigures:
    """(set, version) the figures are for, or empty figures saying what is missing.

    Raises InvalidInput for a set or version the filters name that does not exist.
    """
    sets = requirement_sets()
    if not sets:
        return _empty_readiness(
            "",
            "",
            as_of,
            "No requirement sets are loaded yet: run "
            "`python manage.py load_requirements readiness/requirement_sets`.",
        )
    set_code = filters.set_code or sets[0][0]
    req_set = RequirementSet.objects.filter(code=set_code).first()
    if req_set is None:
        raise InvalidInput(
            f"Unknown requirement set '{set_code}'; choose one from the list.", field="set"
        )
    if filters.version:
        version = results.get_version(
            req_set, filters.version, with_drafts_in_progress=with_drafts_in_progress
        )
    else:
        in_effect = results.find_version_in_effect(req_set, on=as_of)
        if in_effect is None:
            return _empty_readiness(
                set_code,
                req_set.name,
                as_of,
                f"No version of {req_set.name} was in effect on {as_of:%Y-%m-%d}. "
                "Pick a version, or a later date.",
            )
        version = in_effect
    return req_set, version


def _snapshot_to_read(
    filters: Filters, *, as_of: date, with_drafts_in_progress: bool
) -> tuple[RequirementSet, RequirementSetVersion, date] | ReadinessFigures:
    """(set, version, snapshot date) the figures read, or empty figures saying what is missing."""
    chosen = version_to_read(filters, as_of=as_of, with_drafts_in_progress=with_drafts_in_progress)
    if isinstance(chosen, ReadinessFigures):
        return chosen
    req_set, version = chosen
    set_code = req_set.code
    snap_date = results.latest_snapshot_date(version, on_or_before=as_of)
    if snap_date is None:
        hint = (
            "Draft versions are never snapshotted: compare it with the published one on the what-if page."
            if version.status == version.Status.DRAFT
            else "No snapshot has been taken for it yet: run `python manage.py snapshot_readiness` "
            "(the nightly task does it too)."
        )
        return _empty_readiness(
            set_code,
            req_set.name,
            as_of,
            f"No readiness figures for version "
            f"{version.version} on or before {as_of:%Y-%m-%d}. {hint}",
            version,
        )
    return req_set, version, snap_date


def _figures_cache_key(  # noqa: ANN001
    scope: Scope, version, *, as_of: date, snap_date: date, now: datetime
) -> str:
    """A key that changes whenever any snapshot row the figures read is rewritten.

    The newest ``computed_at`` of the set's whole-version rows over the trend's window (one
    indexed aggregate): re-running any of those dates, or a version's agency, changes it.
    """
    # The aggregate reads every agency's row of the trend's 90 days (most of a warm overview's
    # time at 100 agencies), so one reading serves every request for the live figures' few
    # seconds: a snapshot rewritten in that window shows that much later.
    stamp = figures_cache.shared(
        f"readiness-stamp:{version.requirement_set_id}:{as_of}",
        lambda: ReadinessSnapshot.objects.filter(
            version__requirement_set_id=version.requirement_set_id,
            requirement_key=ReadinessSnapshot.TOTAL_KEY,
            date__gte=as_of - timedelta(days=TREND_DAYS),
            date__lte=as_of,
        ).aggregate(at=Max("computed_at"), n=Count("id")),
        now=now,
    )
    agencies = (
        "all"
        if scope.agency_ids is None
        else hashlib.sha1(",".join(map(str, sorted(scope.agency_ids))).encode()).hexdigest()[:16]
    )
    return (
        f"readiness-figures:{agencies}:{version.pk}:{as_of}:{snap_date}:"
        f"{stamp['at'].isoformat() if stamp['at'] else '-'}:{stamp['n']}"
    )


# ---------------------------------------------------------------------------------------
# The agency page's readiness details


@dataclass(frozen=True)
class AgencySummary:
    name: str
    slug: str
    cabinet: str
    cabinet_slug: str
    county: str
    kind: str
    firstnet_status: str
    firstnet_status_label: str
    firstnet_since: date


def agency_summary(scope: Scope) -> AgencySummary:
    agency = Agency.objects.select_related("cabinet").get(pk=scope.agency_id)
    return AgencySummary(
        name=agency.name,
        slug=agency.slug,
        cabinet=agency.cabinet.name,
        cabinet_slug=agency.cabinet.slug,
        county=agency.county,
        kind=agency.get_kind_display(),
        firstnet_status=agency.firstnet_status,
        firstnet_status_label=agency.get_firstnet_status_display(),
        firstnet_since=agency.firstnet_status_changed_on,
    )


@dataclass(frozen=True)
class WaiverRow:
    waiver_id: int
    requirement_set: str
    requirement_key: str
    target: str
    reason: str
    status: str
    status_label: str
    requester: str
    approver: str
    expires_at: datetime
    is_active: bool
    expires_soon: bool


def agency_waivers(scope: Scope, *, now: datetime) -> list[WaiverRow]:
    """The scope's approved waivers that count at ``now`` or start later, and pending requests.

    Expired, rejected and revoked ones are left out.
    """
    qs = (
        Waiver.objects.select_related("agency", "device", "requirement_set", "requested_by")
        .filter(
            agency_id__in=scope.agency_ids or [],
            expires_at__gt=now,
            status__in=[Waiver.Status.PENDING, Waiver.Status.APPROVED],
        )
        .order_by("expires_at")
    )
    soon = now + timedelta(days=30)
    return [
        WaiverRow(
            waiver_id=w.pk,
            requirement_set=w.requirement_set.code,
            requirement_key=w.requirement_key,
            target=f"device {w.device.serial}" if w.device else "whole agency",
            reason=w.reason,
            status=w.status,
            status_label=w.get_status_display(),
            requester=w.requested_by.get_username() if w.requested_by else "",
            approver=w.approver_name,
            expires_at=w.expires_at,
            is_active=w.is_active_at(now),
            expires_soon=w.expires_at <= soon,
        )
        for w in qs[:200]
    ]


# ---------------------------------------------------------------------------------------
# Portfolio page (a business relationship manager's cabinet)


@dataclass
class PortfolioPage:
    portfolio: object  # readiness.portfolios.Portfolio
    readiness: ReadinessFigures
    set_columns: list[tuple[str, str]]  # (set code, version) in the agencies table


def portfolio_page(
    scope: Scope,
    filters: Filters,
    *,
    today: date,
    now: datetime,
    evaluation: ReadinessEvaluation | None = None,
    live: bool = False,
) -> PortfolioPage:
    """A cabinet at a glance (``readiness.portfolios.build_portfolio``: agencies' readiness per set
    in effect, coverage, open alerts, waivers expiring in 30 days, versions taking effect in 90),
    plus the trend of the chosen set from the snapshots. ``scope`` is a cabinet scope. Read-only.
    Today reads ``evaluation`` (of record), or evaluates at ``now`` when ``live``."""
    found = portfolios.build_portfolio(
        key=scope.slug, now=now, evaluation=None if live else evaluation
    )
    columns: dict[str, str] = {}
    for line in found.agencies:
        for code, figures in line.readiness.items():
            columns.setdefault(code, figures["version"])
    return PortfolioPage(
        portfolio=found,
        readiness=readiness_figures(
            scope, filters, today=today, now=now, evaluation=evaluation, live=live
        ),
        set_columns=sorted(columns.items()),
    )
