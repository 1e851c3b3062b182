"""`manage.py restore FILE`: put back the database and the media folder of a backup.

Thin: the checks and the replacing are in `config.backups`. Destructive: it replaces the
database and MEDIA_ROOT, and refuses while another process has the database open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.backups import STOP_FIRST, VENDOR_NAMES, BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Replace the database and MEDIA_ROOT with a backup made by `manage.py backup` "
        f"({STOP_FIRST})."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="An archive written by `manage.py backup`.")

    def handle(self, *args: Any, archive: Path, **options: Any) -> None:
        self.stdout.write(f"Restoring {archive}: the database and the media folder are replaced.")
        try:
            manifest = restore_backup(archive=archive)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored the {VENDOR_NAMES[manifest.vendor]} backup of {manifest.created_at} (version "
            f"{manifest.product_version}): {len(manifest.row_counts)} tables, "
            f"{manifest.total_rows:,} rows and {manifest.media_files} media files, checked. "
            "Run `manage.py migrate`, then start web, ingest, worker and beat."
        )
