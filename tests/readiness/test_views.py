"""Dashboard pages for every role: what each sees, what each is refused, and how errors read."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.readiness.catalog_helpers import phone
from tests.readiness.dashboard_scenario import build_scenario

pytestmark = pytest.mark.django_db

STATE_PAGES = [
    reverse("readiness:overview"),
    reverse("readiness:overview_live"),
    reverse("readiness:requirement_sets"),
    reverse("readiness:requirement_set", args=["cjis-mobile"]),
    reverse("readiness:whatif", args=["cjis-mobile"]),
    reverse("readiness:whatif_results", args=["cjis-mobile"]) + "?from=6.0&to=7.0",
    reverse("readiness:participation"),
    reverse("readiness:portfolio"),
    reverse("readiness:portfolio_cabinet", args=["justice"]),
]
KSP_PAGES = [
    reverse("readiness:agency", args=["ksp"]),
    reverse("readiness:agency_live", args=["ksp"]),
    reverse("readiness:agency_failing", args=["ksp"]),
]
LEX_PAGES = [url.replace("/ksp/", "/lex-pd/") for url in KSP_PAGES]


@pytest.fixture
def scenario(agency_a, agency_b, state_staff):
    return build_scenario(agency_a, agency_b, brm=state_staff.user)


def test_state_staff_land_on_the_overview(scenario, state_staff):
    assert state_staff.browser.get("/").url == reverse("readiness:overview")


@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
def test_agency_users_land_on_their_agency_page(scenario, persona, request):
    user = request.getfixturevalue(persona)
    assert user.browser.get("/").url == reverse("readiness:agency", args=["ksp"])


@pytest.mark.parametrize(
    "url", STATE_PAGES + KSP_PAGES + LEX_PAGES + [reverse("readiness:briefings")]
)
def test_state_staff_reach_every_page(scenario, state_staff, url):
    response = state_staff.browser.get(
        url, follow=True
    )  # a BRM's portfolio redirects to their cabinet
    assert response.status_code == 200, response.content[:500]


@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
@pytest.mark.parametrize("url", KSP_PAGES)
def test_agency_users_reach_their_own_agency(scenario, persona, url, request):
    assert request.getfixturevalue(persona).browser.get(url).status_code == 200


@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
@pytest.mark.parametrize("url", LEX_PAGES)
def test_another_agencys_pages_answer_404(scenario, persona, url, request):
    assert request.getfixturevalue(persona).browser.get(url).status_code == 404


def test_the_other_agencys_admin_cannot_see_ksp_either(scenario, admin_b):
    for url in KSP_PAGES:
        assert admin_b.browser.get(url).status_code == 404


@pytest.mark.parametrize("persona", ["admin_a", "viewer_a", "admin_b"])
@pytest.mark.parametrize("url", STATE_PAGES)
def test_agency_users_cannot_open_statewide_pages(scenario, persona, url, request):
    assert request.getfixturevalue(persona).browser.get(url).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(scenario, client):
    for url in STATE_PAGES[:1] + KSP_PAGES[:1]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_overview_shows_headline_figures_trend_and_agencies_with_data_times(scenario, state_staff):
    html = state_staff.browser.get(reverse("readiness:overview")).content.decode()
    assert 'data-figure="devices">7<' in html
    assert 'data-figure="online">6<' in html
    assert 'data-figure="alerts">1<' in html
    assert 'data-figure="ready-pct">57.1%<' in html
    assert 'data-figure="participating">1 / 3<' in html
    # Today's figures are the latest evaluation of record's, with its time.
    assert f'as of <time datetime="{scenario.today:%Y-%m-%d}T' in html
    assert "(evaluation of record)" in html
    assert "Data as of" in html  # the footer's render time
    assert 'id="chart-trend"' in html
    assert "/static/vendor/plotly/plotly.min.js" in html
    assert "cdn." not in html


def test_live_partial_is_a_fragment_that_polls_every_30_seconds(scenario, state_staff):
    html = state_staff.browser.get(
        reverse("readiness:overview_live") + "?kind=fire", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 30s"' in html
    assert 'data-figure="devices">1<' in html  # the fire agency only


def test_live_figures_are_shared_between_viewers_until_their_time_is_up(
    scenario, state_staff, settings
):
    def devices_now() -> int:
        html = state_staff.browser.get(reverse("readiness:overview_live")).content.decode()
        return int(re.search(r'data-figure="devices">(\d+)<', html).group(1))

    cache.clear()
    settings.TRACKER_LIVE_FIGURES_SECONDS = 600
    before = devices_now()
    phone(scenario.fire, serial="FIRE-NEW", firmware="3.2.1")
    assert devices_now() == before  # the reading shared while it lasts
    cache.clear()  # its time is up (expiry itself: tests/readiness/test_figures_cache.py)
    assert devices_now() == before + 1


def test_agency_table_sorts_by_the_chosen_column(scenario, state_staff):
    url = reverse("readiness:overview")
    asc = state_staff.browser.get(url + "?sort=ready_pct&dir=asc").content.decode()
    desc = state_staff.browser.get(url + "?sort=ready_pct&dir=desc").content.decode()
    assert asc.index("Frankfort Fire</a>") > asc.index("Kentucky State Police</a>")
    assert desc.index("Frankfort Fire</a>") < desc.index("Kentucky State Police</a>")
    assert 'aria-sort="descending"' in desc


def test_filters_change_the_figures(scenario, state_staff):
    html = state_staff.browser.get(
        reverse("readiness:overview") + "?cabinet=public-protection"
    ).content.decode()
    assert 'data-figure="ready-pct">100.0%<' in html
    assert "Lexington Police</a>" not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("as_of=yesterday", "is not a date: use YYYY-MM-DD"),
        ("kind=navy", "Unknown agency kind"),
        ("set=nope", "Unknown requirement set"),
        ("version=9.9", "has no version"),
    ],
)
def test_a_bad_filter_gets_a_page_that_says_what_to_change(scenario, state_staff, query, message):
    response = state_staff.browser.get(reverse("readiness:overview") + "?" + query)
    assert response.status_code in (400, 404, 422)
    assert message in response.content.decode()


def test_agency_page_lists_gateways_alerts_and_waiver_states(scenario, admin_a):
    html = admin_a.browser.get(reverse("readiness:agency", args=["ksp"])).content.decode()
    assert "post-1" in html
    assert '<span class="badge online">online</span>' in html
    assert "no reading for 20 minutes" in html
    assert "No waivers." in html
    assert 'hx-get="/dashboard/agencies/ksp/failing/' in html


def test_failing_devices_partial_gives_every_reason(scenario, viewer_a):
    html = viewer_a.browser.get(reverse("readiness:agency_failing", args=["ksp"])).content.decode()
    assert "KSP-NOENC" in html
    assert "ENC-2: " in html
    assert "not reporting (never seen)" in html
    assert "KSP-OK-1" not in html


def test_whatif_results_show_newly_failing_and_the_plan(scenario, state_staff):
    html = state_staff.browser.get(
        reverse("readiness:whatif_results", args=["cjis-mobile"]) + "?from=6.0&to=7.0"
    ).content.decode()
    assert "6.0 → 7.0" in html
    assert "KSP-OK-2" in html  # firmware 3.1.0 is below the draft's 3.2.1
    assert "Remediation plan" in html


def test_requirement_set_page_shows_versions_side_by_side(scenario, state_staff):
    html = state_staff.browser.get(
        reverse("readiness:requirement_set", args=["cjis-mobile"])
    ).content.decode()
    for text in (
        "Version 5.9",
        "Version 6.0",
        "Version 7.0",
        "renumbered",
        "MDM-1",
        "MDM-2",
        "FW-3",
    ):
        assert text in html


def test_participation_page_compares_with_every_expectation(scenario, state_staff):
    html = state_staff.browser.get(reverse("readiness:participation")).content.decode()
    assert "Share of eligible agencies subscribed" in html
    assert "33.3%" in html
    assert "not met" in html
    assert 'id="chart-participation"' in html


def test_portfolio_of_a_brm_lands_on_their_cabinet_with_a_briefing_button(scenario, state_staff):
    response = state_staff.browser.get(reverse("readiness:portfolio"))
    assert response.url == reverse("readiness:portfolio_cabinet", args=["justice"])
    html = state_staff.browser.get(response.url).content.decode()
    assert 'name="scope" value="cabinet:justice"' in html
    assert "Kentucky State Police" in html
    assert "Frankfort Fire" not in html


def test_agency_user_may_brief_only_on_their_agency(scenario, viewer_a):
    html = viewer_a.browser.get(reverse("readiness:briefings")).content.decode()
    assert 'value="agency:ksp"' in html
    assert 'value="state"' not in html
    assert 'value="agency:lex-pd"' not in html
    url = reverse("readiness:briefings")
    assert viewer_a.browser.post(url, {"scope": "state", "format": "pdf"}).status_code == 403
    assert (
        viewer_a.browser.post(url, {"scope": "agency:lex-pd", "format": "pdf"}).status_code == 404
    )


def test_a_bad_briefing_request_is_refused_with_the_reason_and_nothing_is_queued(
    scenario, state_staff
):
    from readiness.models import BriefingExport

    url = reverse("readiness:briefings")
    response = state_staff.browser.post(
        url, {"scope": "state", "set": "cjis-mobile", "version": "9.9", "format": "pdf"}
    )
    assert response.status_code == 404
    assert "has no version" in response.content.decode()
    response = state_staff.browser.post(url, {"scope": "state", "format": "docx"})
    assert response.status_code == 422
    assert not BriefingExport.objects.exists()
