"""Inventory pages: each role sees exactly its agency's objects; another agency's answer 404."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devices.models import AuditRecord, Device, DeviceStatusChange, Gateway
from tests.factories import DeviceFactory, DeviceModelFactory, GatewayFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(agency_a, agency_b):
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    return {
        "a": DeviceFactory(agency=agency_a, model=model, serial="KSP-SN-1", status="deployed"),
        "a_stock": DeviceFactory(
            agency=agency_a, model=model, serial="KSP-SN-2", status="in_stock"
        ),
        "b": DeviceFactory(agency=agency_b, model=model, serial="LEX-SN-1", status="deployed"),
        "gw_a": GatewayFactory(agency=agency_a, name="ksp-post-1"),
        "gw_b": GatewayFactory(agency=agency_b, name="lex-hq"),
    }


PAGES = ["/devices/", "/agencies/", "/gateways/", "/audit/", "/devices/{a}/", "/agencies/ksp/"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_need_a_login(page, fleet):
    response = Client().get(page.format(a=fleet["a"].pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("page", "shown", "hidden"),
    [
        ("/devices/", "KSP-SN-1", "LEX-SN-1"),
        ("/gateways/", "ksp-post-1", "lex-hq"),
        ("/agencies/", "Kentucky State Police", "Lexington Police"),
    ],
)
@pytest.mark.parametrize("persona", ["admin_a", "viewer_a"])
def test_agency_users_see_only_their_agency(request, fleet, persona, page, shown, hidden):
    response = request.getfixturevalue(persona).browser.get(page)
    assert response.status_code == 200
    assert shown in response.content.decode()
    assert hidden not in response.content.decode()


def test_state_staff_see_every_agency(state_staff, fleet):
    body = state_staff.browser.get("/devices/").content.decode()
    assert "KSP-SN-1" in body
    assert "LEX-SN-1" in body


@pytest.mark.parametrize("page", ["/devices/{b}/", "/agencies/lex-pd/"])
def test_another_agencys_pages_answer_404(admin_a, fleet, page):
    assert admin_a.browser.get(page.format(b=fleet["b"].pk)).status_code == 404


@pytest.mark.parametrize(
    ("method", "page"),
    [
        ("post", "/devices/{b}/status/"),
        ("post", "/devices/{b}/retire/"),
        ("post", "/gateways/{gw_b}/credential/"),
    ],
)
def test_another_agencys_actions_answer_404_and_change_nothing(admin_a, fleet, method, page):
    url = page.format(b=fleet["b"].pk, gw_b=fleet["gw_b"].pk)
    response = getattr(admin_a.browser, method)(url, {"status": "lost"})
    assert response.status_code == 404
    assert Device.objects.get(pk=fleet["b"].pk).status == "deployed"
    assert not AuditRecord.objects.exists()


@pytest.mark.parametrize(
    "page",
    ["/devices/{a}/status/", "/devices/{a}/retire/", "/gateways/{gw_a}/credential/", "/gateways/"],
)
def test_viewer_cannot_change_anything_from_the_pages(viewer_a, fleet, page):
    url = page.format(a=fleet["a"].pk, gw_a=fleet["gw_a"].pk)
    response = viewer_a.browser.post(url, {"status": "lost", "name": "new-gw"})
    assert response.status_code == 403
    assert not AuditRecord.objects.exists()
    assert Gateway.objects.count() == 2


def test_inventory_filters_counts_and_search(admin_a, fleet):
    response = admin_a.browser.get("/devices/", {"status": "deployed"})
    body = response.content.decode()
    assert "KSP-SN-1" in body
    assert "KSP-SN-2" not in body
    # Status counts ignore the status filter: both of A's devices are counted.
    counts = {value: n for value, _, n in response.context["status_counts"]}
    assert (counts["deployed"], counts["in_stock"]) == (1, 1)
    assert dict(response.context["health_counts"])["never_seen"] == 1
    assert response.context["total"] == 1
    body = admin_a.browser.get("/devices/", {"q": "sn-2"}).content.decode()
    assert "KSP-SN-2" in body
    assert "KSP-SN-1" not in body
    # A bad filter value is ignored, not a crash.
    assert admin_a.browser.get("/devices/", {"status": "nope"}).status_code == 200


def test_inventory_htmx_request_gets_only_the_results(admin_a, fleet):
    response = admin_a.browser.get("/devices/", {"status": "deployed"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "KSP-SN-1" in body
    assert "<html" not in body


def test_inventory_page_query_count_does_not_grow_with_rows(state_staff, agency_a):
    model = DeviceModelFactory()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert state_staff.browser.get("/devices/").status_code == 200
        return len(ctx.captured_queries)

    DeviceFactory(agency=agency_a, model=model, serial="S-0")
    few = queries()
    for i in range(1, 40):
        DeviceFactory(agency=agency_a, model=model, serial=f"S-{i}")
    assert queries() == few


def test_device_page_shows_history_and_loads_the_health_panel(admin_a, fleet):
    device = fleet["a"]
    DeviceStatusChange.objects.create(device=device, from_status="in_stock", to_status="deployed")
    body = admin_a.browser.get(f"/devices/{device.pk}/").content.decode()
    assert f'hx-get="/devices/{device.pk}/health/"' in body
    assert 'hx-trigger="load"' in body
    assert "Deployed" in body
    assert "Change status" in body


def test_viewer_gets_no_action_forms(viewer_a, fleet):
    body = viewer_a.browser.get(f"/devices/{fleet['a'].pk}/").content.decode()
    assert "Change status" not in body
    assert "Retire this device" not in body


def test_admin_changes_status_from_the_device_page(admin_a, fleet):
    device = fleet["a"]
    response = admin_a.browser.post(
        f"/devices/{device.pk}/status/", {"status": "in_repair", "note": "cracked"}
    )
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.status == "in_repair"
    assert AuditRecord.objects.get().message == "cracked"
    admin_a.browser.post(f"/devices/{device.pk}/retire/")
    device.refresh_from_db()
    assert device.status == "retired"
    # A retired device stays retired; the page says why instead of failing.
    response = admin_a.browser.post(
        f"/devices/{device.pk}/status/", {"status": "deployed"}, follow=True
    )
    assert "retired" in response.content.decode()
    assert Device.objects.get(pk=device.pk).status == "retired"


def test_admin_registers_a_gateway_and_sees_the_secret_once(admin_a, fleet):
    response = admin_a.browser.post("/gateways/", {"name": "post-9", "description": "roof"})
    assert response.status_code == 200
    secret = response.context["created"][1]
    assert secret in response.content.decode()
    assert secret not in admin_a.browser.get("/gateways/").content.decode()
    assert Gateway.objects.get(name="post-9").agency == fleet["gw_a"].agency


def test_duplicate_gateway_name_is_shown_on_the_form(admin_a, fleet):
    response = admin_a.browser.post("/gateways/", {"name": "ksp-post-1"})
    assert "already has a gateway" in response.content.decode()
    assert Gateway.objects.count() == 2


def test_audit_page_is_scoped(admin_a, admin_b, viewer_a, state_staff, fleet):
    admin_a.browser.post(f"/devices/{fleet['a'].pk}/status/", {"status": "lost"})
    admin_b.browser.post(f"/devices/{fleet['b'].pk}/status/", {"status": "lost"})
    assert "KSP-SN-1" in viewer_a.browser.get("/audit/").content.decode()
    assert "LEX-SN-1" not in viewer_a.browser.get("/audit/").content.decode()
    body = state_staff.browser.get("/audit/").content.decode()
    assert "KSP-SN-1" in body
    assert "LEX-SN-1" in body
    filtered = state_staff.browser.get("/audit/", {"agency": "lex-pd"}).content.decode()
    assert "KSP-SN-1" not in filtered
    assert "deployed → lost" in filtered


def test_agency_page_shows_firstnet_history_counts_and_gateways(viewer_a, fleet):
    body = viewer_a.browser.get("/agencies/ksp/").content.decode()
    assert "FirstNet participation" in body
    assert "ksp-post-1" in body


def test_nav_links_the_inventory_pages(viewer_a, agency_a):
    body = viewer_a.browser.get("/devices/").content.decode()
    for href in (
        'href="/devices/"',
        'href="/gateways/"',
        'href="/audit/"',
        'href="/agencies/ksp/"',
    ):
        assert href in body
