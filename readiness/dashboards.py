"""The data behind the dashboard pages and the briefings, as plain dataclasses and DataFrames.

Reads only: inventory and health come from small aggregate queries (counts grouped in the
database, never one row per device), readiness from the nightly snapshot table through
`readiness.snapshots`/`readiness.results`, participation from `readiness.participation`,
what-if from `readiness.whatif`. Nothing here scores a device: the overview of 100,000 devices
is a handful of GROUP BY queries over small tables. Every function takes the viewer's scope
(the agencies they may see) already resolved by `readiness.scoping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from config.errors import InvalidInput
from devices.models import (
    Agency,
    AgencyKind,
    Cabinet,
    Device,
    DeviceKind,
    DeviceNetwork,
    Gateway,
    User,
)
from readiness import scoping
from readiness.briefings import BriefingData, ChangesSince, Headline, WhatIf
from telemetry.models import Alert, HealthLevel

# ---------------------------------------------------------------------------------------
# Filters (GET parameters of every dashboard page)


@dataclass(frozen=True)
class Filters:
    """What the viewer asked to see. Empty values mean "all" or "the default"."""

    set_code: str = ""
    version: str = ""
    compare_version: str = ""
    as_of: date | None = None
    cabinet: str = ""
    county: str = ""
    agency_kind: str = ""

    def query(self, **overrides: object) -> str:
        """The filters as a query string, e.g. for the live partial's URL."""
        params = {
            "set": self.set_code, "version": self.version, "compare": self.compare_version,
            "as_of": self.as_of.isoformat() if self.as_of else "", "cabinet": self.cabinet,
            "county": self.county, "kind": self.agency_kind,
        }
        params.update({k: v for k, v in overrides.items()})
        q = QueryDict(mutable=True)
        for key, value in params.items():
            if value:
                q[key] = str(value)
        return q.urlencode()


def parse_filters(params: QueryDict, *, today: date) -> Filters:
    """Filters from GET parameters; a bad value raises InvalidInput naming the field."""
    errors: list[dict[str, str]] = []
    as_of: date | None = None
    raw_as_of = params.get("as_of", "").strip()
    if raw_as_of:
        try:
            as_of = date.fromisoformat(raw_as_of)
        except ValueError:
            errors.append({"field": "as_of", "message": f"'{raw_as_of}' is not a date: use YYYY-MM-DD."})
        else:
            if as_of > today:
                errors.append({"field": "as_of", "message": f"{as_of} is in the future: pick today or earlier."})
    kind = params.get("kind", "").strip()
    if kind and kind not in AgencyKind.values:
        errors.append({"field": "kind", "message": f"Unknown agency kind '{kind}'; choose one from the list."})
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors=errors)
    return Filters(
        set_code=params.get("set", "").strip(),
        version=params.get("version", "").strip(),
        compare_version=params.get("compare", "").strip(),
        as_of=as_of,
        cabinet=params.get("cabinet", "").strip(),
        county=params.get("county", "").strip(),
        agency_kind=kind,
    )


# ---------------------------------------------------------------------------------------
# Scope: which agencies a figure covers


@dataclass(frozen=True)
class Scope:
    """The agencies a page covers. ``agency_ids`` None means every agency (no IN list)."""

    kind: str  # "state", "cabinet" or "agency"
    label: str
    agency_ids: list[int] | None
    slug: str = ""

    @property
    def key(self) -> str:
        return "state" if self.kind == "state" else f"{self.kind}:{self.slug}"


def filtered_agencies(user: User, filters: Filters) -> QuerySet[Agency]:
    agencies = scoping.visible_agencies(user)
    if filters.cabinet:
        agencies = agencies.filter(cabinet__slug=filters.cabinet)
    if filters.county:
        agencies = agencies.filter(county=filters.county)
    if filters.agency_kind:
        agencies = agencies.filter(kind=filters.agency_kind)
    return agencies


def state_scope(user: User, filters: Filters) -> Scope:
    """Statewide (state staff only), narrowed by the cabinet, county and agency-kind filters."""
    scoping.require_state_staff(user)
    narrowed = bool(filters.cabinet or filters.county or filters.agency_kind)
    if filters.cabinet and not Cabinet.objects.filter(slug=filters.cabinet).exists():
        raise InvalidInput(f"Unknown cabinet '{filters.cabinet}'; choose one from the list.",
                           field="cabinet")
    ids = list(filtered_agencies(user, filters).values_list("pk", flat=True)) if narrowed else None
    parts = [p for p in (filters.cabinet and Cabinet.objects.get(slug=filters.cabinet).name,
                         filters.county and f"{filters.county} County",
                         filters.agency_kind and AgencyKind(filters.agency_kind).label) if p]
    return Scope(kind="state", label="Statewide" + (f" · {', '.join(parts)}" if parts else ""), agency_ids=ids)


def agency_scope(user: User, slug: str) -> Scope:
    """One agency the user may see; another agency's slug answers 404."""
    agency = scoping.get_visible_agency(user, slug)
    return Scope(kind="agency", label=agency.name, agency_ids=[agency.pk], slug=agency.slug)


def cabinet_scope(user: User, slug: str) -> Scope:
    scoping.require_state_staff(user)
    cabinet = scoping.get_visible_or_404(Cabinet.objects.all(), slug=slug)
    ids = list(cabinet.agencies.values_list("pk", flat=True))
    return Scope(kind="cabinet", label=cabinet.name, agency_ids=ids, slug=cabinet.slug)


def scope_from_key(user: User, key: str) -> Scope:
    """"state", "cabinet:<slug>" or "agency:<slug>" → a Scope the user may see."""
    kind, _, slug = key.partition(":")
    if kind == "state" and not slug:
        return state_scope(user, Filters())
    if kind == "cabinet" and slug:
        return cabinet_scope(user, slug)
    if kind == "agency" and slug:
        return agency_scope(user, slug)
    raise InvalidInput(f"Unknown scope '{key}': use state, cabinet:SLUG or agency:SLUG.", field="scope")


def _in_scope(queryset: QuerySet, scope: Scope, field_name: str = "agency_id") -> QuerySet:
    if scope.agency_ids is None:
        return queryset
    return queryset.filter(**{f"{field_name}__in": scope.agency_ids})


# ---------------------------------------------------------------------------------------
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


