"""/healthz, /readyz (database, MQTT broker, Celery broker) and who may read /metrics."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db

REDIS = ("127.0.0.1", 6379)
TOKEN = "scrape-token-0123456789abcdef"  # noqa: S105


@pytest.fixture
def mqtt_listening(settings) -> Iterator[None]:
    # Something listening where MQTT_URL points, so only the check under test decides (the
    # MQTT broker check has its own tests in tests/telemetry/test_metrics.py).
    with socket.create_server(("127.0.0.1", 0)) as listener:
        settings.MQTT_URL = f"mqtt://127.0.0.1:{listener.getsockname()[1]}"
        yield


@pytest.fixture
def redis_url() -> str:
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError:
        skip_or_fail("Redis is not running on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/15"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # bound, never listening, then released: refused


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_and_the_filesystem_queue(client, mqtt_listening):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {
        "database": "ok",
        "mqtt_broker": "ok",
        "celery_broker": "ok",
    }


def test_readyz_is_ready_with_a_redis_broker_that_answers(
    client, settings, mqtt_listening, redis_url
):
    settings.CELERY_BROKER_URL = redis_url
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["failing"] == []


def test_readyz_names_the_celery_broker_when_redis_is_down(client, settings, mqtt_listening):
    port = _closed_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{port}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["celery_broker"]
    assert body["checks"]["celery_broker"].startswith(
        f"error: Celery broker at redis://127.0.0.1:{port}/0"
    )
    assert "hunter2" not in response.content.decode()


def test_readyz_names_a_filesystem_queue_that_is_gone(client, settings, mqtt_listening, tmp_path):
    # The embedded transport, whatever broker this run uses (CI: Redis).
    settings.CELERY_BROKER_URL = "filesystem://"
    folders = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    options = {name: str(tmp_path / name) for name in folders}
    for folder in options.values():
        Path(folder).mkdir()
    options["data_folder_in"] = str(tmp_path / "missing")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["celery_broker"]
    assert "missing" in response.json()["checks"]["celery_broker"]


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_metrics_answer_loopback_by_default(client, settings):
    settings.TRACKER_METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_metrics_refuse_outside_the_networks_without_a_token(client, settings):
    settings.TRACKER_METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 403
    assert "TRACKER_METRICS_NETWORKS" in response.json()["message"]


def test_metrics_answer_a_listed_network(client, settings):
    settings.TRACKER_METRICS_NETWORKS = ["10.8.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.8.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_answer_the_bearer_token_from_anywhere(client, settings):
    settings.TRACKER_METRICS_TOKEN = TOKEN
    outside = {"REMOTE_ADDR": "198.51.100.7"}
    ok = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside)
    assert ok.status_code == 200
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope", **outside)
    missing = client.get("/metrics", **outside)
    for refused in (wrong, missing):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert "TRACKER_METRICS_TOKEN" in refused.json()["message"]


def test_metrics_judge_a_proxied_request_by_its_client_not_the_proxy(client, settings):
    # The site's proxy on loopback relays an outside client: loopback must not let it in.
    settings.TRACKER_METRICS_TOKEN = ""
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 403


def test_the_metrics_token_can_come_from_a_file(monkeypatch, tmp_path):
    from config.settings import env

    secret = tmp_path / "metrics-token"
    secret.write_text(f"{TOKEN}\n")
    monkeypatch.setenv("TRACKER_METRICS_TOKEN_FILE", str(secret))
    assert env("TRACKER_METRICS_TOKEN") == TOKEN
