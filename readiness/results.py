"""Readiness results: the fleet against a version, with waivers, "as of" a date, aggregated.

- ``get_version_in_effect(set, on=date)``: the latest non-draft version whose effective date
  is on or before ``on`` (a retired version was in effect before it was superseded, so it
  answers for the past).
- ``evaluate_fleet(version=, at=)``: today's fleet evaluated by the engine
  (``readiness.frames`` + ``readiness.scoring``), waivers valid at ``at`` applied
  (``readiness.waiver_rules.apply_waivers``), and each device's readiness: every applicable
  mandatory requirement passes or is waived, and the device is not silent (offline, never
  seen, unreachable).
- ``agency_counts(fleet)``: per agency and requirement, the counts a snapshot stores.
- ``aggregate_counts(counts, group_by=)``: weighted score, ready devices and telemetry
  coverage per agency, cabinet, county or statewide, from counts; used for live figures and
  for snapshots alike, so "today" and "as of last March" are computed the same way.
- ``scores(agency_ids=, set_code=, version=, as_of=, group_by=)``: what the API, the report
  command and the dashboards call. A past date reads the snapshots of that date (the fleet's
  past attributes are not kept, the snapshots are), with the version in effect then.

Every read here takes the agency ids the caller resolved through ``readiness.scoping``
(None: every agency), never a user: who sees what is decided once, at the interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from django.db.models import Max, Q
from django.utils import timezone

from config.errors import InvalidInput, NotFound
from devices.models import Agency
from readiness import evaluation_store
from readiness.fleet import Evaluation, evaluate_version, requirement_table
from readiness.models import (
    ReadinessEvaluation,
    ReadinessSnapshot,
    RequirementSet,
    RequirementSetVersion,
    drafts_in_progress,
)
from readiness.scoping import get_agency_in, get_device_in
from readiness.scoring import device_readiness
from readiness.waiver_rules import NOT_APPLICABLE, PASS, WAIVED, apply_waivers, waivers_frame

GROUPINGS = ("agency", "cabinet", "county", "state")
# The columns of aggregate_counts, in order.
SCORE_COLUMNS = [
    "group",
    "name",
    "devices",
    "ready",
    "ready_pct",
    "score",
    "coverage",
    "n_pass",
    "n_fail",
    "n_waived",
    "n_na",
]
COUNT_COLUMNS = evaluation_store.COUNT_COLUMNS


# --- versions -------------------------------------------------------------------------------


def get_requirement_set(code: str) -> RequirementSet:
    found = RequirementSet.objects.filter(code=code).first()
    if found is None:
        known = ", ".join(RequirementSet.objects.values_list("code", flat=True)) or "none loaded"
        raise NotFound(f"There is no requirement set '{code}' (known: {known}).", field="set")
    return found


def find_version_in_effect(req_set: RequirementSet, *, on: date) -> RequirementSetVersion | None:
    """The latest non-draft version effective on or before ``on``, or None."""
    return (
        req_set.versions.exclude(status=RequirementSetVersion.Status.DRAFT)
        .filter(effective_on__lte=on)
        .order_by("-effective_on", "-id")
        .first()
    )


def get_version_in_effect(req_set: RequirementSet, *, on: date) -> RequirementSetVersion:
    version = find_version_in_effect(req_set, on=on)
    if version is None:
        raise NotFound(
            f"No version of '{req_set.code}' was in effect on {on:%Y-%m-%d} (drafts never are).",
            field="as_of",
        )
    return version


def get_version(
    req_set: RequirementSet, number: str, *, with_drafts_in_progress: bool = True
) -> RequirementSetVersion:
    """The version ``number`` of the set; NotFound naming the known ones otherwise.

    Without ``with_drafts_in_progress`` (anyone but state staff: the interface decides), a
    draft being written in the product is as unknown as a number never used, and the
    message does not name it either.
    """
    versions = req_set.versions.all()
    if not with_drafts_in_progress:
        versions = versions.exclude(drafts_in_progress())
    version = versions.filter(version=number).first()
    if version is None:
        known = ", ".join(versions.values_list("version", flat=True))
        raise NotFound(
            f"'{req_set.code}' has no version '{number}' (known: {known}).", field="version"
        )
    return version


def resolve_version(
    set_code: str, *, version: str | None = None, on: date | None = None
) -> RequirementSetVersion:
    """The named version, or else the one in effect on ``on`` (today by default)."""
    req_set = get_requirement_set(set_code)
    if version:
        return get_version(req_set, version)
    return get_version_in_effect(req_set, on=on or timezone.localdate())


# --- live evaluation --------------------------------------------------------------------------


@dataclass
class FleetResults:
    """One evaluation with waivers applied.

    ``results``: device_id, agency_id, stable_key, status (pass / fail / waived /
    not_applicable), reason, waiver_id. ``devices``: the engine's per-device readiness
    (device_id, agency_id, is_ready, is_silent, is_reporting, counts, score_pct,
    not_ready_reason). ``requirements``: stable_key, code, section, title, weight,
    is_mandatory.
    """

    version: RequirementSetVersion
    at: datetime
    results: pd.DataFrame
    devices: pd.DataFrame
    requirements: pd.DataFrame
    evaluation: Evaluation


def evaluate_raw(
    *,
    version: RequirementSetVersion,
    now: datetime,
    agency_ids: list[int] | None = None,
    device_ids: list[int] | None = None,
) -> Evaluation:
    """The engine's verdicts for today's fleet, before waivers (see ``readiness.fleet``)."""
    return evaluate_version(version=version, now=now, agency_ids=agency_ids, device_ids=device_ids)


def finish_results(
    evaluation: Evaluation, *, waivers_at: datetime, agency_ids: list[int] | None = None
) -> FleetResults:
    """Apply the waivers that count at ``waivers_at`` and decide each device's readiness."""
    version = evaluation.version
    results = apply_waivers(
        evaluation.results,
        waivers_frame(requirement_set_id=version.requirement_set_id, agency_ids=agency_ids),
        at=waivers_at,
    )
    devices = device_readiness(
        results, evaluation.frame, evaluation.requirements, now=evaluation.now
    )
    return FleetResults(
        version=version,
        at=waivers_at,
        results=results,
        devices=devices,
        requirements=requirement_table(evaluation.requirements),
        evaluation=evaluation,
    )


