"""The data of the requirement pages: the catalog of sets and versions, a set's versions side
by side, and the what-if of two versions.

The catalog and the comparison read small tables and the snapshots' counts; the what-if
evaluates the fleet twice (``readiness.whatif.compare_versions``) over the agencies the
caller resolved through `readiness.scoping`. Read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NotRequired, TypedDict

import pandas as pd
from django.db.models import Count

from readiness import results, whatif
from readiness.briefings import WhatIf
from readiness.briefings.data import whatif_summary
from readiness.models import Requirement, RequirementRemoval, RequirementSet, RequirementSetVersion
from readiness.pages import requirement_table


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
        version=v.version,
        title=v.title,
        status=v.status,
        status_label=v.get_status_display(),
        effective_on=v.effective_on,
        issuing_authority=v.issuing_authority,
        source_url=v.source_url,
        source_note=v.source_note,
        supersedes=v.supersedes.version if v.supersedes_id else "",
        requirements=getattr(v, "n_requirements", 0),
        snapshot_date=snapshot_date,
    )


def requirement_catalog() -> list[SetCatalog]:
    """Every set with its versions, oldest first (two queries)."""
    versions = (
        RequirementSetVersion.objects.select_related("supersedes")
        .annotate(n_requirements=Count("requirements"))
        .order_by("effective_on", "id")
    )
    by_set: dict[int, list[VersionInfo]] = {}
    for v in versions:
        by_set.setdefault(v.requirement_set_id, []).append(_version_info(v))
    return [
        SetCatalog(
            code=s.code,
            name=s.name,
            publisher=s.publisher,
            description=s.description,
            versions=by_set.get(s.pk, []),
        )
        for s in RequirementSet.objects.order_by("code")
    ]


class ComparisonCell(TypedDict, total=False):
    """A requirement in one version; a removal has only ``removed`` and ``note``."""

    code: str
    section: str
    relation: str
    severity: str
    weight: int
    note: str
    removed: bool
    pass_pct: float | None


class ComparisonRow(TypedDict):
    key: str
    title: str
    cells: dict[str, ComparisonCell]  # by version number
    by_version: NotRequired[list[ComparisonCell | None]]  # a cell per version in order


@dataclass
class SetComparison:
    """A set's versions side by side: each stable key across versions, and pass rates."""

    code: str
    name: str
    publisher: str
    versions: list[VersionInfo]
    rows: list[ComparisonRow]
    # code (latest), and one column per version with a pass % (snapshot data)
    pass_rates: pd.DataFrame


def set_comparison(set_code: str, *, as_of: date) -> SetComparison:
    """Versions side by side (what changed) with each requirement's statewide pass rate.

    Pass rates come from each version's latest snapshot on or before ``as_of``; a version
    never in effect (a draft) has none: its effect is on the what-if page.
    """
    req_set = results.get_requirement_set(set_code)
    versions = list(
        req_set.versions.select_related("supersedes")
        .annotate(n_requirements=Count("requirements"))
        .order_by("effective_on", "id")
    )
    infos: list[VersionInfo] = []
    pass_by_version: dict[str, dict[str, float | None]] = {}
    for v in versions:
        snap = results.latest_snapshot_date(v, on_or_before=as_of)
        infos.append(_version_info(v, snapshot_date=snap))
        if snap is not None:
            table = requirement_table(results.snapshot_counts(v, on=snap, agency_ids=None), v.pk)
            pass_by_version[v.version] = dict(zip(table["key"], table["pass_pct"], strict=True))
    order = [v.version for v in versions]
    out_rows = _comparison_rows(versions, pass_by_version, order)
    latest_code = {r["key"]: (r["by_version"][-1] or {}).get("code") or r["key"] for r in out_rows}
    rates = pd.DataFrame({"code": [latest_code[r["key"]] for r in out_rows]})
    for number in order:
        if number in pass_by_version:
            rates[number] = [pass_by_version[number].get(r["key"]) for r in out_rows]
    return SetComparison(
        code=req_set.code,
        name=req_set.name,
        publisher=req_set.publisher,
        versions=infos,
        rows=out_rows,
        pass_rates=rates,
    )


def _comparison_rows(
    versions: Sequence[RequirementSetVersion],
    pass_by_version: dict[str, dict[str, float | None]],
    order: list[str],
) -> list[ComparisonRow]:
    """One row per requirement key (sorted), with a cell per version in ``order`` (None: absent)."""
    reqs = Requirement.objects.filter(version__in=versions).values(
        "version__version",
        "key",
        "code",
        "section",
        "title",
        "relation",
        "severity",
        "weight",
        "change_note",
    )
    removals = RequirementRemoval.objects.filter(version__in=versions).values(
        "version__version", "key", "note"
    )
    rows: dict[str, ComparisonRow] = {}
    for r in reqs:
        row = rows.setdefault(r["key"], {"key": r["key"], "title": r["title"], "cells": {}})
        row["title"] = r["title"]  # the latest version's title wins (versions come in date order)
        row["cells"][r["version__version"]] = {
            "code": r["code"],
            "section": r["section"],
            "relation": r["relation"],
            "severity": r["severity"],
            "weight": r["weight"],
            "note": r["change_note"],
            "removed": False,
            "pass_pct": pass_by_version.get(r["version__version"], {}).get(r["key"]),
        }
    for rem in removals:
        row = rows.setdefault(rem["key"], {"key": rem["key"], "title": rem["key"], "cells": {}})
        row["cells"][rem["version__version"]] = {"removed": True, "note": rem["note"]}
    out_rows = []
    for key in sorted(rows):
        row = rows[key]
        cells = row["cells"]
        row["by_version"] = [cells.get(v) for v in order]
        out_rows.append(row)
    return out_rows


@dataclass
class WhatIfPage:
    summary: WhatIf
    changes: list[object]  # readiness.whatif.RequirementChange
    agencies: list[dict[str, object]]
    newly_failing: list[dict[str, object]]
    newly_failing_total: int
    cost: dict[str, float]
    evaluated_at: datetime
    # readiness.deadlines.DeadlineRow of the "to" version's requirements with a due date.
    deadlines: list[object] = field(default_factory=list)


def whatif_page(
    agency_ids: list[int] | None,
    set_code: str,
    *,
    from_version: str,
    to_version: str,
    now: datetime,
) -> WhatIfPage:
    """The what-if of two versions over ``agency_ids`` (None: every agency), through
    ``readiness.whatif.compare_versions``. Read-only."""
    result = whatif.compare_versions(
        agency_ids=agency_ids,
        set_code=set_code,
        from_version=from_version or None,
        to_version=to_version or None,
        now=now,
    )
    agencies = result.agencies[result.agencies["newly_failing"] > 0].head(50)
    newly = result.newly_failing_devices
    return WhatIfPage(
        summary=whatif_summary(result),
        changes=[c for c in result.changes if c.change != "same"],
        agencies=agencies.to_dict("records"),
        newly_failing=newly.head(200).to_dict("records"),
        newly_failing_total=len(newly),
        cost={k: float(v) for k, v in result.cost.items()},
        evaluated_at=result.at,
        deadlines=list(result.deadlines),
    )
