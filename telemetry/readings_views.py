"""Pages of a large readings export: its progress (polled with HTMX) and its download.

The device and agency pages link to the export API; an export past the row threshold sends
the browser here (see `telemetry.api_readings`). Only the requester sees a job; anyone else
gets 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render

from config.errors import Conflict
from config.typing import AuthedRequest
from telemetry import readings_jobs


@login_required
def readings_export_job(request: AuthedRequest, job_id: str) -> HttpResponse:
    """The job's page; the status part polls itself every 2 s until done or failed."""
    job = readings_jobs.find_job(job_id, user_id=request.user.pk)
    template = (
        "telemetry/_readings_export_status.html"
        if request.htmx
        else "telemetry/readings_export_job.html"
    )
    return render(request, template, {"job": job})


@login_required
def readings_export_download(request: AuthedRequest, job_id: str) -> FileResponse:
    job = readings_jobs.find_job(job_id, user_id=request.user.pk)
    try:
        return readings_jobs.open_file(job)
    except Conflict as exc:
        raise Http404(exc.message) from None
