"""Property-based run over the WHOLE OpenAPI document (schemathesis), with and without a token.

Every operation of /api/openapi.json is called with generated requests, once with a state
staff token and once with no credentials. It must produce no server error, no status the
document does not list, no body that breaks its documented schema, and no undocumented
content type. The document therefore stays true as operations are added: a new endpoint
is covered without touching this file.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from devices.auth import issue_token
from devices.models import ApiToken, User
from tests.factories import (
    AgencyFactory,
    CabinetFactory,
    DeviceFactory,
    DeviceModelFactory,
    GatewayFactory,
    UserFactory,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Loaded when the module is collected (the document needs no database); schemathesis's lazy
# fixture loader does not work with pytest 9 (it reads a removed node attribute).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def _keep_test_connection(db):
    """Run the WSGI app the way Django's test client does: the request must not close the
    connection that holds the test's transaction (rolled back after each operation's test,
    which is much faster than flushing every table on PostgreSQL)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(_keep_test_connection) -> str:
    # A little real inventory, so generated ids and slugs sometimes hit existing objects.
    cabinet = CabinetFactory(slug="justice")
    agency = AgencyFactory(slug="ksp", cabinet=cabinet)
    model = DeviceModelFactory(manufacturer="Axon", name="Body 4")
    for i in range(3):
        DeviceFactory(agency=agency, model=model, serial=f"SN-{i}")
    GatewayFactory(agency=agency, name="post-1")
    user = UserFactory(username="openapi-staff", role=User.Role.STATE_STAFF, agency=None)
    return issue_token(
        user=user, name="schemathesis", now=timezone.now(), scope=ApiToken.Scope.READ_WRITE
    )[1]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    derandomize=True,
)
def test_api_conforms_to_its_openapi_document(case, staff_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {staff_token}"}, checks=CHECKS)
    # Without credentials nothing succeeds, and every refusal is one the document lists.
    anonymous = case.call_and_validate(headers={"Authorization": ""}, cookies={}, checks=CHECKS)
    assert anonymous.status_code >= 400


def test_the_document_lists_the_error_statuses_of_every_operation(client):
    document = client.get("/api/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"401", "403", "422"} <= statuses, (
                f"{method.upper()} {path} documents {sorted(statuses)}"
            )
            if "{" in path:
                assert "404" in statuses, f"{method.upper()} {path} can answer 404"
