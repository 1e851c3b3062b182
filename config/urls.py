from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found

from config import health
from config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("", include("devices.urls")),
    path("", include("telemetry.urls")),
    path("", include("readiness.urls")),
    # WebAuthn ceremonies of two-factor sign-in (django-otp-webauthn's views): devices/webauthn.py.
    path("webauthn/", include("devices.webauthn")),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A path no route matches (e.g. /api/devices/abc): JSON under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"message": "Not found: no API operation has this path; see /api/docs.", "errors": []},
            status=404,
        )
    return page_not_found(request, exception)


handler404 = not_found
