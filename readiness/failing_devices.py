"""The devices of a scope that are not ready, each with the reasons in words.

Live, not from snapshots: reasons are per device and snapshots keep only counts. The agency
page lists them (``failing_devices``); a briefing lists every reason of its scope
(``failing_from_fleet`` over the fleet it has already evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from django.utils import timezone

from devices.models import Agency, DeviceKind, DeviceModel
from readiness import results
from readiness.filters import Filters
from readiness.pages import ReadinessFigures, choice_label, version_to_read
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
) -> FailingDevices | str:
    """Evaluate the scope's devices now (``readiness.results.evaluate_fleet``) and list the not-ready ones.

    Live, not from snapshots: reasons are per device and snapshots keep only counts. Meant for
    one agency (or a briefing's scope); the statewide overview never calls it. The version is
    the page's own (``readiness.pages.version_to_read``); when there is none to read (no set
    loaded, none in effect on the date) the answer is what the page says instead of a list.
    """
    chosen = version_to_read(
        filters,
        as_of=filters.as_of or timezone.localdate(now),
        with_drafts_in_progress=scope.with_drafts_in_progress,
    )
    if isinstance(chosen, ReadinessFigures):
        return chosen.empty_message
    _, version = chosen
    fleet = results.evaluate_fleet(version=version, at=now, agency_ids=scope.agency_ids)
    return failing_from_fleet(fleet, limit=limit)


LONG_COLUMNS = ["agency", "serial", "model", "kind", "requirement", "reason"]


def failing_from_fleet(fleet, *, limit: int = 500, long_limit: int | None = None) -> FailingDevices:  # noqa: ANN001
    """The not-ready devices of an evaluation (``results.FleetResults``), each with its reasons.

    Reasons are the engine's words for each failed requirement (waived ones do not count),
    plus "not reporting" for a silent device, which is never ready however it scores.
    Vectorised: a statewide briefing lists tens of thousands of reasons.
    """
    not_ready = _not_ready(fleet)
    reasons = _reasons(fleet, not_ready)
    models = {
        m.pk: str(m) for m in DeviceModel.objects.filter(pk__in=set(not_ready["model_id"].tolist()))
    }
    agencies = dict(
        Agency.objects.filter(pk__in=set(not_ready["agency_id"].tolist())).values_list("pk", "name")
    )
    kinds = {k: choice_label(DeviceKind, str(k)) for k in not_ready["kind"].unique()}
    shown = reasons.head(long_limit) if long_limit is not None else reasons
    long = _long_frame(shown, not_ready.set_index("device_id"), agencies, models, kinds)
    return FailingDevices(
        set_code=fleet.version.requirement_set.code,
        version=fleet.version.version,
        evaluated_at=fleet.at,
        total=len(not_ready),
        rows=_page_rows(not_ready.head(limit), reasons, models, kinds),
        long=long,
    )


def _not_ready(fleet) -> pd.DataFrame:  # noqa: ANN001
    """The not-ready devices with serial, model, kind and health level, by agency then serial."""
    ident = fleet.evaluation.frame.set_index("device_id")[
        ["device.serial", "model_id", "device.kind", "health.level"]
    ]
    ident = ident.rename(
        columns={"device.serial": "serial", "device.kind": "kind", "health.level": "level"}
    )
    devices = fleet.devices
    not_ready = devices[~devices["is_ready"].astype(bool)].join(ident, on="device_id")
    return not_ready.sort_values(["agency_id", "serial"]).reset_index(drop=True)


def _reasons(fleet, not_ready: pd.DataFrame) -> pd.DataFrame:  # noqa: ANN001
    """device_id, requirement (code), reason, silent: in the devices' order, then by code."""
    res = fleet.results
    fails = res[
        res["status"].astype(str).eq("fail") & res["device_id"].isin(not_ready["device_id"])
    ]
    code_of = dict(zip(fleet.requirements["stable_key"], fleet.requirements["code"], strict=True))
    failed = pd.DataFrame(
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
    not_reporting = pd.DataFrame(
        {
            "device_id": silent["device_id"].to_numpy(),
            "requirement": "",
            "reason": ["not reporting (" + str(r) + ")" for r in silent["not_ready_reason"]],
            "silent": True,
        }
    )
    reasons = pd.concat([failed, not_reporting], ignore_index=True)
    order = pd.Series(range(len(not_ready)), index=not_ready["device_id"].to_numpy())
    reasons["order"] = reasons["device_id"].map(order)
    return reasons.sort_values(["order", "silent", "requirement", "reason"]).reset_index(drop=True)


def _long_frame(
    shown: pd.DataFrame,
    info: pd.DataFrame,
    agencies: dict[int, str],
    models: dict[int, str],
    kinds: dict[object, str],
) -> pd.DataFrame:
    """One row per reason in ``shown``, with the device's agency, serial, model and kind in words."""
    device = shown["device_id"]
    return pd.DataFrame(
        {
            "agency": device.map(info["agency_id"]).map(agencies).fillna("").to_numpy(),
            "serial": device.map(info["serial"]).to_numpy(),
            "model": device.map(info["model_id"]).map(models).fillna("").to_numpy(),
            "kind": device.map(info["kind"]).map(kinds).to_numpy(),
            "requirement": shown["requirement"].replace("", "(telemetry)").to_numpy(),
            "reason": shown["reason"].to_numpy(),
        },
        columns=LONG_COLUMNS,
    )


def _page_rows(
    first: pd.DataFrame,
    reasons: pd.DataFrame,
    models: dict[int, str],
    kinds: dict[object, str],
) -> list[dict[str, object]]:
    """The page's list: the devices of ``first``, each with all its reasons."""
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
    return rows
