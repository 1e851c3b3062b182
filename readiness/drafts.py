"""Requirement sets maintained in the product: drafts, their edits, previews and publication.

Contract:

- A draft is a ``RequirementSetVersion`` in status draft, created from a version of the set
  (the one in effect by default): its requirements are copied with relation "same".
- Every requirement written here is checked by the file loader's own model
  (``readiness.loader.requirement_problems``): one rule language, one validator. Problems
  are raised as ``InvalidInput`` with one error per field; nothing is written.
- The relation to the superseded version is worked out here, as a file's author would have
  to declare it: new, same, renumbered, or (when the substance changed) tightened unless the
  editor says relaxed. Removing a key the superseded version had records a removal.
- Publishing checks the whole draft exactly as its exported file would be checked
  (``readiness.loader.check_document``), then sets the status, the publication date and the
  effective date. From then on the version never changes: every write here, and every save
  of a requirement or removal, goes through ``readiness.models.require_draft_version``.
- Every change is in the audit log with before and after, written in its transaction.
- Callers resolve who may do this (state staff) at the interface; these functions take ids
  and the already-checked actor for the audit record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from django.db import transaction
from django.http import HttpRequest

from config.errors import Conflict, InvalidInput, NotFound
from devices import audit
from devices.models import AuditRecord, User
from readiness import results
from readiness.loader import check_document, requirement_problems, table_of
from readiness.models import (
    Relation,
    Requirement,
    RequirementRemoval,
    RequirementSetVersion,
    VersionStatus,
    require_draft_version,
)
from readiness.requirement_export import export_filename, version_document

# The fields of a requirement an editor writes; the relation and the link to the previous
# version are worked out here.
EDITABLE = (
    "key",
    "code",
    "section",
    "title",
    "explanation",
    "applies_to",
    "applies_when",
    "severity",
    "weight",
    "due_on",
    "change_note",
    "rule",
)


def get_version(version_id: int) -> RequirementSetVersion:
    found = (
        RequirementSetVersion.objects.select_related("requirement_set", "supersedes")
        .filter(pk=version_id)
        .first()
    )
    if found is None:
        raise NotFound(f"There is no requirement set version {version_id}.", field="version")
    return found


def drafts() -> list[RequirementSetVersion]:
    return list(
        RequirementSetVersion.objects.filter(status=VersionStatus.DRAFT)
        .select_related("requirement_set", "supersedes")
        .order_by("requirement_set__code", "effective_on", "version")
    )


def _version_state(version: RequirementSetVersion) -> dict[str, Any]:
    state = audit.snapshot(version)
    state["requirements"] = sorted(version.requirements.values_list("key", flat=True))
    return state


def create_draft(
    *,
    set_code: str,
    version: str,
    actor: User,
    today: date,
    from_version: str = "",
    title: str = "",
    request: HttpRequest | None = None,
) -> RequirementSetVersion:
    """A new draft of ``set_code`` numbered ``version``, copied from ``from_version``
    (default: the version in effect on ``today``)."""
    req_set = results.get_requirement_set(set_code)
    base = (
        results.get_version(req_set, from_version)
        if from_version
        else results.get_version_in_effect(req_set, on=today)
    )
    version = version.strip()
    if not version or len(version) > 32:
        raise InvalidInput(
            "Give the draft a version number of 1 to 32 characters.", field="version"
        )
    if req_set.versions.filter(version=version).exists():
        raise Conflict(
            f"{set_code} already has a version {version!r}; choose another number.",
            field="version",
        )
    with transaction.atomic():
        draft = RequirementSetVersion.objects.create(
            requirement_set=req_set,
            version=version,
            title=title.strip(),
            status=VersionStatus.DRAFT,
            effective_on=max(today, base.effective_on) + timedelta(days=1),
            issuing_authority=base.issuing_authority,
            source_url=base.source_url,
            source_note=f"Drafted by state staff from version {base.version}.",
            supersedes=base,
        )
        Requirement.objects.bulk_create(
            Requirement(
                version=draft,
                **{name: getattr(r, name) for name in EDITABLE if name != "change_note"},
                relation=Relation.SAME,
                previous=r,
            )
            for r in base.requirements.all()
        )
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=draft,
            after=_version_state(draft),
            message=f"draft {version} of {set_code} created from {base.version}",
            request=request,
        )
    return draft


# --- one requirement ----------------------------------------------------------------------------


def checked_requirement(data: dict[str, Any]) -> Any:
    """``data`` (JSON types: dates as ISO text) checked as a file's requirement; 422 per field."""
    fields = {k: v for k, v in data.items() if k in EDITABLE and v is not None}
    table, problems = requirement_problems(json.dumps(fields, default=str))
    if problems:
        raise InvalidInput(
            "The requirement was not saved: " + "; ".join(p for _, p in problems),
            errors=[{"field": name or None, "message": p} for name, p in problems],
        )
    return table


def _relation(table: Any, old: Requirement | None, hint: str) -> str:
    if old is None:
        return Relation.NEW
    if table.substance() == table_of(old).substance():
        return Relation.SAME if table.section == old.section else Relation.RENUMBERED
    return Relation.RELAXED if hint == Relation.RELAXED else Relation.TIGHTENED


def _previous(version: RequirementSetVersion, key: str) -> Requirement | None:
    if version.supersedes_id is None:
        return None
    return Requirement.objects.filter(version_id=version.supersedes_id, key=key).first()


def _refuse_duplicate_code(version: RequirementSetVersion, code: str, key: str) -> None:
    if version.requirements.filter(code=code).exclude(key=key).exists():
        raise InvalidInput(f"Code {code!r} is already used in this draft.", field="code")


