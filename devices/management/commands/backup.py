"""`manage.py backup --out FILE`: the database and the media folder in one archive.

Thin: the work and its trade-offs are in `config.backups`. Safe while the product runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.backups import VENDOR_NAMES, BackupError, create_backup


class Command(BaseCommand):
    help = "Back up the database and MEDIA_ROOT into one archive (safe while the product runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="The archive to write (tar).")

    def handle(self, *args: Any, out: Path, **options: Any) -> None:
        try:
            manifest = create_backup(out=out, now=timezone.now())
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up the {VENDOR_NAMES[manifest.vendor]} database ({len(manifest.row_counts)} tables, "
            f"{manifest.total_rows:,} rows) and {manifest.media_files} media files to {out}."
        )
