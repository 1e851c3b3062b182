"""Federal expectations maintained in the product: the API, the file loader, the page, briefings."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from devices.models import AuditRecord
from readiness.models import FederalExpectation
from tests.readiness.catalog_helpers import cjis_catalog, phone

pytestmark = pytest.mark.django_db

REAL = {
    "metric": "agencies_subscribed",
    "version": "FY2027",
    "target_value": 0.8,
    "target_by": "2027-09-30",
    "effective_from": "2026-10-01",
    "source": "NTIA grant guidance FY2027, section 4.2",
    "source_url": "https://www.ntia.gov/",
    "change_note": "Raised from 65%.",
}

GOOD_TOML = """\
[[expectation]]
metric = "devices_firstnet"
version = "2026"
target_value = 0.5
target_by = 2027-06-30
effective_from = 2026-01-01
source = "FirstNet Authority state plan, annex B"

[[expectation]]
metric = "devices_firstnet"
version = "2027"
target_value = 0.6
target_by = 2028-06-30
effective_from = 2027-01-01
source = "FirstNet Authority state plan, annex B (revised)"
change_note = "Raised by ten points."
"""


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def fleet(agency_a, agency_b):
    cjis_catalog()
    phone(agency_a)
    phone(agency_b)


def test_expectations_entered_through_the_api_appear_on_the_participation_page_and_in_a_briefing(
    fleet, state_staff, tmp_path
):
    illustrative = {**REAL, "version": "demo", "effective_from": "2020-01-01", "source": "Demo"}
    assert (
        post(
            state_staff.client,
            "/api/participation/expectations",
            {**illustrative, "is_illustrative": True, "change_note": ""},
        ).status_code
        == 201
    )
    response = post(state_staff.client, "/api/participation/expectations", REAL)
    assert response.status_code == 201, response.content
    assert response.json()["supersedes"] == "demo"
    page = state_staff.browser.get("/dashboard/participation/").content.decode()
    assert "NTIA grant guidance FY2027, section 4.2" in page
    assert "FY2027" in page
    assert "illustrative" in page  # the demo's row keeps its label
    out = tmp_path / "briefing.xlsx"
    call_command(
        "briefing",
        "--format",
        "xlsx",
        "--out",
        str(out),
        "--set",
        "cjis-mobile",
        stdout=io.StringIO(),
    )
    sheet = load_workbook(out)["Expectations"]
    values = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert any("FY2027" in v for v in values)
    assert any("NTIA grant guidance FY2027" in v for v in values)
    record = AuditRecord.objects.get(
        object_type="federalexpectation", object_id=response.json()["id"]
    )
    assert record.after["target_value"] == 0.8


def test_the_same_version_again_changes_nothing_and_other_values_are_a_409(fleet, state_staff):
    assert post(state_staff.client, "/api/participation/expectations", REAL).status_code == 201
    assert post(state_staff.client, "/api/participation/expectations", REAL).status_code == 200
    changed = post(
        state_staff.client, "/api/participation/expectations", {**REAL, "target_value": 0.9}
    )
    assert changed.status_code == 409
    assert "record a new version" in changed.json()["message"]
    assert FederalExpectation.objects.count() == 1


def test_bad_input_is_a_422_per_field_and_agency_users_cannot_record(
    fleet, state_staff, admin_a, viewer_a
):
    bad = post(
        state_staff.client,
        "/api/participation/expectations",
        {**REAL, "target_value": 1.5, "metric": "happiness", "scope": "county"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"target_value", "metric", "scope"}
    assert post(admin_a.client, "/api/participation/expectations", REAL).status_code == 403
    assert post(viewer_a.client, "/api/participation/expectations", REAL).status_code == 403
    assert FederalExpectation.objects.count() == 0


def test_a_file_loads_each_version_in_turn_and_again_changes_nothing(fleet, tmp_path):
    path = tmp_path / "expectations.toml"
    path.write_text(GOOD_TOML)
    out = io.StringIO()
    call_command("load_expectations", str(path), stdout=out)
    assert "2 recorded, 0 unchanged" in out.getvalue()
    call_command("load_expectations", str(path), stdout=out)
    assert "0 recorded, 2 unchanged" in out.getvalue()
    newer = FederalExpectation.objects.get(version="2027")
    assert newer.supersedes.version == "2026"


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "expectations.toml",
            GOOD_TOML.replace(
                'metric = "devices_firstnet"\nversion = "2027"',
                'metric = "morale"\nversion = "2027"',
            ),
            "expectations.toml: line 9: metric 'morale' must be one of",
        ),
        (
            "expectations.toml",
            GOOD_TOML.replace("target_value = 0.6", 'target_value = "60%"'),
            "expectations.toml: line 9: target_value: Input should be a valid number",
        ),
        (
            "expectations.toml",
            GOOD_TOML.replace("target_by = 2027-06-30", "target_by = 2027-06-31"),
            "expectations.toml: line 5: not valid TOML",
        ),
        (
            "expectations.csv",
            "metric,version,target_value,target_by,effective_from,source\n"
            "devices_band14,2026,0.4,2027-01-01,2026-01-01,State plan\n"
            "devices_band14,2027,0.5,not a date,2027-01-01,State plan\n",
            "expectations.csv: line 3: target_by",
        ),
    ],
)
def test_a_bad_expectation_file_is_refused_with_file_line_problem_and_changes_nothing(
    fleet, tmp_path, name, content, problem
):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CommandError) as caught:
        call_command("load_expectations", str(path), stdout=io.StringIO())
    assert problem in str(caught.value)
    assert FederalExpectation.objects.count() == 0
    assert not AuditRecord.objects.filter(object_type="federalexpectation").exists()


def test_a_cabinets_expectation_is_compared_with_that_cabinet_only(fleet, state_staff):
    for scope, version in (("cabinet:justice", "J1"), ("cabinet:health", "H1")):
        body = {**REAL, "version": version, "scope": scope}
        assert post(state_staff.client, "/api/participation/expectations", body).status_code == 201
    statewide = state_staff.client.get("/api/participation/expectations").json()["comparisons"]
    assert statewide == []
    by_cabinet = state_staff.client.get("/api/participation/expectations?by=cabinet").json()
    assert [(c["scope"], c["version"], c["is_current"]) for c in by_cabinet["comparisons"]] == [
        ("justice", "J1", True)
    ]