def evaluate_fleet(
    *,
    version: RequirementSetVersion,
    at: datetime | None = None,
    agency_ids: list[int] | None = None,
    device_ids: list[int] | None = None,
    waivers_at: datetime | None = None,
) -> FleetResults:
    """Evaluate today's fleet (optionally some agencies or devices) against ``version``.

    Read-only. ``at`` is the moment evaluated: silence is judged against it and waivers count
    as they stand at it, or at ``waivers_at`` when a waiver's own start is judged (the caller
    passes its clock; None reads the clock for operator tools). The device attributes and health are the inventory's current ones, since it keeps
    no history of them.
    """
    now = at or timezone.now()
    evaluation = evaluate_raw(
        version=version, now=now, agency_ids=agency_ids, device_ids=device_ids
    )
    return finish_results(evaluation, waivers_at=waivers_at or now, agency_ids=agency_ids)


def agency_counts(fleet: FleetResults) -> pd.DataFrame:
    """Per agency and requirement key, the counts a snapshot keeps (COUNT_COLUMNS).

    Also one whole-version row per agency (key ``ReadinessSnapshot.TOTAL_KEY``): n_pass =
    ready devices, n_fail = not ready ones, n_reporting = devices reporting.
    """
    res = fleet.results
    reporting = pd.Series(
        fleet.devices["is_reporting"].to_numpy(), index=fleet.devices["device_id"].to_numpy()
    )
    if res.empty:
        per_req = pd.DataFrame(columns=COUNT_COLUMNS)
    else:
        # Compared and grouped as they are (categoricals): turning a million results into
        # strings first was most of an evaluation of record's time.
        status = res["status"]
        applicable = ~status.eq(NOT_APPLICABLE)
        flags = pd.DataFrame(
            {
                "agency_id": res["agency_id"].to_numpy(),
                "key": res["stable_key"],
                "n_pass": status.eq(PASS).to_numpy(),
                "n_fail": status.eq("fail").to_numpy(),
                "n_waived": status.eq(WAIVED).to_numpy(),
                "n_na": (~applicable).to_numpy(),
                "n_reporting": (
                    applicable & res["device_id"].map(reporting).fillna(False).astype(bool)
                ).to_numpy(),
            }
        )
        per_req = (
            flags.groupby(["agency_id", "key"], sort=True, observed=True)
            .sum()
            .astype("int64")
            .reset_index()
        )
        per_req["key"] = per_req["key"].astype(str)
        per_req = per_req.sort_values(["agency_id", "key"], ignore_index=True)
        meta = fleet.requirements.set_index("stable_key")
        per_req["weight"] = per_req["key"].map(meta["weight"]).astype("int64")
        per_req["is_mandatory"] = per_req["key"].map(meta["is_mandatory"]).astype(bool)
        per_req["n_devices"] = per_req["n_pass"] + per_req["n_fail"] + per_req["n_waived"]
    dev = fleet.devices
    totals = (
        dev.groupby("agency_id")
        .agg(
            n_pass=("is_ready", "sum"),
            n_devices=("device_id", "size"),
            n_reporting=("is_reporting", "sum"),
        )
        .astype("int64")
        .reset_index()
    )
    totals["n_fail"] = totals["n_devices"] - totals["n_pass"]
    totals = totals.assign(
        key=ReadinessSnapshot.TOTAL_KEY, weight=0, is_mandatory=True, n_waived=0, n_na=0
    )
    return pd.concat([per_req[COUNT_COLUMNS], totals[COUNT_COLUMNS]], ignore_index=True)


