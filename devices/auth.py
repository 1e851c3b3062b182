"""API authentication: bearer tokens stored as SHA-256, or the browser session."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from devices.models import ApiToken, User

TOKEN_PREFIX = "rt_"
# last_used_at is for people deciding what to revoke; a minute's precision is plenty and
# saves a write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name, prefix=token[:10], key_hash=hash_token(token))
    return row, token


def user_for_token(token: str) -> User | None:
    """The active user behind an unrevoked token, touching last_used_at at most once a minute."""
    row = (
        ApiToken.objects.select_related("user", "user__agency")
        .filter(key_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class BrowserSessionAuth(SessionAuth):
    """The logged-in browser (pages call the API with their session and CSRF token)."""


api_auth = [BearerTokenAuth(), BrowserSessionAuth()]
