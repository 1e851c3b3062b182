"""The dashboard pages' data layer against a real database: figures equal the engine's, few queries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.errors import InvalidInput
from devices.models import Agency, FirstNetStatusChange
from readiness import catalog_pages, pages, participation_pages, scoping
from readiness.briefings.data import BriefingParams, briefing_figures, build_briefing_data
from readiness.failing_devices import failing_devices
from readiness.filters import Filters, parse_filters
from readiness.results import scores
from readiness.snapshots import compute_snapshots
from tests.factories import AgencyFactory
from tests.readiness.catalog_helpers import phone
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(agency_a, agency_b):
    return build_scenario(agency_a, agency_b)


def state(user):
    return scoping.state_scope(user, Filters())


def test_filters_refuse_a_bad_date_a_future_date_and_an_unknown_kind_naming_each_field():
    today = date(2026, 11, 20)
    with pytest.raises(InvalidInput) as bad:
        parse_filters(QueryDict("as_of=20-11-2026&kind=navy"), today=today)
    fields = [e["field"] for e in bad.value.errors]
    assert fields == ["as_of", "kind"]
    assert "YYYY-MM-DD" in bad.value.message
    with pytest.raises(InvalidInput, match="in the future"):
        parse_filters(QueryDict("as_of=2026-11-21"), today=today)


def test_filters_round_trip_through_the_query_string():
    filters = parse_filters(
        QueryDict("set=cjis-mobile&as_of=2026-01-02&cabinet=justice&kind=police"),
        today=date(2026, 11, 20),
    )
    again = parse_filters(QueryDict(filters.query()), today=date(2026, 11, 20))
    assert again == filters


def test_live_figures_count_devices_online_and_open_alerts_per_scope(scenario, state_staff):
    live = pages.live_figures(state(state_staff.user), now=timezone.now())
    assert live.devices == 7
    assert live.online_now == 6  # the silent phone was never seen
    assert live.open_alerts == 1
    assert dict(zip(live.health["level"], live.health["devices"], strict=True))["never_seen"] == 1
    ksp = pages.live_figures(scoping.agency_scope(state_staff.user, "ksp"), now=timezone.now())
    assert (ksp.devices, ksp.online_now, ksp.open_alerts) == (4, 3, 1)
    assert int(ksp.mix["devices"].sum()) == 4


def test_statewide_readiness_from_the_snapshot_equals_the_engines_live_scores(
    scenario, state_staff
):
    fig = pages.readiness_figures(
        state(state_staff.user), Filters(), today=scenario.today, now=timezone.now()
    )
    live = scores(
        agency_ids=scoping.visible_agency_ids(state_staff.user),
        set_code="cjis-mobile",
        group_by="state",
    ).rows.iloc[0]
    assert fig.version == "6.0"
    assert fig.snapshot_date == scenario.today
    assert (fig.total["devices"], fig.total["ready"]) == (7, 4)
    assert fig.total["ready_pct"] == pytest.approx(float(live["ready_pct"]))
    by_agency = dict(zip(fig.agencies["group"], fig.agencies["ready_pct"], strict=True))
    assert by_agency == {"ksp": 50.0, "lex-pd": 50.0, "frankfort-fire": 100.0}
    assert list(fig.cabinets["name"]) == [
        "Justice and Public Safety Cabinet",
        "Public Protection Cabinet",
    ]
    assert list(fig.trend["date"]) == [
        scenario.today - timedelta(days=2),
        scenario.today - timedelta(days=1),
        scenario.today,
    ]


def test_requirement_table_counts_each_requirement_of_the_version(scenario, state_staff):
    fig = pages.readiness_figures(
        state(state_staff.user), Filters(), today=scenario.today, now=timezone.now()
    )
    reqs = fig.requirements.set_index("code")
    assert int(reqs.loc["ENC-2", "failed"]) == 1
    assert int(reqs.loc["MDM-2", "failed"]) == 1
    # the never-seen phone still has attributes: it passes both rules but is not ready (silent)
    assert reqs.loc["MDM-2", "pass_pct"] == pytest.approx(round(100 * 6 / 7, 1))


def test_cabinet_county_and_kind_filters_narrow_the_scope(scenario, state_staff):
    user = state_staff.user
    fire = scoping.state_scope(user, Filters(agency_kind="fire"))
    assert fire.agency_ids == [scenario.fire.pk]
    assert "Fire" in fire.label
    fayette = pages.readiness_figures(
        scoping.state_scope(user, Filters(county="Fayette")),
        Filters(),
        today=scenario.today,
        now=timezone.now(),
    )
    assert list(fayette.agencies["group"]) == ["lex-pd"]
    with pytest.raises(InvalidInput, match="Unknown cabinet"):
        scoping.state_scope(user, Filters(cabinet="navy"))


@pytest.mark.parametrize(
    ("version", "message"),
    [("5.9", "snapshot_readiness"), ("7.0", "what-if")],
)
def test_a_version_without_snapshots_says_what_to_do(scenario, state_staff, version, message):
    fig = pages.readiness_figures(
        state(state_staff.user), Filters(version=version), today=scenario.today, now=timezone.now()
    )
    assert fig.empty_message
    assert message in fig.empty_message


def test_no_requirement_sets_says_how_to_load_them(state_staff):
    fig = pages.readiness_figures(
        state(state_staff.user), Filters(), today=date.today(), now=timezone.now()
    )
    assert "load_requirements" in fig.empty_message


def test_overview_queries_do_not_grow_with_the_fleet(scenario, state_staff):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            scope = state(state_staff.user)
            pages.live_figures(scope, now=timezone.now())
            pages.readiness_figures(scope, Filters(), today=scenario.today, now=timezone.now())
            participation_pages.participation_headline(scope, as_of=scenario.today)
        return len(ctx.captured_queries)

    before = count()
    for i in range(5):
        extra = AgencyFactory(slug=f"extra-{i}", cabinet=scenario.fire.cabinet)
        for _ in range(3):
            phone(extra)
    compute_snapshots(as_of=scenario.today)
    assert count() == before
    assert before <= 20


def test_agency_failing_devices_carry_the_engines_reasons(scenario, state_staff):
    failing = failing_devices(
        scoping.agency_scope(state_staff.user, "ksp"), Filters(), now=timezone.now()
    )
    assert not isinstance(failing, str)
    by_serial = {row["serial"]: row["reasons"] for row in failing.rows}
    assert set(by_serial) == {"KSP-NOENC", "KSP-SILENT"}
    assert by_serial["KSP-NOENC"][0].startswith("ENC-2: ")
    assert by_serial["KSP-SILENT"] == ["not reporting (never seen)"]


def test_failing_devices_without_any_requirement_set_say_what_the_page_says(viewer_a):
    # No set loaded: the agency page explains, and its failing list (loaded after it) agrees
    # instead of answering an error the browser logs.
    page = viewer_a.browser.get("/dashboard/agencies/ksp/")
    failing = viewer_a.browser.get("/dashboard/agencies/ksp/failing/")
    assert (page.status_code, failing.status_code) == (200, 200)
    assert "No requirement sets are loaded yet" in page.content.decode()
    assert "No requirement sets are loaded yet" in failing.content.decode()


def test_participation_headline_compares_with_the_expectation_in_effect(scenario, state_staff):
    head = participation_pages.participation_headline(state(state_staff.user), as_of=scenario.today)
    assert (head.agencies, head.participating) == (3, 1)
    assert head.expectation_target == 50.0
    assert head.expectation_actual == 33.3
    assert head.met is False
    before = participation_pages.participation_headline(
        state(state_staff.user), as_of=date(2018, 12, 31)
    )
    assert before.participating == 0  # KSP subscribed in 2019; no expectation yet in 2018
    assert before.expectation_label == ""


def test_set_comparison_lines_up_each_key_across_versions(scenario):
    comparison = catalog_pages.set_comparison("cjis-mobile", as_of=scenario.today)
    assert [v.version for v in comparison.versions] == ["5.9", "6.0", "7.0"]
    rows = {r["key"]: r["by_version"] for r in comparison.rows}
    mdm_59, mdm_60, mdm_70 = rows["cjis.mdm"]
    assert (mdm_59["code"], mdm_60["relation"], mdm_70["code"]) == ("MDM-1", "renumbered", "MDM-3")
    assert rows["cjis.fw"][:2] == [None, None]
    assert mdm_60["pass_pct"] == pytest.approx(round(100 * 6 / 7, 1))
    assert mdm_70["pass_pct"] is None  # a draft is never snapshotted


def test_briefing_data_for_a_cabinet_covers_only_its_agencies(scenario):
    data = build_briefing_data(BriefingParams(scope="cabinet:justice", set_code="cjis-mobile"))
    assert set(data.agencies["agency"]) == {"Kentucky State Police", "Lexington Police"}
    assert data.headline.devices == 6
    assert data.headline.ready == 3
    assert data.headline.open_alerts == 1
    assert set(data.failing_devices["serial"]) == {"KSP-NOENC", "KSP-SILENT", "LEX-NOMDM"}


def test_briefing_data_is_reproducible_for_the_same_parameters(scenario):
    params = BriefingParams(
        scope="state", set_code="cjis-mobile", as_of=scenario.today - timedelta(days=1)
    )
    first = build_briefing_data(params)
    second = build_briefing_data(params)
    assert first.generated_at != second.generated_at
    assert first.data_hash == second.data_hash
    assert first.headline == second.headline


def test_changes_since_an_earlier_briefing_list_fleet_status_and_version_changes(scenario):
    earlier = build_briefing_data(
        BriefingParams(
            scope="state", set_code="cjis-mobile", as_of=scenario.today - timedelta(days=2)
        )
    )
    previous = {"id": 1, **briefing_figures(earlier)}
    previous["as_of"] = (scenario.today - timedelta(days=45)).isoformat()  # before 6.0 took effect
    phone(scenario.lex, serial="LEX-NEW")
    FirstNetStatusChange.objects.create(
        agency=scenario.lex, status="pilot", changed_on=scenario.today
    )
    Agency.objects.filter(pk=scenario.lex.pk).update(
        firstnet_status="pilot", firstnet_status_changed_on=scenario.today
    )
    later = build_briefing_data(
        BriefingParams(scope="state", set_code="cjis-mobile"), previous=previous
    )
    changes = later.changes
    assert (changes.devices_before, changes.devices_after) == (7, 8)
    assert list(changes.requirement_changes["version"]) == ["6.0"]
    assert "1 new" in changes.requirement_changes["change"].iloc[0]
    assert "1 renumbered" in changes.requirement_changes["change"].iloc[0]
    part = changes.participation_changes.set_index("agency")
    assert part.loc["Lexington Police", "from_status"] == "Not engaged"
    assert part.loc["Lexington Police", "to_status"] == "Pilot"


def test_the_pages_trend_equals_the_snapshot_trend_of_the_api(scenario):
    from readiness.snapshots import trend

    start = scenario.today - timedelta(days=10)
    for ids in (None, [scenario.ksp.pk]):
        fast = pages.trend_totals("cjis-mobile", ids, start=start, end=scenario.today)
        full = trend(set_code="cjis-mobile", agency_ids=ids, start=start, end=scenario.today)
        assert list(fast["date"]) == list(full["date"])
        assert list(fast["ready_pct"]) == pytest.approx(list(full["ready_pct"].astype(float)))
        assert list(fast["coverage_pct"]) == pytest.approx(
            [100 * c for c in full["coverage"].astype(float)]
        )
