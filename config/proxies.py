"""The client's address behind the site's own reverse proxies.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
immediate peer (``REMOTE_ADDR``) is one of the proxies listed in ``DJANGO_TRUSTED_PROXIES``;
from anyone else it is ignored. Each trusted proxy appends the address it received the
request from, so the chain is read from the right, skipping the trusted proxies, and the
first address that is not one of them is the client. Anything to its left was written by
the client and proves nothing. A header that does not parse is ignored as a whole: a
proxy writes plain addresses, so a malformed one was not written by a proxy.

``X-Forwarded-Proto`` gets the same treatment: Django believes it (``SECURE_PROXY_SSL_HEADER``)
to decide whether a request came over HTTPS, which governs the redirect to HTTPS and the
CSRF origin check, so a client reaching the server directly must not be able to claim it.
The middleware removes it from any peer that is not a trusted proxy.

With no proxies listed (the default) neither header is ever read, which is right for
``make run`` and for a server reached directly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """CIDRs (``10.0.0.0/8``, ``::1/128``, or a bare address) as networks; ValueError on a bad one."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def in_networks(address: str, networks: Iterable[Network]) -> bool:
    """Whether ``address`` lies in any of ``networks``; an unparseable address lies in none."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return _contains(parsed, networks)


def resolve_client(*, peer: str, forwarded_for: str, trusted: Iterable[Network]) -> str:
    """The client's address from the peer and its X-Forwarded-For header (pure)."""
    trusted = tuple(trusted)
    if not forwarded_for or not in_networks(peer, trusted):
        return peer
    try:
        chain = [ipaddress.ip_address(hop.strip()) for hop in forwarded_for.split(",")]
    except ValueError:
        return peer
    for hop in reversed(chain):
        if not _contains(hop, trusted):
            return str(hop)
    # Every hop is a proxy of the site's own: the left-most is as far back as it goes.
    return str(chain[0])


def client_address(request: HttpRequest | None) -> str | None:
    """The address of the client that sent ``request``, for the audit log and access rules.

    After ``TrustedProxyMiddleware`` has run, ``REMOTE_ADDR`` already holds the client and
    the header is gone, so calling this again returns the same address.
    """
    if request is None:
        return None
    peer = request.META.get("REMOTE_ADDR") or ""
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR", "")
    trusted = parse_networks(tuple(settings.TRUSTED_PROXIES))
    return resolve_client(peer=peer, forwarded_for=forwarded_for, trusted=trusted) or None


class TrustedProxyMiddleware:
    """Put the client's address in ``REMOTE_ADDR``, drop X-Forwarded-For, and drop
    X-Forwarded-Proto unless a trusted proxy sent it.

    First in the chain, so every later reader (the audit log, the /metrics networks, the
    API throttles, which would otherwise read the header themselves) sees the one answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not in_networks(
            request.META.get("REMOTE_ADDR") or "", parse_networks(tuple(settings.TRUSTED_PROXIES))
        ):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        if "HTTP_X_FORWARDED_FOR" in request.META:
            request.META["REMOTE_ADDR"] = client_address(request) or ""
            del request.META["HTTP_X_FORWARDED_FOR"]
        return self.get_response(request)


def _contains(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)
