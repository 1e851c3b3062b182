"""Portfolios: a business relationship manager's cabinet at a glance.

For one cabinet (named by its slug, or by its BRM's username): each agency's readiness
against every requirement set in effect today with its telemetry coverage, open alerts,
waivers expiring in the next 30 days, and requirement versions taking effect in the next 90
days (what the BRM has to prepare the agencies for). State staff only (a portfolio spans
agencies): the caller checks that through `readiness.scoping` before asking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.apps import apps
from django.db.models import Count, Q
from django.utils import timezone

from config.errors import NotFound
from devices.models import Cabinet, User
from readiness import evaluation_store
from readiness.models import ReadinessEvaluation, RequirementSetVersion, Waiver
from readiness.results import (
    agency_counts,
    agency_meta,
    aggregate_counts,
    evaluate_fleet,
    upcoming_versions,
    versions_in_effect,
)

EXPIRING_WITHIN = timedelta(days=30)
UPCOMING_WITHIN = timedelta(days=90)


@dataclass
class AgencyLine:
    slug: str
    name: str
    devices: int
    open_alerts: int
    # Per set code: {"version", "score", "ready_pct", "coverage"}.
    readiness: dict[str, dict] = field(default_factory=dict)


@dataclass
class Portfolio:
    cabinet: Cabinet
    brm: User | None
    as_of: datetime
    agencies: list[AgencyLine]
    expiring_waivers: list[Waiver]
    upcoming_versions: list[RequirementSetVersion]
    open_alerts: int


def find_cabinet(key: str) -> Cabinet:
    """The cabinet with slug ``key``, else the cabinet whose BRM has username ``key``."""
    cabinet = Cabinet.objects.select_related("brm").filter(slug=key).first()
    if cabinet is None:
        cabinet = (
            Cabinet.objects.select_related("brm").filter(brm__username=key).order_by("name").first()
        )
    if cabinet is None:
        raise NotFound(
            f"No cabinet with slug '{key}' and no cabinet managed by a user '{key}'.", field="key"
        )
    return cabinet


def open_alert_counts(agency_ids: list[int]) -> dict[int, int]:
    """Open (unresolved) alerts per agency; empty when telemetry has no alert model."""
    try:
        alert = apps.get_model("telemetry", "Alert")
    except LookupError:
        return {}
    rows = (
        alert.objects.filter(agency_id__in=agency_ids, resolved_at__isnull=True)
        .values("agency_id")
        .annotate(n=Count("id"))
    )
    return {r["agency_id"]: r["n"] for r in rows}


def build_portfolio(
    *, key: str, now: datetime | None = None, evaluation: ReadinessEvaluation | None = None
) -> Portfolio:
    """The portfolio of one cabinet. Read-only. Each set in effect is read from ``evaluation``
    (of record, resolved by the interface) when it covers it, else evaluated live at ``now``."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    cabinet = find_cabinet(key)
    agencies = list(
        cabinet.agencies.order_by("name").annotate(
            n_devices=Count("devices", filter=~Q(devices__status="retired"))
        )
    )
    ids = [a.pk for a in agencies]
    alerts = open_alert_counts(ids)
    lines = {
        a.pk: AgencyLine(
            slug=a.slug, name=a.name, devices=a.n_devices, open_alerts=alerts.get(a.pk, 0)
        )
        for a in agencies
    }
    meta = agency_meta(ids)
    for version in versions_in_effect(on=today):
        if not ids:
            break
        if evaluation is not None and evaluation_store.has_version(evaluation, version):
            counts = evaluation_store.evaluation_counts(evaluation, version=version, agency_ids=ids)
        else:
            counts = agency_counts(evaluate_fleet(version=version, at=now, agency_ids=ids))
        rows = aggregate_counts(counts, meta, group_by="agency")
        by_slug = rows.set_index("group") if not rows.empty else pd.DataFrame()
        for line in lines.values():
            if line.slug in by_slug.index:
                r = by_slug.loc[line.slug]
                line.readiness[version.requirement_set.code] = {
                    "version": version.version,
                    "score": r["score"],
                    "ready_pct": float(r["ready_pct"]),
                    "coverage": float(r["coverage"]),
                }
    expiring = list(
        Waiver.objects.filter(
            agency_id__in=ids,
            status=Waiver.Status.APPROVED,
            starts_at__lte=now,
            expires_at__gt=now,
            expires_at__lte=now + EXPIRING_WITHIN,
        )
        .select_related("agency", "device", "requirement_set")
        .order_by("expires_at")
    )
    return Portfolio(
        cabinet=cabinet,
        brm=cabinet.brm,
        as_of=evaluation.evaluated_at if evaluation is not None else now,
        agencies=list(lines.values()),
        expiring_waivers=expiring,
        upcoming_versions=upcoming_versions(after=today, until=today + UPCOMING_WITHIN),
        open_alerts=sum(alerts.values()),
    )
