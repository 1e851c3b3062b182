"""X-Forwarded-For is believed only from the site's own proxies (DJANGO_TRUSTED_PROXIES).

Through the Django test client and the whole middleware chain, with the audit log as the
witness: it records the address config.proxies resolved.
"""

from __future__ import annotations

import pytest

from config.proxies import parse_networks, resolve_client
from devices.models import AuditRecord

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


def _create_gateway(persona, name: str, **extra: str) -> AuditRecord:
    response = persona.client.post(
        "/api/gateways", {"name": name}, content_type="application/json", **extra
    )
    assert response.status_code == 201, response.content
    return AuditRecord.objects.get(action="create", object_repr__contains=name)


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(admin_a, settings):
    settings.TRUSTED_PROXIES = [f"{PROXY}/32"]
    record = _create_gateway(
        admin_a, "spoofed", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert record.remote_addr == "198.51.100.7"


def test_with_no_trusted_proxies_the_header_is_never_read(admin_a, settings):
    settings.TRUSTED_PROXIES = []
    record = _create_gateway(
        admin_a, "direct", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert record.remote_addr == "127.0.0.1"


def test_a_trusted_proxy_chain_gives_the_right_most_untrusted_address(admin_a, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "::1/128"]
    # The client wrote "192.0.2.1" itself; 203.0.113.9 reached the outer proxy 10.0.0.7,
    # which handed the request to 10.0.0.5, the peer.
    record = _create_gateway(
        admin_a,
        "proxied",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9, 10.0.0.7",
    )
    assert record.remote_addr == "203.0.113.9"


@pytest.mark.parametrize(
    "header", ["not-an-address", "203.0.113.9, evil", "203.0.113.9:443", ",", "203.0.113.9;x"]
)
def test_a_malformed_header_is_ignored_as_a_whole(admin_a, settings, header):
    settings.TRUSTED_PROXIES = [f"{PROXY}/32"]
    record = _create_gateway(
        admin_a, f"bad-{abs(hash(header))}", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header
    )
    assert record.remote_addr == PROXY


def test_resolution_is_pure_and_handles_ipv6():
    trusted = parse_networks(("2001:db8::/32", "10.0.0.0/8"))
    assert resolve_client(peer="2001:db8::1", forwarded_for="2001:db9::7", trusted=trusted) == (
        "2001:db9::7"
    )
    # Every hop a proxy of the site's own: the left-most is as far back as the chain goes.
    assert resolve_client(peer="10.1.1.1", forwarded_for="10.2.2.2, 10.3.3.3", trusted=trusted) == (
        "10.2.2.2"
    )
    assert resolve_client(peer="192.0.2.1", forwarded_for="", trusted=trusted) == "192.0.2.1"


def test_a_bad_cidr_in_the_setting_stops_the_start_naming_it(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.settings import env_networks

    monkeypatch.setenv("DJANGO_TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/33")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_TRUSTED_PROXIES: '10.0.0.0/33'"):
        env_networks("DJANGO_TRUSTED_PROXIES", "")


@pytest.mark.parametrize(
    ("peer", "expected"),
    [("198.51.100.7", 301), (PROXY, 200)],
    ids=["from a client: redirected to HTTPS", "from a trusted proxy: served"],
)
def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(client, settings, peer, expected):
    # Believed from anyone, the header would let a plain-HTTP client pass as HTTPS and skip
    # the redirect (and the CSRF origin check that depends on it).
    settings.TRUSTED_PROXIES = [f"{PROXY}/32"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/login/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == expected
