"""Print readiness against a requirement set as a table.

    python manage.py readiness_report --set cjis-mobile
    python manage.py readiness_report --set cjis-mobile --version 6.0 --group-by cabinet
    python manage.py readiness_report --set cjis-mobile --as-of 2026-03-01

Today's figures are evaluated live; a past date reads that date's snapshot, with the version
that was in effect then (unless --version names one). Every agency is included.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from config.errors import DomainError
from readiness.results import GROUPINGS, scores


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of must be YYYY-MM-DD, got {text!r}") from None


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.1f}%"  # type: ignore[arg-type]


class Command(BaseCommand):
    help = "Print readiness scores for a requirement set, live or as of a snapshot date."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):  # noqa: ANN201
        # --version names a requirement-set version here, so it replaces Django's --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument(
            "--set", dest="set_code", required=True, help="Requirement set code, e.g. cjis-mobile."
        )
        parser.add_argument("--version", help="Version; default: the one in effect on --as-of.")
        parser.add_argument("--as-of", type=_date, help="YYYY-MM-DD; default today (live).")
        parser.add_argument("--group-by", default="agency", choices=GROUPINGS)

    def handle(self, *args, **options) -> None:
        try:
            # The operator's command reports on every agency.
            found = scores(
                agency_ids=None,
                set_code=options["set_code"],
                version=options["version"],
                as_of=options["as_of"],
                group_by=options["group_by"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        ver = found.version
        source = "live" if found.source == "live" else f"snapshot of {found.snapshot_date}"
        self.stdout.write(
            f"{ver.requirement_set.name} ({ver.requirement_set.code}) version {ver.version}, "
            f"as of {found.as_of} ({source})"
        )
        header = ("group", "name", "devices", "ready", "ready %", "score", "coverage")
        table = [header] + [
            (
                str(r["group"]),
                str(r["name"]),
                str(r["devices"]),
                str(r["ready"]),
                _pct(r["ready_pct"]),
                _pct(r["score"]),
                _pct(100 * float(r["coverage"])),
            )
            for r in found.rows.to_dict("records")
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        numeric = {2, 3, 4, 5, 6}
        for n, row in enumerate(table):
            cells = [
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            self.stdout.write("  ".join(cells).rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        if found.rows.empty:
            self.stdout.write("(no devices)")
        total_devices = int(found.rows["devices"].sum()) if not found.rows.empty else 0
        total_ready = int(found.rows["ready"].sum()) if not found.rows.empty else 0
        self.stdout.write(
            f"{total_ready} of {total_devices} devices ready. Score: weighted share of applicable "
            "results passed or waived; coverage: devices reporting within their interval."
        )