def live_figures(scope: Scope, *, now: datetime | None = None) -> LiveFigures:
    """Two aggregate queries, whatever the fleet size (no per-device rows reach Python).

    One GROUP BY model, network and health level gives the total, the health levels, the
    device mix and the newest reading together; the other counts open alerts.
    """
    from devices.models import DeviceModel

    devices = _in_scope(Device.objects.in_service(), scope)
    grouped = pd.DataFrame(
        list(devices.values("model_id", "network", "health__level")
             .annotate(n=Count("id"), last=Max("health__last_reading_at")).order_by()),
        columns=["model_id", "network", "health__level", "n", "last"])
    grouped["level"] = grouped["health__level"].fillna("never_seen")
    by_level = grouped.groupby("level")["n"].sum()
    counts = {level: int(by_level.get(level, 0)) for level in HEALTH_ORDER}
    health = pd.DataFrame({"level": HEALTH_ORDER, "label": [HealthLevel(lv).label for lv in HEALTH_ORDER],
                           "devices": [counts[lv] for lv in HEALTH_ORDER]})
    kinds = dict(DeviceModel.objects.values_list("pk", "kind"))
    grouped["kind"] = grouped["model_id"].map(kinds)
    mix = (grouped.groupby(["kind", "network"], as_index=False)["n"].sum().rename(columns={"n": "devices"})
           if not grouped.empty else pd.DataFrame(columns=["kind", "network", "devices"]))
    mix["kind_label"] = [_label(DeviceKind, str(k)) for k in mix["kind"]]
    mix["network_label"] = [_label(DeviceNetwork, str(n)) for n in mix["network"]]
    mix = mix[["kind", "kind_label", "network", "network_label", "devices"]]
    lasts = grouped["last"].dropna()
    open_alerts = _in_scope(Alert.objects.filter(resolved_at__isnull=True), scope).count()
    return LiveFigures(
        devices=int(grouped["n"].sum()), online_now=counts["online"], open_alerts=open_alerts,
        health=health, mix=mix, last_reading_at=lasts.max() if not lasts.empty else None,
        refreshed_at=now or timezone.now(),
    )


def _label(choices: type, value: str) -> str:
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
        rows.append(GatewayRow(
            name=gw.name, description=gw.description, is_active=gw.is_active,
            is_online=status.is_online if status else None,
            last_message_at=status.last_message_at if status else None,
            gaps_total=status.gaps_total if status else 0,
        ))
    return rows


def open_alerts(scope: Scope, *, limit: int = 50) -> list[AlertRow]:
    qs = _in_scope(Alert.objects.filter(resolved_at__isnull=True), scope).select_related("device", "gateway")
    return [
        AlertRow(opened_at=a.opened_at, cause=a.cause, cause_label=a.get_cause_display(),
                 subject=(f"device {a.device.serial}" if a.device_id else f"gateway {a.gateway.name}"),
                 detail=a.detail, state=a.state)
        for a in qs.order_by("-opened_at")[:limit]
    ]


@dataclass(frozen=True)
class FilterChoices:
    """The options of the filter form (cheap: small tables)."""

    cabinets: list[tuple[str, str]]
    counties: list[str]
    kinds: list[tuple[str, str]]
    sets: list[tuple[str, str]] = field(default_factory=list)
    versions: list[tuple[str, str]] = field(default_factory=list)


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

    @property
    def ready_pct(self) -> float | None:
        value = self.total.get("ready_pct")
        return None if value is None else float(value)  # type: ignore[arg-type]


def requirement_sets() -> list[tuple[str, str]]:
    from readiness.models import RequirementSet

    return list(RequirementSet.objects.order_by("code").values_list("code", "name"))


def set_versions(set_code: str) -> list[tuple[str, str]]:
    from readiness.models import RequirementSetVersion

    rows = RequirementSetVersion.objects.filter(requirement_set__code=set_code).order_by("effective_on", "id")
    return [(v.version, f"{v.version} ({v.get_status_display().lower()}, effective {v.effective_on:%Y-%m-%d})")
            for v in rows]


def _empty_readiness(set_code: str, set_name: str, as_of: date, message: str, **extra: object) -> ReadinessFigures:
    values: dict[str, object] = {
        "set_code": set_code, "set_name": set_name, "version": "", "version_status": "",
        "version_effective_on": None, "as_of": as_of, "snapshot_date": None, "total": {},
        "cabinets": pd.DataFrame(), "agencies": pd.DataFrame(), "requirements": pd.DataFrame(),
        "trend": pd.DataFrame(), "empty_message": message,
    }
    values.update(extra)
    return ReadinessFigures(**values)  # type: ignore[arg-type]


def requirement_table(counts: pd.DataFrame, version_id: int) -> pd.DataFrame:
    """Per requirement of the version: applicable, passed, failed, waived and pass %, from counts."""
    from readiness.models import ReadinessSnapshot, Requirement

    meta = pd.DataFrame(list(Requirement.objects.filter(version_id=version_id).values(
        "key", "code", "title", "severity", "section")), columns=["key", "code", "title", "severity", "section"])
    columns = ["code", "key", "title", "severity", "applicable", "passed", "failed", "waived", "pass_pct"]
    if meta.empty:
        return pd.DataFrame(columns=columns)
    per_key = counts[~counts["key"].eq(ReadinessSnapshot.TOTAL_KEY)]
    sums = per_key.groupby("key")[["n_pass", "n_fail", "n_waived"]].sum() if not per_key.empty else \
        pd.DataFrame(columns=["n_pass", "n_fail", "n_waived"])
    out = meta.merge(sums, left_on="key", right_index=True, how="left").fillna(
        {"n_pass": 0, "n_fail": 0, "n_waived": 0})
    out = out.rename(columns={"n_pass": "passed", "n_fail": "failed", "n_waived": "waived"})
    for col in ("passed", "failed", "waived"):
        out[col] = out[col].astype("int64")
    out["applicable"] = out["passed"] + out["failed"] + out["waived"]
    # Pass % counts waived results as passing, as the scores do; n/a when nothing applies.
    out["pass_pct"] = [round(100.0 * (p + w) / a, 1) if a else None
                       for p, w, a in zip(out["passed"], out["waived"], out["applicable"], strict=True)]
    return out.sort_values(["section", "code"])[columns].reset_index(drop=True)


def _group_frame(counts: pd.DataFrame, meta: pd.DataFrame, group_by: str) -> pd.DataFrame:
    from readiness.results import aggregate_counts

    frame = aggregate_counts(counts, meta, group_by=group_by)
    frame["coverage_pct"] = (100.0 * frame["coverage"].astype(float)).round(1)
    return frame


def trend_totals(set_code: str, agency_ids: list[int] | None, *, start: date, end: date) -> pd.DataFrame:
    """date, ready_pct, coverage_pct per snapshot date: the pages' trend line.

    The same figures as ``readiness.snapshots.trend`` (ready devices over devices, reporting
    over devices, summed over the agencies' whole-version rows), but summed by the database
    over the total rows only: that function also reads every per-requirement row for the
    weighted score, about 160,000 rows for 500 agencies and 30 days, which the overview has
    no time for and does not show.
    """
    from django.db.models import Sum

    from readiness.models import ReadinessSnapshot

    qs = ReadinessSnapshot.objects.filter(version__requirement_set__code=set_code,
                                          requirement_key=ReadinessSnapshot.TOTAL_KEY, date__gte=start, date__lte=end)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    rows = list(qs.values("date").annotate(ready=Sum("n_pass"), not_ready=Sum("n_fail"), reporting=Sum("n_reporting"))
                .order_by("date"))
    devices = [r["ready"] + r["not_ready"] for r in rows]
    return pd.DataFrame({
        "date": [r["date"] for r in rows],
        "devices": devices,
        "ready_pct": [round(100.0 * r["ready"] / n, 2) if n else 0.0 for r, n in zip(rows, devices, strict=True)],
        "coverage_pct": [round(100.0 * r["reporting"] / n, 2) if n else 0.0
                         for r, n in zip(rows, devices, strict=True)],
    }, columns=["date", "devices", "ready_pct", "coverage_pct"])


