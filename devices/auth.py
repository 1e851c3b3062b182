"""API authentication: bearer tokens stored as SHA-256, or the browser session.

A token has a scope (read, or read and write) and an expiry, and works only while its user
is active. Every rule about what a token may do is checked in `user_for_token`, which the
ninja auth class below calls for every API request: there is no second place that lets a
token through.

Use is recorded on the row (time and address) for people deciding what to revoke, but not
on every request: only when the address changes (the event worth seeing: a token used from
somewhere new) or the last record is over a minute old. A busy script therefore costs one
UPDATE a minute, not one per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from config.errors import DomainError, Forbidden, InvalidInput
from devices.audit import record, request_user_agent
from devices.models import ApiToken, AuditRecord, User

TOKEN_PREFIX = "rt_"
LAST_USED_PRECISION = dt.timedelta(minutes=1)
# What a read token may do: the methods that change nothing (RFC 9110's safe methods).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NEW_TOKEN_HOWTO = (
    "sign in and create one (POST /api/tokens), or ask an administrator to run "
    "`manage.py create_api_token`"
)


class TokenExpired(DomainError):
    """A token past its expiry: 401, with the date and how to get a new one."""

    status = 401


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_expiry(*, now: dt.datetime, expires_in_days: int | None) -> dt.datetime:
    """When a token issued at ``now`` expires: the default lifetime, or the days asked for.

    Raises InvalidInput (422) outside 1..TRACKER_TOKEN_MAX_DAYS. Pure apart from the settings.
    """
    longest = settings.TRACKER_TOKEN_MAX_DAYS
    days = settings.TRACKER_TOKEN_DEFAULT_DAYS if expires_in_days is None else expires_in_days
    if not 1 <= days <= longest:
        raise InvalidInput(
            f"expires_in_days must be between 1 and {longest}: a token lives at most {longest} "
            f"days (TRACKER_TOKEN_MAX_DAYS); create a new one when it runs out.",
            field="expires_in_days",
        )
    return now + dt.timedelta(days=days)


def issue_token(
    *,
    user: User,
    now: dt.datetime,
    name: str = "api",
    scope: str = ApiToken.Scope.READ,
    expires_in_days: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token, which is never stored.

    Not idempotent: each call issues a new token. One INSERT, in the caller's transaction.
    """
    expires_at = token_expiry(now=now, expires_in_days=expires_in_days)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        prefix=token[:10],
        key_hash=hash_token(token),
        created_at=now,
        expires_at=expires_at,
    )
    return row, token


def scope_allows(scope: str, method: str) -> bool:
    """Whether a token of ``scope`` may make a request with HTTP ``method`` (pure)."""
    return scope == ApiToken.Scope.READ_WRITE or method.upper() in SAFE_METHODS


def user_for_token(
    token: str,
    *,
    now: dt.datetime,
    method: str = "GET",
    remote_addr: str | None = None,
    user_agent: str = "",
) -> User | None:
    """The user a request with ``token`` acts as, or None (401) for an unknown, revoked or
    deactivated user's token.

    Raises TokenExpired (401, with the date) past the expiry, and Forbidden (403) for a read
    token on a write ``method``. Records the use as the module docstring says: at most one
    conditional UPDATE, outside any transaction of its own; safe to repeat.
    """
    row = (
        ApiToken.objects.select_related("user", "user__agency")
        .filter(key_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    if row.expires_at <= now:
        raise TokenExpired(
            f"This token ({row.prefix}…) expired on "
            f"{row.expires_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC. To get a new one, "
            f"{NEW_TOKEN_HOWTO}."
        )
    _record_use(row, now=now, remote_addr=remote_addr, user_agent=user_agent)
    if not scope_allows(row.scope, method):
        raise Forbidden(
            "This token is read-only; create a read-and-write token (scope read_write) to "
            "change anything through the API."
        )
    return row.user


def _record_use(
    row: ApiToken, *, now: dt.datetime, remote_addr: str | None, user_agent: str
) -> None:
    fresh = row.last_used_at is not None and now - row.last_used_at < LAST_USED_PRECISION
    if fresh and row.last_used_ip == remote_addr:
        return
    # Forward only: a slow request finishing after a newer one must not move the time back.
    moved = ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now), pk=row.pk
    ).update(last_used_at=now, last_used_ip=remote_addr)
    # A token seen from a new address is a login-audit event (CJIS); the first use is not.
    if moved and row.last_used_ip is not None and row.last_used_ip != remote_addr:
        record(
            actor=row.user,
            action=AuditRecord.Action.TOKEN_NEW_ADDRESS,
            obj=row,
            agency_id=row.user.agency_id,
            remote_addr=remote_addr,
            user_agent=user_agent,
            message=f"token {row.prefix}… used from {remote_addr}, last from {row.last_used_ip}",
        )


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(
            token,
            now=timezone.now(),
            method=request.method or "GET",
            remote_addr=_address(request),
            user_agent=request_user_agent(request),
        )
        if user is not None:
            request.user = user
        return user


def _address(request: HttpRequest) -> str | None:
    # REMOTE_ADDR is the client (the trusted-proxy middleware resolves it first); a server on
    # a Unix socket may leave it empty or not an address, which the column would refuse.
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


class BrowserSessionAuth(SessionAuth):
    """The logged-in browser (pages call the API with their session and CSRF token)."""


api_auth = [BearerTokenAuth(), BrowserSessionAuth()]