def add_requirement(
    *,
    version_id: int,
    data: dict[str, Any],
    actor: User,
    request: HttpRequest | None = None,
) -> Requirement:
    require_draft_version(version_id)
    version = get_version(version_id)
    table = checked_requirement(data)
    if version.requirements.filter(key=table.key).exists():
        raise InvalidInput(
            f"Key {table.key!r} is already in this draft; change that requirement instead.",
            field="key",
        )
    _refuse_duplicate_code(version, table.code, table.key)
    old = _previous(version, table.key)
    with transaction.atomic():
        req = Requirement(
            version=version,
            **table.model_dump(include=set(EDITABLE)),
            relation=_relation(table, old, str(data.get("relation") or "")),
            previous=old,
        )
        req.save()
        RequirementRemoval.objects.filter(version=version, key=table.key).delete()
        audit.record(
            actor=actor,
            action=AuditRecord.Action.CREATE,
            obj=req,
            after=audit.snapshot(req),
            message=f"requirement {req.code} added to draft {version.version}",
            request=request,
        )
    return req


def get_requirement(version_id: int, key: str) -> Requirement:
    found = Requirement.objects.filter(version_id=version_id, key=key).first()
    if found is None:
        raise NotFound(f"This version has no requirement with key {key!r}.", field="key")
    return found


def change_requirement(
    *,
    version_id: int,
    key: str,
    data: dict[str, Any],
    actor: User,
    request: HttpRequest | None = None,
) -> Requirement:
    require_draft_version(version_id)
    version = get_version(version_id)
    req = get_requirement(version_id, key)
    table = checked_requirement({**data, "key": data.get("key") or key})
    if table.key != key:
        raise InvalidInput(
            "A requirement's key stays the same across versions; remove it and add a new one.",
            field="key",
        )
    _refuse_duplicate_code(version, table.code, key)
    before = audit.snapshot(req)
    with transaction.atomic():
        for name, value in table.model_dump(include=set(EDITABLE)).items():
            setattr(req, name, value)
        req.relation = _relation(table, req.previous, str(data.get("relation") or ""))
        req.save()
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=req,
            before=before,
            after=audit.snapshot(req),
            message=f"requirement {req.code} changed in draft {version.version}",
            request=request,
        )
    return req


def remove_requirement(
    *, version_id: int, key: str, actor: User, request: HttpRequest | None = None
) -> None:
    require_draft_version(version_id)
    version = get_version(version_id)
    req = get_requirement(version_id, key)
    before = audit.snapshot(req)
    old = req.previous or _previous(version, key)
    with transaction.atomic():
        req.delete()
        if old is not None:
            RequirementRemoval(
                version=version, key=key, previous=old, note="Removed by state staff."
            ).save()
        audit.record(
            actor=actor,
            action=AuditRecord.Action.DELETE,
            object_type="requirement",
            object_id=str(before["id"]),
            object_repr=f"{before['code']} {before['title']}"[:200],
            before=before,
            message=f"requirement {before['code']} removed from draft {version.version}",
            request=request,
        )


# --- publication --------------------------------------------------------------------------------


def publish(
    *,
    version_id: int,
    effective_on: date,
    actor: User,
    today: date,
    request: HttpRequest | None = None,
) -> RequirementSetVersion:
    """Publish a draft from ``effective_on`` (today or later); it never changes again.

    Until ``effective_on`` the version in effect stays the one before it ("now" is decided by
    ``readiness.results.find_version_in_effect``); from that date this one takes over.
    """
    get_version(version_id)  # 404 before anything else
    require_draft_version(version_id)
    if effective_on < today:
        raise InvalidInput(
            f"The effective date {effective_on} is in the past; choose today or later.",
            field="effective_on",
        )
    with transaction.atomic():
        version = RequirementSetVersion.objects.select_for_update().get(pk=version_id)
        before = _version_state(version)
        version.status = VersionStatus.PUBLISHED
        version.published_on = today
        version.effective_on = effective_on
        # The draft passes the checks its file would pass: lineage, relations, removals.
        problems = check_document(export_filename(version), version_document(version))
        if problems:
            raise InvalidInput(
                "The draft cannot be published: " + "; ".join(problems),
                errors=[{"field": None, "message": p} for p in problems],
            )
        version.save(update_fields=["status", "published_on", "effective_on", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditRecord.Action.UPDATE,
            obj=version,
            before=before,
            after=_version_state(version),
            message=f"version {version.version} published, effective {effective_on}",
            request=request,
        )
    return version


# --- preview ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassRate:
    """How today's fleet fares on one requirement: devices it applies to, passing, failing."""

    key: str
    applicable: int
    passing: int
    failing: int

    @property
    def pass_pct(self) -> float | None:
        return round(100.0 * self.passing / self.applicable, 1) if self.applicable else None


def pass_rates(
    *, version_id: int, agency_ids: list[int] | None, now: datetime
) -> dict[str, PassRate]:
    """Per requirement key of a version, its pass rate on today's fleet (waivers not applied:
    the preview is of the rule itself)."""
    version = get_version(version_id)
    evaluation = results.evaluate_raw(version=version, now=now, agency_ids=agency_ids)
    frame = evaluation.results
    counts = (
        pd.crosstab(frame["stable_key"].astype(str), frame["status"].astype(str))
        if len(frame)
        else pd.DataFrame()
    )
    out: dict[str, PassRate] = {}
    for key in version.requirements.values_list("key", flat=True):
        row = counts.loc[key] if key in counts.index else pd.Series(dtype="int64")
        passing, failing = int(row.get("pass", 0)), int(row.get("fail", 0))
        out[key] = PassRate(key, passing + failing, passing, failing)
    return out