def readiness_figures(scope: Scope, filters: Filters, *, today: date) -> ReadinessFigures:
    """Readiness for the overview and the agency page: snapshot rows only, a few queries."""
    from readiness import results
    from readiness.models import RequirementSet

    as_of = filters.as_of or today
    sets = requirement_sets()
    if not sets:
        return _empty_readiness("", "", as_of, "No requirement sets are loaded yet: run "
                                "`python manage.py load_requirements readiness/requirement_sets`.")
    set_code = filters.set_code or sets[0][0]
    req_set = RequirementSet.objects.filter(code=set_code).first()
    if req_set is None:
        raise InvalidInput(f"Unknown requirement set '{set_code}'; choose one from the list.", field="set")
    if filters.version:
        version = results.get_version(req_set, filters.version)
    else:
        version = results.find_version_in_effect(req_set, on=as_of)
        if version is None:
            return _empty_readiness(set_code, req_set.name, as_of,
                                    f"No version of {req_set.name} was in effect on {as_of:%Y-%m-%d}. "
                                    "Pick a version, or a later date.")
    snap_date = results.latest_snapshot_date(version, on_or_before=as_of)
    version_fields = {"version": version.version, "version_status": version.status,
                      "version_effective_on": version.effective_on}
    if snap_date is None:
        hint = ("Draft versions are never snapshotted: compare it with the published one on the what-if page."
                if version.status == version.Status.DRAFT else
                "No snapshot has been taken for it yet: run `python manage.py snapshot_readiness` "
                "(the nightly task does it too).")
        return _empty_readiness(set_code, req_set.name, as_of, f"No readiness figures for version "
                                f"{version.version} on or before {as_of:%Y-%m-%d}. {hint}", **version_fields)
    key = _figures_cache_key(scope, version, as_of=as_of, snap_date=snap_date)
    cached = cache.get(key)
    if cached is not None:
        return cached
    counts = results.snapshot_counts(version, on=snap_date, agency_ids=scope.agency_ids)
    meta = results.agency_meta(scope.agency_ids)
    state = _group_frame(counts, meta, "state")
    total = state.iloc[0].to_dict() if not state.empty else {"devices": 0, "ready": 0, "ready_pct": None,
                                                              "score": None, "coverage": 0.0}
    trend = trend_totals(set_code, scope.agency_ids, start=as_of - timedelta(days=TREND_DAYS), end=as_of)
    fig = ReadinessFigures(
        set_code=set_code, set_name=req_set.name, as_of=as_of, snapshot_date=snap_date, total=total,
        cabinets=_group_frame(counts, meta, "cabinet"), agencies=_group_frame(counts, meta, "agency"),
        requirements=requirement_table(counts, version.pk), trend=trend, cache_key=key, **version_fields,
    )
    cache.set(key, fig, FIGURES_CACHE_SECONDS)
    return fig


# Snapshot figures change when a snapshot is (re)computed, which the key notices; the timeout
# only bounds how long an unused entry stays.
FIGURES_CACHE_SECONDS = 600


def _figures_cache_key(scope: Scope, version, *, as_of: date, snap_date: date) -> str:  # noqa: ANN001
    """A key that changes whenever any snapshot row the figures read is rewritten.

    The newest ``computed_at`` of the set's whole-version rows over the trend's window (one
    indexed aggregate): re-running any of those dates, or a version's agency, changes it.
    """
    import hashlib

    from readiness.models import ReadinessSnapshot

    stamp = ReadinessSnapshot.objects.filter(
        version__requirement_set_id=version.requirement_set_id, requirement_key=ReadinessSnapshot.TOTAL_KEY,
        date__gte=as_of - timedelta(days=TREND_DAYS), date__lte=as_of,
    ).aggregate(at=Max("computed_at"), n=Count("id"))
    agencies = "all" if scope.agency_ids is None else hashlib.sha1(
        ",".join(map(str, sorted(scope.agency_ids))).encode()).hexdigest()[:16]
    return (f"readiness-figures:{agencies}:{version.pk}:{as_of}:{snap_date}:"
            f"{stamp['at'].isoformat() if stamp['at'] else '-'}:{stamp['n']}")


def resolve_version(filters: Filters, *, today: date):  # noqa: ANN201 - a RequirementSetVersion
    """The version the filters name, or the one in effect on the as-of date (first set by default)."""
    from readiness import results

    sets = requirement_sets()
    if not sets:
        raise InvalidInput("No requirement sets are loaded yet: run "
                           "`python manage.py load_requirements readiness/requirement_sets`.", field="set")
    return results.resolve_version(filters.set_code or sets[0][0], version=filters.version or None,
                                   on=filters.as_of or today)


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
    agency = Agency.objects.select_related("cabinet").get(pk=scope.agency_ids[0])  # type: ignore[index]
    return AgencySummary(
        name=agency.name, slug=agency.slug, cabinet=agency.cabinet.name, cabinet_slug=agency.cabinet.slug,
        county=agency.county, kind=agency.get_kind_display(), firstnet_status=agency.firstnet_status,
        firstnet_status_label=agency.get_firstnet_status_display(), firstnet_since=agency.firstnet_status_changed_on,
    )


@dataclass(frozen=True)
class WaiverRow:
    requirement_set: str
    requirement_key: str
    target: str
    reason: str
    approver: str
    expires_at: datetime
    is_active: bool
    expires_soon: bool


def agency_waivers(user: User, scope: Scope, *, today: date) -> list[WaiverRow]:
    """The agency's waivers that count now or start later (expired and revoked ones left out)."""
    now = timezone.now()
    qs = scoping.visible_waivers(user).filter(agency_id__in=scope.agency_ids or [], expires_at__gt=now,
                                               revoked_at__isnull=True).order_by("expires_at")
    soon = now + timedelta(days=30)
    return [
        WaiverRow(requirement_set=w.requirement_set.code, requirement_key=w.requirement_key,
                  target=f"device {w.device.serial}" if w.device_id else "whole agency", reason=w.reason,
                  approver=w.approver_name, expires_at=w.expires_at, is_active=w.is_active_at(now),
                  expires_soon=w.expires_at <= soon)
        for w in qs[:200]
    ]


@dataclass
class FailingDevices:
    """Devices of a scope that are not ready under a version, each with the reasons in words."""

    set_code: str
    version: str
    evaluated_at: datetime
    total: int
    # serial, model, kind, health, reasons (list of "CODE: reason")
    rows: list[dict[str, object]]
    # agency, serial, model, kind, requirement, reason: one row per failed requirement
    long: pd.DataFrame


def failing_devices(scope: Scope, filters: Filters, *, today: date, limit: int = 500) -> FailingDevices:
    """Evaluate the scope's devices now (``readiness.results.evaluate_fleet``) and list the not-ready ones.

    Live, not from snapshots: reasons are per device and snapshots keep only counts. Meant for
    one agency (or a briefing's scope); the statewide overview never calls it.
    """
    from readiness import results

    version = resolve_version(filters, today=today)
    fleet = results.evaluate_fleet(version=version, at=timezone.now(), agency_ids=scope.agency_ids)
    return failing_from_fleet(fleet, limit=limit)


