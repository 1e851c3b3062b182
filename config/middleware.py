"""Request guards that apply to the whole API, and the headers every response carries."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

_JSON_NUL = b"\\u0000"


class RejectNulCharactersMiddleware:
    """Answer 422 to API input carrying a NUL character instead of failing in the database.

    PostgreSQL text cannot hold NUL (SQLite can), so without this the same request would be
    stored on one database and be a server error on the other. Uploaded files are left to
    their importers, which report bad content by row and column.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            field = self._nul_field(request)
            if field is not None:
                return JsonResponse(
                    {
                        "message": f"{field}: text may not contain NUL (\\u0000) characters.",
                        "errors": [{"field": field, "message": "contains a NUL character"}],
                    },
                    status=422,
                )
        return self.get_response(request)

    @staticmethod
    def _nul_field(request: HttpRequest) -> str | None:
        for key, value in parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return key.replace("\x00", "") or "query"
        if "\x00" in request.path:
            return "path"
        if request.content_type == "application/json":
            body = request.body
            if b"\x00" in body or _JSON_NUL in body.lower():
                return "body"
        return None


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (settings.py has both).

    A few lines here rather than django-csp: the policy is one constant string with no nonces
    (no page has an inline script to allow), so a dependency would add only configuration.
    A header a view set itself is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
            "Permissions-Policy": settings.PERMISSIONS_POLICY,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        return response
