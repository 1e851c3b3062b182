"""`manage.py import_devices FILE --agency SLUG [--dry-run] [--user NAME]`.

Prints the preview (counts, ignored columns) and every bad row as ``row N, column: message``
on stderr. Exit code 0 when the file was imported (or, with --dry-run, would be), 1 when
any row is bad: nothing is written then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.importing import ImportPlan, ImportRejected, import_devices
from devices.models import Agency, User


class Command(BaseCommand):
    help = "Import devices from a CSV or XLSX file into one agency (upsert by serial)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A .csv or .xlsx file with a header row.")
        parser.add_argument(
            "--agency", required=True, help="Slug of the agency the devices belong to."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and preview; write nothing."
        )
        parser.add_argument("--user", help="Username the audit record names (default: system).")

    def handle(
        self, *args: Any, file: str, agency: str, dry_run: bool, user: str | None, **options: Any
    ) -> None:
        target = Agency.objects.filter(slug=agency).first()
        if target is None:
            raise CommandError(f"There is no agency {agency!r}; see the agency list for slugs.")
        actor = None
        if user:
            actor = User.objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"There is no user {user!r}.")
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from exc
        try:
            plan = import_devices(
                agency=target, data=data, filename=path.name, actor=actor, dry_run=dry_run
            )
        except ImportRejected as rejected:
            plan = rejected.plan
        self._report(plan)
        if not plan.is_valid:
            raise CommandError(f"{len(plan.errors)} problems; nothing was imported.", returncode=1)

    def _report(self, plan: ImportPlan) -> None:
        self.stdout.write(f"{plan.filename}: {plan.summary()}")
        if plan.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(plan.ignored_columns)}")
        for note in plan.notes:
            self.stdout.write(f"Note: {note}")
        for error in plan.errors:
            self.stderr.write(str(error))