# --- aggregation ------------------------------------------------------------------------------


def agency_meta(agency_ids: list[int] | None = None) -> pd.DataFrame:
    """agency_id, slug, name, cabinet_id, cabinet, county for grouping."""
    qs = Agency.objects.all()
    if agency_ids is not None:
        qs = qs.filter(pk__in=agency_ids)
    rows = list(
        qs.values("id", "slug", "name", "cabinet_id", "cabinet__name", "cabinet__slug", "county")
    )
    frame = pd.DataFrame(
        rows,
        columns=["id", "slug", "name", "cabinet_id", "cabinet__name", "cabinet__slug", "county"],
    )
    return frame.rename(
        columns={"id": "agency_id", "cabinet__name": "cabinet", "cabinet__slug": "cabinet_slug"}
    )


def aggregate_counts(counts: pd.DataFrame, meta: pd.DataFrame, *, group_by: str) -> pd.DataFrame:
    """Pure: per group, devices, ready, ready_pct, weighted score and telemetry coverage.

    ``score`` = sum of weight x (passed or waived) over sum of weight x applicable, 0-100
    (None when nothing applies); ``coverage`` = reporting devices / devices, 0-1, always
    shown next to the score so silent fleets cannot look ready.
    """
    if group_by not in GROUPINGS:
        raise InvalidInput(f"group_by must be one of {', '.join(GROUPINGS)}", field="group_by")
    if counts.empty:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    joined = _label_groups(counts.merge(meta, on="agency_id", how="left"), group_by)
    is_total = joined["key"].eq(ReadinessSnapshot.TOTAL_KEY)
    totals = (
        joined[is_total]
        .groupby(["group", "name"])
        .agg(
            devices=("n_devices", "sum"), ready=("n_pass", "sum"), reporting=("n_reporting", "sum")
        )
    )
    reqs = joined[~is_total].copy()
    reqs["w_ok"] = reqs["weight"] * (reqs["n_pass"] + reqs["n_waived"])
    reqs["w_all"] = reqs["weight"] * (reqs["n_pass"] + reqs["n_fail"] + reqs["n_waived"])
    sums = reqs.groupby(["group", "name"])[
        ["w_ok", "w_all", "n_pass", "n_fail", "n_waived", "n_na"]
    ].sum()
    out = totals.join(sums, how="outer").fillna(0).reset_index()
    return _score_figures(out)[SCORE_COLUMNS].sort_values(["name"]).reset_index(drop=True)


