import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database(client, settings):
    import socket

    # Something listening where MQTT_URL points, so only the database decides here (the
    # broker check has its own tests in tests/telemetry/test_metrics.py).
    listener = socket.create_server(("127.0.0.1", 0))
    settings.MQTT_URL = f"mqtt://127.0.0.1:{listener.getsockname()[1]}"
    with listener:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
