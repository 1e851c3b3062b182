"""Gateway authentication for telemetry: who is ``<agency slug>/<gateway name>``.

Secrets are issued by the inventory (`devices.credentials`), which stores Django's hash for
the HTTPS fallback and Mosquitto's for the broker's password file.
"""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from devices.credentials import assign_new_secret, check_mosquitto_hash, mosquitto_hash
from devices.models import Gateway

__all__ = [
    "check_mosquitto_hash",
    "find_gateway_by_credentials",
    "gateway_username",
    "mosquitto_hash",
    "set_gateway_credential",
]


def gateway_username(agency_slug: str, gateway_name: str) -> str:
    return f"{agency_slug}/{gateway_name}"


@transaction.atomic
def set_gateway_credential(gateway: Gateway, *, secret: str | None = None) -> str:
    """Issue (or replace) a gateway's secret without an audit actor (operator tooling, tests).

    Replacing a secret locks out the old one at once for HTTPS, and for MQTT once the
    password file is regenerated (`manage.py mosquitto_auth`) and the broker reloaded.
    """
    secret = assign_new_secret(gateway, secret=secret)
    gateway.save(update_fields=["credential_hash", "broker_password_hash", "updated_at"])
    return secret


def find_gateway_by_credentials(username: str, secret: str) -> Gateway | None:
    """The active gateway that ``username`` (``agency/gateway``) and ``secret`` identify."""
    agency_slug, sep, name = username.partition("/")
    if not sep:
        return None
    gateway = (
        Gateway.objects.select_related("agency")
        .filter(agency__slug=agency_slug, name=name, is_active=True)
        .exclude(credential_hash="")
        .first()
    )
    if gateway is None:
        # Same work as a real check, so a wrong name is not faster to tell than a wrong secret.
        make_password(secret)
        return None
    return gateway if check_password(secret, gateway.credential_hash) else None
