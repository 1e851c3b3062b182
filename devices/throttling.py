"""Per-token throttling of the API's bearer tokens: at most TRACKER_API_TOKEN_RATE requests
per token ("600/minute" by default) in a sliding window; over it, 429 with Retry-After.

django-ninja's `SimpleRateThrottle` does the counting (a list of request times per key in
Django's cache, so shared by every process when the cache is Redis; per process with the
default local-memory cache): fitting it takes only the key, so no counting of our own. The key
is the token's SHA-256 (as stored in `ApiToken.key_hash`), so two tokens of one user are
counted apart and the cache never holds a token. Requests signed in with the browser session
are not counted: people clicking are not the load this guards against, and sign-in itself is
guarded by django-axes.

The check runs after authentication (ninja's order), so an unknown or expired token is a 401
and never reaches the counter. The rate is read from settings on each request, so a change
of settings (a test's small rate) applies at once. Counting is get-then-set, not atomic:
two requests racing on one token may both pass at the limit; a throttle, not a quota.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import SimpleRateThrottle

from devices.auth import hash_token

BEARER = "bearer "
LONG_UNITS = {
    "second": "s",
    "seconds": "s",
    "minute": "min",
    "minutes": "min",
    "hours": "hour",
    "days": "day",
}


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api_token"
    cache_format = "throttle_%(scope)s_%(ident)s"

    def __init__(self) -> None:
        super().__init__(rate=settings.TRACKER_API_TOKEN_RATE)

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        # ninja reads "600/min"; the setting may also say "600/minute" (or second, hours...).
        if rate and "/" in rate:
            count, unit = rate.split("/", 1)
            rate = f"{count}/{LONG_UNITS.get(unit.strip().lower(), unit.strip())}"
        return super().parse_rate(rate)

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = settings.TRACKER_API_TOKEN_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        header = str(request.META.get("HTTP_AUTHORIZATION", ""))
        if getattr(request, "auth", None) is None or not header.lower().startswith(BEARER):
            return None  # not a bearer-token request: not counted here
        token = header[len(BEARER) :].strip()
        return self.cache_format % {"scope": self.scope, "ident": hash_token(token)}


def over_limit_message(wait: float | None) -> str:
    retry = f" Retry in {max(1, round(wait))} seconds." if wait else ""
    return (
        f"Too many requests with this API token: at most {settings.TRACKER_API_TOKEN_RATE} "
        f"(TRACKER_API_TOKEN_RATE).{retry} Spread the requests out, or use one token per "
        "script so each has its own allowance."
    )
