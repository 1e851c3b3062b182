"""Every response carries the Content-Security-Policy and Permissions-Policy, and no template
has an inline script or event handler for the policy to block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HEADERS = ("Content-Security-Policy", "Permissions-Policy", "X-Content-Type-Options")


def _plain_routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    """Every route without a parameter: each page and API list the product answers."""
    routes: list[str] = []
    for entry in patterns:
        route = str(entry.pattern)
        if "<" in route or route.startswith("^"):
            continue  # needs an object id, or a regex (the admin's catch-alls)
        if isinstance(entry, URLResolver):
            routes += _plain_routes(entry.url_patterns, prefix + route)
        else:
            routes.append("/" + prefix + route)
    return sorted(set(routes))


def _assert_headers(response, path: str) -> None:
    for header in HEADERS:
        assert header in response, f"{path} ({response.status_code}) lacks {header}"
    assert response["Content-Security-Policy"] == django_settings.CONTENT_SECURITY_POLICY
    assert "camera=()" in response["Permissions-Policy"]


def test_the_policy_forbids_inline_script_and_framing():
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in django_settings.CONTENT_SECURITY_POLICY.split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in django_settings.CONTENT_SECURITY_POLICY


def test_every_page_and_api_response_carries_the_headers(state_staff, admin_a, client):
    routes = _plain_routes(get_resolver().url_patterns)
    assert {"/dashboard/", "/api/devices", "/metrics"} <= set(routes), routes
    for path in routes:
        _assert_headers(state_staff.browser.get(path), path)
        if path.startswith("/api/"):
            _assert_headers(admin_a.client.get(path), path)
    # Anonymous, a redirect to the login page, a 404 and a refused method carry them too.
    for response, path in [
        (client.get("/"), "/ (anonymous)"),
        (client.get("/login/"), "/login/"),
        (client.get("/no-such-page/"), "404"),
        (client.get("/api/no-such-operation"), "API 404"),
        (client.post("/healthz"), "405"),
    ]:
        _assert_headers(response, path)


def test_no_template_has_an_inline_script_or_event_handler():
    # A data block (type="application/json") never runs; the policy lets it be.
    inline_script = re.compile(r"<script(?![^>]*\b(src\b|type=\"application/json\"))[^>]*>")
    handler = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for pattern in (inline_script, handler):
            offenders += [
                f"{template.relative_to(TEMPLATES)}: {m.group(0)}" for m in pattern.finditer(text)
            ]
    assert offenders == []
