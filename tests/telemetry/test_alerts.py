"""Alerts: de-duplicated by the database, scoped per agency, acknowledged by people (audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from devices.models import AuditRecord
from telemetry import alerts
from telemetry.health import deadlines
from telemetry.models import Alert, HealthFlip
from tests.factories import DeviceFactory, DeviceHealthFactory, GatewayFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def offline_alert(agency, **kwargs):
    device = DeviceFactory(agency=agency)
    return Alert.objects.create(
        agency=agency, device=device, cause="device_offline", detail="offline", **kwargs
    )


def test_database_refuses_a_second_open_alert_for_the_same_device_and_cause(agency_a):
    first = offline_alert(agency_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(agency=agency_a, device=first.device, cause="device_offline")
    # Another cause, or once the first is resolved, is fine.
    Alert.objects.create(agency=agency_a, device=first.device, cause="device_unhealthy")
    Alert.objects.filter(pk=first.pk).update(resolved_at=NOW)
    Alert.objects.create(agency=agency_a, device=first.device, cause="device_offline")


def test_an_alert_is_about_exactly_one_device_or_gateway(agency_a):
    device = DeviceFactory(agency=agency_a)
    gateway = GatewayFactory(agency=agency_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            agency=agency_a, device=device, gateway=gateway, cause="device_offline"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(agency=agency_a, cause="gateway_offline")


def test_opening_twice_opens_once_and_returns_only_what_was_opened(agency_a):
    device = DeviceFactory(agency=agency_a)
    assert (
        len(
            alerts.open_device_alerts(
                details={device.pk: "offline"}, cause="device_offline", now=NOW
            )
        )
        == 1
    )
    assert (
        alerts.open_device_alerts(details={device.pk: "offline"}, cause="device_offline", now=NOW)
        == []
    )
    assert Alert.objects.count() == 1


def test_agency_users_see_only_their_agencys_alerts(
    state_staff, admin_a, admin_b, agency_a, agency_b
):
    mine = offline_alert(agency_a)
    theirs = offline_alert(agency_b)
    response = admin_a.client.get("/api/alerts")
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["items"]] == [mine.pk]
    assert admin_a.client.get(f"/api/alerts/{theirs.pk}").status_code == 404
    assert admin_b.client.post(f"/api/alerts/{mine.pk}/acknowledge").status_code == 404
    assert {a["id"] for a in state_staff.client.get("/api/alerts").json()["items"]} == {
        mine.pk,
        theirs.pk,
    }


def test_alert_list_filters_by_state_and_cause(admin_a, agency_a):
    open_one = offline_alert(agency_a)
    resolved = offline_alert(agency_a, resolved_at=NOW, resolution="back online")
    gateway = Alert.objects.create(
        agency=agency_a, gateway=GatewayFactory(agency=agency_a), cause="gateway_offline"
    )

    def ids(query):
        response = admin_a.client.get(f"/api/alerts?{query}")
        assert response.status_code == 200, response.content
        return {a["id"] for a in response.json()["items"]}

    assert ids("") == {open_one.pk, gateway.pk}
    assert ids("state=resolved") == {resolved.pk}
    assert ids("state=all&cause=device_offline") == {open_one.pk, resolved.pk}
    body = admin_a.client.get(f"/api/alerts/{gateway.pk}").json()
    assert (body["gateway_name"], body["device_serial"], body["state"]) == (
        gateway.gateway.name,
        None,
        "open",
    )


def test_a_bad_filter_is_a_clear_422(admin_a):
    response = admin_a.client.get("/api/alerts?state=closed")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "state"


def test_an_admin_acknowledges_an_alert_once_and_it_is_audited(admin_a, agency_a):
    alert = offline_alert(agency_a)
    response = admin_a.client.post(f"/api/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["acknowledged_by"]) == ("acknowledged", "ksp-admin")
    record = AuditRecord.objects.get(object_type="alert")
    assert (record.actor, record.object_id, record.agency_id) == (
        admin_a.user,
        str(alert.pk),
        agency_a.pk,
    )

    again = admin_a.client.post(f"/api/alerts/{alert.pk}/acknowledge")
    assert again.status_code == 409
    assert "already acknowledged by ksp-admin" in again.json()["message"]


def test_a_resolved_alert_cannot_be_acknowledged(admin_a, agency_a):
    alert = offline_alert(agency_a, resolved_at=NOW)
    response = admin_a.client.post(f"/api/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 409
    assert "already resolved" in response.json()["message"]


def test_a_viewer_reads_alerts_but_cannot_acknowledge(viewer_a, agency_a):
    alert = offline_alert(agency_a)
    assert viewer_a.client.get(f"/api/alerts/{alert.pk}").status_code == 200
    assert viewer_a.client.post(f"/api/alerts/{alert.pk}/acknowledge").status_code == 403
    assert Alert.objects.get().acknowledged_at is None


def test_device_health_api_says_level_since_why_and_problems(viewer_a, admin_b, agency_a):
    device = DeviceFactory(agency=agency_a)
    late_after, offline_after = deadlines(NOW, 60)
    DeviceHealthFactory(
        device=device,
        level="offline",
        level_changed_at=NOW,
        last_reading_at=NOW - timedelta(minutes=5),
        late_after=late_after,
        offline_after=offline_after,
        battery_pct=8.0,
        problems=["battery 8% is below 15%"],
    )
    HealthFlip.objects.create(
        device=device,
        at=NOW,
        old_level="online",
        new_level="offline",
        cause="silence",
        detail="no reading since 2026-05-01 07:55:00 EDT",
    )
    offline_alert_for_device = Alert.objects.create(
        agency=agency_a, device=device, cause="device_offline"
    )

    body = viewer_a.client.get(f"/api/devices/{device.pk}/health").json()
    assert (body["level"], body["since"][:19], body["problems"]) == (
        "offline",
        "2026-05-01T12:00:00",
        ["battery 8% is below 15%"],
    )
    assert (body["why"]["cause"], body["why"]["detail"]) == (
        "silence",
        "no reading since 2026-05-01 07:55:00 EDT",
    )
    assert [a["id"] for a in body["open_alerts"]] == [offline_alert_for_device.pk]
    flips = viewer_a.client.get(f"/api/devices/{device.pk}/flips").json()
    assert (flips["count"], flips["items"][0]["new_level"]) == (1, "offline")
    uptime = viewer_a.client.get(f"/api/devices/{device.pk}/uptime?month=2026-05")
    assert uptime.status_code == 200
    assert viewer_a.client.get(f"/api/devices/{device.pk}/uptime?month=May").status_code == 422
    assert admin_b.client.get(f"/api/devices/{device.pk}/health").status_code == 404


def test_a_device_never_heard_from_is_never_seen(viewer_a, agency_a):
    device = DeviceFactory(agency=agency_a)
    body = viewer_a.client.get(f"/api/devices/{device.pk}/health").json()
    assert (body["level"], body["since"], body["why"], body["open_alerts"]) == (
        "never_seen",
        None,
        None,
        [],
    )
