"""`manage.py export_devices [--agency SLUG] [--format csv|xlsx] [--output FILE] [filters]`.

Writes the devices in the columns `import_devices` reads (so an export can be edited and
imported back), with would-be spreadsheet formulas neutralised. CSV goes to stdout unless
--output is given; XLSX needs --output.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices import exporting
from devices.models import Agency, Device, DeviceKind, DeviceNetwork, DeviceStatus
from devices.selectors import filter_devices


class Command(BaseCommand):
    help = "Export devices to CSV or XLSX in the import's columns."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", help="Only this agency's devices (slug).")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv", dest="fmt")
        parser.add_argument("--output", help="File to write (default: stdout, CSV only).")
        parser.add_argument("--kind", choices=[c.value for c in DeviceKind])
        parser.add_argument("--status", choices=[c.value for c in DeviceStatus])
        parser.add_argument("--network", choices=[c.value for c in DeviceNetwork])
        parser.add_argument("--q", help="Search in serial and asset tag.")

    def handle(
        self, *args: Any, fmt: str, output: str | None, agency: str | None, **options: Any
    ) -> None:
        if agency and not Agency.objects.filter(slug=agency).exists():
            raise CommandError(f"There is no agency {agency!r}.")
        devices = filter_devices(
            Device.objects.all(),
            agency=agency,
            kind=options["kind"],
            status=options["status"],
            network=options["network"],
            q=options["q"],
        )
        if fmt == "xlsx":
            if not output:
                raise CommandError("XLSX is binary: give --output FILE.")
            with open(output, "wb") as out:
                count = exporting.write_xlsx(devices, out)
        elif output:
            # newline="" keeps the csv module's \r\n line ends as they are.
            with open(output, "w", encoding="utf-8", newline="") as out:
                count = exporting.write_csv(devices, out)
        else:
            count = exporting.write_csv(devices, self.stdout)
        if output:
            self.stderr.write(f"{count} devices written to {output}")
