"""What a production start refuses, in one list.

Importing the settings never refuses anything: tests, management commands and the demo run
with the shipped defaults. A production start asks ``insecure_settings()`` instead, from two
places: gunicorn's ``on_starting`` hook (config/gunicorn.py), which exits non-zero with the
first problem on one line before any worker forks, and the system checks under the
``deploy`` tag, so ``manage.py check --deploy`` names every problem too.

A setting that cannot even be read (an unreadable ``NAME_FILE``, a value that does not
parse) stops the settings import itself with an ImproperlyConfigured naming the variable;
``refusal()`` turns that into the same one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

# Django's own advice (security.W009) asks for at least 50 characters.
MIN_SECRET_KEY_LENGTH = 50


def insecure_settings() -> list[str]:
    """Each setting a production process must not start with, one line each, naming it.

    Reads settings only (and the MQTT TLS files, by loading them): no side effects, safe to
    call repeatedly. Raises ImproperlyConfigured when the settings themselves do not load.
    """
    return site_problems() + mqtt_problems()


def refusal() -> str | None:
    """The one line a production start prints before exiting, or None when it may start."""
    try:
        problems = insecure_settings()
    except ImproperlyConfigured as exc:
        return f"refusing to start: {exc}"
    if problems:
        return f"refusing to start: {problems[0]}"
    return None


def site_problems() -> list[str]:
    """The site's own settings: the secret, DEBUG, the host names."""
    problems: list[str] = []
    if settings.SECRET_KEY == settings.INSECURE_DEFAULT_SECRET:
        problems.append("DJANGO_SECRET_KEY is the shipped development key: set a random value")
    elif len(settings.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"DJANGO_SECRET_KEY is {len(settings.SECRET_KEY)} characters: "
            f"use a random value of {MIN_SECRET_KEY_LENGTH} or more"
        )
    if settings.DEBUG:
        problems.append("DJANGO_DEBUG is on: it shows stack traces and settings to anyone")
    if "*" in settings.ALLOWED_HOSTS:
        problems.append("DJANGO_ALLOWED_HOSTS holds '*': list the site's host names")
    return problems


def site_warnings() -> list[str]:
    """Settings a production start allows but says aloud: a deliberate choice, not a mistake.

    Two-factor sign-in off is one: CJIS asks for it, yet a site behind its own single sign-on
    with MFA may turn it off. Said on every start (gunicorn) and by ``check --deploy``.
    """
    if not settings.TRACKER_MFA_REQUIRED:
        return [
            "TRACKER_MFA_REQUIRED is off: users without a second factor sign in with a "
            "password alone (CJIS 5.6.2.2 asks for multi-factor authentication)"
        ]
    return []


def mqtt_problems() -> list[str]:
    """MQTT_URL and the MQTT_*_FILE TLS files, loaded the way the ingest loads them."""
    # Imported here, not at the top: this module is loaded with the config package (to
    # register its check), before the app registry that telemetry's models need is ready.
    from telemetry.mqtt import MqttTlsError, MqttUrlError, mqtt_tls_context, parse_mqtt_url

    try:
        mqtt_tls_context(parse_mqtt_url(settings.MQTT_URL))
    except (MqttUrlError, MqttTlsError) as exc:
        return [str(exc)]
    return []


@register(Tags.security, deploy=True)
def check_production_settings(
    app_configs: Iterable[Any] | None, **kwargs: Any
) -> list[CheckMessage]:
    """``check --deploy``: the site's refusals as errors.

    The MQTT half is left to telemetry.checks (telemetry.E001/E002), which reports the same
    problems from the same function; listing them here too would print each twice.
    """
    return [Error(problem, id="tracker.E001") for problem in site_problems()] + [
        Warning(line, id="tracker.W001") for line in site_warnings()
    ]
