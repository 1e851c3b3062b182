"""Shared fixtures: personas for each role in two agencies, API clients with real tokens.

Service-dependent tests are marked (mqtt, celery, mosquitto, browser). On a developer's
machine without a service they are skipped with the reason; CI sets TRACKER_REQUIRE_SERVICES=1
so a missing service fails the run instead of skipping silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.test import Client

from devices.auth import issue_token
from devices.models import Agency, User
from tests.factories import AgencyFactory, CabinetFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("TRACKER_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"


@dataclass
class Persona:
    user: User
    token: str
    client: Client  # API client with the bearer token
    browser: Client  # logged-in session client for pages


def make_persona(*, username: str, role: str, agency: Agency | None) -> Persona:
    user = UserFactory(username=username, role=role, agency=agency)
    _, token = issue_token(user=user, name="test")
    api_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    browser = Client()
    browser.force_login(user)
    return Persona(user=user, token=token, client=api_client, browser=browser)


@pytest.fixture
def agency_a(db) -> Agency:
    return AgencyFactory(slug="ksp", name="Kentucky State Police", kind=Agency.Kind.STATE_POLICE,
                         cabinet=CabinetFactory(slug="justice", name="Justice and Public Safety Cabinet"))


@pytest.fixture
def agency_b(db) -> Agency:
    return AgencyFactory(slug="lex-pd", name="Lexington Police", kind=Agency.Kind.POLICE,
                         cabinet=CabinetFactory(slug="justice", name="Justice and Public Safety Cabinet"))


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
        db.setdefault("TEST", {})["NAME"] = os.path.join(tempfile.gettempdir(), f"tracker-test-{os.getpid()}.sqlite3")
