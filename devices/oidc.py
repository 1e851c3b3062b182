"""The OpenID Connect relying party: the redirect to the provider and the checked ID token back.

Authlib (its Django client, `authlib.integrations.django_client`) does the protocol: discovery
from ``<issuer>/.well-known/openid-configuration``, PKCE with S256, state and nonce kept in the
browser's Django session, the code exchange, and the ID token checked as OIDC Core 3.1.3.7
asks (signature against the provider's JWKS, ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce``).
Why Authlib: it is maintained, it implements those checks, and it fits the product's own
login page. mozilla-django-oidc does not check the ID token's issuer or audience (its issue
#340, open since 2020); django-allauth would replace the login view, django-axes lockout,
sessions and invitations the product already has.

`complete` refuses (raises `SignInRefused`, with a message a person can act on) anything
Authlib does not accept, and also a token response without an ID token: Authlib only checks
an ID token when there is one, and a sign-in with no signed statement of who it is would be
no sign-in at all. Nothing here writes to the database; `devices.sso` decides who signs in.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)

# Seconds of clock difference allowed with the provider on exp/iat (Authlib's default is 120).
CLOCK_LEEWAY = 60
TIMEOUT = 10
START_AGAIN = "Start again from the login page; if it happens again, tell your administrator."

_clients: dict[tuple[str, ...], Any] = {}


class SignInRefused(Exception):  # noqa: N818  (a refusal, not a fault of the product)
    """A single sign-on that must not sign anyone in; ``message`` says why and what to do."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # short, for the audit log


def enabled() -> bool:
    return bool(settings.TRACKER_OIDC_ISSUER)


def _client() -> Any:
    # One client per configuration: it keeps the discovery document and the JWKS it fetched
    # (refetched by Authlib when a token names a key it does not have: a key rotation).
    key = (
        settings.TRACKER_OIDC_ISSUER,
        settings.TRACKER_OIDC_CLIENT_ID,
        settings.TRACKER_OIDC_CLIENT_SECRET,
        settings.TRACKER_OIDC_SCOPES,
    )
    if key not in _clients:
        oauth = OAuth()
        _clients[key] = oauth.register(
            "tracker",
            client_id=settings.TRACKER_OIDC_CLIENT_ID,
            client_secret=settings.TRACKER_OIDC_CLIENT_SECRET,
            server_metadata_url=f"{settings.TRACKER_OIDC_ISSUER}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.TRACKER_OIDC_SCOPES,
                "code_challenge_method": "S256",
                "default_timeout": TIMEOUT,
            },
        )
    return _clients[key]


def begin(request: HttpRequest, *, redirect_uri: str) -> HttpResponse:
    """The redirect to the provider; state, nonce and PKCE verifier go into the session."""
    try:
        return _client().authorize_redirect(request, redirect_uri)
    except requests.RequestException as exc:
        raise SignInRefused(
            f"The identity provider could not be reached ({type(exc).__name__}). Try again in "
            "a minute; if it persists, tell your administrator.",
            reason=f"provider unreachable: {exc}"[:200],
        ) from exc


def complete(request: HttpRequest) -> dict[str, Any]:
    """The checked ID token's claims for the callback ``request``, plus ``iss``.

    Raises SignInRefused for a forged or missing state, a refused or replayed code, and an ID
    token that is missing, expired, for another audience or issuer, badly signed, or with a
    nonce this browser did not send. The state is used up either way (Authlib drops it).
    """
    try:
        token = _client().authorize_access_token(request, leeway=CLOCK_LEEWAY)
    except MismatchingStateError as exc:
        raise SignInRefused(
            "This sign-in response does not belong to a sign-in started in this browser (its "
            f"state is missing, forged or already used). Nothing was changed. {START_AGAIN}",
            reason="state missing or not matching",
        ) from exc
    except (AuthlibBaseError, JoseError, ValueError) as exc:
        raise _refusal(exc) from exc
    except requests.RequestException as exc:
        raise SignInRefused(
            f"The identity provider could not be reached to finish the sign-in. {START_AGAIN}",
            reason=f"provider unreachable: {exc}"[:200],
        ) from exc
    claims = token.get("userinfo")
    if not claims:
        raise SignInRefused(
            f"The identity provider sent no ID token. Nothing was changed. {START_AGAIN}",
            reason="no id_token in the token response",
        )
    return dict(claims)


def _refusal(exc: Exception) -> SignInRefused:
    detail = str(exc)[:200]
    claim = (
        getattr(exc, "claim", "") if isinstance(exc, InvalidClaimError | MissingClaimError) else ""
    )
    if isinstance(exc, OAuthError):
        text = (
            f"The identity provider refused the sign-in code ({exc.error}): it was already "
            "used, has expired, or was issued to another application."
        )
    elif isinstance(exc, ExpiredTokenError):
        text = "The identity provider's ID token has expired."
    elif isinstance(exc, BadSignatureError):
        text = "The ID token's signature does not match the identity provider's keys."
    elif claim in ("aud", "azp"):  # azp: several audiences, and this client not the party
        text = "The ID token was issued for another application (its audience is not this one)."
    elif claim == "nonce":
        text = "The ID token does not answer this browser's sign-in (its nonce does not match)."
    elif claim == "iss":
        text = "The ID token was issued by another identity provider than the configured one."
    else:
        text = "The identity provider's answer could not be verified."
    return SignInRefused(f"{text} Nothing was changed. {START_AGAIN}", reason=detail)
