"""manage.py load_requirements [PATH ...]: validate requirement files, then load them all."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from readiness.loader import SETS_DIR, RequirementFileError, load_requirements


class Command(BaseCommand):
    help = (
        "Validate TOML requirement files (one per set version) and load them in one transaction. "
        "A file with a mistake is refused with the file, the requirement code and the problem, "
        "and nothing is loaded. Loading the same files again changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="*", help=f"Files or directories (default: {SETS_DIR}).")

    def handle(self, *args, **options) -> None:
        paths = options["paths"] or [SETS_DIR]
        try:
            report = load_requirements(paths)
        except RequirementFileError as exc:
            raise CommandError(str(exc)) from None
        for label, items in (
            ("created", report.created),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
        ):
            for item in items:
                self.stdout.write(f"{label:9} {item}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
            )
        )