def failing_from_fleet(fleet, *, limit: int = 500, long_limit: int | None = None) -> FailingDevices:  # noqa: ANN001
    """The not-ready devices of an evaluation (``results.FleetResults``), each with its reasons.

    Reasons are the engine's words for each failed requirement (waived ones do not count),
    plus "not reporting" for a silent device, which is never ready however it scores.
    Vectorised: a statewide briefing lists tens of thousands of reasons.
    """
    from devices.models import DeviceModel

    columns = ["agency", "serial", "model", "kind", "requirement", "reason"]
    devices = fleet.devices
    ident = fleet.evaluation.frame.set_index("device_id")[["device.serial", "model_id", "device.kind", "health.level"]]
    ident = ident.rename(columns={"device.serial": "serial", "device.kind": "kind", "health.level": "level"})
    not_ready = devices[~devices["is_ready"].astype(bool)].join(ident, on="device_id")
    not_ready = not_ready.sort_values(["agency_id", "serial"]).reset_index(drop=True)
    res = fleet.results
    fails = res[res["status"].astype(str).eq("fail") & res["device_id"].isin(not_ready["device_id"])]
    code_of = dict(zip(fleet.requirements["stable_key"], fleet.requirements["code"], strict=True))
    reasons = pd.DataFrame({
        "device_id": fails["device_id"].to_numpy(),
        "requirement": fails["stable_key"].astype(str).map(code_of).fillna(fails["stable_key"].astype(str)).to_numpy(),
        "reason": fails["reason"].astype(str).to_numpy(), "silent": False,
    })
    silent = not_ready[not_ready["is_silent"].astype(bool)]
    reasons = pd.concat([reasons, pd.DataFrame({
        "device_id": silent["device_id"].to_numpy(), "requirement": "",
        "reason": ["not reporting (" + str(r) + ")" for r in silent["not_ready_reason"]], "silent": True,
    })], ignore_index=True)
    order = pd.Series(range(len(not_ready)), index=not_ready["device_id"].to_numpy())
    reasons["order"] = reasons["device_id"].map(order)
    reasons = reasons.sort_values(["order", "silent", "requirement", "reason"]).reset_index(drop=True)
    models = {m.pk: str(m) for m in DeviceModel.objects.filter(pk__in=set(not_ready["model_id"].tolist()))}
    agencies = dict(Agency.objects.filter(pk__in=set(not_ready["agency_id"].tolist())).values_list("pk", "name"))
    info = not_ready.set_index("device_id")
    shown = reasons.head(long_limit) if long_limit is not None else reasons
    kinds = {k: _label(DeviceKind, str(k)) for k in info["kind"].unique()}
    long = pd.DataFrame({
        "agency": shown["device_id"].map(info["agency_id"]).map(agencies).fillna("").to_numpy(),
        "serial": shown["device_id"].map(info["serial"]).to_numpy(),
        "model": shown["device_id"].map(info["model_id"]).map(models).fillna("").to_numpy(),
        "kind": shown["device_id"].map(info["kind"]).map(kinds).to_numpy(),
        "requirement": shown["requirement"].replace("", "(telemetry)").to_numpy(),
        "reason": shown["reason"].to_numpy(),
    }, columns=columns)
    # The page's list: the first ``limit`` devices, each with all its reasons.
    first = not_ready.head(limit)
    by_device: dict[int, list[str]] = {}
    for device_id, code, reason in zip(reasons["device_id"], reasons["requirement"], reasons["reason"], strict=True):
        if device_id not in by_device and len(by_device) >= len(first):
            break  # reasons come in the devices' order: the rest belong to devices not listed
        by_device.setdefault(int(device_id), []).append(f"{code}: {reason}" if code else reason)
    rows = []
    for dev in first.itertuples(index=False):
        level = dev.level if isinstance(dev.level, str) else "never_seen"
        rows.append({"serial": dev.serial, "model": models.get(int(dev.model_id), ""), "kind": kinds[dev.kind],
                     "health": level, "health_label": _label(HealthLevel, level),
                     "reasons": by_device.get(int(dev.device_id), [])})
    return FailingDevices(set_code=fleet.version.requirement_set.code, version=fleet.version.version,
                          evaluated_at=fleet.at, total=len(not_ready), rows=rows, long=long)


# ---------------------------------------------------------------------------------------
# Participation headline (FirstNet)


@dataclass(frozen=True)
class ParticipationHeadline:
    agencies: int
    participating: int
    expectation_label: str
    expectation_actual: float | None  # in % of the expectation's metric
    expectation_target: float | None  # in %
    expectation_source: str
    is_illustrative: bool

    @property
    def met(self) -> bool | None:
        if self.expectation_actual is None or self.expectation_target is None:
            return None
        return self.expectation_actual >= self.expectation_target


def participation_headline(scope: Scope, *, as_of: date) -> ParticipationHeadline:
    """Agencies subscribed to FirstNet in the scope on ``as_of``, against the expectation then in effect.

    Statuses only (``readiness.participation.statuses_on`` over the agencies' history): no
    device counts, so the overview stays a few small queries.
    """
    from readiness import participation
    from readiness.models import FederalExpectation

    agencies = participation._agencies(scope.agency_ids)
    statuses = (participation.statuses_on(agencies, participation._changes(scope.agency_ids), as_of)
                if not agencies.empty else pd.Series(dtype=object))
    total = len(statuses)
    subscribed = int(statuses.isin(participation.SUBSCRIBED).sum())
    expectation = participation.expectations_in_effect(on=as_of).get(FederalExpectation.Metric.AGENCIES_SUBSCRIBED)
    if expectation is None:
        return ParticipationHeadline(total, subscribed, "", None, None, "", False)
    return ParticipationHeadline(
        agencies=total, participating=subscribed,
        expectation_label=(f"{expectation.target_value:.0%} of agencies subscribed by "
                           f"{expectation.target_by:%Y-%m-%d} (version {expectation.version})"),
        expectation_actual=round(100.0 * subscribed / total, 1) if total else 0.0,
        expectation_target=round(100.0 * expectation.target_value, 1),
        expectation_source=expectation.source, is_illustrative=expectation.is_illustrative,
    )


def filter_choices(user: User, *, set_code: str = "") -> FilterChoices:
    agencies = scoping.visible_agencies(user)
    counties = list(agencies.exclude(county="").order_by("county").values_list("county", flat=True).distinct())
    cabinets = list(Cabinet.objects.filter(Q(agencies__in=agencies)).distinct().values_list("slug", "name"))
    return FilterChoices(cabinets=cabinets, counties=counties, kinds=list(AgencyKind.choices),
                         sets=requirement_sets(), versions=set_versions(set_code) if set_code else [])


# ---------------------------------------------------------------------------------------
# Briefings: the data of one briefing, for every format


@dataclass(frozen=True)
class BriefingParams:
    """What a briefing is asked for. JSON-safe through ``as_dict`` (it is stored on the export)."""

    scope: str = "state"
    set_code: str = ""
    version: str = ""
    compare_version: str = ""
    as_of: date | None = None
    since_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"scope": self.scope, "set": self.set_code, "version": self.version,
                "compare_version": self.compare_version, "as_of": self.as_of.isoformat() if self.as_of else "",
                "since_briefing": self.since_id}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> BriefingParams:
        as_of = raw.get("as_of") or None
        since = raw.get("since_briefing")
        return cls(scope=str(raw.get("scope") or "state"), set_code=str(raw.get("set") or ""),
                   version=str(raw.get("version") or ""), compare_version=str(raw.get("compare_version") or ""),
                   as_of=date.fromisoformat(str(as_of)) if as_of else None,
                   since_id=int(since) if since not in (None, "") else None)  # type: ignore[arg-type]


