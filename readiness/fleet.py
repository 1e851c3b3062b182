"""The bridge from the database to the scoring engine, for one version and some devices.

``readiness.frames`` builds the fleet frame (the only ORM -> pandas step) and
``readiness.scoring`` evaluates it; this module picks the devices (in service, optionally
some agencies or devices), compiles a version's requirements and returns the engine's
results with the per-requirement facts (code, title, weight, severity) people and snapshots
need next to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from readiness.models import RequirementSetVersion
from readiness.rules import CompiledRequirement


def compile_version(version: RequirementSetVersion) -> list[CompiledRequirement]:
    """The version's requirements, parsed, in section order (``readiness.catalog``)."""
    from readiness.catalog import requirements_for_version

    return requirements_for_version(version.pk)


def fleet_frame(
    *, agency_ids: list[int] | None = None, device_ids: list[int] | None = None, now: datetime
) -> pd.DataFrame:
    """Today's in-service fleet (optionally some agencies or devices) as the engine's frame."""
    from readiness.frames import build_fleet_frame

    # The frame is today's fleet; ``now`` matters only when the rules are evaluated.
    return build_fleet_frame(agency_ids=agency_ids, device_ids=device_ids)


def requirement_table(requirements: list[CompiledRequirement]) -> pd.DataFrame:
    """stable_key, code, section, title, weight, is_mandatory: one row per requirement."""
    return pd.DataFrame(
        [
            {
                "stable_key": r.key,
                "code": r.code,
                "section": r.section,
                "title": r.title,
                "weight": r.weight,
                "is_mandatory": r.is_mandatory,
            }
            for r in requirements
        ],
        columns=["stable_key", "code", "section", "title", "weight", "is_mandatory"],
    )


@dataclass
class Evaluation:
    """The engine's output for one version: before waivers."""

    version: RequirementSetVersion
    now: datetime
    frame: pd.DataFrame
    requirements: list[CompiledRequirement]
    results: pd.DataFrame  # device_id, agency_id, stable_key, status, reason


def evaluate_version(
    *,
    version: RequirementSetVersion,
    now: datetime,
    agency_ids: list[int] | None = None,
    device_ids: list[int] | None = None,
    requirements: list[CompiledRequirement] | None = None,
) -> Evaluation:
    from readiness.scoring import evaluate

    reqs = requirements if requirements is not None else compile_version(version)
    frame = fleet_frame(agency_ids=agency_ids, device_ids=device_ids, now=now)
    return Evaluation(
        version=version, now=now, frame=frame, requirements=reqs, results=evaluate(frame, reqs, now)
    )
