"""`create_api_token`: creates the user if needed and prints only the token."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from devices.models import ApiToken, AuditRecord, User
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


def test_prints_only_a_working_token_for_a_new_agency_user(agency_a):
    DeviceFactory(agency=agency_a, serial="S1")
    output = _run("--username", "ksp-script", "--role", "agency_viewer", "--agency", "ksp")
    token = output.strip()
    assert output == token + "\n"
    assert token.startswith("rt_")
    assert " " not in token
    user = User.objects.get(username="ksp-script")
    assert (user.role, user.agency, user.has_usable_password()) == (
        "agency_viewer",
        agency_a,
        False,
    )
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/devices")
    assert response.json()["count"] == 1
    assert AuditRecord.objects.get().object_type == "apitoken"


def test_a_second_run_reuses_the_user_and_adds_a_token(db):
    first = _run("--username", "cio", "--role", "state_staff").strip()
    second = _run("--username", "cio", "--role", "state_staff").strip()
    assert first != second
    assert User.objects.filter(username="cio").count() == 1
    assert ApiToken.objects.filter(user__username="cio").count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "agency_admin"], "--agency is required"),
        (["--role", "agency_admin", "--agency", "nowhere"], "No agency"),
        (["--role", "state_staff", "--agency", "ksp"], "no agency"),
        (["--role", "agency_admin", "--agency", "ksp"], "exists as agency_viewer"),
    ],
)
def test_refuses_what_it_cannot_do_with_a_clear_message(viewer_a, args, message):
    with pytest.raises(CommandError, match=message):
        _run("--username", "ksp-viewer", *args)
    assert ApiToken.objects.filter(user=viewer_a.user).count() == 1
