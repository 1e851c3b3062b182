"""Portfolios: one cabinet's agencies, alerts, expiring waivers and upcoming versions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from config.errors import NotFound
from readiness.portfolios import build_portfolio
from telemetry.models import Alert
from tests.factories import AgencyFactory, CabinetFactory
from tests.readiness.catalog_helpers import MDM, make_requirement, make_set, make_version, phone
from tests.readiness.waiver_helpers import approved_waiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def cabinet(agency_a, agency_b, state_staff, settings):
    settings.READINESS_WAIVER_CEILING = 1.0
    cab = agency_a.cabinet
    cab.brm = state_staff.user
    cab.save()
    AgencyFactory(slug="kytc", cabinet=CabinetFactory(slug="transport", name="Transportation"))
    req_set = make_set()
    v1 = make_version(req_set, "5.9", effective_on=date(2020, 1, 1))
    make_requirement(v1, "cjis.mdm", "MDM", MDM)
    make_version(
        req_set, "6.0", effective_on=timezone.localdate() + timedelta(days=60), supersedes=v1
    )
    make_version(req_set, "6.1", effective_on=timezone.localdate() + timedelta(days=200))
    return cab


def test_portfolio_of_a_cabinet_by_its_brm(cabinet, agency_a, agency_b, admin_a, state_staff):
    phone(agency_a)
    unenrolled = phone(agency_a, mdm=False)
    phone(agency_b, online=False)
    Alert.objects.create(
        agency=agency_a, device=unenrolled, cause="device_unhealthy", detail="battery 5%"
    )
    soon = approved_waiver(
        requester=admin_a.user,
        approver=state_staff.user,
        agency=agency_a,
        set_code="cjis-mobile",
        requirement_key="cjis.mdm",
        device=unenrolled,
        reason="on order",
        expires_at=timezone.now() + timedelta(days=10),
    )
    portfolio = build_portfolio(key=state_staff.user.username)
    assert portfolio.cabinet == cabinet
    lines = {line.slug: line for line in portfolio.agencies}
    assert set(lines) == {"ksp", "lex-pd"}
    assert lines["ksp"].open_alerts == 1
    assert lines["ksp"].readiness["cjis-mobile"]["ready_pct"] == 100.0  # waived
    assert lines["lex-pd"].readiness["cjis-mobile"]["coverage"] == 0.0
    assert [w.pk for w in portfolio.expiring_waivers] == [soon.pk]
    assert [v.version for v in portfolio.upcoming_versions] == ["6.0"]  # 6.1 is beyond 90 days


def test_portfolio_by_slug_and_unknown_key(cabinet, state_staff):
    assert build_portfolio(key="justice").cabinet == cabinet
    with pytest.raises(NotFound, match="No cabinet"):
        build_portfolio(key="nobody")


def test_portfolios_are_for_state_staff(cabinet, admin_a):
    # build_portfolio takes no user: the API checks the viewer before asking for one.
    assert admin_a.client.get("/api/readiness/portfolios/justice").status_code == 403