def scope_for_briefing(key: str) -> Scope:
    """A scope key resolved without a viewer: the export was authorised when it was requested."""
    kind, _, slug = key.partition(":")
    if kind == "state" and not slug:
        return Scope(kind="state", label="Statewide", agency_ids=None)
    if kind == "cabinet" and slug:
        cabinet = Cabinet.objects.filter(slug=slug).first()
        if cabinet is None:
            raise InvalidInput(f"Unknown cabinet '{slug}'.", field="scope")
        return Scope(kind="cabinet", label=cabinet.name, slug=slug,
                     agency_ids=list(cabinet.agencies.values_list("pk", flat=True)))
    if kind == "agency" and slug:
        agency = Agency.objects.filter(slug=slug).first()
        if agency is None:
            raise InvalidInput(f"Unknown agency '{slug}'.", field="scope")
        return Scope(kind="agency", label=agency.name, slug=slug, agency_ids=[agency.pk])
    raise InvalidInput(f"Unknown scope '{key}': use state, cabinet:SLUG or agency:SLUG.", field="scope")


def alerts_open_at(scope: Scope, at: datetime) -> int:
    """Alerts open at a moment (opened by then, not resolved by then): stable for a past date."""
    qs = Alert.objects.filter(opened_at__lte=at).filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=at))
    return _in_scope(qs, scope).count()


def _version_label(v) -> str:  # noqa: ANN001 - a RequirementSetVersion
    return f"{v.requirement_set.code} {v.version} ({v.status}, effective {v.effective_on:%Y-%m-%d})"


def participation_table(scope: Scope, *, as_of: date, today: date) -> pd.DataFrame:
    """agency, cabinet, status, since: each agency's FirstNet status on ``as_of``
    (``readiness.participation.participation_frame``) and the date of its last change by then."""
    from devices.models import FirstNetStatus, FirstNetStatusChange
    from readiness import participation

    frame, _ = participation.participation_frame(agency_ids=scope.agency_ids, as_of=as_of, today=today)
    if frame.empty:
        return pd.DataFrame(columns=["agency", "cabinet", "status", "since"])
    frame = frame.sort_values("name")
    since: dict[int, date] = {}
    changes = FirstNetStatusChange.objects.filter(changed_on__lte=as_of).order_by("agency_id", "changed_on")
    if scope.agency_ids is not None:
        changes = changes.filter(agency_id__in=scope.agency_ids)
    for agency_id, changed_on in changes.values_list("agency_id", "changed_on"):
        since[agency_id] = changed_on  # the last change on or before as_of wins
    fallback = dict(zip(frame["agency_id"], frame["firstnet_status_changed_on"], strict=True))
    return pd.DataFrame({
        "agency": list(frame["name"]),
        "cabinet": list(frame["cabinet"]),
        "status": [_label(FirstNetStatus, str(s)) for s in frame["status"]],
        "since": [since.get(pk) or (fallback[pk] if fallback[pk] <= as_of else None) for pk in frame["agency_id"]],
    }, columns=["agency", "cabinet", "status", "since"])


EXPECTATION_COLUMNS = ["label", "version", "metric", "target", "actual", "by_date", "source", "met", "current"]


def expectations_table(scope: Scope, *, as_of: date, today: date) -> pd.DataFrame:
    """Actual against every federal expectation version (``participation.compare_with_expectations``).

    Columns: label, version, metric, target, actual, by_date, source, met; target and actual
    in percent of the metric.
    """
    from readiness import participation

    rows = []
    for c in participation.compare_with_expectations(agency_ids=scope.agency_ids, as_of=as_of, today=today):
        exp = c.expectation
        if exp.effective_from > as_of:
            continue
        rows.append({
            "label": f"{exp.get_metric_display()} ({exp.version})", "version": exp.version, "metric": exp.metric,
            "target": round(100.0 * exp.target_value, 1),
            "actual": round(100.0 * c.actual, 1) if c.actual is not None else 0.0,
            "by_date": exp.target_by, "source": exp.source + (" (illustrative)" if exp.is_illustrative else ""),
            "met": bool(c.is_met), "current": bool(c.is_current),
        })
    frame = pd.DataFrame(rows, columns=EXPECTATION_COLUMNS)
    return frame.sort_values(["by_date", "metric"]).reset_index(drop=True) if not frame.empty else frame


