"""The restore drill and the backup commands, on the real database of the run and real files.

The drill loads a small demo, takes the figures an operator would check (rows per table,
the audit log, readiness scores live and from snapshots, and on PostgreSQL where each
history row sits among the partitions), backs up, changes things, restores over the live
database, then drops everything (the SQLite file deleted, or every table of the schema
dropped), restores again, and finds the same figures both times. On PostgreSQL it restores
into pytest's test database itself: the product then reads the restored tables through
its own code, which is what a restore has to give back.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from config.backups import MANIFEST, BackupError, create_backup, find_pg_tool
from devices.demo import load_inventory_demo
from devices.models import AuditRecord, Cabinet
from readiness.demo import load_readiness_demo
from readiness.results import (
    agency_counts,
    agency_meta,
    aggregate_counts,
    evaluate_raw,
    finish_results,
    scores,
    versions_in_effect,
)
from telemetry.demo import load_telemetry_demo
from telemetry.partitions import TABLE, create_partition, is_partitioned, list_partitions
from tests.factories import CabinetFactory

# A backup or restore replaces or reads the database from outside Django's transaction.
pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent
SNAPSHOT_DAYS = 5
IS_SQLITE = connection.vendor == "sqlite"


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Figures:
    """What a restore must give back."""

    rows: dict[str, int]
    audit: list[tuple]
    readiness: dict[str, list[dict]]
    history_by_partition: dict[str, int]
    partitions: list[str]
    media: dict[str, bytes]


def _readiness(now) -> dict[str, list[dict]]:
    """Per set in effect: the live scores per agency at ``now`` and a past day's snapshot scores.

    The live figures are computed as ``results.scores`` computes them, with the test's ``now``
    passed to the engine: ``evaluate_fleet`` reads the clock itself, and a demo device near
    its "seen within" limit would flip between two readings of it.
    """
    figures = {}
    today = timezone.localdate(now)
    meta = agency_meta()
    for version in versions_in_effect(on=today):
        code = version.requirement_set.code
        fleet = finish_results(evaluate_raw(version=version, now=now), waivers_at=now)
        live = aggregate_counts(agency_counts(fleet), meta, group_by="agency")
        past = scores(agency_ids=None, set_code=code, as_of=today - timedelta(days=2), now=now)
        figures[f"{code} live"] = live.to_dict("records")
        figures[f"{code} snapshot"] = past.rows.to_dict("records")
    return figures


def _history_by_partition() -> dict[str, int]:
    if not is_partitioned():
        return {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text, COUNT(*) FROM {TABLE} GROUP BY 1")
        return dict(cursor.fetchall())


def _figures(now) -> Figures:
    media_root = Path(settings.MEDIA_ROOT)
    return Figures(
        rows={
            model._meta.label: model._default_manager.count()
            for model in apps.get_models(include_auto_created=True)
        },
        audit=list(AuditRecord.objects.order_by("id").values_list()),
        readiness=_readiness(now),
        history_by_partition=_history_by_partition(),
        partitions=list_partitions() if is_partitioned() else [],
        media={
            path.relative_to(media_root).as_posix(): path.read_bytes()
            for path in sorted(media_root.rglob("*"))
            if path.is_file()
        },
    )


def _load_small_demo(now) -> None:
    load_inventory_demo(devices=300, now=now, log=_quiet)
    load_telemetry_demo(seed=1, now=now, log=_quiet)
    load_readiness_demo(log=_quiet, days=SNAPSHOT_DAYS)
    if is_partitioned():
        # Daily partitions for the demo's history (it reaches back up to four days), so the
        # rows sit in several partitions as well as in DEFAULT.
        for back in range(1, 3):
            create_partition((now - timedelta(days=back)).date())
    media_root = Path(settings.MEDIA_ROOT)
    (media_root / "briefings/2026/01").mkdir(parents=True)
    (media_root / "briefings/2026/01/briefing.pdf").write_bytes(b"%PDF-1.7 demo briefing")
    (media_root / "imports").mkdir()
    (media_root / "imports/upload.csv").write_text("serial,manufacturer,model\n")


def _drop_everything() -> None:
    if IS_SQLITE:
        connection.close()
        database = Path(connection.settings_dict["NAME"])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        assert not database.exists()
    else:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        assert connection.introspection.django_table_names(only_existing=True) == []
    shutil.rmtree(settings.MEDIA_ROOT)


def _change_things() -> None:
    """Changes after the backup that the restore must undo."""
    CabinetFactory(slug="after-backup", name="Made after the backup")
    AuditRecord.objects.create(action=AuditRecord.Action.CREATE, object_type="cabinet")
    if is_partitioned():
        create_partition((timezone.now() + timedelta(days=30)).date())
    (Path(settings.MEDIA_ROOT) / "imports/upload.csv").write_text("changed")
    (Path(settings.MEDIA_ROOT) / "imports/new.csv").write_text("new")


def test_restore_drill_gives_back_counts_audit_log_readiness_partitions_and_media(tmp_path, clock):
    _load_small_demo(clock.now)
    before = _figures(clock.now)
    assert before.rows["devices.Device"] == 300
    assert before.audit, "the demo writes audit records"
    assert any(before.readiness.values())
    if not IS_SQLITE:
        assert is_partitioned()
        assert len(before.history_by_partition) >= 3, before.history_by_partition
    archive = tmp_path / "tracker.tar"
    _close_every_connection()

    call_command("backup", out=archive)
    _change_things()
    call_command("restore", archive)
    assert _figures(clock.now) == before

    _drop_everything()
    call_command("restore", archive)
    after = _figures(clock.now)
    assert after == before
    assert after.rows == before.rows  # named again: the heart of the drill
    if not IS_SQLITE:
        assert is_partitioned()


def _close_every_connection() -> None:
    """Close the database connections other contexts of this process left open.

    Django keeps a connection per thread and per async context; the browser tests (their
    live server's threads, their ORM calls under Playwright's event loop) leave some behind. On SQLite the restore rightly
    refuses a file another connection holds, so the drill closes them all first, as an
    operator stops the processes first.
    """
    import gc

    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    ours = {id(wrapper) for wrapper in connections.all()}
    for wrapper in [o for o in gc.get_objects() if isinstance(o, BaseDatabaseWrapper)]:
        # Others' wrappers refuse calls from this thread (their threads may have finished):
        # close the driver's connection under them and leave them unconnected.
        if id(wrapper) not in ours and wrapper.connection is not None:
            wrapper.connection.close()
            wrapper.connection = None


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        fh = tar.extractfile(MANIFEST)
        assert fh is not None
        return json.load(fh)


def _rewrite(archive: Path, out: Path, *, manifest: dict | None = None, drop: str = "") -> Path:
    """A copy of ``archive`` with its manifest replaced and/or one member left out."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            if member.name == drop:
                continue
            data = src.extractfile(member) if member.isfile() else None
            if member.name == MANIFEST and manifest is not None:
                raw = json.dumps(manifest).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)
            dst.addfile(member, data)
    return out


