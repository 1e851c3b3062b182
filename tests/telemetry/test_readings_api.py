"""The readings API: exact pages in order, bucketed series, exports, scoping and bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from telemetry.models import TelemetryReading
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

FIELDS = ["battery_pct", "rsrp_dbm", "storage_pct", "temperature_c", "gps_fix", "status"]


def _start(clock) -> datetime:
    return clock.now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)


def _store(device, times: list[datetime]) -> None:
    TelemetryReading.objects.bulk_create(
        [
            TelemetryReading(
                device=device,
                ts=ts,
                received_at=ts,
                # Every fifth reading lacks a battery value: a gap the series must keep.
                battery_pct=None if i % 5 == 0 else 20 + (i * 7) % 80 + 0.25,
                rsrp_dbm=-70.0 - (i % 40),
                storage_pct=float(i % 100),
                temperature_c=18.5 + (i % 9) / 4,
                gps_fix=i % 2 == 0,
                status="ok" if i % 3 else "charging",
            )
            for i, ts in enumerate(times)
        ]
    )


@pytest.fixture
def device(agency_a, clock):
    device = DeviceFactory(agency=agency_a, serial="BWC-100")
    start = _start(clock)
    # Every 7 minutes 13.5 seconds with microseconds, for two days; one reading before and one
    # after the range asked for, which no answer may contain.
    times = [start + timedelta(minutes=7 * i, seconds=13, microseconds=500_001) for i in range(410)]
    _store(device, [start - timedelta(minutes=1), *times, start + timedelta(days=2, minutes=1)])
    return device


def _range(clock, days: float = 2) -> dict[str, str]:
    start = _start(clock)
    return {"from": start.isoformat(), "to": (start + timedelta(days=days)).isoformat()}


def _all_pages(client, path: str, params: dict) -> tuple[list[dict], int]:
    items: list[dict] = []
    pages = 0
    cursor = None
    while True:
        response = client.get(path, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def _stored(queryset, fields=FIELDS) -> list[dict]:
    return [
        {**row, "ts": row["ts"].astimezone(UTC).isoformat()}
        for row in queryset.order_by("ts", "device_id").values("device_id", "ts", *fields)
    ]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_return_exactly_the_stored_readings_of_the_range_in_order(
    viewer_a, device, clock, order
):
    span = _range(clock)
    items, pages = _all_pages(
        viewer_a.client,
        f"/api/devices/{device.pk}/readings",
        {**span, "order": order, "limit": 37, "fields": ",".join(FIELDS)},
    )
    stored = _stored(
        TelemetryReading.objects.filter(device=device, ts__gte=span["from"], ts__lt=span["to"])
    )
    assert len(stored) == 410
    assert pages == 12
    assert items == (stored if order == "asc" else stored[::-1])


def test_fleet_pages_split_readings_sharing_a_timestamp_without_loss_or_repeat(
    state_staff, agency_a, agency_b, clock
):
    start = _start(clock)
    devices = [
        DeviceFactory(agency=agency, serial=f"R-{n}")
        for n, agency in enumerate([agency_a, agency_a, agency_a, agency_b])
    ]
    # Four devices at the same instants: pages of 3 end between two readings of one instant.
    for d in devices:
        _store(d, [start + timedelta(minutes=m) for m in range(10)])
    span = _range(clock, days=1)
    for order in ("asc", "desc"):
        items, _ = _all_pages(
            state_staff.client, "/api/readings", {**span, "limit": 3, "order": order}
        )
        stored = _stored(TelemetryReading.objects.all(), fields=list(items[0])[2:])
        assert items == (stored if order == "asc" else stored[::-1])
    only_a, _ = _all_pages(
        state_staff.client, "/api/readings", {**span, "limit": 7, "agency": agency_a.slug}
    )
    assert len(only_a) == 30
    assert {row["device_id"] for row in only_a} == {d.pk for d in devices[:3]}


def test_another_agencys_device_is_not_found_and_its_readings_never_listed(
    admin_b, viewer_a, device, clock
):
    span = _range(clock)
    assert admin_b.client.get(f"/api/devices/{device.pk}/readings", span).status_code == 404
    assert (
        admin_b.client.get(f"/api/devices/{device.pk}/readings", {**span, "bucket": "1h"})
    ).status_code == 404
    assert admin_b.client.get(f"/api/devices/{device.pk}/readings/export", span).status_code == 404
    for params in ({}, {"agency": device.agency.slug}):
        body = admin_b.client.get("/api/readings", {**span, **params}).json()
        assert body["items"] == []
    mine = viewer_a.client.get("/api/readings", {**span, "limit": 5}).json()
    assert {row["device_id"] for row in mine["items"]} == {device.pk}


@pytest.mark.parametrize(("bucket", "freq"), [("5m", "5min"), ("1h", "1h"), ("1d", "1D")])
def test_bucketed_values_equal_a_pandas_computation_on_the_same_rows(
    viewer_a, device, clock, bucket, freq
):
    span = _range(clock)
    response = viewer_a.client.get(f"/api/devices/{device.pk}/readings", {**span, "bucket": bucket})
    assert response.status_code == 200, response.content
    got = response.json()["items"]

    numeric = ["battery_pct", "rsrp_dbm", "storage_pct", "temperature_c"]
    rows = TelemetryReading.objects.filter(
        device=device, ts__gte=span["from"], ts__lt=span["to"]
    ).values("ts", *numeric)
    frame = pd.DataFrame.from_records(list(rows))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame[numeric] = frame[numeric].astype("float64")
    grouped = frame.groupby(frame["ts"].dt.floor(freq))[numeric].agg(
        ["min", "max", "mean", "count"]
    )
    assert [item["start"] for item in got] == [ts.isoformat() for ts in grouped.index]
    for item, (_, expected) in zip(got, grouped.iterrows(), strict=True):
        for name in numeric:
            values = item["measurements"][name]
            assert values["count"] == expected[(name, "count")]
            for stat in ("min", "max", "mean"):
                want = expected[(name, stat)]
                if pd.isna(want):
                    assert values[stat] is None
                else:
                    assert values[stat] == pytest.approx(want, rel=1e-9)


def test_a_parquet_export_read_back_with_pyarrow_equals_the_api_rows(viewer_a, device, clock):
    span = _range(clock)
    response = viewer_a.client.get(
        f"/api/devices/{device.pk}/readings/export", {**span, "format": "parquet"}
    )
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.schema.metadata[b"time_zone"] == b"UTC"
    assert b'"rsrp_dbm": "dBm"' in table.schema.metadata[b"units"]
    assert table.schema.field("battery_pct").metadata == {b"unit": b"percent"}
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"

    api_rows, _ = _all_pages(viewer_a.client, f"/api/devices/{device.pk}/readings", span)
    exported = [
        {**row, "ts": row["ts"].astimezone(UTC).isoformat()}
        for row in table.drop_columns(["serial", "firmware"]).to_pylist()
    ]
    assert len(exported) == 410
    assert exported == [{k: v for k, v in row.items() if k != "firmware"} for row in api_rows]


def test_a_csv_export_streams_the_rows_with_time_zone_and_units(viewer_a, device, clock):
    span = _range(clock)
    response = viewer_a.client.get(
        f"/api/devices/{device.pk}/readings/export",
        {**span, "format": "csv", "fields": "battery_pct,rsrp_dbm"},
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert "Time zone: UTC" in comments[0]
    assert comments[2] == "# Units: battery_pct in percent; rsrp_dbm in dBm."
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    stored = _stored(
        TelemetryReading.objects.filter(device=device, ts__gte=span["from"], ts__lt=span["to"]),
        fields=["battery_pct", "rsrp_dbm"],
    )
    assert [(r["ts"], r["serial"], r["rsrp_dbm"]) for r in rows] == [
        (s["ts"], "BWC-100", str(s["rsrp_dbm"])) for s in stored
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, "from"),
        ({"from": "2026-04-01T00:00:00Z", "to": "2026-05-02T00:00:01Z"}, "to"),
        ({"fields": "battery_pct,voltage"}, "fields"),
        ({"bucket": "2h"}, "bucket"),
        ({"bucket": "1h", "fields": "firmware"}, "fields"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"from": "yesterday"}, "from"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(viewer_a, device, params, field):
    for path in (f"/api/devices/{device.pk}/readings", "/api/readings"):
        response = viewer_a.client.get(path, params)
        assert response.status_code == 422, response.content
        body = response.json()
        assert [e["field"] for e in body["errors"]] == [field]
        assert field in body["message"]


def test_an_export_refuses_an_unknown_format_and_a_kind_that_does_not_exist(viewer_a, device):
    response = viewer_a.client.get(f"/api/devices/{device.pk}/readings/export", {"format": "xls"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "format"
    response = viewer_a.client.get("/api/readings", {"kind": "toaster"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kind"