def build_briefing_data(params: BriefingParams, *, now: datetime | None = None, previous: dict | None = None,
                        progress=None) -> BriefingData:  # noqa: ANN001 - progress(pct, note)
    """Everything a briefing shows, from the same functions the API uses (``readiness.results``).

    Today's as-of evaluates the scope's fleet now (as the API does for today); a past as-of
    reads the snapshot of that date (latest on or before it), with the version in effect
    then unless one is named. ``previous`` is an earlier export's ``figures`` (see
    ``briefing_figures``) for the "what changed" section. Read-only.
    """
    from readiness import results, snapshots

    def step(pct: int, note: str) -> None:
        if progress is not None:
            progress(pct, note)

    now = now or timezone.now()
    today = timezone.localdate(now)
    as_of = params.as_of or today
    if as_of > today:
        raise InvalidInput(f"as_of {as_of} is in the future; use the what-if comparison for a draft.",
                           field="as_of")
    scope = scope_for_briefing(params.scope)
    sets = requirement_sets()
    if not sets:
        raise InvalidInput("No requirement sets are loaded yet: run `python manage.py load_requirements "
                           "readiness/requirement_sets`.", field="set")
    set_code = params.set_code or sets[0][0]
    version = results.resolve_version(set_code, version=params.version or None, on=as_of)
    step(10, f"Evaluating {_version_label(version)}")
    failing: FailingDevices | None = None
    if as_of == today:
        fleet = results.evaluate_fleet(version=version, at=now, agency_ids=scope.agency_ids)
        counts = results.agency_counts(fleet)
        failing = failing_from_fleet(fleet, limit=0, long_limit=FAILING_ROWS_LIMIT)
        at = now
    else:
        snap_date = results.latest_snapshot_date(version, on_or_before=as_of)
        if snap_date is None:
            raise InvalidInput(f"No snapshot of {set_code} {version.version} on or before {as_of:%Y-%m-%d}: "
                               "run `python manage.py snapshot_readiness --date` for it.", field="as_of")
        counts = results.snapshot_counts(version, on=snap_date, agency_ids=scope.agency_ids)
        at = snapshots.end_of_day(as_of)
    step(35, "Aggregating by cabinet and agency")
    meta = results.agency_meta(scope.agency_ids)
    state = _group_frame(counts, meta, "state")
    total = state.iloc[0] if not state.empty else None
    cab = _group_frame(counts, meta, "cabinet")
    ag = _group_frame(counts, meta, "agency")
    kinds = dict(_in_scope(Agency.objects.all(), scope, "pk").values_list("slug", "kind"))
    participation_now = participation_table(scope, as_of=as_of, today=today)
    status_by_name = dict(zip(participation_now["agency"], participation_now["status"], strict=True))
    agencies = pd.DataFrame({
        "agency": ag["name"],
        "cabinet": ag["group"].map(dict(zip(meta["slug"], meta["cabinet"], strict=True))),
        "county": ag["group"].map(dict(zip(meta["slug"], meta["county"], strict=True))),
        "kind": [_label(AgencyKind, kinds.get(slug, "")) for slug in ag["group"]],
        "firstnet_status": ag["name"].map(status_by_name).fillna(""),
        "devices": ag["devices"], "ready": ag["ready"], "ready_pct": ag["ready_pct"].astype(float).round(1),
        "coverage_pct": ag["coverage_pct"],
    }) if not ag.empty else pd.DataFrame(columns=["agency", "cabinet", "county", "kind", "firstnet_status",
                                                  "devices", "ready", "ready_pct", "coverage_pct"])
    cabinets = pd.DataFrame({
        "cabinet": cab["name"],
        "agencies": cab["group"].map(meta.groupby("cabinet_slug")["agency_id"].nunique()).fillna(0).astype(int),
        "devices": cab["devices"], "ready": cab["ready"], "ready_pct": cab["ready_pct"].astype(float).round(1),
        "coverage_pct": cab["coverage_pct"],
    }) if not cab.empty else pd.DataFrame(columns=["cabinet", "agencies", "devices", "ready", "ready_pct",
                                                   "coverage_pct"])
    reqs = requirement_table(counts, version.pk)
    is_total = counts["key"].eq("") if not counts.empty else pd.Series(dtype=bool)
    devices = int(total["devices"]) if total is not None else 0
    reporting = int(counts.loc[is_total, "n_reporting"].sum()) if not counts.empty else 0
    expectations = expectations_table(scope, as_of=as_of, today=today)
    step(50, "Participation and expectations")
    current = _current_expectation(expectations)
    headline = Headline(
        devices=devices, online_now=reporting, ready=int(total["ready"]) if total is not None else 0,
        ready_pct=round(float(total["ready_pct"]), 1) if total is not None else 0.0,
        coverage_pct=float(total["coverage_pct"]) if total is not None else 0.0,
        agencies=len(participation_now),
        agencies_participating=int((participation_now["status"] == _label(
            Agency.FirstNetStatus, Agency.FirstNetStatus.SUBSCRIBED)).sum()),
        open_alerts=alerts_open_at(scope, at),
        waived=int(counts.loc[~is_total, "n_waived"].sum()) if not counts.empty else 0,
        expectation_label=current.get("label", ""), expectation_actual=current.get("actual"),
        expectation_target=current.get("target"),
    )
    trend = snapshots.trend(set_code=set_code, agency_ids=scope.agency_ids, start=as_of - timedelta(days=TREND_DAYS),
                            end=as_of)
    trend = pd.DataFrame({"date": trend["date"], "ready_pct": trend["ready_pct"].astype(float).round(1),
                          "coverage_pct": (100.0 * trend["coverage"].astype(float)).round(1)}) if not trend.empty \
        else pd.DataFrame(columns=["date", "ready_pct", "coverage_pct"])
    whatif = None
    if params.compare_version:
        # "Compared with version V": what moving from the briefing's version to V would do.
        step(60, f"What-if: version {version.version} to {params.compare_version}")
        whatif = briefing_whatif(scope, set_code, from_version=version.version, to_version=params.compare_version,
                                 at=now)
    versions = [_version_label(v) for v in results.versions_in_effect(on=as_of)]
    if _version_label(version) not in versions:
        versions.append(f"{_version_label(version)} (chosen)")
    data = BriefingData(
        title=f"Device readiness briefing: {scope.label}",
        scope=scope.key, scope_label=scope.label, set_code=set_code, set_name=version.requirement_set.name,
        version=version.version, compare_version=params.compare_version or None, as_of=as_of,
        headline=headline, trend=trend, cabinets=cabinets, agencies=agencies,
        requirements=reqs[["code", "title", "severity", "applicable", "passed", "failed", "waived", "pass_pct"]]
        if not reqs.empty else reqs,
        failing_devices=failing.long if failing is not None else
        pd.DataFrame(columns=["agency", "serial", "model", "kind", "requirement", "reason"]),
        failing_devices_total=int(len(failing.long)) if failing is not None else 0,
        participation=participation_now, expectations=expectations, versions_in_effect=versions,
        parameters=params.as_dict(), whatif=whatif, generated_at=now,
    )
    if previous is not None:
        data = changes_since(data, previous)
    step(70, "Figures ready")
    return data


FAILING_ROWS_LIMIT = 20_000


def _current_expectation(expectations: pd.DataFrame) -> dict[str, object]:
    """The latest agencies-subscribed expectation (the headline compares against it)."""
    if expectations.empty:
        return {}
    current = expectations[expectations["current"].astype(bool)]
    subscribed = current[current["metric"] == "agencies_subscribed"]
    if subscribed.empty:
        return {}
    row = subscribed.iloc[-1]
    return {"label": str(row["label"]), "actual": float(row["actual"]), "target": float(row["target"])}


def viewer_for(scope: Scope) -> User:
    """An unsaved user who sees exactly an agency scope, or everything (state and cabinet scopes).

    The what-if engine scopes by viewer (``readiness.scoping.visible_agency_ids``); a briefing
    was authorised when it was requested, so it asks as a viewer of the briefing's scope.
    """
    if scope.kind == "agency":
        return User(username="briefing", role=User.Role.AGENCY_VIEWER, agency_id=scope.agency_ids[0])  # type: ignore[index]
    return User(username="briefing", role=User.Role.STATE_STAFF)


def briefing_whatif(scope: Scope, set_code: str, *, from_version: str, to_version: str, at: datetime) -> WhatIf:
    """The what-if of two versions for the scope, through ``readiness.whatif.compare_versions``.

    The engine evaluates only the scope's agencies (``agency_ids``), so for a cabinet or an
    agency every figure, the cost and the ranked plan are that scope's, not the state's.
    """
    from readiness import whatif as engine

    result = engine.compare_versions(user=viewer_for(scope), set_code=set_code, from_version=from_version,
                                     to_version=to_version, now=at, agency_ids=scope.agency_ids)
    return whatif_summary(result)


def whatif_summary(result) -> WhatIf:  # noqa: ANN001 - a readiness.whatif.WhatIfResult
    plan = pd.DataFrame([{"rank": s.rank, "action": s.description, "devices": s.devices_touched,
                          "ready_pct_after": round(float(s.readiness_after_pct), 1), "cost": float(s.cost)}
                         for s in result.plan], columns=["rank", "action", "devices", "ready_pct_after", "cost"])
    changes = pd.DataFrame([{"code": c.new_code or c.old_code, "change": c.change, "title": c.title}
                            for c in result.changes if c.change != "same"], columns=["code", "change", "title"])
    return WhatIf(
        from_version=result.from_version, to_version=result.to_version, added=result.count("added"),
        removed=result.count("removed"), tightened=result.count("tightened"), relaxed=result.count("relaxed"),
        ready_pct_before=round(result.ready_pct_before, 1), ready_pct_after=round(result.ready_pct_after, 1),
        newly_failing_devices=len(result.newly_failing_devices), newly_failing_agencies=result.newly_failing_agencies,
        estimated_cost=float(result.cost.get("total", sum(result.cost.values()))), changes=changes, plan=plan,
    )


# ---------------------------------------------------------------------------------------
# "What changed since the last briefing"


