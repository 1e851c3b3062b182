"""System checks for the telemetry app (`manage.py check --deploy`).

A deploy check, not an ordinary one: an ordinary check runs before every management command
and would turn the ingest's own one-line refusal of a bad TLS file into a multi-line
SystemCheckError report. Both call `telemetry.mqtt.mqtt_tls_context`, so they agree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from telemetry.mqtt import MqttTlsError, MqttUrlError, mqtt_tls_context, parse_mqtt_url


@checks.register(checks.Tags.security, deploy=True)
def check_mqtt_tls_files(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """MQTT_URL parses, and the MQTT_*_FILE TLS settings name files that load."""
    try:
        mqtt_tls_context(parse_mqtt_url(settings.MQTT_URL))
    except MqttUrlError as exc:
        return [checks.Error(str(exc), id="telemetry.E001")]
    except MqttTlsError as exc:
        return [checks.Error(str(exc), hint="See the README, MQTT over TLS.", id="telemetry.E002")]
    return []
