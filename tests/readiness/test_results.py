"""Results against the real database: versions in effect, waivers, readiness, aggregation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from config.errors import NotFound
from readiness.results import (
    agency_counts,
    evaluate_fleet,
    find_version_in_effect,
    resolve_version,
    scores,
)
from readiness.scoping import visible_agency_ids
from tests.readiness.catalog_helpers import cjis_catalog, make_version, phone
from tests.readiness.waiver_helpers import approved_waiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def cjis():
    built = cjis_catalog(encryption_in_59=True, mdm_weight=3, mdm_applies_to=["smartphone"])
    return built.req_set, built.v59


def test_version_in_effect_is_the_latest_non_draft_one_effective_by_the_date(cjis):
    req_set, v1 = cjis
    v2 = make_version(req_set, "6.0", effective_on=date(2024, 10, 1), supersedes=v1)
    make_version(req_set, "6.1-draft", effective_on=date(2024, 12, 1), status="draft")
    assert find_version_in_effect(req_set, on=date(2019, 12, 31)) is None
    assert find_version_in_effect(req_set, on=date(2024, 9, 30)) == v1
    assert find_version_in_effect(req_set, on=date(2025, 6, 1)) == v2
    v1.status = "retired"
    v1.save()
    # A retired version still answers for the dates it was in effect.
    assert find_version_in_effect(req_set, on=date(2022, 1, 1)) == v1


def test_unknown_set_or_version_is_a_not_found_naming_what_exists(cjis):
    with pytest.raises(NotFound, match="known: cjis-mobile"):
        resolve_version("nope")
    with pytest.raises(NotFound, match="known: 5.9"):
        resolve_version("cjis-mobile", version="9.9")


def test_device_ready_only_when_mandatory_requirements_pass_and_it_reports(
    cjis, agency_a, agency_b
):
    _, v1 = cjis
    good = phone(agency_a)
    unenrolled = phone(agency_a, mdm=False)
    silent = phone(agency_b, online=False)
    fleet = evaluate_fleet(version=v1)
    ready = dict(zip(fleet.devices["device_id"], fleet.devices["is_ready"], strict=True))
    assert ready == {good.pk: True, unenrolled.pk: False, silent.pk: False}
    reason = fleet.results.set_index(["device_id", "stable_key"]).loc[
        (unenrolled.pk, "cjis.mdm"), "reason"
    ]
    assert reason == "not enrolled in MDM"


def test_waiver_turns_a_failure_into_waived_and_the_device_ready(
    cjis, agency_a, admin_a, state_staff, settings
):
    settings.READINESS_WAIVER_CEILING = 0.5
    _, v1 = cjis
    unenrolled = phone(agency_a, mdm=False)
    phone(agency_a)
    approved_waiver(
        requester=admin_a.user,
        approver=state_staff.user,
        agency=agency_a,
        set_code="cjis-mobile",
        requirement_key="cjis.mdm",
        device=unenrolled,
        reason="MDM licence on order",
        expires_at=timezone.now() + timedelta(days=30),
    )
    fleet = evaluate_fleet(version=v1)
    row = fleet.results[
        (fleet.results["device_id"] == unenrolled.pk) & (fleet.results["stable_key"] == "cjis.mdm")
    ]
    assert row["status"].item() == "waived"
    assert fleet.devices.set_index("device_id").at[unenrolled.pk, "is_ready"]
    # 40 days later the waiver has expired by itself: the result is a failure again.
    later = evaluate_fleet(version=v1, at=timezone.now() + timedelta(days=40))
    row = later.results[
        (later.results["device_id"] == unenrolled.pk) & (later.results["stable_key"] == "cjis.mdm")
    ]
    assert row["status"].item() == "fail"


def test_counts_have_one_row_per_requirement_and_a_total_row_per_agency(cjis, agency_a):
    _, v1 = cjis
    phone(agency_a)
    phone(agency_a, mdm=False, online=False)
    counts = agency_counts(evaluate_fleet(version=v1)).set_index("key")
    assert counts.at["cjis.mdm", "n_pass"] == 1
    assert counts.at["cjis.mdm", "n_fail"] == 1
    assert counts.at["cjis.mdm", "n_reporting"] == 1
    assert counts.at["", "n_pass"] == 1  # ready devices
    assert counts.at["", "n_fail"] == 1


def test_weighted_scores_and_coverage_per_agency_and_statewide(
    cjis, agency_a, agency_b, state_staff
):
    phone(agency_a)
    phone(agency_a, mdm=False)  # fails MDM (weight 3), passes encryption (weight 1)
    phone(agency_b, online=False)  # passes both but silent
    by_agency = scores(
        agency_ids=visible_agency_ids(state_staff.user), set_code="cjis-mobile", group_by="agency"
    ).rows.set_index("group")
    assert by_agency.at["ksp", "score"] == pytest.approx(100 * (3 + 1 + 1) / 8)
    assert by_agency.at["ksp", "ready"] == 1
    assert by_agency.at["ksp", "coverage"] == 1.0
    assert by_agency.at["lex-pd", "score"] == 100.0
    assert by_agency.at["lex-pd", "ready"] == 0
    assert by_agency.at["lex-pd", "coverage"] == 0.0
    state = scores(
        agency_ids=visible_agency_ids(state_staff.user), set_code="cjis-mobile", group_by="state"
    ).rows
    assert state["devices"].tolist() == [3]
    assert state["ready_pct"].tolist() == [pytest.approx(33.33)]


def test_agency_user_sees_only_their_agency(cjis, agency_a, agency_b, viewer_a):
    phone(agency_a)
    phone(agency_b)
    rows = scores(
        agency_ids=visible_agency_ids(viewer_a.user), set_code="cjis-mobile", group_by="agency"
    ).rows
    assert rows["group"].tolist() == ["ksp"]
    state = scores(
        agency_ids=visible_agency_ids(viewer_a.user), set_code="cjis-mobile", group_by="state"
    ).rows
    assert state["devices"].tolist() == [1]


def test_past_date_without_a_snapshot_says_how_to_make_one(cjis, state_staff):
    with pytest.raises(NotFound, match="snapshot_readiness"):
        scores(
            agency_ids=visible_agency_ids(state_staff.user),
            set_code="cjis-mobile",
            as_of=timezone.localdate() - timedelta(days=3),
        )
