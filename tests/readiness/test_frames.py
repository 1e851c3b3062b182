"""The fleet frame from the real database: columns, dtypes, joins, never-seen devices, one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from devices.models import Device, DeviceModel
from readiness import scoring
from readiness.catalog import requirements_for_version
from readiness.frames import FLEET_COLUMNS, build_fleet_frame
from readiness.loader import SETS_DIR, load_requirements
from readiness.models import RequirementSetVersion
from tests.factories import (
    AgencyFactory,
    CabinetFactory,
    DeviceFactory,
    DeviceHealthFactory,
    DeviceModelFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fleet_rows():
    cabinet = CabinetFactory(slug="justice", name="Justice")
    ksp = AgencyFactory(
        slug="ksp",
        name="KSP",
        kind="state_police",
        cabinet=cabinet,
        county="Franklin",
        firstnet_status="subscribed",
    )
    lex = AgencyFactory(
        slug="lex", name="Lexington", kind="police", cabinet=cabinet, county="Fayette"
    )
    phone = DeviceModelFactory(
        manufacturer="Samsung",
        name="XCover6 Pro",
        kind=DeviceModel.Kind.SMARTPHONE,
        has_band14=True,
        firstnet_program="certified",
        fips_140_level=1,
        is_cellular=True,
        telemetry_interval_s=300,
        unit_cost=549,
    )
    camera = DeviceModelFactory(
        manufacturer="Axon",
        name="Body 4",
        kind=DeviceModel.Kind.BODY_CAMERA,
        has_encryption_at_rest=True,
        telemetry_interval_s=600,
    )
    seen = DeviceFactory(
        agency=ksp,
        model=phone,
        serial="P1",
        firmware_version="13.0",
        network="firstnet",
        is_mdm_enrolled=True,
        is_encryption_enabled=True,
        has_cji_access=True,
    )
    DeviceHealthFactory(
        device=seen,
        level="online",
        last_reading_at=NOW - timedelta(minutes=2),
        late_after=NOW + timedelta(minutes=3),
        offline_after=NOW + timedelta(minutes=20),
        firmware="14.1",
        battery_pct=81.0,
        gps_fix=True,
    )
    never = DeviceFactory(agency=lex, model=camera, serial="C1", firmware_version="1.30")
    retired = DeviceFactory(agency=lex, model=camera, serial="C2", status=Device.Status.RETIRED)
    return {"ksp": ksp, "lex": lex, "seen": seen, "never": never, "retired": retired}


def test_frame_has_every_documented_column_with_its_dtype(fleet_rows):
    frame = build_fleet_frame()
    assert list(frame.columns) == list(FLEET_COLUMNS)
    for column, dtype in FLEET_COLUMNS.items():
        assert str(frame[column].dtype) == dtype, column


def test_frame_joins_model_agency_and_health(fleet_rows):
    frame = build_fleet_frame().set_index("device_id")
    row = frame.loc[fleet_rows["seen"].pk]
    assert row["agency_id"] == fleet_rows["ksp"].pk
    assert row["device.kind"] == "smartphone"
    assert row["device.manufacturer"] == "Samsung"
    assert bool(row["model.has_band14"])
    assert row["model.firstnet_program"] == "certified"
    assert row["agency.kind"] == "state_police"
    assert row["agency.county"] == "Franklin"
    assert row["health.level"] == "online"
    assert row["health.last_seen"] == pd.Timestamp(NOW - timedelta(minutes=2))
    assert row["health.battery_pct"] == 81.0
    assert row["model.unit_cost"] == 549.0
    # Reported firmware wins; its key was computed when the frame was built.
    assert row["device.firmware"] == "14.1"
    assert row["device.firmware_version"] == "13.0"
    assert row["device.firmware#hi"] > 0


def test_device_without_health_row_is_never_seen(fleet_rows):
    frame = build_fleet_frame().set_index("device_id")
    row = frame.loc[fleet_rows["never"].pk]
    assert row["health.level"] == "never_seen"
    assert pd.isna(row["health.last_seen"])
    assert pd.isna(row["health.gps_fix"])
    assert row["device.firmware"] == "1.30"  # nothing reported: the inventory record


def test_retired_devices_are_left_out_and_filters_narrow(fleet_rows):
    assert set(build_fleet_frame()["device_id"]) == {fleet_rows["seen"].pk, fleet_rows["never"].pk}
    assert build_fleet_frame(agency_ids=[fleet_rows["lex"].pk])["device_id"].tolist() == [
        fleet_rows["never"].pk
    ]
    assert build_fleet_frame(device_ids=[fleet_rows["seen"].pk])["device_id"].tolist() == [
        fleet_rows["seen"].pk
    ]
    scoped = build_fleet_frame(Device.objects.filter(agency=fleet_rows["ksp"]))
    assert scoped["device_id"].tolist() == [fleet_rows["seen"].pk]


def test_devices_registered_after_now_are_left_out(fleet_rows):
    Device.objects.filter(pk=fleet_rows["seen"].pk).update(created_at=NOW - timedelta(days=30))
    Device.objects.filter(pk=fleet_rows["never"].pk).update(created_at=NOW + timedelta(days=1))
    assert build_fleet_frame(now=NOW)["device_id"].tolist() == [fleet_rows["seen"].pk]


def test_frame_is_one_query(fleet_rows, django_assert_num_queries):
    with django_assert_num_queries(1):
        build_fleet_frame()


def test_empty_fleet_gives_an_empty_frame_with_the_columns(db):
    frame = build_fleet_frame()
    assert frame.empty
    assert list(frame.columns) == list(FLEET_COLUMNS)


def test_shipped_cjis_version_evaluates_the_database_fleet(fleet_rows):
    load_requirements([SETS_DIR])
    version = RequirementSetVersion.objects.get(requirement_set__code="cjis-mobile", version="6.0")
    reqs = requirements_for_version(version.pk)
    frame = build_fleet_frame()
    results = scoring.evaluate(frame, reqs, NOW)
    phone = (
        results[results["device_id"] == fleet_rows["seen"].pk]
        .set_index("stable_key")["status"]
        .astype(str)
    )
    assert phone.to_dict() == {
        "cjis.mdm.enrolled": "pass",
        "cjis.mdm.checkin": "pass",
        "cjis.encryption.at_rest": "pass",
        "cjis.patching": "pass",
        "cjis.network.managed": "pass",
    }
    camera = results[results["device_id"] == fleet_rows["never"].pk]
    assert set(camera["status"].astype(str)) == {"not_applicable"}
    ready = scoring.device_readiness(results, frame, reqs, now=NOW).set_index("device_id")
    assert bool(ready.loc[fleet_rows["seen"].pk, "is_ready"])
    assert not bool(ready.loc[fleet_rows["never"].pk, "is_ready"])  # never seen
