"""The API of requirement-set drafts, version files and federal expectations.

Thin: state staff only for every write (403 for anyone else, before anything is looked up);
drafts are invisible to agency users (404); published versions answer 409 to any change.
The work is in ``readiness.drafts``, ``readiness.requirement_export`` and
``readiness.expectations``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Path, Router, Schema, Status

from config.api import NOT_FOUND_ERRORS, WRITE_ERRORS
from config.errors import NotFound
from devices.models import User
from readiness import drafts, expectations, results, scoping
from readiness.models import FederalExpectation, Requirement, RequirementSetVersion
from readiness.requirement_export import export_version
from readiness.rules import describe, parse_rule

router = Router(tags=["requirement drafts"])
Id = Path(..., ge=1, le=2**63 - 1)
Key = Path(..., min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
Slug = Path(..., min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_.]+$")


class DraftIn(Schema):
    set_code: str = Field(..., alias="set", max_length=64, description="Requirement set code.")
    version: str = Field(..., max_length=32, description="The draft's version number.")
    from_version: str = Field("", max_length=32, description="Default: the version in effect.")
    title: str = Field("", max_length=300)


class RequirementIn(Schema):
    key: str = Field("", max_length=100, description="Stable across versions.")
    code: str = Field(..., max_length=40)
    section: str = Field("", max_length=40)
    title: str = Field(..., max_length=300)
    explanation: str = Field(..., max_length=5000)
    applies_to: list[str] = []
    applies_when: dict | None = None
    severity: str = "mandatory"
    weight: int = 1
    due_on: dt.date | None = None
    change_note: str = Field("", max_length=500)
    relation: str = Field("", description="For a changed rule: tightened (default) or relaxed.")
    rule: dict


class PublishIn(Schema):
    effective_on: dt.date


class DraftRequirementOut(Schema):
    key: str
    code: str
    section: str
    title: str
    explanation: str
    applies_to: list[str]
    applies_when: dict | None
    severity: str
    weight: int
    due_on: dt.date | None
    relation: str
    change_note: str
    rule: dict
    rule_text: str


class DraftOut(Schema):
    id: int
    set: str
    version: str
    title: str
    status: str
    effective_on: dt.date
    published_on: dt.date | None
    supersedes: str | None
    removed: list[str]
    requirements: list[DraftRequirementOut]


class PassRateOut(Schema):
    key: str
    applicable: int
    passing: int
    failing: int
    pass_pct: float | None


class ExpectationIn(Schema):
    metric: str
    version: str
    target_value: float
    target_by: dt.date
    effective_from: dt.date
    source: str
    source_url: str = ""
    change_note: str = ""
    is_illustrative: bool = False
    scope: str = "state"


class RecordedExpectationOut(Schema):
    id: int
    metric: str
    version: str
    target_value: float
    target_by: dt.date
    effective_from: dt.date
    scope: str
    source: str
    source_url: str
    change_note: str
    is_illustrative: bool
    supersedes: str | None


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _staff(request: HttpRequest) -> User:
    user = _user(request)
    scoping.require_state_staff(
        user, "Only state staff maintain requirement sets and expectations."
    )
    return user


def _visible_version(request: HttpRequest, version_id: int) -> RequirementSetVersion:
    """A version by id; a draft in progress is invisible (404) to anyone but state staff."""
    version = drafts.get_version(version_id)
    try:
        scoping.require_visible_version(_user(request), version)
    except NotFound:
        raise NotFound(
            f"There is no requirement set version {version_id}.", field="version"
        ) from None
    return version


def _requirement_out(r: Requirement) -> dict[str, Any]:
    return {
        **{name: getattr(r, name) for name in drafts.EDITABLE},
        "applies_to": r.applies_to or [],
        "relation": r.relation,
        "rule_text": describe(parse_rule(r.rule)),
    }


def _draft_out(v: RequirementSetVersion) -> dict[str, Any]:
    return {
        "id": v.pk,
        "set": v.requirement_set.code,
        "version": v.version,
        "title": v.title,
        "status": v.status,
        "effective_on": v.effective_on,
        "published_on": v.published_on,
        "supersedes": v.supersedes.version if v.supersedes else None,
        "removed": sorted(v.removals.values_list("key", flat=True)),
        "requirements": [_requirement_out(r) for r in v.requirements.order_by("section", "code")],
    }


def _fields(payload: Schema) -> dict[str, Any]:
    return payload.dict()


# --- drafts ---------------------------------------------------------------------------------------


@router.get("/readiness/drafts", response={200: list[DraftOut], **NOT_FOUND_ERRORS})
def list_drafts(request: HttpRequest) -> list[dict[str, Any]]:
    """Drafts in progress; agency users see none."""
    if not _user(request).is_state_staff:
        return []
    return [_draft_out(v) for v in drafts.drafts()]


@router.post("/readiness/drafts", response={201: DraftOut, **WRITE_ERRORS})
def create_draft(request: HttpRequest, payload: DraftIn) -> Status:
    """Copy a version (default: the one in effect today) into a new draft."""
    user = _staff(request)
    draft = drafts.create_draft(
        set_code=payload.set_code,
        version=payload.version,
        from_version=payload.from_version,
        title=payload.title,
        actor=user,
        today=timezone.localdate(),
        request=request,
    )
    return Status(201, _draft_out(draft))


@router.get("/readiness/drafts/{version_id}", response={200: DraftOut, **NOT_FOUND_ERRORS})
def get_draft(request: HttpRequest, version_id: int = Id) -> dict[str, Any]:
    return _draft_out(_visible_version(request, version_id))


@router.get(
    "/readiness/drafts/{version_id}/preview",
    response={200: list[PassRateOut], **NOT_FOUND_ERRORS},
)
def preview_draft(request: HttpRequest, version_id: int = Id) -> list[dict[str, Any]]:
    """Per requirement, its pass rate on today's fleet (waivers aside)."""
    version = _visible_version(request, version_id)
    rates = drafts.pass_rates(
        version_id=version.pk,
        agency_ids=scoping.visible_agency_ids(_user(request)),
        now=timezone.now(),
    )
    return [{**vars(r), "pass_pct": r.pass_pct} for r in rates.values()]


