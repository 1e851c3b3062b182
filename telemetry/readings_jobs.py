"""Large readings exports as background jobs: request one, build it (idempotent), find it.

An export of more than ``settings.TELEMETRY_EXPORT_ASYNC_ROWS`` readings is not answered
inline: `request_readings_export` records a job and enqueues ``build_readings_export_task``
after the transaction commits; the page and the API then show its progress and, once built,
a download link, as briefings do.

A job is a small JSON record beside its file in the default storage
(``readings-exports/<id>.json`` and ``<id>.csv|parquet``), so the web process and any worker
sharing the media storage see the same state. The record keeps what to export as ids (the
device, or the agency the requester's scope was narrowed to when it was asked) and the
requester's id: only the requester may see a job; any other user gets 404. The build is
claimed by creating ``<id>.claim`` exclusively (the storage refuses a second file of one
name), so two deliveries of the task build it once; a claim older than `STALE_AFTER` belongs
to a dead worker and is taken over.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404
from django.utils import timezone

from config.errors import Conflict
from telemetry import readings, readings_export
from telemetry.models import TelemetryReading

log = logging.getLogger(__name__)

BUILD_READINGS_EXPORT_TASK = "telemetry.build_readings_export"
FOLDER = "readings-exports"
STALE_AFTER = timedelta(minutes=10)


@dataclass
class ExportJob:
    """One large export: what was asked, by whom, and how far its build has come."""

    id: str
    requested_by_id: int
    format: str
    start: str
    end: str
    fields: list[str]
    label: str
    device_id: int | None = None
    # The requester's scope (None: every agency, for state staff) and the narrowing asked.
    scope_agency_id: int | None = None
    agency: str | None = None
    kind: str | None = None
    status: str = "queued"  # queued, running, done, failed
    progress: int = 0
    rows_total: int = 0
    rows_written: int = 0
    error: str = ""
    created_at: str = field(default_factory=lambda: timezone.now().isoformat())
    updated_at: str = field(default_factory=lambda: timezone.now().isoformat())

    @property
    def span(self) -> readings.TimeRange:
        return readings.TimeRange(
            start=datetime.fromisoformat(self.start), end=datetime.fromisoformat(self.end)
        )

    @property
    def filename(self) -> str:
        return readings_export.filename(label=self.label, span=self.span, fmt=self.format)

    @property
    def file_path(self) -> str:
        return f"{FOLDER}/{self.id}.{self.format}"

    @property
    def is_finished(self) -> bool:
        return self.status in ("done", "failed")


def _record_path(job_id: str) -> str:
    return f"{FOLDER}/{job_id}.json"


def save_job(job: ExportJob) -> None:
    job.updated_at = timezone.now().isoformat()
    path = _record_path(job.id)
    # Replaced whole: the storage has no in-place write, and a reader sees old or new.
    default_storage.delete(path)
    default_storage.save(path, ContentFile(json.dumps(asdict(job)).encode()))


def _load(job_id: str) -> ExportJob | None:
    try:
        uuid.UUID(hex=job_id)
        with default_storage.open(_record_path(job_id), "rb") as handle:
            return ExportJob(**json.loads(handle.read()))
    except (ValueError, FileNotFoundError, OSError, TypeError):
        return None


def selected_readings(job: ExportJob) -> Any:
    """The readings the job exports, rebuilt from its ids: the same rows the request counted."""
    if job.device_id is not None:
        queryset = TelemetryReading.objects.filter(device_id=job.device_id)
    else:
        queryset = TelemetryReading.objects.all()
        if job.scope_agency_id is not None:
            queryset = queryset.filter(device__agency_id=job.scope_agency_id)
        queryset = readings.filter_fleet(queryset, agency=job.agency, kind=job.kind)
    span = job.span
    return queryset.filter(ts__gte=span.start, ts__lt=span.end)


def request_readings_export(
    *, requested_by_id: int, rows_total: int, fmt: str, span: readings.TimeRange, **what: Any
) -> ExportJob:
    """Record a queued job and enqueue its build once the surrounding transaction commits.

    ``what`` is the job's selection: ``fields``, ``label`` and ``device_id`` or
    ``scope_agency_id``/``agency``/``kind`` (see `ExportJob`).
    """
    job = ExportJob(
        id=uuid.uuid4().hex,
        requested_by_id=requested_by_id,
        format=fmt,
        start=span.start.astimezone(UTC).isoformat(),
        end=span.end.astimezone(UTC).isoformat(),
        rows_total=rows_total,
        **what,
    )
    save_job(job)
    transaction.on_commit(
        partial(current_app.send_task, BUILD_READINGS_EXPORT_TASK, args=(job.id,))
    )
    return job


def find_job(job_id: str, *, user_id: int) -> ExportJob:
    """The requester's job, or 404 (also for another user's job: it cannot be confirmed)."""
    job = _load(job_id)
    if job is None or job.requested_by_id != user_id:
        raise Http404("No such readings export, or not yours.")
    return job


def _claim(job_id: str, now: datetime) -> bool:
    claim = f"{FOLDER}/{job_id}.claim"
    if default_storage.exists(claim):
        if now - default_storage.get_modified_time(claim) < STALE_AFTER:
            return False
        default_storage.delete(claim)
    # A second claimant's save gets another name: only the first holds the exact one.
    return default_storage.save(claim, ContentFile(now.isoformat().encode())) == claim


def build_readings_export(job_id: str, *, now: datetime | None = None) -> ExportJob | None:
    """Build one job's file. Idempotent: a finished or claimed job is left alone."""
    job = _load(job_id)
    if job is None or job.is_finished or not _claim(job_id, now or timezone.now()):
        return job
    job.status, job.progress = "running", 1
    save_job(job)

    def progress(done: int, total: int | None) -> None:
        job.rows_written = done
        job.progress = min(99, int(100 * done / max(total or 1, 1)))
        save_job(job)

    try:
        _write_file(job, progress)
    except Exception:
        # Let the retry (or the next delivery) claim it again at once.
        default_storage.delete(f"{FOLDER}/{job_id}.claim")
        raise
    job.status, job.progress = "done", 100
    save_job(job)
    log.info("readings export %s built: %s, %d rows", job_id, job.format, job.rows_written)
    return job


