"""Store the readiness and participation snapshots of a date (today by default), or backfill.

    python manage.py snapshot_readiness                      # today
    python manage.py snapshot_readiness --date 2026-03-01    # one date
    python manage.py snapshot_readiness --backfill-days 30   # the 30 days ending on --date

Re-running a date replaces its rows. A backfilled past date is today's fleet judged by the
requirement versions and waivers of that date: the inventory keeps no history of device
attributes.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from readiness.snapshots import backfill_snapshots, compute_snapshots


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, got {text!r}") from None


class Command(BaseCommand):
    help = (
        "Compute readiness snapshots for a date (idempotent), optionally backfilling earlier days."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument(
            "--date", type=_date, help="Date to snapshot (YYYY-MM-DD); default today."
        )
        parser.add_argument(
            "--backfill-days",
            type=int,
            default=0,
            help="Also snapshot this many days ending on --date (1-3660).",
        )

    def handle(self, *args, **options) -> None:
        today = timezone.localdate()
        day = options["date"] or today
        if day > today:
            raise CommandError(
                f"--date {day} is in the future; a snapshot describes a day that has happened."
            )
        days = options["backfill_days"]
        if days < 0 or days > 3660:
            raise CommandError("--backfill-days must be between 0 and 3660.")
        if days:
            runs = backfill_snapshots(until=day, days=days)
            self.stdout.write(
                f"Backfilled {len(runs)} days ending {day}: {sum(r.readiness_rows for r in runs)} readiness rows, "
                f"{sum(r.participation_rows for r in runs)} participation rows "
                "(today's fleet judged by each date's versions and waivers)."
            )
            return
        run = compute_snapshots(as_of=day)
        versions = ", ".join(run.versions) or "no version in effect"
        self.stdout.write(
            f"Snapshot {day}: {run.readiness_rows} readiness rows ({versions}), "
            f"{run.participation_rows} participation rows."
        )