def briefing_figures(data: BriefingData) -> dict[str, object]:
    """What a later briefing compares with: headline figures, statuses, versions (JSON-safe)."""
    return {
        "as_of": data.as_of.isoformat(),
        "devices": data.headline.devices,
        "ready_pct": data.headline.ready_pct,
        "agencies_participating": data.headline.agencies_participating,
        "statuses": dict(zip(data.participation["agency"], data.participation["status"], strict=True)),
        "versions_in_effect": list(data.versions_in_effect),
        "data_hash": data.data_hash,
    }


def changes_since(data: BriefingData, previous: dict) -> BriefingData:
    """``data`` with its "what changed since the last briefing" section filled from ``previous``.

    ``previous`` is ``{"id": .., **briefing_figures(earlier)}``. Requirement changes are the
    versions of any set taking effect after the earlier as-of and on or before this one.
    """
    from dataclasses import replace

    from readiness.models import RequirementSetVersion

    prev_as_of = date.fromisoformat(str(previous["as_of"]))
    versions = (RequirementSetVersion.objects.filter(effective_on__gt=prev_as_of, effective_on__lte=data.as_of)
                .exclude(status=RequirementSetVersion.Status.DRAFT).select_related("requirement_set")
                .order_by("effective_on", "requirement_set__code"))
    req_rows = []
    for v in versions:
        relations = dict(v.requirements.values_list("relation").annotate(n=Count("id")).order_by())
        removed = v.removals.count()
        summary = ", ".join(f"{n} {rel}" for rel, n in sorted(relations.items()) if rel != "same")
        if removed:
            summary = f"{summary}, {removed} removed" if summary else f"{removed} removed"
        req_rows.append({"set": v.requirement_set.code, "version": v.version, "status": v.status,
                         "effective": v.effective_on.isoformat(), "change": summary or "no requirement changed"})
    before = previous.get("statuses") or {}
    now_statuses = dict(zip(data.participation["agency"], data.participation["status"], strict=True))
    part_rows = [{"agency": name, "from_status": before.get(name, "(not listed)"), "to_status": status,
                  "changed_on": _since_for(data.participation, name)}
                 for name, status in sorted(now_statuses.items()) if before.get(name) != status]
    changes = ChangesSince(
        previous_id=int(previous["id"]), previous_as_of=prev_as_of,
        previous_data_hash=str(previous.get("data_hash", "")),
        devices_before=int(previous.get("devices", 0)), devices_after=data.headline.devices,
        ready_pct_before=float(previous.get("ready_pct", 0.0)), ready_pct_after=data.headline.ready_pct,
        agencies_participating_before=int(previous.get("agencies_participating", 0)),
        agencies_participating_after=data.headline.agencies_participating,
        requirement_changes=pd.DataFrame(req_rows, columns=["set", "version", "status", "effective", "change"]),
        participation_changes=pd.DataFrame(part_rows, columns=["agency", "from_status", "to_status", "changed_on"]),
    )
    return replace(data, changes=changes)


def _since_for(participation: pd.DataFrame, agency: str) -> str:
    found = participation.loc[participation["agency"] == agency, "since"]
    value = found.iloc[0] if not found.empty else None
    return value.isoformat() if hasattr(value, "isoformat") else ""


@dataclass(frozen=True)
class BriefingChoices:
    scopes: list[tuple[str, str]]
    sets: list[tuple[str, str]]
    versions: list[tuple[str, str]]
    earlier: list[tuple[int, str]]


def briefing_choices(user: User, *, set_code: str = "") -> BriefingChoices:
    """The options of the briefing form: the scopes the user may brief on, sets, versions, earlier briefings."""
    from readiness.models import BriefingExport

    if user.is_state_staff:
        scopes = [("state", "Statewide")]
        scopes += [(f"cabinet:{slug}", f"Cabinet: {name}") for slug, name in
                   Cabinet.objects.order_by("name").values_list("slug", "name")]
        scopes += [(f"agency:{slug}", f"Agency: {name}") for slug, name in
                   Agency.objects.order_by("name").values_list("slug", "name")]
    else:
        scopes = [(f"agency:{a.slug}", f"Agency: {a.name}") for a in scoping.visible_agencies(user)]
    sets = requirement_sets()
    code = set_code or (sets[0][0] if sets else "")
    earlier = scoping.scope_readiness(BriefingExport.objects.filter(status=BriefingExport.Status.DONE), user)
    return BriefingChoices(
        scopes=scopes, sets=sets, versions=set_versions(code) if code else [],
        earlier=[(e.pk, f"#{e.pk} {e.scope_label} as of {e.as_of:%Y-%m-%d} ({e.format})")
                 for e in earlier.order_by("-created_at")[:50]],
    )


# ---------------------------------------------------------------------------------------
# Requirement pages


@dataclass(frozen=True)
class VersionInfo:
    version: str
    title: str
    status: str
    status_label: str
    effective_on: date
    issuing_authority: str
    source_url: str
    source_note: str
    supersedes: str
    requirements: int
    snapshot_date: date | None


@dataclass
class SetCatalog:
    code: str
    name: str
    publisher: str
    description: str
    versions: list[VersionInfo]


def _version_info(v, *, snapshot_date: date | None = None) -> VersionInfo:  # noqa: ANN001
    return VersionInfo(
        version=v.version, title=v.title, status=v.status, status_label=v.get_status_display(),
        effective_on=v.effective_on, issuing_authority=v.issuing_authority, source_url=v.source_url,
        source_note=v.source_note, supersedes=v.supersedes.version if v.supersedes_id else "",
        requirements=getattr(v, "n_requirements", 0), snapshot_date=snapshot_date,
    )


def requirement_catalog() -> list[SetCatalog]:
    """Every set with its versions, oldest first (two queries)."""
    from readiness.models import RequirementSet, RequirementSetVersion

    versions = (RequirementSetVersion.objects.select_related("supersedes")
                .annotate(n_requirements=Count("requirements")).order_by("effective_on", "id"))
    by_set: dict[int, list[VersionInfo]] = {}
    for v in versions:
        by_set.setdefault(v.requirement_set_id, []).append(_version_info(v))
    return [SetCatalog(code=s.code, name=s.name, publisher=s.publisher, description=s.description,
                       versions=by_set.get(s.pk, [])) for s in RequirementSet.objects.order_by("code")]


@dataclass
class SetComparison:
    """A set's versions side by side: each stable key across versions, and pass rates."""

    code: str
    name: str
    publisher: str
    versions: list[VersionInfo]
    # key, title, then per version: {code, section, relation, severity, weight, removed, pass_pct}
    rows: list[dict[str, object]]
    # code (latest), and one column per version with a pass % (snapshot data)
    pass_rates: pd.DataFrame


