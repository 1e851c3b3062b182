"""Large readings exports: a job built by a real worker, its progress, its link and its owner."""

from __future__ import annotations

import io
from datetime import UTC, timedelta

import pyarrow.parquet as pq
import pytest

from telemetry import readings_jobs
from telemetry.models import TelemetryReading
from tests.conftest import wait_for
from tests.factories import DeviceFactory


def _store(device, clock, count: int) -> dict[str, str]:
    start = clock.now.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    TelemetryReading.objects.bulk_create(
        [
            TelemetryReading(
                device=device,
                ts=start + timedelta(minutes=i, microseconds=7),
                received_at=start,
                battery_pct=float(i % 100),
                rsrp_dbm=-80.0,
            )
            for i in range(count)
        ]
    )
    return {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_an_export_past_the_threshold_is_built_by_a_worker_and_downloaded_once_done(
    worker, settings, viewer_a, admin_b, agency_a, clock
):
    settings.TELEMETRY_EXPORT_ASYNC_ROWS = 100
    device = DeviceFactory(agency=agency_a, serial="BWC-J")
    span = _store(device, clock, 600)
    response = viewer_a.client.get(
        f"/api/devices/{device.pk}/readings/export", {**span, "format": "parquet"}
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued"
    assert job["rows_total"] == 600
    assert job["download_url"] is None

    def done() -> dict | None:
        body = viewer_a.client.get(job["status_url"]).json()
        return body if body["status"] == "done" else None

    finished = wait_for(done, timeout=60, what="the worker to build the export")
    assert isinstance(finished, dict)
    assert finished["progress"] == 100
    table = pq.read_table(io.BytesIO(b"".join(viewer_a.client.get(finished["download_url"]))))
    api_rows = viewer_a.client.get(
        f"/api/devices/{device.pk}/readings",
        {**span, "fields": "battery_pct,rsrp_dbm", "limit": 1000},
    ).json()["items"]
    assert [
        {**row, "ts": row["ts"].isoformat()}
        for row in table.select(["device_id", "ts", "battery_pct", "rsrp_dbm"]).to_pylist()
    ] == api_rows
    # The job and its file are the requester's alone.
    assert admin_b.client.get(job["status_url"]).status_code == 404
    assert admin_b.client.get(finished["download_url"]).status_code == 404


@pytest.mark.django_db
def test_a_page_link_to_a_large_export_opens_its_progress_page(
    settings, viewer_a, admin_b, agency_a, clock
):
    settings.TELEMETRY_EXPORT_ASYNC_ROWS = 10
    device = DeviceFactory(agency=agency_a, serial="BWC-P")
    span = _store(device, clock, 50)
    response = viewer_a.browser.get(
        "/api/readings/export",
        {**span, "agency": agency_a.slug, "format": "csv"},
        HTTP_ACCEPT="text/html,application/xhtml+xml",
    )
    assert response.status_code == 303
    page = viewer_a.browser.get(response["Location"]).content.decode()
    assert "<progress" in page
    assert 'hx-trigger="every 2s"' in page
    assert admin_b.browser.get(response["Location"]).status_code == 404
    # Not yet built: the file is not there to download.
    job_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    assert viewer_a.client.get(f"/api/readings/exports/{job_id}/file").status_code == 409

    built = readings_jobs.build_readings_export(job_id)
    assert built is not None
    assert built.status == "done"
    # A second delivery of the task leaves the finished job as it is.
    again = readings_jobs.build_readings_export(job_id)
    assert again is not None
    assert again.updated_at == built.updated_at
    page = viewer_a.browser.get(response["Location"]).content.decode()
    assert "Download readings-ksp-" in page
    download = viewer_a.browser.get(f"/telemetry/readings-exports/{job_id}/download/")
    text = b"".join(download.streaming_content).decode()
    assert "# Units: battery_pct in percent; rsrp_dbm in dBm; " in text
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == 51


@pytest.mark.django_db
def test_a_job_belongs_to_its_requesters_scope_even_for_a_fleet_wide_export(
    settings, viewer_a, agency_a, agency_b, clock
):
    settings.TELEMETRY_EXPORT_ASYNC_ROWS = 5
    mine = DeviceFactory(agency=agency_a, serial="MINE")
    theirs = DeviceFactory(agency=agency_b, serial="THEIRS")
    span = _store(mine, clock, 20)
    _store(theirs, clock, 20)
    job = viewer_a.client.get("/api/readings/export", {**span, "format": "parquet"}).json()
    readings_jobs.build_readings_export(job["id"])
    body = b"".join(viewer_a.client.get(f"/api/readings/exports/{job['id']}/file"))
    serials = set(pq.read_table(io.BytesIO(body)).column("serial").to_pylist())
    assert serials == {"MINE"}
