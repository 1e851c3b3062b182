"""Shared fixtures: personas for each role in two agencies, API clients with real tokens.

Service-dependent tests are marked (mqtt, celery, mosquitto, browser). On a developer's
machine without a service they are skipped with the reason; CI sets TRACKER_REQUIRE_SERVICES=1
so a missing service fails the run instead of skipping silently.

Also here, for every app: `clock` (one reading of the clock per test, passed to core
functions as `now`/`today`), `wait_for` (poll with a timeout, never sleep a fixed time) and
`worker` (a real Celery worker on a queue of this run only).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from config.celery import app as celery_app
from devices.auth import issue_token
from devices.models import Agency, ApiToken, User
from tests.factories import AgencyFactory, CabinetFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("TRACKER_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


def wait_for(
    condition: Callable[[], object], *, timeout: float = 20.0, what: str = "condition"
) -> object:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    interval = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


@dataclass(frozen=True)
class Clock:
    """One instant for a whole test: ``now``, and ``today`` in the site's time zone."""

    now: datetime

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)


@pytest.fixture
def clock() -> Clock:
    """The clock read once, for the test to pass as ``now``/``today`` to every core function.

    Read once rather than fixed at a constant: the fleet a test builds is seen "now" by the
    wall clock, and a constant far from it would make every device look silent or from the
    future. Read once, a midnight or a periodic slot passing mid-test cannot split the test
    between two days, which reading the clock in each call could.
    """
    return Clock(now=timezone.now())


WORKER_QUEUE = f"test-{uuid.uuid4().hex[:8]}"
PROJECT_TASKS = ("devices.*", "telemetry.*", "readiness.*")


def _route_tasks(routes: object) -> None:
    celery_app.conf.task_routes = routes
    celery_app.amqp.flush_routes()
    # The publishing router is a cached property holding the old routes table: once any task
    # has been sent in this process, flush_routes() alone does not reach it.
    celery_app.amqp.__dict__.pop("router", None)


@pytest.fixture
def worker() -> Iterator[None]:
    """A real Celery worker (solo pool, in a thread) on the configured broker (Redis in CI).

    The project's tasks go to a queue of this run only while it lives, so a worker of another
    test run (or `make run`) on the same broker cannot take them. Tests using it need
    ``django_db(transaction=True)``: the worker's thread cannot see uncommitted rows.
    """
    saved = celery_app.conf.task_routes
    _route_tasks(dict.fromkeys(PROJECT_TASKS, {"queue": WORKER_QUEUE}))
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any broker failure means the service is missing
        _route_tasks(saved)
        skip_or_fail(f"Celery broker {celery_app.conf.broker_url} unreachable: {exc}")
    try:
        with start_worker(
            celery_app,
            queues=[WORKER_QUEUE],
            perform_ping_check=False,
            pool="solo",
            shutdown_timeout=30,
        ):
            yield
    finally:
        _route_tasks(saved)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Every test counts the fleet afresh; the one test of sharing sets its own time. The
    # cache is emptied too: a browser left polling by the previous test can fill it between
    # two tests, while the settings are back at their defaults.
    settings.TRACKER_LIVE_FIGURES_SECONDS = 0
    cache.clear()


@dataclass
class Persona:
    user: User
    token: str
    client: Client  # API client with the bearer token
    browser: Client  # logged-in session client for pages


def make_persona(
    *, username: str, role: str, agency: Agency | None, scope: str = ApiToken.Scope.READ_WRITE
) -> Persona:
    # read_write by default, so a read-only role's 403 comes from its role, as tests expect.
    user = UserFactory(username=username, role=role, agency=agency)
    _, token = issue_token(user=user, name="test", now=timezone.now(), scope=scope)
    api_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    browser = Client()
    browser.force_login(user)
    return Persona(user=user, token=token, client=api_client, browser=browser)


@pytest.fixture
def agency_a(db) -> Agency:
    return AgencyFactory(
        slug="ksp",
        name="Kentucky State Police",
        kind=Agency.Kind.STATE_POLICE,
        cabinet=CabinetFactory(slug="justice", name="Justice and Public Safety Cabinet"),
    )


@pytest.fixture
def agency_b(db) -> Agency:
    return AgencyFactory(
        slug="lex-pd",
        name="Lexington Police",
        kind=Agency.Kind.POLICE,
        cabinet=CabinetFactory(slug="justice", name="Justice and Public Safety Cabinet"),
    )


@pytest.fixture
def state_staff(db) -> Persona:
    return make_persona(username="cio-analyst", role=User.Role.STATE_STAFF, agency=None)


@pytest.fixture
def admin_a(agency_a) -> Persona:
    return make_persona(username="ksp-admin", role=User.Role.AGENCY_ADMIN, agency=agency_a)


@pytest.fixture
def viewer_a(agency_a) -> Persona:
    return make_persona(username="ksp-viewer", role=User.Role.AGENCY_VIEWER, agency=agency_a)


@pytest.fixture
def admin_b(agency_b) -> Persona:
    return make_persona(username="lex-admin", role=User.Role.AGENCY_ADMIN, agency=agency_b)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # SQLite: a file test database instead of an in-memory one, so a subprocess under test
    # (the ingest_mqtt command) can open the same database through DATABASE_URL.
    import tempfile

    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3") and not db.get("TEST", {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = os.path.join(
            tempfile.gettempdir(), f"tracker-test-{os.getpid()}.sqlite3"
        )
