"""Probes for load balancers and orchestrators, and who may read /metrics.

``/healthz`` says the process is up; ``/readyz`` says it can do its job: the database
answers, the MQTT broker accepts connections and the Celery broker takes work. Each check
has a short timeout (about a second), so a probe with a few seconds' budget gets an answer
naming what is down rather than timing out itself.

``/metrics`` carries aggregate counts only, yet it is not for everyone: it answers a bearer
token (TRACKER_METRICS_TOKEN) or a client inside TRACKER_METRICS_NETWORKS (loopback by
default). The client's address is the one config.proxies resolved, so a request relayed by
the site's own proxy is judged by where it came from, not by the proxy's loopback address.
"""

from __future__ import annotations

import hmac
import os
import socket
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from kombu import Connection
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from config.proxies import client_address, in_networks, parse_networks
from telemetry.metrics import render_metrics
from telemetry.mqtt import MqttUrlError, parse_mqtt_url

PROBE_TIMEOUT_S = 1.0


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process is up; touches nothing else."""
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers; 503 naming the ones that do not."""
    checks = {name: check() for name, check in READINESS_CHECKS.items()}
    failing = [name for name, result in checks.items() if result != "ok"]
    body = {"status": "unavailable" if failing else "ok", "checks": checks, "failing": failing}
    return JsonResponse(body, status=503 if failing else 200)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text for a bearer token or a listed network; 401/403 JSON otherwise."""
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


def metrics_refusal(request: HttpRequest) -> JsonResponse | None:
    """None when ``request`` may read /metrics, else the 401 or 403 to answer."""
    token = settings.TRACKER_METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip(), token):
        return None
    networks = parse_networks(tuple(settings.TRACKER_METRICS_NETWORKS))
    if in_networks(client_address(request) or "", networks):
        return None
    if not token:
        return JsonResponse(
            {"message": "Forbidden: /metrics answers only TRACKER_METRICS_NETWORKS."}, status=403
        )
    response = JsonResponse(
        {"message": "Unauthorized: send Authorization: Bearer <TRACKER_METRICS_TOKEN>."},
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready", with the reason shown
        return f"error: database: {exc}"
    return "ok"


def mqtt_broker_check() -> str:
    # A TCP connect only: enough to tell "broker down or unreachable" apart, without
    # logging in (the web process has no MQTT credentials of its own).
    try:
        url = parse_mqtt_url(settings.MQTT_URL)
        with socket.create_connection((url.host, url.port), timeout=PROBE_TIMEOUT_S):
            return "ok"
    except (OSError, MqttUrlError) as exc:
        return f"error: MQTT broker at {_without_password(settings.MQTT_URL)}: {exc}"


def celery_broker_check() -> str:
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith("filesystem://"):
            _check_queue_folders()
        elif url.startswith(("redis://", "rediss://")):
            _ping_redis(url)
        else:
            _connect_kombu(url)
    except Exception as exc:  # any failure means "not ready", with the reason shown
        return f"error: Celery broker at {_without_password(url)}: {exc}"
    return "ok"


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": database_check,
    "mqtt_broker": mqtt_broker_check,
    "celery_broker": celery_broker_check,
}


def _check_queue_folders() -> None:
    # kombu's filesystem transport: the queue is these folders, so "up" means writable.
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = str(options.get(key, ""))
        if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
            raise OSError(f"{key} {folder} is missing or not writable")


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(
        url, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


def _connect_kombu(url: str) -> None:
    with Connection(url, connect_timeout=PROBE_TIMEOUT_S) as conn:
        conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_S)


def _without_password(url: str) -> str:
    """The URL from its host on: a probe's answer must not show credentials."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else url.rsplit("@", 1)[-1]
