"""Dead letters, gateway status and the HTTPS fallback: API and pages, scoped per agency."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from telemetry.credentials import set_gateway_credential
from telemetry.ingest import InboundMessage, ingest_batch
from telemetry.models import DeadLetter, GatewayStatus, TelemetryReading
from tests.factories import DeviceFactory, GatewayFactory
from tests.telemetry.conftest import NOW, reading

pytestmark = pytest.mark.django_db


@pytest.fixture
def letters(agency_a, agency_b):
    gw_a = GatewayFactory(agency=agency_a, name="post-1")
    gw_b = GatewayFactory(agency=agency_b, name="east-1")
    ingest_batch(
        [
            InboundMessage(f"tracker/v1/{agency_a.slug}/{gw_a.name}/telemetry", b"not json", NOW),
            InboundMessage(f"tracker/v1/{agency_b.slug}/{gw_b.name}/telemetry", b"[1]", NOW),
            InboundMessage("tracker/v1/nowhere/gw/state", b"online", NOW),
            InboundMessage(f"tracker/v1/{agency_a.slug}/{gw_a.name}/state", b"online", NOW),
            InboundMessage(f"tracker/v1/{agency_b.slug}/{gw_b.name}/state", b"offline", NOW),
        ],
        now=NOW,
    )
    return {
        "a": DeadLetter.objects.get(agency=agency_a),
        "b": DeadLetter.objects.get(agency=agency_b),
        "none": DeadLetter.objects.get(agency__isnull=True),
    }


def test_state_staff_see_every_dead_letter(state_staff, letters):
    body = state_staff.client.get("/api/telemetry/dead-letters").json()
    assert body["count"] == 3
    assert {i["reason"] for i in body["items"]} == {"not_json", "schema", "unknown_gateway"}


def test_an_agency_sees_only_its_own_dead_letters(admin_a, letters):
    body = admin_a.client.get("/api/telemetry/dead-letters").json()
    assert [i["id"] for i in body["items"]] == [letters["a"].pk]
    assert body["items"][0]["agency"] == "ksp"


def test_another_agencys_dead_letter_answers_404(admin_a, letters):
    assert admin_a.client.get(f"/api/telemetry/dead-letters/{letters['b'].pk}").status_code == 404
    assert admin_a.browser.get(f"/telemetry/dead-letters/{letters['b'].pk}/").status_code == 404
    own = admin_a.client.get(f"/api/telemetry/dead-letters/{letters['a'].pk}").json()
    assert own["payload"] == "not json"


def test_dead_letters_filter_by_reason(state_staff, letters):
    body = state_staff.client.get("/api/telemetry/dead-letters?reason=schema").json()
    assert [i["id"] for i in body["items"]] == [letters["b"].pk]
    assert state_staff.client.get("/api/telemetry/dead-letters?reason=bogus").status_code == 422


def test_the_dead_letter_page_lists_the_reason_and_links_the_payload(viewer_a, letters):
    page = viewer_a.browser.get("/telemetry/dead-letters/").content.decode()
    assert "Not JSON" in page
    assert f"/telemetry/dead-letters/{letters['a'].pk}/" in page
    assert "east-1" not in page
    detail = viewer_a.browser.get(f"/telemetry/dead-letters/{letters['a'].pk}/").content.decode()
    assert "not json" in detail


def test_gateway_status_is_scoped_and_shows_online_and_offline(state_staff, admin_b, letters):
    everyone = state_staff.client.get("/api/telemetry/gateways").json()
    assert {(i["name"], i["is_online"]) for i in everyone["items"]} == {
        ("post-1", True),
        ("east-1", False),
    }
    own = admin_b.client.get("/api/telemetry/gateways").json()
    assert [(i["agency"], i["name"]) for i in own["items"]] == [("lex-pd", "east-1")]
    page = admin_b.browser.get("/telemetry/gateways/").content.decode()
    assert "east-1" in page
    assert "post-1" not in page
    assert "offline" in page


def test_telemetry_pages_need_a_login(client):
    assert client.get("/telemetry/dead-letters/").status_code == 302
    assert client.get("/api/telemetry/dead-letters").status_code == 401


# --- HTTPS fallback ------------------------------------------------------------------------


def basic(username: str, secret: str) -> dict[str, str]:
    return {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    }


@pytest.fixture
def gateway_with_secret(agency_a):
    gateway = GatewayFactory(agency=agency_a, name="post-9")
    return gateway, set_gateway_credential(gateway)


def body(gateway, readings, seq=1):
    return json.dumps(
        {
            "schema": 1,
            "gateway": gateway.name,
            "seq": seq,
            "sent_at": datetime.now(UTC).isoformat(),
            "readings": readings,
        }
    )


def test_a_gateway_posts_telemetry_over_https_with_its_credential(gateway_with_secret, agency_a):
    gateway, secret = gateway_with_secret
    device = DeviceFactory(agency=agency_a, serial="BWC-1")
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    payload = body(gateway, [reading("BWC-1", ts, battery_pct=50), reading("NOPE", ts)])
    client = Client(**basic("ksp/post-9", secret))

    first = client.post("/api/telemetry", payload, content_type="application/json")
    again = client.post("/api/telemetry", payload, content_type="application/json")

    assert first.status_code == 200, first.content
    assert first.json() == {
        "readings_stored": 1,
        "readings_duplicate": 0,
        "rejected": [{"reason": "unknown_device", "count": 1}],
    }
    assert again.json()["readings_duplicate"] == 1
    assert TelemetryReading.objects.filter(device=device).count() == 1
    assert GatewayStatus.objects.get(gateway=gateway).messages_total == 2


def test_an_invalid_message_over_https_is_a_422_with_the_reason_and_a_dead_letter(
    gateway_with_secret,
):
    gateway, secret = gateway_with_secret
    response = Client(**basic("ksp/post-9", secret)).post(
        "/api/telemetry", '{"schema": 1, "gateway": "post-9"}', content_type="application/json"
    )
    assert response.status_code == 422
    assert "seq: Field required" in response.json()["message"]
    assert DeadLetter.objects.get().reason == "schema"


@pytest.mark.parametrize("username", ["ksp/post-9", "lex-pd/post-9", "post-9"])
def test_a_wrong_gateway_credential_is_refused(gateway_with_secret, username):
    gateway, secret = gateway_with_secret
    wrong = secret + "x" if username == "ksp/post-9" else secret
    response = Client(**basic(username, wrong)).post(
        "/api/telemetry", body(gateway, []), content_type="application/json"
    )
    assert response.status_code == 401
    assert not DeadLetter.objects.exists()


def test_a_users_api_token_cannot_post_telemetry(admin_a, gateway_with_secret):
    gateway, _ = gateway_with_secret
    response = admin_a.client.post(
        "/api/telemetry", body(gateway, []), content_type="application/json"
    )
    assert response.status_code == 401


def test_an_oversized_https_message_is_refused_with_413(gateway_with_secret):
    gateway, secret = gateway_with_secret
    response = Client(**basic("ksp/post-9", secret)).post(
        "/api/telemetry", "x" * (300 * 1024), content_type="application/json"
    )
    assert response.status_code == 413
    assert "limit is 262144 bytes" in response.json()["message"]
