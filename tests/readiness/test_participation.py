"""Participation: status history, the funnel, and actual against versioned expectations."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from devices.models import FirstNetStatusChange
from readiness.models import FederalExpectation
from readiness.participation import compare_with_expectations, funnels, history, statuses_on
from tests.factories import AgencyFactory, CabinetFactory, DeviceFactory
from tests.readiness.catalog_helpers import phone_model

TODAY = date(2026, 6, 1)


def test_status_on_a_date_comes_from_the_history_and_before_it_is_not_engaged():
    agencies = pd.DataFrame(
        {
            "agency_id": [1, 2, 3],
            "firstnet_status": ["subscribed", "pilot", "declined"],
            "firstnet_status_changed_on": [date(2019, 5, 1), date(2021, 1, 1), date(2018, 3, 1)],
        }
    )
    changes = pd.DataFrame(
        {
            "agency_id": [1, 1],
            "status": ["evaluating", "subscribed"],
            "changed_on": [date(2018, 1, 10), date(2019, 5, 1)],
        }
    )
    assert statuses_on(agencies, changes, date(2017, 12, 31)).to_dict() == {
        1: "not_engaged",
        2: "not_engaged",
        3: "not_engaged",
    }
    assert statuses_on(agencies, changes, date(2018, 6, 1)).to_dict() == {
        1: "evaluating",
        2: "not_engaged",
        3: "declined",
    }
    assert statuses_on(agencies, changes, date(2022, 1, 1)).to_dict() == {
        1: "subscribed",
        2: "pilot",
        3: "declined",
    }


@pytest.fixture
def two_cabinets(db):
    justice = CabinetFactory(slug="justice", name="Justice")
    transport = CabinetFactory(slug="transport", name="Transportation")
    ksp = AgencyFactory(
        slug="ksp",
        cabinet=justice,
        firstnet_status="subscribed",
        firstnet_status_changed_on=date(2018, 2, 1),
    )
    AgencyFactory(
        slug="lex",
        cabinet=justice,
        firstnet_status="evaluating",
        firstnet_status_changed_on=date(2020, 1, 1),
    )
    AgencyFactory(
        slug="kytc",
        cabinet=transport,
        firstnet_status="not_engaged",
        firstnet_status_changed_on=date(2017, 1, 1),
    )
    AgencyFactory(
        slug="kyem",
        cabinet=transport,
        firstnet_status="declined",
        firstnet_status_changed_on=date(2019, 1, 1),
    )
    b14 = phone_model(name="B14 phone", has_band14=True)
    old = phone_model(name="Old phone", has_band14=False)
    DeviceFactory(agency=ksp, model=b14, network="firstnet")
    DeviceFactory(agency=ksp, model=old, network="firstnet")
    DeviceFactory(agency=ksp, model=b14, network="commercial")
    DeviceFactory(agency=ksp, model=old, network="commercial")
    return ksp


def test_funnel_runs_from_eligible_agencies_to_band14_devices_on_firstnet(two_cabinets):
    state = funnels(agency_ids=None, as_of=TODAY, today=TODAY)[0]
    stages = {s.stage: (s.count, s.of) for s in state.stages}
    assert stages == {
        "eligible": (4, 4),
        "engaged": (2, 4),
        "subscribed": (1, 4),
        "devices_cellular": (4, 4),
        "devices_firstnet": (2, 4),
        "devices_firstnet_band14": (1, 2),
    }
    assert state.metrics["devices_band14"] == 0.5


def test_funnel_per_cabinet(two_cabinets):
    per = {f.scope: f for f in funnels(agency_ids=None, as_of=TODAY, today=TODAY, by="cabinet")}
    assert per["justice"].metrics["agencies_engaged"] == 1.0
    assert per["transport"].metrics["agencies_engaged"] == 0.0


def test_actual_is_compared_with_every_expectation_version(two_cabinets):
    first = FederalExpectation.objects.create(
        metric="agencies_subscribed",
        version="2018",
        target_value=0.25,
        target_by=date(2020, 12, 31),
        effective_from=date(2018, 1, 1),
        source="illustrative",
        is_illustrative=True,
    )
    FederalExpectation.objects.create(
        metric="agencies_subscribed",
        version="2024",
        target_value=0.5,
        target_by=date(2026, 12, 31),
        effective_from=date(2024, 1, 1),
        source="illustrative",
        is_illustrative=True,
        supersedes=first,
        change_note="target doubled",
    )
    rows = compare_with_expectations(agency_ids=None, as_of=TODAY, today=TODAY)
    by_version = {r.expectation.version: r for r in rows}
    assert by_version["2018"].is_met is True
    assert by_version["2018"].is_current is False
    assert by_version["2024"].is_met is False
    assert by_version["2024"].gap == -0.25
    assert by_version["2024"].is_current is True


def test_history_counts_agencies_per_status_each_month(two_cabinets):
    FirstNetStatusChange.objects.create(
        agency=two_cabinets, status="evaluating", changed_on=date(2017, 11, 15)
    )
    FirstNetStatusChange.objects.create(
        agency=two_cabinets, status="subscribed", changed_on=date(2018, 2, 1)
    )
    line = history(agency_ids=None, start=date(2017, 10, 1), end=date(2018, 3, 1)).set_index("date")
    assert line.at[date(2017, 10, 1), "not_engaged"] == 4
    assert line.at[date(2017, 12, 1), "evaluating"] == 1
    assert line.at[date(2018, 3, 1), "subscribed"] == 1
    assert line.at[date(2018, 3, 1), "subscribed_share"] == 0.25
