from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"
    verbose_name = "Telemetry and health"

    def ready(self) -> None:
        from telemetry import checks  # noqa: F401  (registers the deploy checks)
