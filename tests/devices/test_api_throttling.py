"""Bearer tokens are throttled one by one (TRACKER_API_TOKEN_RATE, a small rate here): over
the limit a token gets 429 JSON saying what to do, with Retry-After; other tokens, even the
same user's, and the browser session keep working."""

from __future__ import annotations

from django.test import Client

from devices.auth import issue_token


def test_a_token_over_its_rate_gets_429_json_and_another_token_does_not(settings, admin_a, clock):
    settings.TRACKER_API_TOKEN_RATE = "3/minute"
    _, second = issue_token(user=admin_a.user, name="second", now=clock.now, scope="read")
    other = Client(HTTP_AUTHORIZATION=f"Bearer {second}")

    answers = [admin_a.client.get("/api/devices").status_code for _ in range(3)]
    refused = admin_a.client.get("/api/devices")

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json; charset=utf-8"
    assert 1 <= int(refused["Retry-After"]) <= 60
    message = refused.json()["message"]
    assert "Too many requests with this API token: at most 3/minute" in message
    assert "Retry in" in message
    assert other.get("/api/devices").status_code == 200
    assert admin_a.browser.get("/api/devices").status_code == 200  # the session is not counted


def test_each_token_counts_in_its_own_window(settings, admin_a, viewer_a):
    settings.TRACKER_API_TOKEN_RATE = "1/second"
    assert admin_a.client.get("/api/devices").status_code == 200
    assert admin_a.client.get("/api/devices").status_code == 429
    assert viewer_a.client.get("/api/devices").status_code == 200
