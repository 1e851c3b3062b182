from django.urls import path

from telemetry import views

app_name = "telemetry"
urlpatterns: list = [
    path("telemetry/dead-letters/", views.dead_letter_list, name="dead_letter_list"),
    path("telemetry/dead-letters/<int:pk>/", views.dead_letter_detail, name="dead_letter_detail"),
    path("telemetry/gateways/", views.gateway_status_list, name="gateway_status"),
]

# Health: the device page's health panel (HTMX), alerts and maintenance windows.
from telemetry import health_views  # noqa: E402

urlpatterns += [
    path("devices/<int:pk>/health/", health_views.device_health_panel, name="device_health_panel"),
    path("alerts/", health_views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/acknowledge/", health_views.alert_acknowledge, name="alert_acknowledge"),
    path("maintenance/", health_views.maintenance_list, name="maintenance_list"),
    path(
        "maintenance/<int:pk>/delete/", health_views.maintenance_delete, name="maintenance_delete"
    ),
]

# Large readings exports: a job's progress and its file.
from telemetry import readings_views  # noqa: E402

urlpatterns += [
    path(
        "telemetry/readings-exports/<str:job_id>/",
        readings_views.readings_export_job,
        name="readings_export_job",
    ),
    path(
        "telemetry/readings-exports/<str:job_id>/download/",
        readings_views.readings_export_download,
        name="readings_export_download",
    ),
]
