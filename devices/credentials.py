"""Gateway credentials: one secret, two hashes, and never the secret itself.

``Gateway.credential_hash`` is Django's hash, checked by the HTTPS telemetry fallback;
``Gateway.broker_password_hash`` is the same secret in Mosquitto's PBKDF2-SHA512 format, for
the password file `manage.py mosquitto_auth` writes. Both are set together whenever a secret
is issued, so a gateway has one credential for MQTT and HTTPS alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.contrib.auth.hashers import make_password

from devices.models import Gateway

# Mosquitto 2.0's "$7$" format: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key.
MOSQUITTO_ITERATIONS = 20_000
_SALT_BYTES = 12


def mosquitto_hash(
    secret: str, *, iterations: int = MOSQUITTO_ITERATIONS, salt: bytes | None = None
) -> str:
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
        actual = hashlib.pbkdf2_hmac(
            "sha512", secret.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def assign_new_secret(gateway: Gateway, *, secret: str | None = None) -> str:
    """Give ``gateway`` (unsaved changes) a new secret's two hashes; return the secret once."""
    secret = secret or secrets.token_urlsafe(24)
    gateway.credential_hash = make_password(secret)
    gateway.broker_password_hash = mosquitto_hash(secret)
    return secret
