"""The devices of a scope that are not ready, each with the reasons in words.

Live, not from snapshots: reasons are per device and snapshots keep only counts. The agency
page lists them (``failing_devices``); a briefing lists every reason of its scope
(``failing_from_fleet`` over the fleet it has already evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from django.utils import timezone

from config.errors import InvalidInput
from devices.models import Agency, DeviceKind, DeviceModel
from readiness import results
from readiness.filters import Filters, requirement_sets
from readiness.models import RequirementSetVersion
from readiness.pages import choice_label
from readiness.scoping import Scope
from telemetry.models import HealthLevel


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


def failing_devices(
    scope: Scope, filters: Filters, *, now: datetime, limit: int = 500
) -> FailingDevices:
    """Evaluate the scope's devices now (``readiness.results.evaluate_fleet``) and list the not-ready ones.

    Live, not from snapshots: reasons are per device and snapshots keep only counts. Meant for
    one agency (or a briefing's scope); the statewide overview never calls it.
    """
    version = resolve_version(filters, today=timezone.localdate(now))
    fleet = results.evaluate_fleet(version=version, at=now, agency_ids=scope.agency_ids)
    return failing_from_fleet(fleet, limit=limit)


def failing_from_fleet(fleet, *, limit: int = 500, long_limit: int | None = None) -> FailingDevices:  # noqa: ANN001
    """The not-ready devices of an evaluation (``results.FleetResults``), each with its reasons.

    Reasons are the engine's words for each failed requirement (waived ones do not count),
    plus "not reporting" for a silent device, which is never ready however it scores.
    Vectorised: a statewide briefing lists tens of thousands of reasons.
    """
    columns = ["agency", "serial", "model", "kind", "requirement", "reason"]
    devices = fleet.devices
    ident = fleet.evaluation.frame.set_index("device_id")[
        ["device.serial", "model_id", "device.kind", "health.level"]
    ]
    ident = ident.rename(
        columns={"device.serial": "serial", "device.kind": "kind", "health.level": "level"}
    )
    not_ready = devices[~devices["is_ready"].astype(bool)].join(ident, on="device_id")
    not_ready = not_ready.sort_values(["agency_id", "serial"]).reset_index(drop=True)
    res = fleet.results
    fails = res[
        res["status"].astype(str).eq("fail") & res["device_id"].isin(not_ready["device_id"])
    ]
    code_of = dict(zip(fleet.requirements["stable_key"], fleet.requirements["code"], strict=True))
    reasons = pd.DataFrame(
        {
            "device_id": fails["device_id"].to_numpy(),
            "requirement": fails["stable_key"]
            .astype(str)
            .map(code_of)
            .fillna(fails["stable_key"].astype(str))
            .to_numpy(),
            "reason": fails["reason"].astype(str).to_numpy(),
            "silent": False,
        }
    )
    silent = not_ready[not_ready["is_silent"].astype(bool)]
    reasons = pd.concat(
        [
            reasons,
            pd.DataFrame(
                {
                    "device_id": silent["device_id"].to_numpy(),
                    "requirement": "",
                    "reason": [
                        "not reporting (" + str(r) + ")" for r in silent["not_ready_reason"]
                    ],
                    "silent": True,
                }
            ),
        ],
        ignore_index=True,
    )
    order = pd.Series(range(len(not_ready)), index=not_ready["device_id"].to_numpy())
    reasons["order"] = reasons["device_id"].map(order)
    reasons = reasons.sort_values(["order", "silent", "requirement", "reason"]).reset_index(
        drop=True
    )
    models = {
        m.pk: str(m) for m in DeviceModel.objects.filter(pk__in=set(not_ready["model_id"].tolist()))
    }
    agencies = dict(
        Agency.objects.filter(pk__in=set(not_ready["agency_id"].tolist())).values_list("pk", "name")
    )
    info = not_ready.set_index("device_id")
    shown = reasons.head(long_limit) if long_limit is not None else reasons
    kinds = {k: choice_label(DeviceKind, str(k)) for k in info["kind"].unique()}
    long = pd.DataFrame(
        {
            "agency": shown["device_id"].map(info["agency_id"]).map(agencies).fillna("").to_numpy(),
            "serial": shown["device_id"].map(info["serial"]).to_numpy(),
            "model": shown["device_id"].map(info["model_id"]).map(models).fillna("").to_numpy(),
            "kind": shown["device_id"].map(info["kind"]).map(kinds).to_numpy(),
            "requirement": shown["requirement"].replace("", "(telemetry)").to_numpy(),
            "reason": shown["reason"].to_numpy(),
        },
        columns=columns,
    )
    # The page's list: the first ``limit`` devices, each with all its reasons.
    first = not_ready.head(limit)
    by_device: dict[int, list[str]] = {}
    for device_id, code, reason in zip(
        reasons["device_id"], reasons["requirement"], reasons["reason"], strict=True
    ):
        if device_id not in by_device and len(by_device) >= len(first):
            break  # reasons come in the devices' order: the rest belong to devices not listed
        by_device.setdefault(int(device_id), []).append(f"{code}: {reason}" if code else reason)
    rows = []
    for dev in first.itertuples(index=False):
        level = dev.level if isinstance(dev.level, str) else "never_seen"
        rows.append(
            {
                "serial": dev.serial,
                "model": models.get(int(dev.model_id), ""),
                "kind": kinds[dev.kind],
                "health": level,
                "health_label": choice_label(HealthLevel, level),
                "reasons": by_device.get(int(dev.device_id), []),
            }
        )
    return FailingDevices(
        set_code=fleet.version.requirement_set.code,
        version=fleet.version.version,
        evaluated_at=fleet.at,
        total=len(not_ready),
        rows=rows,
        long=long,
    )


def resolve_version(filters: Filters, *, today: date) -> RequirementSetVersion:
    """The version the filters name, or the one in effect on the as-of date (first set by default)."""
    sets = requirement_sets()
    if not sets:
        raise InvalidInput(
            "No requirement sets are loaded yet: run "
            "`python manage.py load_requirements readiness/requirement_sets`.",
            field="set",
        )
    return results.resolve_version(
        filters.set_code or sets[0][0], version=filters.version or None, on=filters.as_of or today
    )