@pytest.fixture
def small_backup(tmp_path, agency_a, clock) -> Path:
    archive = tmp_path / "small.tar"
    create_backup(out=archive, now=clock.now)
    return archive


def test_manifest_says_what_the_archive_holds(small_backup):
    manifest = _manifest(small_backup)
    assert manifest["format"] == 1
    assert manifest["vendor"] == connection.vendor
    assert manifest["row_counts"]["devices_agency"] == 1
    assert manifest["product_version"] == "0.1.0"
    if not IS_SQLITE:
        assert manifest["partitioned_tables"] == {TABLE: len(list_partitions())}


def test_a_backup_of_another_vendor_is_refused_by_name(small_backup, tmp_path):
    other = "postgresql" if IS_SQLITE else "sqlite"
    wrong = _rewrite(
        small_backup, tmp_path / "wrong.tar", manifest={**_manifest(small_backup), "vendor": other}
    )
    theirs, ours = ("PostgreSQL", "SQLite") if IS_SQLITE else ("SQLite", "PostgreSQL")
    with pytest.raises(CommandError, match=f"this is a {theirs} backup and DATABASE_URL is {ours}"):
        call_command("restore", wrong)


def test_a_damaged_database_is_refused_before_anything_is_replaced(small_backup, tmp_path):
    manifest = {**_manifest(small_backup), "database_sha256": "0" * 64}
    damaged = _rewrite(small_backup, tmp_path / "damaged.tar", manifest=manifest)
    with pytest.raises(CommandError, match=r"in the archive is corrupt \(its sha256 differs"):
        call_command("restore", damaged)
    assert Cabinet.objects.count() == 1


def test_an_archive_without_a_manifest_is_not_a_backup(small_backup, tmp_path):
    bare = _rewrite(small_backup, tmp_path / "bare.tar", drop=MANIFEST)
    with pytest.raises(CommandError, match="the archive has no manifest.json"):
        call_command("restore", bare)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"not a tar file at all", "is not a backup archive"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(tmp_path, content, message):
    path = tmp_path / "backup.tar"
    if content is not None:
        path.write_bytes(content)
    done = subprocess.run(
        [sys.executable, "manage.py", "restore", str(path)],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert message in done.stderr


def test_a_truncated_archive_is_reported_as_damaged(small_backup, tmp_path):
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(small_backup.read_bytes()[: small_backup.stat().st_size // 2])
    with pytest.raises(CommandError, match="damaged|no manifest"):
        call_command("restore", truncated)


def test_missing_pg_tool_is_named(tmp_path):
    with pytest.raises(BackupError, match=r"^pg_dump not found: install the PostgreSQL 999 client"):
        find_pg_tool("pg_dump", server_major=999, path=str(tmp_path))


@pytest.mark.skipif(not IS_SQLITE, reason="the SQLite file's own locking")
def test_sqlite_backup_runs_beside_an_open_write_and_leaves_it_out(tmp_path, agency_a, clock):
    writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO devices_cabinet (slug, name) VALUES ('open', 'Uncommitted')")
        manifest = create_backup(out=tmp_path / "live.tar", now=clock.now)
    finally:
        writer.rollback()
        writer.close()
    assert manifest.row_counts["devices_cabinet"] == 1


def test_restore_refuses_while_another_process_has_the_database_open(small_backup):
    if IS_SQLITE:
        other = sqlite3.connect(connection.settings_dict["NAME"])
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("SELECT 1 FROM devices_agency").fetchall()
        message = "is open in another process: stop web, ingest, worker and beat first"
    else:
        other = connection.get_new_connection(connection.get_connection_params())
        message = "other sessions open: stop web, ingest, worker and beat first"
    try:
        with pytest.raises(CommandError, match=message):
            call_command("restore", small_backup)
    finally:
        other.close()
    assert Cabinet.objects.count() == 1