@router.post(
    "/readiness/drafts/{version_id}/requirements",
    response={201: DraftRequirementOut, **WRITE_ERRORS},
)
def add_requirement(request: HttpRequest, payload: RequirementIn, version_id: int = Id) -> Status:
    user = _staff(request)
    req = drafts.add_requirement(
        version_id=version_id, data=_fields(payload), actor=user, request=request
    )
    return Status(201, _requirement_out(req))


@router.put(
    "/readiness/drafts/{version_id}/requirements/{key}",
    response={200: DraftRequirementOut, **WRITE_ERRORS},
)
def change_requirement(
    request: HttpRequest, payload: RequirementIn, version_id: int = Id, key: str = Key
) -> dict[str, Any]:
    user = _staff(request)
    req = drafts.change_requirement(
        version_id=version_id, key=key, data=_fields(payload), actor=user, request=request
    )
    return _requirement_out(req)


@router.delete(
    "/readiness/drafts/{version_id}/requirements/{key}", response={204: None, **WRITE_ERRORS}
)
def remove_requirement(request: HttpRequest, version_id: int = Id, key: str = Key) -> Status:
    user = _staff(request)
    drafts.remove_requirement(version_id=version_id, key=key, actor=user, request=request)
    return Status(204, None)


@router.post("/readiness/drafts/{version_id}/publish", response={200: DraftOut, **WRITE_ERRORS})
def publish_draft(request: HttpRequest, payload: PublishIn, version_id: int = Id) -> dict[str, Any]:
    """Publish a draft from an effective date (today or later); it never changes again."""
    user = _staff(request)
    version = drafts.publish(
        version_id=version_id,
        effective_on=payload.effective_on,
        actor=user,
        today=timezone.localdate(),
        request=request,
    )
    return _draft_out(drafts.get_version(version.pk))


@router.get(
    "/readiness/sets/{code}/versions/{version}/file",
    response={200: None, **NOT_FOUND_ERRORS},
)
def download_version_file(
    request: HttpRequest, code: str = Slug, version: str = Slug
) -> HttpResponse:
    """The version as a requirement file (TOML), loadable by ``manage.py load_requirements``."""
    found = results.get_version(
        results.get_requirement_set(code),
        version,
        with_drafts_in_progress=_user(request).is_state_staff,
    )
    name, text = export_version(found.pk)
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- federal expectations ---------------------------------------------------------------------------


def expectation_out(e: FederalExpectation) -> dict[str, Any]:
    return {
        "id": e.pk,
        **{name: getattr(e, name) for name in expectations.ExpectationTable.model_fields},
        "supersedes": e.supersedes.version if e.supersedes else None,
    }


# Mounted by readiness.api on its participation router, beside the GET of the same path.
RECORD_EXPECTATION_RESPONSES = {
    200: RecordedExpectationOut,
    201: RecordedExpectationOut,
    **WRITE_ERRORS,
}


def record_expectation(request: HttpRequest, payload: ExpectationIn) -> Status:
    """Record a federal expectation version (201); the same version again changes nothing (200)."""
    user = _staff(request)
    table = expectations.checked(payload.dict())
    row, created = expectations.record_expectation(table=table, actor=user, request=request)
    return Status(201 if created else 200, expectation_out(row))
