"""Briefing exports: request one (a row + a Celery task), build it (idempotent), find them.

``request_briefing_export`` checks the parameters and the requester's right to the scope at
once (a bad request never reaches the queue), stores a ``BriefingExport`` row and enqueues
``build_briefing_export_task`` after the transaction commits. ``build_briefing_export``
claims the row, builds the data (``readiness.briefings.data.build_briefing_data``), renders it
(``readiness.briefings.render_briefing``, pure) and saves the file with its provenance. The
management command ``briefing`` calls the same core without the queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial

from celery import current_app
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import InvalidInput, NotFound
from devices.models import Agency, User
from readiness import evaluation_store, evaluations, scoping
from readiness.briefings import BriefingData, render_briefing
from readiness.briefings.data import BriefingParams, briefing_figures, build_briefing_data
from readiness.filters import requirement_sets
from readiness.models import BriefingExport

log = logging.getLogger(__name__)

# A build that has been "running" longer than this died with its worker: it may be reclaimed.
STALE_AFTER = timedelta(minutes=10)
# The registered name of `readiness.tasks.build_briefing_export_task`. Enqueued by name: the
# task module imports this one (tasks call core), so importing the task object here would close
# a cycle, and core never imports its interfaces.
BUILD_BRIEFING_EXPORT_TASK = "readiness.build_briefing_export"


def validate_params(
    user: User | None, params: BriefingParams, *, today: date
) -> tuple[scoping.Scope, Agency | None]:
    """Check a request before it is queued: the scope (visible to ``user``), set, versions, date.

    ``user`` None is the operator's command (every scope). Raises InvalidInput/NotFound with
    the field, or Http404 for a scope the user may not see.
    """
    from readiness import results

    scope = (
        scoping.scope_for_briefing(params.scope)
        if user is None
        else scoping.scope_from_key(user, params.scope)
    )
    if params.as_of and params.as_of > today:
        raise InvalidInput(
            f"as_of {params.as_of} is in the future: pick today or earlier.", field="as_of"
        )
    sets = requirement_sets()
    if not sets:
        raise InvalidInput("No requirement sets are loaded yet.", field="set")
    set_code = params.set_code or sets[0][0]
    req_set = results.get_requirement_set(set_code)
    drafts = scope.with_drafts_in_progress
    if params.version:
        results.get_version(req_set, params.version, with_drafts_in_progress=drafts)
    else:
        results.get_version_in_effect(req_set, on=params.as_of or today)
    if params.compare_version:
        compare = results.get_version(
            req_set, params.compare_version, with_drafts_in_progress=drafts
        )
        chosen = (
            results.get_version(req_set, params.version, with_drafts_in_progress=drafts)
            if params.version
            else results.get_version_in_effect(req_set, on=params.as_of or today)
        )
        if compare.pk == chosen.pk:
            raise InvalidInput(
                f"Compare version {compare.version} with another version: it is the briefing's own.",
                field="compare_version",
            )
    if params.since_id is not None:
        earlier = BriefingExport.objects.filter(
            pk=params.since_id, status=BriefingExport.Status.DONE
        )
        if user is not None:
            earlier = earlier & scoping.visible_briefings(user)
        if not earlier.exists():
            raise NotFound(
                f"There is no finished briefing #{params.since_id} you can compare with.",
                field="since_briefing",
            )
    agency = Agency.objects.get(pk=scope.agency_id) if scope.kind == "agency" else None
    return scope, agency


def pin_evaluation(params: BriefingParams, *, now: datetime) -> BriefingParams:
    """A today briefing names one evaluation of record: the chosen one (it must exist), else
    the latest (recorded first on a fresh install). A past date reads its snapshot instead."""
    today = timezone.localdate(now)
    if params.as_of is not None and params.as_of < today:
        return replace(params, evaluation_id=None)
    if params.evaluation_id is not None:
        found = evaluation_store.get_evaluation(params.evaluation_id)
        if found is None:
            raise NotFound(
                f"There is no evaluation #{params.evaluation_id} (today's are kept): "
                "choose one from the list.",
                field="evaluation",
            )
        return params
    return replace(params, evaluation_id=evaluations.current_evaluation(now=now).pk)


ALL_FORMATS = "all"


def request_briefing_exports(
    *, requested_by: User, params: BriefingParams, fmt: str, now: datetime
) -> list[BriefingExport]:
    """One request for one format, or for all three (``fmt`` "all"): every export is pinned to
    the same evaluation, so the three files carry the same figures and hash."""
    fmts = list(BriefingExport.Format.values) if fmt == ALL_FORMATS else [fmt]
    for one in fmts:
        if one not in BriefingExport.Format.values:
            raise InvalidInput(
                f"Unknown format '{one}': use pptx, xlsx, pdf or all three.", field="format"
            )
    validate_params(requested_by, params, today=timezone.localdate(now))
    pinned = pin_evaluation(params, now=now)
    with transaction.atomic():
        return [
            request_briefing_export(requested_by=requested_by, params=pinned, fmt=one)
            for one in fmts
        ]


def request_briefing_export(
    *, requested_by: User, params: BriefingParams, fmt: str
) -> BriefingExport:
    """Create a queued export and enqueue its build once the row is committed.

    One transaction: if it rolls back, no row is left and nothing is enqueued. Not idempotent
    (each call is a new export); the build it enqueues is. A today request is pinned to an
    evaluation of record here (``pin_evaluation``), so a rebuild reads the same counts.
    """
    if fmt not in BriefingExport.Format.values:
        raise InvalidInput(f"Unknown format '{fmt}': use pptx, xlsx or pdf.", field="format")
    now = timezone.now()
    today = timezone.localdate(now)
    scope, agency = validate_params(requested_by, params, today=today)
    params = pin_evaluation(params, now=now)
    with transaction.atomic():
        export = BriefingExport.objects.create(
            requested_by=requested_by,
            agency=agency,
            scope=scope.key,
            scope_label=scope.label,
            format=fmt,
            parameters=params.as_dict(),
            compare_to_id=params.since_id,
            as_of=params.as_of or today,
            progress_note="Waiting for a worker",
        )
        transaction.on_commit(
            partial(current_app.send_task, BUILD_BRIEFING_EXPORT_TASK, args=(export.pk,))
        )
    return export


def _set_progress(export_id: int, pct: int, note: str) -> None:
    # A plain UPDATE outside any long transaction, so the page's poll sees it at once.
    BriefingExport.objects.filter(pk=export_id, status=BriefingExport.Status.RUNNING).update(
        progress=pct, progress_note=note[:200]
    )


def _claim(export_id: int, now: datetime) -> bool:
    """Conditional UPDATE: exactly one worker moves a queued (or abandoned) build to running."""
    claimable = Q(status=BriefingExport.Status.QUEUED) | Q(
        status=BriefingExport.Status.RUNNING, started_at__lt=now - STALE_AFTER
    )
    return bool(
        BriefingExport.objects.filter(claimable, pk=export_id).update(
            status=BriefingExport.Status.RUNNING,
            started_at=now,
            progress=5,
            progress_note="Started",
            error="",
        )
    )


def previous_figures(export_id: int | None) -> dict | None:
    if export_id is None:
        return None
    earlier = BriefingExport.objects.filter(pk=export_id, status=BriefingExport.Status.DONE).first()
    if earlier is None:
        return None
    return {"id": earlier.pk, "as_of": earlier.as_of.isoformat(), **earlier.figures}


def build_briefing_data_for(
    params: BriefingParams, *, now: datetime | None = None, progress=None
) -> BriefingData:  # noqa: ANN001
    """The data of a briefing, with the comparison base loaded (shared by the task and the command)."""
    return build_briefing_data(
        params, now=now, previous=previous_figures(params.since_id), progress=progress
    )


def build_briefing_export(export_id: int, *, now: datetime | None = None) -> BriefingExport | None:
    """Build one export. Idempotent: a finished or claimed export is left alone.

    Never raises for a bad request: the failure is recorded on the row with its message,
    which the page shows. Database errors do raise, so the task retries.
    """
    now = now or timezone.now()
    if not _claim(export_id, now):
        return BriefingExport.objects.filter(pk=export_id).first()
    export = BriefingExport.objects.get(pk=export_id)
    params = BriefingParams.from_dict(export.parameters)
    try:
        data = build_briefing_data_for(
            params, now=now, progress=lambda pct, note: _set_progress(export_id, pct, note)
        )
        _set_progress(export_id, 75, f"Rendering {export.get_format_display()}")
        blob = render_briefing(data, export.format)
    except (InvalidInput, NotFound) as exc:
        BriefingExport.objects.filter(pk=export_id).update(
            status=BriefingExport.Status.FAILED,
            error=exc.message,
            finished_at=timezone.now(),
            progress_note="Failed",
        )
        return BriefingExport.objects.get(pk=export_id)
    _set_progress(export_id, 90, "Saving the file")
    with transaction.atomic():
        export = BriefingExport.objects.select_for_update().get(pk=export_id)
        export.file.save(export.filename, ContentFile(blob), save=False)
        export.status = BriefingExport.Status.DONE
        export.progress = 100
        export.progress_note = "Done"
        export.as_of = data.as_of
        export.versions_in_effect = data.versions_in_effect
        export.data_hash = data.data_hash
        export.figures = briefing_figures(data)
        export.finished_at = timezone.now()
        export.save()
    log.info(
        "briefing %s built: %s %s, %d bytes, hash %s",
        export_id,
        export.scope,
        export.format,
        len(blob),
        data.data_hash[:12],
    )
    return export


@dataclass(frozen=True)
class CommandResult:
    data: BriefingData
    blob: bytes


def build_briefing_file(
    params: BriefingParams, fmt: str, *, now: datetime | None = None
) -> CommandResult:
    """For the ``briefing`` command: validate, build and render, with no row and no queue."""
    if fmt not in BriefingExport.Format.values:
        raise InvalidInput(f"Unknown format '{fmt}': use pptx, xlsx or pdf.", field="format")
    now = now or timezone.now()
    validate_params(None, params, today=timezone.localdate(now))
    data = build_briefing_data_for(pin_evaluation(params, now=now), now=now)
    return CommandResult(data=data, blob=render_briefing(data, fmt))
