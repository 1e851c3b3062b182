from django.contrib import admin
from django.urls import include, path

from config.api import api
from config import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("devices.urls")),
    path("", include("telemetry.urls")),
    path("", include("readiness.urls")),
]
