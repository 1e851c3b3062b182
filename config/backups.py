"""Backups that restore: one tar archive holding the database, the media folder and a manifest.

Layout of an archive (format 1)::

    database.sqlite3 | database.pgdump   the database (one of the two, by vendor)
    media/...                            MEDIA_ROOT: briefing files, import uploads
    manifest.json                        format, vendor, created_at, product version,
                                         rows per table, partitioned tables, sha256 of the database

Why each choice:

* SQLite: ``sqlite3.Connection.backup`` copies the live file page by page through SQLite
  itself, so the copy is consistent while the ingest writes. It runs in one step: in WAL mode
  a reader never blocks a writer, and a stepped backup restarts whenever another connection
  writes between steps, so on a busy ingest it might never finish.
* PostgreSQL: ``pg_dump -Fc`` of the database of DATABASE_URL, taken in a snapshot this module
  exports (``pg_export_snapshot``) and counts its rows in, so the manifest's counts are
  exactly the dump's even while telemetry arrives. A dump of the partitioned history table
  holds every partition (DDL and rows), so a restore brings back the partitioned layout; the
  manifest records partitions per partitioned table and the restore checks them.
* The password reaches pg_dump, pg_restore and psql through PGPASSWORD in their environment, never
  on a command line that ``ps`` shows.
* Restores verify before they replace where they can: the database's sha256, then (SQLite)
  the row counts of the extracted copy before it is renamed over the live file. Both refuse
  while another process has the database open.
* PostgreSQL restores all or nothing: ``pg_restore --clean --if-exists --no-owner`` writes
  the script and ``psql --single-transaction`` with ON_ERROR_STOP runs it, then the counts
  and partitions are checked. Not pg_restore's own ``--single-transaction``: its ``--clean``
  drops a partition's primary key and indexes one by one, which PostgreSQL refuses ("cannot
  drop inherited constraint"), so the partitioned tables are dropped whole first, and only
  psql can put that drop in the same transaction as the script.
* Archives are written to ``FILE.partial`` and renamed, so a failed backup never leaves a
  file that looks like a good one. They are plain tar (a dump is compressed already);
  restore also reads a tar that was compressed afterwards (gzip, bzip2, xz).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.client import DatabaseClient

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MEDIA = "media"
STOP_FIRST = "stop web, ingest, worker and beat first"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one line naming the problem."""


@dataclass(frozen=True)
class Manifest:
    """What an archive holds, written beside the data and checked before a restore."""

    vendor: str
    created_at: str
    product_version: str
    database_sha256: str
    row_counts: dict[str, int]
    partitioned_tables: dict[str, int] = field(default_factory=dict)
    media_files: int = 0
    format: int = FORMAT_VERSION

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BackupError(f"{MANIFEST} is not valid JSON") from exc
        if not isinstance(data, dict):
            raise BackupError(f"{MANIFEST} is not a JSON object")
        if data.get("format") != FORMAT_VERSION:
            raise BackupError(
                f"backup format {data.get('format')!r} is not supported (this version reads "
                f"format {FORMAT_VERSION})"
            )
        try:
            manifest = cls(**data)
        except TypeError as exc:
            raise BackupError(
                f"{MANIFEST} does not have the fields of format {FORMAT_VERSION}"
            ) from exc
        counts = manifest.row_counts
        if not isinstance(counts, dict) or not all(isinstance(n, int) for n in counts.values()):
            raise BackupError(f"{MANIFEST}: row_counts is not a table -> rows mapping")
        return manifest


# --- backup ------------------------------------------------------------------------------------


def create_backup(*, out: Path, now: datetime) -> Manifest:
    """Write one archive of the database and MEDIA_ROOT to ``out``; return its manifest.

    Safe while the product runs (see the module docstring); reads only, opens no transaction
    on Django's connection. Running it twice writes two independent archives. ``out`` is
    replaced only once the whole archive is written.
    """
    vendor = _vendor()
    out = Path(out)
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent}: no such directory")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as work:
        db_file = Path(work) / DATABASE_MEMBERS[vendor]
        partitioned: dict[str, int] = {}
        if vendor == "sqlite":
            counts = _dump_sqlite(db_file)
        else:
            counts, partitioned = _dump_postgres(db_file)
        manifest = Manifest(
            vendor=vendor,
            created_at=now.isoformat(),
            product_version=_product_version(),
            database_sha256=_sha256(db_file),
            row_counts=counts,
            partitioned_tables=partitioned,
        )
        return _write_archive(out, manifest, db_file, Path(settings.MEDIA_ROOT))


