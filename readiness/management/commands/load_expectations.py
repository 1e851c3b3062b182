"""manage.py load_expectations FILE: record federal expectation versions from a TOML or CSV file."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from readiness.expectations import ExpectationFileError, load_expectation_file


class Command(BaseCommand):
    help = (
        "Record federal expectation versions from a TOML file ([[expectation]] tables) or a CSV "
        "file (a header row naming the fields: metric, version, target_value, target_by, "
        "effective_from, source, source_url, change_note, is_illustrative, scope). A bad file is "
        "refused with 'file: line N: problem' and nothing is recorded; loading the same file "
        "again changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="A .toml or .csv file.")

    def handle(self, *args, **options) -> None:
        try:
            new, unchanged = load_expectation_file(Path(options["path"]))
        except ExpectationFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{new} recorded, {unchanged} unchanged"))