def set_comparison(set_code: str, *, as_of: date) -> SetComparison:
    """Versions side by side (what changed) with each requirement's statewide pass rate.

    Pass rates come from each version's latest snapshot on or before ``as_of``; a version
    never in effect (a draft) has none: its effect is on the what-if page.
    """
    from readiness import results
    from readiness.models import Requirement, RequirementRemoval

    req_set = results.get_requirement_set(set_code)
    versions = list(req_set.versions.select_related("supersedes").annotate(n_requirements=Count("requirements"))
                    .order_by("effective_on", "id"))
    infos: list[VersionInfo] = []
    pass_by_version: dict[str, dict[str, float | None]] = {}
    for v in versions:
        snap = results.latest_snapshot_date(v, on_or_before=as_of)
        infos.append(_version_info(v, snapshot_date=snap))
        if snap is not None:
            table = requirement_table(results.snapshot_counts(v, on=snap, agency_ids=None), v.pk)
            pass_by_version[v.version] = dict(zip(table["key"], table["pass_pct"], strict=True))
    reqs = Requirement.objects.filter(version__in=versions).values(
        "version__version", "key", "code", "section", "title", "relation", "severity", "weight", "change_note")
    removals = RequirementRemoval.objects.filter(version__in=versions).values("version__version", "key", "note")
    rows: dict[str, dict[str, object]] = {}
    for r in reqs:
        row = rows.setdefault(r["key"], {"key": r["key"], "title": r["title"], "cells": {}})
        row["title"] = r["title"]  # the latest version's title wins (versions come in date order)
        row["cells"][r["version__version"]] = {  # type: ignore[index]
            "code": r["code"], "section": r["section"], "relation": r["relation"], "severity": r["severity"],
            "weight": r["weight"], "note": r["change_note"], "removed": False,
            "pass_pct": pass_by_version.get(r["version__version"], {}).get(r["key"]),
        }
    for r in removals:
        row = rows.setdefault(r["key"], {"key": r["key"], "title": r["key"], "cells": {}})
        row["cells"][r["version__version"]] = {"removed": True, "note": r["note"]}  # type: ignore[index]
    order = [v.version for v in versions]
    out_rows = []
    for key in sorted(rows):
        row = rows[key]
        cells = row["cells"]
        row["by_version"] = [cells.get(v) for v in order]  # type: ignore[union-attr]
        out_rows.append(row)
    latest_code = {r["key"]: (r["by_version"][-1] or {}).get("code") or r["key"] for r in out_rows}  # type: ignore[index]
    rates = pd.DataFrame({"code": [latest_code[r["key"]] for r in out_rows]})
    for v in order:
        if v in pass_by_version:
            rates[v] = [pass_by_version[v].get(str(r["key"])) for r in out_rows]
    return SetComparison(code=req_set.code, name=req_set.name, publisher=req_set.publisher, versions=infos,
                         rows=out_rows, pass_rates=rates)


@dataclass
class WhatIfPage:
    summary: WhatIf
    changes: list[object]  # readiness.whatif.RequirementChange
    agencies: list[dict[str, object]]
    newly_failing: list[dict[str, object]]
    newly_failing_total: int
    cost: dict[str, float]
    evaluated_at: datetime


def whatif_page(user: User, set_code: str, *, from_version: str, to_version: str) -> WhatIfPage:
    """The what-if of two versions over the fleet the user may see (``whatif.compare_versions``)."""
    from readiness import whatif as engine

    result = engine.compare_versions(user=user, set_code=set_code, from_version=from_version or None,
                                     to_version=to_version or None)
    agencies = result.agencies[result.agencies["newly_failing"] > 0].head(50)
    newly = result.newly_failing_devices
    return WhatIfPage(
        summary=whatif_summary(result), changes=[c for c in result.changes if c.change != "same"],
        agencies=agencies.to_dict("records"), newly_failing=newly.head(200).to_dict("records"),
        newly_failing_total=len(newly), cost={k: float(v) for k, v in result.cost.items()}, evaluated_at=result.at,
    )


# ---------------------------------------------------------------------------------------
# Participation page

PARTICIPATION_START = date(2017, 1, 1)  # the opt-in year: history starts there


@dataclass
class ParticipationPage:
    as_of: date
    history: pd.DataFrame  # participation.history columns
    funnel: object  # participation.Funnel (statewide)
    statewide: list[dict[str, object]]  # one per expectation version
    by_cabinet: list[dict[str, object]]  # cabinet x current expectations
    expectation_versions: list[dict[str, object]]
    agencies: pd.DataFrame  # agency, cabinet, status, since
    changes: list[dict]  # recent status changes


def participation_page(scope: Scope, *, as_of: date, today: date) -> ParticipationPage:
    """Every agency's status over time, actual against each expectation version, and what changed."""
    from readiness import participation
    from readiness.models import FederalExpectation

    history = participation.history(agency_ids=scope.agency_ids, start=PARTICIPATION_START, end=as_of)
    funnel = participation.funnels(agency_ids=scope.agency_ids, as_of=as_of, today=today)[0]

    def rows(comparisons: list, *, current_only: bool) -> list[dict[str, object]]:
        return [{"scope": c.name, "metric": c.expectation.get_metric_display(), "version": c.expectation.version,
                 "target_pct": round(100 * c.expectation.target_value, 1), "by": c.expectation.target_by,
                 "actual_pct": None if c.actual is None else round(100 * c.actual, 1),
                 "gap_pct": None if c.gap is None else round(100 * c.gap, 1), "met": c.is_met,
                 "current": c.is_current, "illustrative": c.expectation.is_illustrative}
                for c in comparisons if c.is_current or not current_only]

    statewide = rows(participation.compare_with_expectations(agency_ids=scope.agency_ids, as_of=as_of,
                                                             today=today), current_only=False)
    by_cabinet = rows(participation.compare_with_expectations(agency_ids=scope.agency_ids, as_of=as_of,
                                                              today=today, by="cabinet"), current_only=True)
    versions = [{"metric": e.get_metric_display(), "version": e.version, "target_pct": round(100 * e.target_value, 1),
                 "by": e.target_by, "effective_from": e.effective_from, "source": e.source, "source_url": e.source_url,
                 "change_note": e.change_note, "supersedes": e.supersedes.version if e.supersedes_id else "",
                 "illustrative": e.is_illustrative}
                for e in FederalExpectation.objects.select_related("supersedes").order_by("metric", "effective_from")]
    timeline = participation.status_timeline(agency_ids=scope.agency_ids)
    recent = sorted(timeline, key=lambda c: c["changed_on"], reverse=True)[:30]
    return ParticipationPage(as_of=as_of, history=history, funnel=funnel, statewide=statewide,
                             by_cabinet=by_cabinet, expectation_versions=versions,
                             agencies=participation_table(scope, as_of=as_of, today=today), changes=recent)


# ---------------------------------------------------------------------------------------
# Portfolio page (a business relationship manager's cabinet)


@dataclass
class PortfolioPage:
    portfolio: object  # readiness.portfolios.Portfolio
    readiness: ReadinessFigures
    set_columns: list[tuple[str, str]]  # (set code, version) in the agencies table


def portfolio_page(user: User, cabinet_slug: str, filters: Filters, *, today: date) -> PortfolioPage:
    """A cabinet at a glance (``readiness.portfolios.build_portfolio``: agencies' readiness per set
    in effect, coverage, open alerts, waivers expiring in 30 days, versions taking effect in 90),
    plus the trend of the chosen set from the snapshots."""
    from readiness import portfolios

    scope = cabinet_scope(user, cabinet_slug)
    found = portfolios.build_portfolio(user=user, key=cabinet_slug)
    columns: dict[str, str] = {}
    for line in found.agencies:
        for code, figures in line.readiness.items():
            columns.setdefault(code, figures["version"])
    return PortfolioPage(portfolio=found, readiness=readiness_figures(scope, filters, today=today),
                         set_columns=sorted(columns.items()))
