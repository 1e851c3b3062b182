from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from devices import login_audit

        login_audit.connect()