def _write_file(job: ExportJob, progress: Any) -> None:
    queryset = selected_readings(job)
    fields = tuple(job.fields)
    with tempfile.TemporaryFile() as scratch:
        if job.format == "parquet":
            job.rows_written = readings_export.write_parquet(
                queryset,
                fields=fields,
                span=job.span,
                sink=scratch,
                progress=progress,
                total=job.rows_total,
            )
        else:
            lines = readings_export.csv_lines(queryset, fields=fields, span=job.span)
            for count, line in enumerate(lines):
                scratch.write(line.encode())
                if count and count % readings_export.CHUNK_ROWS == 0:
                    progress(count, job.rows_total)
            job.rows_written = job.rows_total
        scratch.seek(0)
        default_storage.delete(job.file_path)
        default_storage.save(job.file_path, File(scratch))


def is_large(rows: int) -> bool:
    """Whether an export of ``rows`` readings runs as a job rather than in the request."""
    return rows > settings.TELEMETRY_EXPORT_ASYNC_ROWS


def open_file(job: ExportJob) -> FileResponse:
    """The built file as a download; a job not done yet is a Conflict naming its state."""
    if job.status != "done":
        raise Conflict(
            f"The export is {job.status} ({job.progress}% done); download it once it is done."
        )
    return FileResponse(
        default_storage.open(job.file_path, "rb"),
        as_attachment=True,
        filename=job.filename,
        content_type=readings_export.CONTENT_TYPES[job.format],
    )
