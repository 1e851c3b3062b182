"""The readiness API router: requirement sets, scores, results, what-if, waivers, snapshots,
portfolios and FirstNet participation.

Thin: parse (schemas), scope (``readiness.scoping``: another agency's device or agency is a
404), call one core function, shape the answer. Every operation lists the error statuses it
can return, from ``config.api``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Status

from config.api import COMMON_ERRORS, NOT_FOUND_ERRORS, WRITE_ERRORS
from config.errors import InvalidInput
from config.typing import AuthedRequest
from devices.models import User
from readiness import (
    api_drafts,
    evaluations,
    participation,
    portfolios,
    results,
    scoping,
    snapshots,
    waivers,
    whatif,
)
from readiness.models import FederalExpectation, RequirementSet, RequirementSetVersion, Waiver
from readiness.rules import describe, parse_rule
from readiness.schemas import (
    DecisionIn,
    DeviceResultsOut,
    ExpectationsOut,
    FailingDevicesOut,
    FunnelOut,
    HistoryOut,
    HistoryQuery,
    ParticipationQuery,
    PortfolioOut,
    RemediationOut,
    RevokeIn,
    ScoresOut,
    ScoresQuery,
    SetOut,
    SnapshotQuery,
    SnapshotRowOut,
    TrendPointOut,
    TrendQuery,
    VersionDetailOut,
    VersionOut,
    VersionQuery,
    WaiverFilter,
    WaiverIn,
    WaiverOut,
    WhatIfOut,
    WhatIfQuery,
)

router = Router(tags=["readiness"])
participation_router = Router(tags=["participation"])
Id = Path(..., ge=1, le=2**63 - 1)
Slug = Path(..., min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_.]+$")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _readable_version(request: HttpRequest, set_code: str, version: str | None) -> str | None:
    """``version`` as asked, once the user may read it: a draft being written in the product
    is 404 to anyone but state staff, like a version that does not exist."""
    if version:
        results.get_version(
            results.get_requirement_set(set_code),
            version,
            with_drafts_in_progress=_user(request).is_state_staff,
        )
    return version


# --- shaping (plain data in, dicts out) ---------------------------------------------------------


def _version_out(v: RequirementSetVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "title": v.title,
        "status": v.status,
        "effective_on": v.effective_on,
        "published_on": v.published_on,
        "issuing_authority": v.issuing_authority,
        "source_url": v.source_url,
        "source_note": v.source_note,
        "supersedes": v.supersedes.version if v.supersedes else None,
        "requirements": v.requirements.count(),
    }


def _waiver_out(w: Waiver, now: Any) -> dict[str, Any]:
    return {
        "id": w.pk,
        "set": w.requirement_set.code,
        "requirement_key": w.requirement_key,
        "agency": w.agency.slug,
        "device_id": w.device_id,
        "device_serial": w.device.serial if w.device else None,
        "reason": w.reason,
        "status": w.status,
        "requested_by": w.requested_by.get_username() if w.requested_by else None,
        "requested_at": w.requested_at,
        "decided_by": w.decided_by.get_username() if w.decided_by else None,
        "decided_at": w.decided_at,
        "decision_comment": w.decision_comment,
        "approver": w.approver_name,
        "starts_at": w.starts_at,
        "expires_at": w.expires_at,
        "revoked_at": w.revoked_at,
        "revoke_reason": w.revoke_reason,
        "state": waivers.waiver_state(w, now=now),
    }


def _cost_out(cost: dict) -> dict[str, Any]:
    return {k: cost.get(k, 0) for k in ("replace", "firmware", "configure", "telemetry", "total")}


def _agency_ids_for(request: HttpRequest, slug: str | None) -> list[int] | None:
    """The visible agencies, narrowed to one slug (404 when it is not visible)."""
    if slug:
        return [scoping.get_visible_agency(_user(request), slug).pk]
    return scoping.visible_agency_ids(_user(request))


# --- requirement sets ---------------------------------------------------------------------------


@router.get("/readiness/sets", response={200: list[SetOut], **COMMON_ERRORS})
def list_sets(request: AuthedRequest) -> list[dict[str, Any]]:
    today = timezone.localdate()
    out = []
    for s in RequirementSet.objects.prefetch_related("versions"):
        current = results.find_version_in_effect(s, on=today)
        out.append(
            {
                "code": s.code,
                "name": s.name,
                "publisher": s.publisher,
                "description": s.description,
                "in_effect": current.version if current else None,
                "versions": [
                    v.version for v in scoping.visible_versions(_user(request), s.versions.all())
                ],
            }
        )
    return out


@router.get("/readiness/sets/{code}/versions", response={200: list[VersionOut], **NOT_FOUND_ERRORS})
def list_versions(request: AuthedRequest, code: str = Slug) -> list[dict[str, Any]]:
    req_set = results.get_requirement_set(code)
    versions = scoping.visible_versions(_user(request), req_set.versions.all())
    return [_version_out(v) for v in versions.select_related("supersedes")]


@router.get(
    "/readiness/sets/{code}/versions/{version}",
    response={200: VersionDetailOut, **NOT_FOUND_ERRORS},
)
def get_version(request: AuthedRequest, code: str = Slug, version: str = Slug) -> dict[str, Any]:
    ver = results.get_version(
        results.get_requirement_set(code),
        version,
        with_drafts_in_progress=_user(request).is_state_staff,
    )
    reqs = [
        {
            "key": r.key,
            "code": r.code,
            "section": r.section,
            "title": r.title,
            "explanation": r.explanation,
            "severity": r.severity,
            "weight": r.weight,
            "applies_to": r.applies_to or [],
            "relation": r.relation,
            "change_note": r.change_note,
            "rule": r.rule,
            "rule_text": describe(parse_rule(r.rule)),
        }
        for r in ver.requirements.order_by("section", "code")
    ]
    return {**_version_out(ver), "requirement_list": reqs}


# --- scores and results -------------------------------------------------------------------------


def _evaluation_for(*, live: bool, as_of: date | None, now: Any) -> Any:
    """The evaluation of record "now" reads (recorded first on a fresh install); None when a
    live evaluation was asked for or the date is past (its snapshot answers)."""
    if live or (as_of is not None and as_of < timezone.localdate(now)):
        return None
    return evaluations.current_evaluation(now=now)


@router.get("/readiness/scores", response={200: ScoresOut, **NOT_FOUND_ERRORS})
def get_scores(request: AuthedRequest, q: Query[ScoresQuery]) -> dict[str, Any]:
    now = timezone.now()
    found = results.scores(
        agency_ids=scoping.visible_agency_ids(_user(request)),
        set_code=q.set_code,
        version=_readable_version(request, q.set_code, q.version),
        as_of=q.as_of,
        group_by=q.group_by,
        now=now,
        evaluation=_evaluation_for(live=q.live, as_of=q.as_of, now=now),
    )
    return {
        "set": found.version.requirement_set.code,
        "version": found.version.version,
        "as_of": found.as_of,
        "group_by": found.group_by,
        "source": found.source,
        "snapshot_date": found.snapshot_date,
        "evaluated_at": found.evaluated_at,
        "data_hash": found.data_hash,
        "rows": found.rows.to_dict("records"),
    }


@router.get(
    "/readiness/devices/{device_id}/results", response={200: DeviceResultsOut, **NOT_FOUND_ERRORS}
)
def get_device_results(
    request: AuthedRequest, q: Query[VersionQuery], device_id: int = Id
) -> dict[str, Any]:
    return results.device_results(
        agency_ids=scoping.visible_agency_ids(_user(request)),
        device_id=device_id,
        set_code=q.set_code,
        version=_readable_version(request, q.set_code, q.version),
    )


@router.get(
    "/readiness/agencies/{slug}/failing-devices",
    response={200: FailingDevicesOut, **NOT_FOUND_ERRORS},
)
def get_failing_devices(
    request: AuthedRequest, q: Query[VersionQuery], slug: str = Slug
) -> dict[str, Any]:
    return results.failing_devices(
        agency_ids=scoping.visible_agency_ids(_user(request)),
        slug=slug,
        set_code=q.set_code,
        version=_readable_version(request, q.set_code, q.version),
    )


# --- what-if and remediation ----------------------------------------------------------------------


# Narrow a what-if or a plan to one cabinet's or one agency's devices (its cost and plan too).
CabinetFilter = Query(
    None,
    min_length=1,
    max_length=64,
    pattern=r"^[-a-zA-Z0-9_.]+$",
    description="Cabinet slug: only that cabinet's agencies.",
)
AgencyFilter = Query(
    None,
    min_length=1,
    max_length=64,
    pattern=r"^[-a-zA-Z0-9_.]+$",
    description="Agency slug: only that agency.",
)


@router.get("/readiness/whatif", response={200: WhatIfOut, **NOT_FOUND_ERRORS})
def get_whatif(
    request: AuthedRequest,
    q: Query[WhatIfQuery],
    cabinet: str | None = CabinetFilter,
    agency: str | None = AgencyFilter,
) -> dict[str, Any]:
    user = _user(request)
    agency_ids = scoping.agency_ids_for(user, cabinet=cabinet, agency=agency)
    for named in (q.from_version, q.to_version):
        _readable_version(request, q.set_code, named)
    found = whatif.compare_versions(
        agency_ids=agency_ids,
        set_code=q.set_code,
        from_version=q.from_version,
        to_version=q.to_version,
        with_drafts_in_progress=user.is_state_staff,
    )
    return {
        "set": found.set_code,
        "from_version": found.from_version,
        "to_version": found.to_version,
        "devices": found.devices_total,
        "ready_before": found.ready_before,
        "ready_after": found.ready_after,
        "ready_pct_before": found.ready_pct_before,
        "ready_pct_after": found.ready_pct_after,
        "newly_failing_agencies": found.newly_failing_agencies,
        "changes": [asdict(c) for c in found.changes],
        "newly_failing_devices": found.newly_failing_devices.to_dict("records"),
        "agencies": found.agencies.to_dict("records"),
        "cost": _cost_out(found.cost),
        "plan": [asdict(s) for s in found.plan],
    }


@router.get("/readiness/remediation", response={200: RemediationOut, **NOT_FOUND_ERRORS})
def get_remediation(
    request: AuthedRequest,
    q: Query[VersionQuery],
    cabinet: str | None = CabinetFilter,
    agency: str | None = AgencyFilter,
) -> dict[str, Any]:
    ver, cost, plan, total, ready = whatif.remediation_plan(
        agency_ids=scoping.agency_ids_for(_user(request), cabinet=cabinet, agency=agency),
        set_code=q.set_code,
        version=_readable_version(request, q.set_code, q.version),
    )
    return {
        "set": ver.requirement_set.code,
        "version": ver.version,
        "devices": total,
        "ready": ready,
        "cost": _cost_out(cost),
        "plan": [asdict(s) for s in plan],
    }


# --- waivers ----------------------------------------------------------------------------------


@router.get("/readiness/waivers", response={200: list[WaiverOut], **COMMON_ERRORS})
def list_waivers(request: AuthedRequest, q: Query[WaiverFilter]) -> list[dict[str, Any]]:
    now = timezone.now()
    found = waivers.list_waivers(
        agency_ids=scoping.visible_agency_ids(_user(request)),
        set_code=q.set_code,
        agency_slug=q.agency,
        state=q.state,
        status=q.status,
        now=now,
    )
    return [_waiver_out(w, now) for w in found]


@router.get("/readiness/waivers/{waiver_id}", response={200: WaiverOut, **NOT_FOUND_ERRORS})
def get_waiver(request: AuthedRequest, waiver_id: int = Id) -> dict[str, Any]:
    found = scoping.get_visible_or_404(scoping.visible_waivers(_user(request)), pk=waiver_id)
    return _waiver_out(found, timezone.now())


@router.post("/readiness/waivers", response={201: WaiverOut, **WRITE_ERRORS})
def request_waiver(request: AuthedRequest, payload: WaiverIn) -> Status:
    """Request a waiver: it is pending, and counts nowhere until another person approves it."""
    user = _user(request)
    agency = scoping.get_visible_agency(user, payload.agency)
    device = None
    if payload.device_id is not None:
        device = scoping.get_visible_device(user, payload.device_id)
    scoping.require_waiver_requester(user, agency)
    waiver = waivers.request_waiver(
        actor=user,
        agency=agency,
        set_code=payload.set_code,
        requirement_key=payload.requirement_key,
        reason=payload.reason,
        expires_at=payload.expires_at,
        device=device,
        starts_at=payload.starts_at,
        request=request,
    )
    return Status(201, _waiver_out(waiver, timezone.now()))


@router.post("/readiness/waivers/{waiver_id}/approve", response={200: WaiverOut, **WRITE_ERRORS})
def approve_waiver(
    request: AuthedRequest, payload: DecisionIn, waiver_id: int = Id
) -> dict[str, Any]:
    """State staff other than the requester approve a pending waiver; it counts from then on."""
    found = scoping.get_visible_or_404(scoping.visible_waivers(_user(request)), pk=waiver_id)
    scoping.require_waiver_decider(_user(request))
    approved = waivers.approve_waiver(
        actor=_user(request), waiver_id=found.pk, comment=payload.comment, request=request
    )
    return _waiver_out(approved, timezone.now())


@router.post("/readiness/waivers/{waiver_id}/reject", response={200: WaiverOut, **WRITE_ERRORS})
def reject_waiver(
    request: AuthedRequest, payload: DecisionIn, waiver_id: int = Id
) -> dict[str, Any]:
    """State staff other than the requester reject a pending waiver, saying why."""
    found = scoping.get_visible_or_404(scoping.visible_waivers(_user(request)), pk=waiver_id)
    scoping.require_waiver_decider(_user(request))
    rejected = waivers.reject_waiver(
        actor=_user(request), waiver_id=found.pk, comment=payload.comment, request=request
    )
    return _waiver_out(rejected, timezone.now())


@router.post("/readiness/waivers/{waiver_id}/revoke", response={200: WaiverOut, **WRITE_ERRORS})
def revoke_waiver(request: AuthedRequest, payload: RevokeIn, waiver_id: int = Id) -> dict[str, Any]:
    found = scoping.get_visible_or_404(scoping.visible_waivers(_user(request)), pk=waiver_id)
    scoping.require_waiver_revoker(_user(request), found.agency_id)
    revoked = waivers.revoke_waiver(
        actor=_user(request), waiver=found, reason=payload.reason, request=request
    )
    return _waiver_out(revoked, timezone.now())


# --- snapshots and trend --------------------------------------------------------------------------


@router.get("/readiness/snapshots", response={200: list[SnapshotRowOut], **NOT_FOUND_ERRORS})
def list_snapshots(request: AuthedRequest, q: Query[SnapshotQuery]) -> list[dict[str, Any]]:
    results.get_requirement_set(q.set_code)
    qs = scoping.visible_snapshots(_user(request)).filter(version__requirement_set__code=q.set_code)
    if q.agency:
        qs = qs.filter(agency=scoping.get_visible_agency(_user(request), q.agency))
    day = q.date or qs.order_by("-date").values_list("date", flat=True).first()
    if day is None:
        return []  # no snapshot of the set in scope yet
    rows = (
        qs.filter(date=day)
        .select_related("agency", "version")
        .order_by("agency__slug", "requirement_key")
    )
    return [
        {
            "date": r.date,
            "agency": r.agency.slug,
            "version": r.version.version,
            "requirement_key": r.requirement_key,
            "n_pass": r.n_pass,
            "n_fail": r.n_fail,
            "n_waived": r.n_waived,
            "n_na": r.n_na,
            "n_reporting": r.n_reporting,
            "score": r.score,
            "coverage": r.coverage,
            "source": r.source,
        }
        for r in rows
    ]


@router.get("/readiness/trend", response={200: list[TrendPointOut], **NOT_FOUND_ERRORS})
def get_trend(request: AuthedRequest, q: Query[TrendQuery]) -> list[dict[str, Any]]:
    results.get_requirement_set(q.set_code)
    end = q.end or timezone.localdate()
    start = q.start or end - timedelta(days=180)
    if start > end:
        raise InvalidInput("start must be on or before end.", field="start")
    line = snapshots.trend(
        set_code=q.set_code, agency_ids=_agency_ids_for(request, q.agency), start=start, end=end
    )
    return line.to_dict("records")


# --- portfolios -----------------------------------------------------------------------------------


@router.get("/readiness/portfolios/{key}", response={200: PortfolioOut, **NOT_FOUND_ERRORS})
def get_portfolio(request: AuthedRequest, key: str = Slug) -> dict[str, Any]:
    scoping.require_state_staff(_user(request))
    now = timezone.now()
    p = portfolios.build_portfolio(
        key=key, now=now, evaluation=evaluations.current_evaluation(now=now)
    )
    return {
        "cabinet": p.cabinet.slug,
        "cabinet_name": p.cabinet.name,
        "brm": p.brm.username if p.brm else None,
        "open_alerts": p.open_alerts,
        "agencies": [asdict(a) for a in p.agencies],
        "expiring_waivers": [
            {
                "id": w.pk,
                "set": w.requirement_set.code,
                "requirement_key": w.requirement_key,
                "agency": w.agency.slug,
                "device_serial": w.device.serial if w.device else None,
                "expires_at": w.expires_at,
            }
            for w in p.expiring_waivers
        ],
        "upcoming_versions": [
            {
                "set": v.requirement_set.code,
                "version": v.version,
                "effective_on": v.effective_on,
                "issuing_authority": v.issuing_authority,
            }
            for v in p.upcoming_versions
        ],
    }


# --- participation --------------------------------------------------------------------------------


def _as_of(value: date | None) -> tuple[date, date]:
    today = timezone.localdate()
    as_of = value or today
    if as_of > today:
        raise InvalidInput("as_of is in the future.", field="as_of")
    return as_of, today


@participation_router.get("/participation/funnel", response={200: list[FunnelOut], **COMMON_ERRORS})
def get_funnel(request: HttpRequest, q: Query[ParticipationQuery]) -> list[dict[str, Any]]:
    as_of, today = _as_of(q.as_of)
    found = participation.funnels(
        agency_ids=scoping.visible_agency_ids(_user(request)), as_of=as_of, today=today, by=q.by
    )
    return [asdict(f) for f in found]


@participation_router.get(
    "/participation/expectations", response={200: ExpectationsOut, **COMMON_ERRORS}
)
def get_expectations(request: HttpRequest, q: Query[ParticipationQuery]) -> dict[str, Any]:
    as_of, today = _as_of(q.as_of)
    exps = FederalExpectation.objects.select_related("supersedes").order_by(
        "metric", "effective_from"
    )
    comparisons = participation.compare_with_expectations(
        agency_ids=scoping.visible_agency_ids(_user(request)), as_of=as_of, today=today, by=q.by
    )
    return {
        "as_of": as_of,
        "expectations": [
            {
                "metric": e.metric,
                "version": e.version,
                "target_value": e.target_value,
                "target_by": e.target_by,
                "effective_from": e.effective_from,
                "source": e.source,
                "source_url": e.source_url,
                "change_note": e.change_note,
                "is_illustrative": e.is_illustrative,
                "supersedes": e.supersedes.version if e.supersedes else None,
                "scope": e.scope,
            }
            for e in exps
        ],
        "comparisons": [
            {
                "scope": c.scope,
                "name": c.name,
                "metric": c.expectation.metric,
                "version": c.expectation.version,
                "target_value": c.expectation.target_value,
                "target_by": c.expectation.target_by,
                "actual": c.actual,
                "gap": c.gap,
                "is_met": c.is_met,
                "is_current": c.is_current,
                "is_illustrative": c.expectation.is_illustrative,
            }
            for c in comparisons
        ],
    }


@participation_router.get("/participation/history", response={200: HistoryOut, **COMMON_ERRORS})
def get_history(request: HttpRequest, q: Query[HistoryQuery]) -> dict[str, Any]:
    end = q.end or timezone.localdate()
    start = q.start or date(2017, 1, 1)
    if start > end:
        raise InvalidInput("start must be on or before end.", field="start")
    if (end - start).days > 366 * 30:
        raise InvalidInput("Ask for at most 30 years of history.", field="start")
    ids = scoping.visible_agency_ids(_user(request))
    points = participation.history(agency_ids=ids, start=start, end=end)
    points = points.astype(object).where(points.notna(), None)
    return {
        "points": points.to_dict("records"),
        "changes": participation.status_timeline(agency_ids=ids),
    }


participation_router.add_api_operation(
    "/participation/expectations",
    ["POST"],
    api_drafts.record_expectation,
    response=api_drafts.RECORD_EXPECTATION_RESPONSES,
)
router.add_router("", participation_router)
router.add_router("", api_drafts.router)
