"""Pages where state staff maintain requirement sets (drafts) and federal expectations.

Thin, like ``readiness.views``: resolve who may do this once (state staff; an agency user is
answered 404 on a draft page, which they may not know exists, and 403 on any write), turn the
form into the data the core takes, call ``readiness.drafts`` / ``readiness.expectations``,
render. The problems the core finds are shown next to their fields; nothing is written then.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from config.typing import AuthedRequest
from devices.models import DeviceKind
from readiness import deadlines, drafts, expectations, results, scoping
from readiness.models import (
    FederalExpectation,
    ParticipationMetric,
    RequirementSetVersion,
    Severity,
    VersionStatus,
)
from readiness.requirement_export import export_version, toml_value

_WRITE_REFUSED = "Only state staff maintain requirement sets and expectations."


def _require_staff_for_write(request: AuthedRequest) -> None:
    scoping.require_state_staff(request.user, _WRITE_REFUSED)


def _draft_or_404(request: AuthedRequest, code: str, pk: int) -> RequirementSetVersion:
    """The version ``pk`` of set ``code``; a draft is invisible (404) to anyone but state staff."""
    found = (
        RequirementSetVersion.objects.select_related("requirement_set", "supersedes")
        .filter(pk=pk, requirement_set__code=code)
        .first()
    )
    if found is None or not request.user.is_state_staff:
        raise Http404("No such draft.")
    return found


def _errors_by_field(exc: DomainError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(str(e.get("field") or "general"), str(e["message"]))
    return out


def _parse_rule_text(text: str, field: str) -> Any:
    """A rule typed as a TOML inline table (as in the files) or as JSON."""
    text = text.strip()
    if not text:
        return None
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(
            f"{field}: write it as in a requirement file, e.g. "
            '{ attr = "device.is_mdm_enrolled", op = "==", value = true }',
            field=field,
        ) from None


def _form_data(post: Any) -> dict[str, Any]:
    weight = post.get("weight", "").strip()
    return {
        "key": post.get("key", "").strip(),
        "code": post.get("code", "").strip(),
        "section": post.get("section", "").strip(),
        "title": post.get("title", "").strip(),
        "explanation": post.get("explanation", "").strip(),
        "applies_to": post.getlist("applies_to"),
        "applies_when": _parse_rule_text(post.get("applies_when", ""), "applies_when"),
        "severity": post.get("severity", ""),
        "weight": int(weight) if weight.isdigit() else weight,
        "due_on": post.get("due_on", "").strip() or None,
        "change_note": post.get("change_note", "").strip(),
        "relation": post.get("relation", ""),
        "rule": _parse_rule_text(post.get("rule", ""), "rule"),
    }


def _rule_text(value: Any) -> str:
    return "" if value is None else toml_value(value)


def _field_text(name: str, value: Any) -> Any:
    """A stored field as the form shows it: rules in TOML, dates as YYYY-MM-DD, none as ""."""
    if name in ("rule", "applies_when"):
        return _rule_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _draft_page_context(request: AuthedRequest, version: RequirementSetVersion) -> dict[str, Any]:
    today = timezone.localdate()
    in_effect = results.find_version_in_effect(version.requirement_set, on=today)
    rates = drafts.pass_rates(version_id=version.pk, agency_ids=None, now=timezone.now())
    rows = [
        {
            "req": r,
            "rate": rates.get(r.key),
            "due": deadlines.due_label(r.due_on, today) if r.due_on else "",
        }
        for r in version.requirements.order_by("section", "code")
    ]
    return {
        "version": version,
        "code": version.requirement_set.code,
        "rows": rows,
        "removed": version.removals.order_by("key"),
        "in_effect": in_effect,
        "is_draft": version.status == VersionStatus.DRAFT,
        "today": today,
    }


@login_required
def draft_list(request: AuthedRequest, code: str) -> HttpResponse:
    """The drafts of a set, and the form that starts one from the version in effect."""
    if request.method == "POST":
        _require_staff_for_write(request)
    elif not request.user.is_state_staff:
        raise Http404("No such page.")
    req_set = results.get_requirement_set(code) if code else None
    error: DomainError | None = None
    if request.method == "POST":
        try:
            draft = drafts.create_draft(
                set_code=code,
                version=request.POST.get("version", ""),
                title=request.POST.get("title", ""),
                actor=request.user,
                today=timezone.localdate(),
                request=request,
            )
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, f"Draft {draft.version} created.")
            return redirect("readiness:draft", code=code, pk=draft.pk)
    return render(
        request,
        "readiness/drafts.html",
        {
            "req_set": req_set,
            "code": code,
            "drafts": [d for d in drafts.drafts() if d.requirement_set.code == code],
            "in_effect": results.find_version_in_effect(req_set, on=timezone.localdate())
            if req_set
            else None,
            "errors": _errors_by_field(error) if error else {},
            "posted": request.POST,
        },
        status=error.status if error else 200,
    )


@login_required
def draft(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    version = _draft_or_404(request, code, pk)
    return render(request, "readiness/draft.html", _draft_page_context(request, version))


def _requirement_form(
    request: AuthedRequest, version: RequirementSetVersion, key: str | None
) -> HttpResponse:
    existing = drafts.get_requirement(version.pk, key) if key else None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            data = _form_data(request.POST)
            if existing is None:
                drafts.add_requirement(
                    version_id=version.pk, data=data, actor=request.user, request=request
                )
            else:
                drafts.change_requirement(
                    version_id=version.pk,
                    key=existing.key,
                    data=data,
                    actor=request.user,
                    request=request,
                )
        except DomainError as exc:
            errors, status = _errors_by_field(exc), exc.status
        else:
            messages.success(request, "Requirement saved.")
            return redirect("readiness:draft", code=version.requirement_set.code, pk=version.pk)
    values: dict[str, Any] = {name: "" for name in (*drafts.EDITABLE, "relation")}
    if request.method == "POST":
        values.update(request.POST.items())
    elif existing is not None:
        values.update(
            {name: _field_text(name, getattr(existing, name)) for name in drafts.EDITABLE}
        )
    else:
        values.update(severity=Severity.MANDATORY, weight=1)
    kinds = (
        request.POST.getlist("applies_to")
        if request.method == "POST"
        else (existing.applies_to if existing else [])
    )
    return render(
        request,
        "readiness/draft_requirement.html",
        {
            "version": version,
            "code": version.requirement_set.code,
            "existing": existing,
            "values": values,
            "kinds": [(k.value, k.label, k.value in (kinds or [])) for k in DeviceKind],
            "severities": Severity.choices,
            "errors": errors,
        },
        status=status,
    )


@login_required
def requirement_new(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    if request.method == "POST":
        _require_staff_for_write(request)
    return _requirement_form(request, _draft_or_404(request, code, pk), None)


@login_required
def requirement_edit(request: AuthedRequest, code: str, pk: int, key: str) -> HttpResponse:
    if request.method == "POST":
        _require_staff_for_write(request)
    version = _draft_or_404(request, code, pk)
    try:
        return _requirement_form(request, version, key)
    except DomainError as exc:
        return render(
            request,
            "readiness/error.html",
            {"title": "Requirement", "error": exc},
            status=exc.status,
        )


@require_POST
@login_required
def requirement_remove(request: AuthedRequest, code: str, pk: int, key: str) -> HttpResponse:
    _require_staff_for_write(request)
    version = _draft_or_404(request, code, pk)
    try:
        drafts.remove_requirement(
            version_id=version.pk, key=key, actor=request.user, request=request
        )
    except DomainError as exc:
        return render(
            request,
            "readiness/error.html",
            {"title": "Remove requirement", "error": exc},
            status=exc.status,
        )
    messages.success(request, f"Requirement {key} removed from the draft.")
    return redirect("readiness:draft", code=code, pk=pk)


@require_POST
@login_required
def draft_publish(request: AuthedRequest, code: str, pk: int) -> HttpResponse:
    _require_staff_for_write(request)
    version = _draft_or_404(request, code, pk)
    try:
        raw = request.POST.get("effective_on", "")
        try:
            effective_on = date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(
                "Give the effective date as YYYY-MM-DD.", field="effective_on"
            ) from None
        drafts.publish(
            version_id=version.pk,
            effective_on=effective_on,
            actor=request.user,
            today=timezone.localdate(),
            request=request,
        )
    except DomainError as exc:
        context = _draft_page_context(request, version)
        context["errors"] = _errors_by_field(exc)
        return render(request, "readiness/draft.html", context, status=exc.status)
    messages.success(request, f"Version {version.version} published, effective {effective_on}.")
    return redirect("readiness:draft", code=code, pk=pk)


@login_required
def version_file(request: AuthedRequest, code: str, version: str) -> HttpResponse:
    """Any version as its requirement file; a draft in progress only for state staff."""
    try:
        found = results.get_version(
            results.get_requirement_set(code),
            version,
            with_drafts_in_progress=request.user.is_state_staff,
        )
    except DomainError as exc:
        raise Http404(exc.message) from None
    name, text = export_version(found.pk)
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- federal expectations ---------------------------------------------------------------------------


@login_required
def expectations_page(request: AuthedRequest) -> HttpResponse:
    """Every recorded expectation version, and the form that records a new one."""
    if not request.user.is_state_staff:
        raise PermissionDenied(_WRITE_REFUSED)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        data = {
            k: request.POST.get(k, "").strip() for k in expectations.ExpectationTable.model_fields
        }
        data["is_illustrative"] = "true" if request.POST.get("is_illustrative") else "false"
        data = {k: v for k, v in data.items() if v != ""}
        try:
            table = expectations.checked(data, strict=False)
            expectations.record_expectation(table=table, actor=request.user, request=request)
        except DomainError as exc:
            errors, status = _errors_by_field(exc), exc.status
        else:
            messages.success(request, f"Expectation {table.metric} {table.version} recorded.")
            return redirect(reverse("readiness:expectations"))
    return render(
        request,
        "readiness/expectations.html",
        {
            "rows": FederalExpectation.objects.select_related("supersedes").order_by(
                "metric", "effective_from"
            ),
            "metrics": ParticipationMetric.choices,
            "values": request.POST if request.method == "POST" else {"scope": "state"},
            "errors": errors,
        },
        status=status,
    )
