from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from devices import login_audit, sessions

        login_audit.connect()
        sessions.connect()
