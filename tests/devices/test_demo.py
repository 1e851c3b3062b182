"""Demo data: realistic, valid by the product's own rules, idempotent; demo logins work."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from devices import exporting, importing
from devices.demo import DEMO_USERS, load_inventory_demo
from devices.models import (
    Agency,
    ApiToken,
    Cabinet,
    Device,
    DeviceModel,
    DeviceStatusChange,
    FirstNetStatusChange,
    Gateway,
    User,
)
from devices.rules import luhn_is_valid

pytestmark = pytest.mark.django_db

MODELS = (
    Cabinet,
    Agency,
    FirstNetStatusChange,
    DeviceModel,
    Device,
    DeviceStatusChange,
    Gateway,
    User,
)


def table_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def test_load_demo_builds_a_realistic_state(capsys):
    call_command("load_demo", "--devices", "600", "--seed", "7")
    assert "600 devices" in capsys.readouterr().out

    assert Cabinet.objects.filter(
        name="Justice and Public Safety Cabinet", brm__isnull=False
    ).exists()
    assert Cabinet.objects.filter(brm__isnull=True).count() == 0
    assert 38 <= Agency.objects.count() <= 50
    kinds = set(Agency.objects.values_list("kind", flat=True))
    assert {"state_police", "sheriff", "police", "fire", "ems", "emergency_management"} <= kinds
    assert 18 <= DeviceModel.objects.count() <= 24
    assert Device.objects.count() == 600
    # FirstNet history starts after the state's 2017 opt-in and ends at the agency's status.
    ksp = Agency.objects.get(slug="ksp")
    history = list(ksp.firstnet_changes.order_by("changed_on").values_list("status", flat=True))
    assert history[-1] == ksp.firstnet_status == "subscribed"
    assert FirstNetStatusChange.objects.filter(changed_on__year__lt=2018).count() == 0
    # KSP's units are its posts.
    units = set(
        Device.objects.filter(agency=ksp)
        .exclude(assigned_unit="")
        .values_list("assigned_unit", flat=True)
    )
    assert units
    assert all(re.match(r"^Post \d+ ", unit) for unit in units)
    assert set(Device.objects.values_list("status", flat=True)) >= {
        "deployed",
        "in_stock",
        "retired",
    }
    assert 1 <= Gateway.objects.filter(agency=ksp).count() <= 3
    assert all(
        g.credential_hash and g.broker_password_hash.startswith("$7$")
        for g in Gateway.objects.all()
    )


def test_demo_devices_meet_the_rules_of_the_product():
    load_inventory_demo(devices=800, seed=3)

    cellular = Device.objects.filter(model__is_cellular=True)
    assert cellular.exists()
    assert all(
        len(imei) == 15 and luhn_is_valid(imei) for imei in cellular.values_list("imei", flat=True)
    )
    assert all(
        luhn_is_valid(i) for i in Device.objects.exclude(iccid="").values_list("iccid", flat=True)
    )
    non_cellular = Device.objects.filter(model__is_cellular=False)
    assert not non_cellular.exclude(imei="", iccid="", network="none").exists()
    assert not Device.objects.filter(network="firstnet", model__has_band14=False).exists()
    # Every device's history ends at its current status.
    for device in Device.objects.prefetch_related("status_changes")[:200]:
        steps = sorted(device.status_changes.all(), key=lambda c: c.changed_at)
        assert steps[0].from_status == ""
        assert steps[-1].to_status == device.status
    # The whole demo exports and imports back unchanged, agency by agency.
    for agency in Agency.objects.filter(slug__in=["ksp", "lmpd", "lmems"]):
        out = io.StringIO()
        exporting.write_csv(Device.objects.filter(agency=agency), out)
        plan = importing.import_devices(
            agency=agency,
            data=out.getvalue().encode(),
            filename="demo.csv",
            actor=None,
            dry_run=True,
        )
        assert plan.errors == []
        assert plan.unchanged == plan.rows


def test_load_demo_twice_changes_nothing():
    first = load_inventory_demo(devices=400, seed=11)
    counts = table_counts()
    devices = list(Device.objects.order_by("pk").values())

    second = load_inventory_demo(devices=400, seed=11)

    assert first.created["devices"] == 400
    assert not any(second.created.values())
    assert table_counts() == counts
    assert list(Device.objects.order_by("pk").values()) == devices


def test_a_later_run_changes_nothing_even_when_dates_near_now_move():
    # Draws whose range depends on the clock once shifted every later device (a new serial
    # colliding with an existing SIM number); each device now has its own seeded stream.
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    load_inventory_demo(devices=600, seed=4, now=start)
    counts = table_counts()

    later = load_inventory_demo(devices=600, seed=4, now=start + dt.timedelta(days=500))

    assert not any(later.created.values())
    assert table_counts() == counts


def test_more_devices_extend_the_same_demo():
    load_inventory_demo(devices=200, seed=5)
    serials = set(Device.objects.values_list("serial", flat=True))

    load_inventory_demo(devices=500, seed=5)

    assert Device.objects.count() == 500
    assert serials <= set(Device.objects.values_list("serial", flat=True))


def test_demo_logins_print_working_credentials_and_fresh_tokens(capsys):
    load_inventory_demo(devices=50, seed=1)

    call_command("demo_logins")
    first = capsys.readouterr().out
    call_command("demo_logins")
    second = capsys.readouterr().out

    assert "http://127.0.0.1:8000/" in second
    tokens = re.findall(r"API token: (\S+)", second)
    assert len(tokens) == len(DEMO_USERS)
    # Only the latest printed tokens work; the previous run's were revoked.
    old_token = re.findall(r"API token: (\S+)", first)[0]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {old_token}").get("/api/devices").status_code == 401
    assert ApiToken.objects.filter(name="demo", revoked_at__isnull=True).count() == len(DEMO_USERS)
    for demo, token in zip(DEMO_USERS, tokens, strict=True):
        assert f"username: {demo.username}   password: {demo.password}" in second
        # Through the login page: django-axes' backend needs the request (as a browser sends).
        signed_in = Client().post("/login/", {"username": demo.username, "password": demo.password})
        assert signed_in.status_code == 302
        response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/devices?limit=1")
        assert response.status_code == 200


def test_demo_roles_see_what_their_role_allows():
    load_inventory_demo(devices=300, seed=2)
    users = {
        u.username: u for u in User.objects.filter(username__in=[d.username for d in DEMO_USERS])
    }
    assert users["cio-analyst"].is_state_staff
    assert (users["ksp-admin"].role, users["ksp-admin"].agency.slug) == ("agency_admin", "ksp")
    assert (users["ksp-viewer"].role, users["ksp-viewer"].agency.slug) == ("agency_viewer", "ksp")
    assert users["lmpd-admin"].agency.slug != "ksp"


def test_demo_logins_without_demo_data_says_what_to_run():
    with pytest.raises(CommandError, match="load_demo"):
        call_command("demo_logins")
