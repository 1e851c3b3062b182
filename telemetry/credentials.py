"""Gateway credentials: one secret, two hashes (Django's for HTTPS, Mosquitto's for MQTT).

A gateway authenticates as ``<agency slug>/<gateway name>`` with a secret issued here. The
secret is shown once and never stored: ``Gateway.credential_hash`` holds Django's hash (the
HTTPS fallback checks it with ``check_password``) and `GatewayCredential.mosquitto_hash`
holds the same secret in Mosquitto's PBKDF2-SHA512 format for the generated password file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from devices.models import Gateway
from telemetry.models import GatewayCredential

# Mosquitto 2.0's "$7$" format: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key.
MOSQUITTO_ITERATIONS = 20_000
_SALT_BYTES = 12


def gateway_username(agency_slug: str, gateway_name: str) -> str:
    return f"{agency_slug}/{gateway_name}"


def mosquitto_hash(secret: str, *, iterations: int = MOSQUITTO_ITERATIONS, salt: bytes | None = None) -> str:
    """The password-file hash Mosquitto 2.0 checks (what ``mosquitto_passwd`` writes)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def check_mosquitto_hash(secret: str, encoded: str) -> bool:
    try:
        _, seven, iterations, salt, key = encoded.split("$")
        if seven != "7":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.pbkdf2_hmac("sha512", secret.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


@transaction.atomic
def set_gateway_credential(gateway: Gateway, *, secret: str | None = None) -> str:
    """Issue (or replace) a gateway's secret; returns it. Only its hashes are stored.

    Replacing a secret locks out the old one at once for HTTPS, and for MQTT once the
    password file is regenerated (`manage.py mosquitto_auth`) and the broker reloaded.
    """
    secret = secret or secrets.token_urlsafe(24)
    gateway.credential_hash = make_password(secret)
    gateway.save(update_fields=["credential_hash", "updated_at"])
    GatewayCredential.objects.update_or_create(gateway=gateway, defaults={"mosquitto_hash": mosquitto_hash(secret)})
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
