"""Build a briefing file from the command line (no queue): the same core as the briefing page.

    python manage.py briefing --format pptx --out briefing.pptx --scope cabinet:justice \
        --set cjis-mobile --compare-version 5.9 --as-of 2026-10-31
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from readiness.briefings.data import BriefingParams
from readiness.exports import build_briefing_file


class Command(BaseCommand):
    help = "Build a briefing (PPTX, XLSX or PDF) for a scope, requirement set version and date."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: object) -> CommandParser:
        # --version names a requirement-set version here, so it replaces Django's --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=["pptx", "xlsx", "pdf"])
        parser.add_argument("--out", required=True, help="File to write.")
        parser.add_argument(
            "--scope", default="state", help="state, cabinet:SLUG or agency:SLUG (default state)."
        )
        parser.add_argument(
            "--set", dest="set_code", default="", help="Requirement set code (default: the first)."
        )
        parser.add_argument(
            "--version",
            dest="set_version",
            default="",
            help="Version (default: the one in effect on the as-of date).",
        )
        parser.add_argument(
            "--compare-version", default="", help="Add a what-if against this version."
        )
        parser.add_argument(
            "--as-of",
            default="",
            help="YYYY-MM-DD (default today: the latest evaluation of record).",
        )
        parser.add_argument(
            "--since-briefing",
            type=int,
            default=None,
            help="Id of an earlier finished briefing: adds 'what changed since'.",
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            as_of = date.fromisoformat(str(options["as_of"])) if options["as_of"] else None
        except ValueError as exc:
            raise CommandError(
                f"--as-of {options['as_of']!r} is not a date: use YYYY-MM-DD."
            ) from exc
        params = BriefingParams(
            scope=str(options["scope"]),
            set_code=str(options["set_code"]),
            version=str(options["set_version"]),
            compare_version=str(options["compare_version"]),
            as_of=as_of,
            since_id=options["since_briefing"],  # type: ignore[arg-type]
        )
        try:
            result = build_briefing_file(params, str(options["format"]))
        except DomainError as exc:
            field = f" ({exc.field})" if exc.field else ""
            raise CommandError(f"{exc.message}{field}") from exc
        out = Path(str(options["out"]))
        out.write_bytes(result.blob)
        data = result.data
        self.stdout.write(
            f"Wrote {out} ({len(result.blob):,} bytes): {data.scope_label}, {data.set_code} "
            f"{data.version}, as of {data.as_of}"
        )
        self.stdout.write(
            f"Ready {data.headline.ready_pct:.1f}% of {data.headline.devices:,} devices"
        )
        self.stdout.write(f"Versions in effect: {'; '.join(data.versions_in_effect)}")
        self.stdout.write(f"Data hash: {data.data_hash}")