def _label_groups(joined: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """Counts joined with agency meta, with the ``group`` key and ``name`` of ``group_by``."""
    if group_by == "agency":
        joined["group"], joined["name"] = joined["slug"], joined["name"]
    elif group_by == "cabinet":
        joined["group"], joined["name"] = joined["cabinet_slug"], joined["cabinet"]
    elif group_by == "county":
        county = joined["county"].fillna("").replace("", "(no county)")
        joined["group"], joined["name"] = county, county
    else:
        joined["group"], joined["name"] = "state", "Statewide"
    return joined


def _score_figures(out: pd.DataFrame) -> pd.DataFrame:
    """Summed counts per group -> ready_pct, score (None when nothing applies), coverage."""
    out["devices"] = out["devices"].astype("int64")
    out["ready"] = out["ready"].astype("int64")
    out["ready_pct"] = np.where(
        out["devices"] > 0, 100.0 * out["ready"] / out["devices"].clip(lower=1), 0.0
    ).round(2)
    out["score"] = pd.Series(
        np.where(out["w_all"] > 0, 100.0 * out["w_ok"] / out["w_all"].clip(lower=1), np.nan),
        index=out.index,
    ).round(2)
    out["coverage"] = np.where(
        out["devices"] > 0, out["reporting"] / out["devices"].clip(lower=1), 0.0
    ).round(4)
    for col in ("n_pass", "n_fail", "n_waived", "n_na"):
        out[col] = out[col].astype("int64")
    out = out.astype({"score": "object"})
    out.loc[out["score"].isna(), "score"] = None
    return out


# --- the read interface -----------------------------------------------------------------------


@dataclass
class Scores:
    """Scores for one version, grouped, with where the figures come from."""

    version: RequirementSetVersion
    as_of: date
    group_by: str
    source: str  # "evaluation" (of record), "live" (asked for) or "snapshot" (a past date)
    snapshot_date: date | None
    rows: pd.DataFrame
    # The moment the figures describe (the evaluation's, or now for a live one) and the
    # evaluation's data hash; None for a past date's snapshot.
    evaluated_at: datetime | None = None
    data_hash: str = ""
    evaluation_id: int | None = None


def latest_snapshot_date(version: RequirementSetVersion, *, on_or_before: date) -> date | None:
    return ReadinessSnapshot.objects.filter(version=version, date__lte=on_or_before).aggregate(
        d=Max("date")
    )["d"]


def snapshot_counts(
    version: RequirementSetVersion, *, on: date, agency_ids: list[int] | None
) -> pd.DataFrame:
    qs = ReadinessSnapshot.objects.filter(version=version, date=on)
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    return evaluation_store.stored_counts(qs)


def scores(
    *,
    agency_ids: list[int] | None,
    set_code: str,
    version: str | None = None,
    as_of: date | None = None,
    group_by: str = "agency",
    now: datetime | None = None,
    evaluation: ReadinessEvaluation | None = None,
) -> Scores:
    """Readiness scores of ``agency_ids``: ``evaluation`` (of record, which the interface
    resolved) for today, from snapshots for a past date. Without an evaluation, or for a
    version it did not cover (a draft), today is evaluated live at ``now``: the caller asked
    for that (``?live=true``) or must say so.

    Without ``version`` the version in effect on ``as_of`` is used (so "as of 2024-03-01"
    honours what applied then). A past date reads the latest snapshot on or before it.
    ``agency_ids`` None means every agency (state staff, operator tools such as
    ``readiness_report``). Read-only.
    """
    if group_by not in GROUPINGS:
        raise InvalidInput(f"group_by must be one of {', '.join(GROUPINGS)}", field="group_by")
    now = now or timezone.now()
    today = timezone.localdate(now)
    as_of = as_of or today
    if as_of > today:
        raise InvalidInput(
            "as_of is in the future; what-if compares versions instead.", field="as_of"
        )
    ver = resolve_version(set_code, version=version, on=as_of)
    meta = agency_meta(agency_ids)
    if as_of == today:
        return _scores_now(
            ver, meta, agency_ids=agency_ids, group_by=group_by, now=now, evaluation=evaluation
        )
    snap_date = latest_snapshot_date(ver, on_or_before=as_of)
    if snap_date is None:
        raise NotFound(
            f"No snapshot of {ver.requirement_set.code} {ver.version} on or before {as_of:%Y-%m-%d}; "
            "run `manage.py snapshot_readiness --date` for it.",
            field="as_of",
        )
    counts = snapshot_counts(ver, on=snap_date, agency_ids=agency_ids)
    return Scores(
        ver,
        as_of,
        group_by,
        "snapshot",
        snap_date,
        aggregate_counts(counts, meta, group_by=group_by),
    )


def _scores_now(
    ver: RequirementSetVersion,
    meta: pd.DataFrame,
    *,
    agency_ids: list[int] | None,
    group_by: str,
    now: datetime,
    evaluation: ReadinessEvaluation | None,
) -> Scores:
    """Today's scores: from ``evaluation`` when it covers the version, else live at ``now``."""
    today = timezone.localdate(now)
    if evaluation is not None and evaluation_store.has_version(evaluation, ver):
        record = evaluation
        counts = evaluation_store.evaluation_counts(record, version=ver, agency_ids=agency_ids)
        return Scores(
            ver,
            today,
            group_by,
            "evaluation",
            None,
            aggregate_counts(counts, meta, group_by=group_by),
            evaluated_at=record.evaluated_at,
            data_hash=record.data_hash,
            evaluation_id=record.pk,
        )
    counts = agency_counts(evaluate_fleet(version=ver, at=now, agency_ids=agency_ids))
    return Scores(
        ver,
        today,
        group_by,
        "live",
        None,
        aggregate_counts(counts, meta, group_by=group_by),
        evaluated_at=now,
    )


def versions_in_effect(*, on: date) -> list[RequirementSetVersion]:
    """For every set, the version in effect on ``on`` (sets with none are left out)."""
    out = []
    for req_set in RequirementSet.objects.all():
        found = find_version_in_effect(req_set, on=on)
        if found is not None:
            out.append(found)
    return out


def upcoming_versions(*, after: date, until: date) -> list[RequirementSetVersion]:
    """Published versions taking effect after ``after`` and on or before ``until``."""
    return list(
        RequirementSetVersion.objects.filter(
            Q(status=RequirementSetVersion.Status.PUBLISHED),
            effective_on__gt=after,
            effective_on__lte=until,
        )
        .select_related("requirement_set")
        .order_by("effective_on")
    )


# --- per device and per agency ----------------------------------------------------------------


def device_results(
    *, agency_ids: list[int] | None, device_id: int, set_code: str, version: str | None = None
) -> dict:
    """One device's result for every requirement of a version; read-only.

    404 unless the device belongs to one of ``agency_ids`` (None: any agency).
    """
    device = get_device_in(agency_ids, device_id)
    ver = resolve_version(set_code, version=version)
    fleet = evaluate_fleet(version=ver, device_ids=[device.pk], agency_ids=[device.agency_id])
    dev = fleet.devices.set_index("device_id")
    reqs = fleet.requirements.set_index("stable_key")
    rows = []
    for rec in fleet.results.to_dict("records"):
        key = str(rec["stable_key"])
        rows.append(
            {
                "key": key,
                "code": reqs.at[key, "code"],
                "title": reqs.at[key, "title"],
                "severity": "mandatory" if reqs.at[key, "is_mandatory"] else "recommended",
                "weight": int(reqs.at[key, "weight"]),
                "status": str(rec["status"]),
                "reason": str(rec["reason"]),
                "waiver_id": None if pd.isna(rec["waiver_id"]) else int(rec["waiver_id"]),
            }
        )
    found = device.pk in dev.index
    return {
        "device_id": device.pk,
        "serial": device.serial,
        "agency": device.agency.slug,
        "set": ver.requirement_set.code,
        "version": ver.version,
        "is_ready": bool(dev.at[device.pk, "is_ready"]) if found else False,
        "is_silent": bool(dev.at[device.pk, "is_silent"]) if found else True,
        "is_reporting": bool(dev.at[device.pk, "is_reporting"]) if found else False,
        "not_ready_reason": str(dev.at[device.pk, "not_ready_reason"])
        if found
        else "retired: not in service",
        "results": rows,
    }


def failing_devices(
    *, agency_ids: list[int] | None, slug: str, set_code: str, version: str | None = None
) -> dict:
    """An agency's devices that are not ready, each with why; read-only.

    404 unless the agency is one of ``agency_ids`` (None: any agency).
    """
    agency = get_agency_in(agency_ids, slug)
    ver = resolve_version(set_code, version=version)
    fleet = evaluate_fleet(version=ver, agency_ids=[agency.pk])
    code_of = dict(zip(fleet.requirements["stable_key"], fleet.requirements["code"], strict=True))
    res = fleet.results[fleet.results["status"].astype(str).eq("fail")]
    why: dict[int, list[str]] = {}
    for device_id, key, reason in zip(
        res["device_id"], res["stable_key"].astype(str), res["reason"].astype(str), strict=True
    ):
        why.setdefault(int(device_id), []).append(f"{code_of.get(key, key)}: {reason}")
    frame = fleet.evaluation.frame.set_index("device_id")
    not_ready = fleet.devices[~fleet.devices["is_ready"].astype(bool)]
    out = [
        {
            "device_id": int(d),
            "serial": str(frame.at[d, "device.serial"]),
            "kind": str(frame.at[d, "device.kind"]),
            "health": str(frame.at[d, "health.level"]),
            "not_ready_reason": str(r),
            "failing": why.get(int(d), []),
        }
        for d, r in zip(not_ready["device_id"], not_ready["not_ready_reason"], strict=True)
    ]
    out.sort(key=lambda row: str(row["serial"]))
    return {
        "agency": agency.slug,
        "set": ver.requirement_set.code,
        "version": ver.version,
        "devices": len(fleet.devices),
        "ready": int(fleet.devices["is_ready"].astype(bool).sum()),
        "failing_devices": out,
    }
