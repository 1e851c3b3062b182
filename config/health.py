"""Process probes for load balancers and orchestrators."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process is up; touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and the MQTT broker accepts connections."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", with the reason shown
        checks["database"] = f"error: {exc}"
    checks["broker"] = _broker_check()
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def _broker_check() -> str:
    # A TCP connect only: enough to tell "broker down or unreachable" apart, without
    # logging in (the web process has no MQTT credentials of its own).
    import socket

    from django.conf import settings

    from telemetry.mqtt import MqttUrlError, parse_mqtt_url

    try:
        url = parse_mqtt_url(settings.MQTT_URL)
        with socket.create_connection((url.host, url.port), timeout=1.0):
            return "ok"
    except (OSError, MqttUrlError) as exc:
        return f"error: MQTT broker at {settings.MQTT_URL.rsplit('@', 1)[-1]}: {exc}"
