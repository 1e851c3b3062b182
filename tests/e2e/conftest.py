"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, which makes Django refuse ORM calls
from it; the tests only set up data and read rows between browser steps, so the guard is
lifted here, for these tests only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import skip_or_fail

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        skip_or_fail(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """What a page did that a test must check: console errors, and requests leaving the server."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.foreign_requests == [], f"requests outside the server: {self.foreign_requests}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh context (tablet-to-laptop width) whose page records console errors and foreign requests."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    origin = urlsplit(live_server.url)
    watched = Watched(origin=live_server.url)

    def on_request(request) -> None:  # noqa: ANN001
        url = urlsplit(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if (url.hostname, url.port) != (origin.hostname, origin.port):
            watched.foreign_requests.append(request.url)

    page.on("request", on_request)
    page.on(
        "console",
        lambda msg: watched.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: watched.console_errors.append(str(exc)))
    page.set_default_timeout(20_000)
    yield page, watched
    context.close()


# ---------------------------------------------------------------------------------------------
# Every page of the product, in one list that the policy test and the accessibility test share.
#
# A page without a parameter in its route is found in the URL conf: nothing to add. A page
# with one is a line in PAGES_WITH_PARAMETERS, its fields filled from the Site below. A page
# a role may not open (403/404) or a download is skipped for that role.

PASSWORD = "correct horse battery staple"  # noqa: S105  (tests.factories.UserFactory's)

# Routes that are not pages: probes, the API's JSON, the admin (Django's own) and the WebAuthn
# ceremonies' JSON (django-otp-webauthn's views, driven by a page's script).
NOT_PAGES = ("/api/", "/admin/", "/metrics", "/healthz", "/readyz", "/logout/", "/webauthn/")

PAGES_WITH_PARAMETERS = (
    "/api/docs",  # Swagger UI, served locally
    "/devices/{device}/",  # the health panel arrives by HTMX and draws a chart
    "/devices/{device}/health/?range=30d",  # the history range form without JavaScript
    "/agencies/{agency}/",
    "/dashboard/agencies/{agency}/",  # the failing-devices table arrives by HTMX
    "/dashboard/requirements/{requirement_set}/",
    "/dashboard/requirements/{requirement_set}/whatif/?from=6.0&to=7.0",  # results by HTMX
    "/dashboard/portfolio/{cabinet}/",
    "/telemetry/dead-letters/{dead_letter}/",
    "/briefings/{briefing}/",
    "/telemetry/readings-exports/{readings_export}/",  # a large export's progress (its requester's)
    "/users/{user}/",  # another account's page: the role form, deactivate, history
    "/accounts/invitation/{invitation}/",  # the e-mailed link's page
    "/waivers/{waiver}/",  # a pending waiver: the approve/reject form for state staff
    # A bulk edit's preview (before → after per device, then the confirm button).
    "/devices/bulk/?ids={device}&action=status&new_status=in_repair",
    # The list sorted and with chosen columns: sort headings and the column chooser.
    "/devices/?sort=-serial&cols=serial&cols=imei&cols=mdm&cols=status_since",
    "/devices/{device}/edit/",  # the device form, filled
    "/officers/{officer}/",  # what an officer holds now and held before, and the edit form
    "/devices/{checked_out_device}/",  # a device out to an officer: the check-in form
    "/devices/scan/?code=LEX-OK",  # scan to find: for an agency admin, another agency's device
    "/agencies/{agency}/edit/",  # state staff's agency form
    "/cabinets/{cabinet}/edit/",
    "/catalog/{device_model}/edit/",
    "/gateways/{gateway}/edit/",
    "/dashboard/requirements/{requirement_set}/drafts/",  # a draft's start form
    "/dashboard/requirements/{requirement_set}/drafts/{draft}/",  # requirements and publish
    "/dashboard/requirements/{requirement_set}/drafts/{draft}/requirements/new/",
    "/dashboard/requirements/{requirement_set}/drafts/{draft}/requirements/{draft_key}/",
)

# Pages whose content a script draws after load: the element that shows it is drawn.
DRAWN_BY_SCRIPT = {"/api/docs": "#swagger-ui .opblock"}


@dataclass
class Site:
    """The scenario's people and the objects that fill PAGES_WITH_PARAMETERS."""

    scenario: object
    staff: object
    admin: object
    fields: dict[str, object]

    def paths(self) -> list[str]:
        from django.urls import get_resolver

        found = _page_routes(get_resolver().url_patterns)
        return found + [p.format(**self.fields) for p in PAGES_WITH_PARAMETERS]


def _page_routes(patterns: list, prefix: str = "") -> list[str]:
    from django.urls import URLResolver

    routes: list[str] = []
    for entry in patterns:
        route = str(entry.pattern)
        if "<" in route or route.startswith("^"):
            continue
        if isinstance(entry, URLResolver):
            routes += _page_routes(entry.url_patterns, prefix + route)
        else:
            routes.append("/" + prefix + route)
    return sorted({r for r in routes if not r.startswith(NOT_PAGES)})


@pytest.fixture
def site(agency_a, agency_b, settings) -> Site:
    """The dashboard scenario, plus a row for every page that shows one (a dead letter, a
    maintenance window, a briefing, a pending waiver, another user, an invitation), as state staff
    and as an agency admin."""
    from datetime import timedelta

    from django.utils import timezone

    from devices.models import Device
    from readiness.models import BriefingExport
    from readiness.waivers import request_waiver
    from telemetry.models import DeadLetter, MaintenanceWindow
    from tests.factories import UserFactory
    from tests.readiness.dashboard_scenario import build_scenario

    staff = UserFactory(username="cio-analyst", role="state_staff", agency=None)
    admin = UserFactory(username="ksp-admin", role="agency_admin", agency=agency_a)
    scenario = build_scenario(agency_a, agency_b, brm=staff, snapshot_days=2)
    now = timezone.now()
    dead = DeadLetter.objects.create(
        topic="tracker/v1/ksp/post-1/telemetry",
        agency=agency_a,
        gateway_name="post-1",
        reason=DeadLetter.Reason.NOT_JSON,
        detail="not JSON",
        payload="{oops",
        payload_bytes=5,
    )
    MaintenanceWindow.objects.create(
        agency=agency_a,
        title="Docked overnight",
        recurrence="once",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=6),
        created_by=admin,
    )
    briefing = BriefingExport.objects.create(
        requested_by=admin,
        agency=agency_a,
        scope=f"agency:{agency_a.slug}",
        scope_label=agency_a.name,
        format="pdf",
        as_of=scenario.today,
    )
    from devices.users import invite_user

    trooper = UserFactory(username="ksp-trooper", role="agency_viewer", agency=agency_a)
    _, invitation = invite_user(
        actor=admin,
        email="invited@ksp.example.gov",
        role="agency_viewer",
        agency_id=agency_a.pk,
        now=now,
    )
    settings.READINESS_WAIVER_CEILING = 0.5  # one waiver in a small fleet is above the 10%
    waiver = request_waiver(
        actor=admin,
        agency=agency_a,
        set_code=scenario.v60.requirement_set.code,
        requirement_key="cjis.enc",
        device=scenario.devices["ksp-noenc"],
        reason="Encryption licence on order",
        expires_at=now + timedelta(days=30),
    )
    from devices.assignments import check_out
    from devices.models import Officer

    officer = Officer.objects.create(agency=agency_a, name="Dana Reyes", badge="1042")
    out = Device.objects.filter(agency=agency_a).exclude(status="retired").order_by("pk").last()
    check_out(actor=admin, device_id=out.pk, officer_id=officer.pk, unit="Post 12")
    from devices.models import Gateway

    gateway, _ = Gateway.objects.get_or_create(agency=agency_a, name="post-1")
    from telemetry import readings_jobs

    export = readings_jobs.ExportJob(
        id="0" * 31 + "1",
        requested_by_id=admin.pk,
        format="parquet",
        start=(now - timedelta(days=7)).isoformat(),
        end=now.isoformat(),
        fields=["battery_pct"],
        label=agency_a.slug,
        scope_agency_id=agency_a.pk,
        rows_total=250_000,
    )
    readings_jobs.save_job(export)
    from readiness.drafts import create_draft

    draft = create_draft(
        set_code=scenario.v60.requirement_set.code, version="9.9", actor=staff, today=scenario.today
    )
    fields = {
        "gateway": gateway.pk,
        "device_model": out.model_id,
        "officer": officer.pk,
        "checked_out_device": out.pk,
        "readings_export": export.id,
        "draft": draft.pk,
        "draft_key": draft.requirements.order_by("key").first().key,
        "user": trooper.pk,
        "invitation": invitation,
        "device": Device.objects.filter(agency=agency_a).order_by("pk").first().pk,
        "agency": agency_a.slug,
        "cabinet": agency_a.cabinet.slug,
        "requirement_set": scenario.v60.requirement_set.code,
        "dead_letter": dead.pk,
        "briefing": briefing.pk,
        "waiver": waiver.pk,
    }
    return Site(scenario=scenario, staff=staff, admin=admin, fields=fields)


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def wait_for_charts(page, path: str) -> None:
    """Each figure's div must end up holding plotly's SVG, named as an image: drawn from its
    JSON block by static/js/charts.js, with no inline script."""
    # A function, not a bare expression: Playwright evaluates an expression with eval(),
    # which the policy forbids.
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[data-plotly]'))"
            ".every((box) => box.querySelector('.plot-container svg.main-svg[role=img]'))",
            timeout=30_000,
        )
    except PlaywrightTimeout:
        pytest.fail(f"{path}: a chart was not drawn")


def open_each_page(page, live_server, paths: list[str]) -> Iterator[tuple[str, object]]:
    """Open each path this role may open, once its HTMX partials and charts are in; yield the
    path and the response of a first plain request (its headers)."""
    for path in paths:
        probe = page.request.get(f"{live_server.url}{path}")
        assert probe.status < 500, f"{path}: {probe.status}"
        if probe.status != 200 or not probe.headers.get("content-type", "").startswith("text/html"):
            continue  # a download, or a page this role may not open
        if "<html" not in probe.text()[:200]:
            continue  # an HTMX partial: it is checked inside the page that loads it
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        wait_for_charts(page, path)
        if path in DRAWN_BY_SCRIPT:
            page.locator(DRAWN_BY_SCRIPT[path]).first.wait_for()
        yield path, probe