def _vendor() -> str:
    if connection.vendor not in DATABASE_MEMBERS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {connection.vendor}")
    return connection.vendor


def _product_version() -> str:
    try:
        return metadata.version("readiness-tracker")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_tables() -> list[str]:
    """The tables of Django's models (many-to-many tables included) that exist."""
    return sorted(
        connection.introspection.django_table_names(only_existing=True, include_views=False)
    )


def _count_rows(cursor: Any, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _dump_sqlite(dest: Path) -> dict[str, int]:
    """Copy the live database to ``dest`` with SQLite's online backup; count rows in the copy."""
    tables = _model_tables()
    source = Path(connection.settings_dict["NAME"])
    live = f"{source.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(live, uri=True)) as src, closing(sqlite3.connect(dest)) as dst:
        src.backup(dst)  # one step: a consistent copy; see the module docstring
    with closing(sqlite3.connect(dest)) as copy:
        return _count_rows(copy.cursor(), tables)


def _dump_postgres(dest: Path) -> tuple[dict[str, int], dict[str, int]]:
    """``pg_dump -Fc`` into ``dest`` inside a snapshot the row counts are taken in too."""
    tables = _model_tables()
    pg_dump = find_pg_tool("pg_dump", server_major=_server_major())
    own = connection.get_new_connection(connection.get_connection_params())
    try:
        own.autocommit = True
        with own.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = _count_rows(cursor, tables)
            partitioned = _partitioned_tables(cursor)
            # The exporting transaction stays open while pg_dump reads in its snapshot.
            _run_pg_tool([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dest}"])
            cursor.execute("COMMIT")
    finally:
        own.close()
    return counts, partitioned


def _partitioned_tables(cursor: Any) -> dict[str, int]:
    """Each partitioned table of the current schema and how many partitions it has."""
    cursor.execute(
        "SELECT p.relname, COUNT(i.inhrelid) FROM pg_class p "
        "JOIN pg_namespace n ON n.oid = p.relnamespace "
        "LEFT JOIN pg_inherits i ON i.inhparent = p.oid "
        "WHERE p.relkind = 'p' AND n.nspname = current_schema() GROUP BY p.relname"
    )
    return {name: int(n) for name, n in cursor.fetchall()}


def _write_archive(out: Path, manifest: Manifest, db_file: Path, media_root: Path) -> Manifest:
    partial = out.with_name(out.name + ".partial")
    try:
        with tarfile.open(partial, "w") as tar:
            tar.add(db_file, arcname=db_file.name)
            media_files = _add_media(tar, media_root)
            manifest = Manifest(**{**asdict(manifest), "media_files": media_files})
            raw = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(raw), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(raw))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return manifest


def _add_media(tar: tarfile.TarFile, media_root: Path) -> int:
    if not media_root.is_dir():
        return 0
    added = 0
    for path in sorted(media_root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            tar.add(path, arcname=f"{MEDIA}/{path.relative_to(media_root).as_posix()}")
        except FileNotFoundError:
            continue  # an import upload expired while the backup ran
        added += 1
    return added


# --- PostgreSQL client tools ------------------------------------------------------------------


def find_pg_tool(name: str, *, server_major: int, path: str | None = None) -> str:
    """The ``pg_dump``/``pg_restore`` to use: the server's major version first (Debian keeps
    one per version in /usr/lib/postgresql/<major>/bin), else the one on ``path`` (PATH)."""
    versioned = Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")
    if os.access(versioned, os.X_OK):
        return str(versioned)
    found = shutil.which(name, path=path)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL {server_major} client tools "
            f"(Debian: postgresql-client-{server_major})"
        )
    return found


def _server_major() -> int:
    connection.ensure_connection()
    return int(connection.pg_version) // 10000  # type: ignore[attr-defined]


def _pg_environment() -> dict[str, str]:
    """libpq's variables for the database of DATABASE_URL: the password never goes in argv."""
    db = connection.settings_dict
    _, extra = DatabaseClient.settings_to_cmd_args_env(db, [])
    # Notices ("does not exist, skipping" for every --if-exists drop) would bury an error.
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning", **(extra or {})}
    for var, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGDATABASE", "NAME"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    return env


def _run_pg_tool(command: list[str]) -> None:
    done = subprocess.run(
        command, env=_pg_environment(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(
            f"{Path(command[0]).name} failed: {_reason(done.stderr, done.returncode)}"
        )


def _reason(stderr: str, code: int) -> str:
    """The line of a client tool's output that names the problem: its first error."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [f"exit status {code}"])[0]


# --- restore -----------------------------------------------------------------------------------


def restore_backup(*, archive: Path) -> Manifest:
    """Replace the database and MEDIA_ROOT with an archive's; return its manifest.

    Not for a running product: it refuses while another process has the database open.
    Everything is checked before the database is touched (manifest, vendor, checksum; on
    SQLite the row counts too); PostgreSQL restores in one transaction. Running it twice
    gives the same result.
    """
    vendor = _vendor()
    with _open_archive(Path(archive)) as tar:
        manifest = _read_manifest(tar)
        if manifest.vendor != vendor:
            theirs = VENDOR_NAMES.get(manifest.vendor, manifest.vendor)
            raise BackupError(
                f"this is a {theirs} backup and DATABASE_URL is {VENDOR_NAMES[vendor]}: "
                f"restore it into a {theirs} database"
            )
        media_root = Path(settings.MEDIA_ROOT)
        media_root.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=media_root.parent, prefix=".restore-") as work:
            new_media = _extract_media(tar, Path(work))
            if vendor == "sqlite":
                _restore_sqlite(tar, manifest)
            else:
                _restore_postgres(tar, manifest, Path(work))
            _swap_directory(new_media, media_root)
    return manifest


@contextmanager
def _open_archive(archive: Path) -> Iterator[tarfile.TarFile]:
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    try:
        tar = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{archive} is not a backup archive (not a readable tar file)") from exc
    with tar:
        try:
            yield tar
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise BackupError(f"{archive} is damaged ({exc})") from exc


def _open_member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        fh = tar.extractfile(name)
    except KeyError as exc:
        raise BackupError(f"the archive has no {name}: not a backup of this product") from exc
    if fh is None:
        raise BackupError(f"{name} in the archive is not a file")
    return fh


def _read_manifest(tar: tarfile.TarFile) -> Manifest:
    with _open_member(tar, MANIFEST) as fh:
        return Manifest.from_json(fh.read())


def _extract_database(tar: tarfile.TarFile, manifest: Manifest, dest: Path) -> Path:
    """The archive's database file at ``dest``, once its checksum matches the manifest's."""
    name = DATABASE_MEMBERS[manifest.vendor]
    with _open_member(tar, name) as fh, dest.open("wb") as out:
        shutil.copyfileobj(fh, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    if _sha256(dest) != manifest.database_sha256:
        raise BackupError(
            f"{name} in the archive is corrupt (its sha256 differs from the manifest's)"
        )
    return dest


def _extract_media(tar: tarfile.TarFile, work: Path) -> Path:
    members = [m for m in tar.getmembers() if m.name.startswith(f"{MEDIA}/")]
    # The "data" filter refuses absolute paths, ".." and links leaving the folder.
    tar.extractall(work, members=members, filter="data")
    media = work / MEDIA
    media.mkdir(exist_ok=True)
    return media


def _swap_directory(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target`` by renames (same parent, so each one is atomic)."""
    old = target.with_name(target.name + ".before-restore")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _check_counts(cursor: Any, manifest: Manifest, existing: set[str]) -> None:
    """The restored tables hold the manifest's rows (names checked against the database
    before they reach SQL: the manifest is input)."""
    for table, expected in sorted(manifest.row_counts.items()):
        if table not in existing:
            raise BackupError(f"table {table} is missing after the restore")
        found = _count_rows(cursor, [table])[table]
        if found != expected:
            raise BackupError(
                f"table {table} has {found} rows after the restore, the backup had {expected}"
            )


def _restore_sqlite(tar: tarfile.TarFile, manifest: Manifest) -> None:
    target = Path(connection.settings_dict["NAME"])
    target.parent.mkdir(parents=True, exist_ok=True)
    # Beside the live file, so the final rename is atomic (same filesystem).
    fd, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".restore"
    )
    os.close(fd)
    temp = Path(temp_name)
    try:
        _extract_database(tar, manifest, temp)
        with closing(sqlite3.connect(temp)) as copy:
            if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError("the database in the archive fails SQLite's quick_check")
            names = {
                row[0]
                for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            _check_counts(copy.cursor(), manifest, names)
        _refuse_open_sqlite(target)
        for suffix in ("-wal", "-shm", "-journal"):
            # Left beside the new file, an old WAL or journal would be replayed into it.
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(temp, target)
        _fsync_directory(target.parent)
    finally:
        temp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{temp}{suffix}").unlink(missing_ok=True)


def _refuse_open_sqlite(target: Path) -> None:
    """Refuse if any other connection has the file open.

    Leaving WAL mode needs the only connection to the file: with another one open SQLite
    answers "database is locked". Leaving it also checkpoints and removes the WAL.
    """
    connection.close()  # our own, so it does not count as another process
    if not target.exists():
        return
    with closing(sqlite3.connect(target, timeout=0)) as guard:
        try:
            guard.execute("PRAGMA journal_mode=DELETE").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise BackupError(f"{target} is open in another process: {STOP_FIRST}") from exc
        except sqlite3.DatabaseError:
            pass  # the live file is damaged: replacing it is what the restore is for


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _restore_postgres(tar: tarfile.TarFile, manifest: Manifest, work: Path) -> None:
    dump = _extract_database(tar, manifest, work / DATABASE_MEMBERS["postgresql"])
    major = _server_major()
    pg_restore = find_pg_tool("pg_restore", server_major=major)
    psql = find_pg_tool("psql", server_major=major)
    _refuse_open_postgres()
    with connection.cursor() as cursor:
        # pg_restore --clean cannot drop a partition's inherited primary key or attached
        # index ("cannot drop inherited constraint"), so the partitioned tables are dropped
        # first, whole, in the same transaction; the dump then recreates them.
        drop = "".join(
            f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE;"
            for table in sorted(_partitioned_tables(cursor))
        )
    _pipe_pg_tools(
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--file=-", str(dump)],
        [
            psql,
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--command={drop or 'SELECT 1;'}",
            "--file=-",
        ],
    )
    _check_restored_postgres(manifest)


def _pipe_pg_tools(producer: list[str], consumer: list[str]) -> None:
    """``producer | consumer``: pg_restore's script run by psql as one transaction
    (``--single-transaction`` wraps the drop and the whole script; any error rolls back)."""
    env = _pg_environment()
    with subprocess.Popen(
        producer, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as first:
        second = subprocess.run(
            consumer, env=env, stdin=first.stdout, capture_output=True, text=True, check=False
        )
        first_err = first.stderr.read().decode(errors="replace") if first.stderr else ""
    for command, code, stderr in (
        (consumer, second.returncode, second.stderr),
        (producer, first.returncode, first_err),
    ):
        if code != 0:
            raise BackupError(f"{Path(command[0]).name} failed: {_reason(stderr, code)}")


def _check_restored_postgres(manifest: Manifest) -> None:
    with connection.cursor() as cursor:
        _check_counts(cursor, manifest, set(connection.introspection.table_names(cursor)))
        partitioned = _partitioned_tables(cursor)
    for table, partitions in sorted(manifest.partitioned_tables.items()):
        if partitioned.get(table) != partitions:
            raise BackupError(
                f"{table} has {partitioned.get(table, 'no')} partitions after the restore, "
                f"the backup had {partitions}"
            )


def _refuse_open_postgres() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        others = cursor.fetchone()[0]
    if others:
        name = connection.settings_dict["NAME"]
        raise BackupError(f"database {name} has {others} other sessions open: {STOP_FIRST}")
