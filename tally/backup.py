"""Backup and restore of a whole store: the database, the images, the anchors and keys.

`backup(store, DIR)` makes a new folder (built beside it and renamed into place at the end):
- the database: SQLite through the sqlite3 online backup API (a consistent copy of a live
  database, WAL included; never a file copy), PostgreSQL through `pg_dump -Fc` (of the store's
  schema when it is not `public`);
- `images/`: every image file of the store, copied, each one's SHA-256 in the manifest;
- the data folder's `anchors.jsonl` (copied BEFORE the database, so the copy holds at least
  what the anchors record), `station.pub`, `trusted_keys.json` and, unless `with_key` is
  False, `station.key` (mode 0600: the backup is as sensitive as the store);
- `backup.json` (`BackupManifest`, `scantally.backup/1`): what is where, with hashes.

`restore(DIR, data, db)` checks every file against the manifest first, refuses a target that
is not empty unless `force`, then restores the database in one step (SQLite: the backup API
into the target; PostgreSQL: `pg_restore --single-transaction --exit-on-error`), then the
images and the data-folder files. `verify` passes on the restored copy as on the original.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine, create_engine, inspect, make_url, text
from sqlalchemy.engine import URL

from tally import anchors, keys
from tally.db import iso_utc, utc_now
from tally.files import fsync_dir, write_atomic
from tally.images import SUFFIX, ImageStore
from tally.store import IMAGES_DIRNAME, SQLITE_FILENAME, Store, normalize_url

SCHEMA = "scantally.backup/1"
MANIFEST = "backup.json"
PG_DUMP = "database.pgdump"
#: data-folder files that travel with the database (the private key only when asked)
DATA_FILES = (anchors.ANCHOR_FILENAME, keys.PUBLIC_FILENAME, keys.KEYRING_FILENAME)
Progress = Callable[[str, int, int], None]
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on; the message names the file and what to do."""


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sha256: str
    bytes: int


class BackupManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["scantally.backup/1"] = SCHEMA
    created_at: str
    source: str
    kind: Literal["sqlite", "postgresql"]
    #: the PostgreSQL schema dumped (None: the whole database, schema `public`)
    pg_schema: str | None = None
    database: FileEntry
    files: list[FileEntry]
    images: list[FileEntry]


@dataclass(frozen=True)
class BackupResult:
    path: Path
    images: int
    bytes: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    target: str
    images: int


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry(root: Path, name: str) -> FileEntry:
    path = root / name
    return FileEntry(name=name, sha256=_sha_file(path), bytes=path.stat().st_size)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A URL for pg_dump/pg_restore (no driver suffix, no password) and the env with it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(args[0]) is None:
        raise BackupError(f"{args[0]} is not installed; install it with `apt-get install "
                          "postgresql-client` (the same major version as the server)")
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _schema_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar())


def _sqlite_copy(src_path: Path, dst_path: Path) -> None:
    """The sqlite3 online backup API, in one step (the destination is written in one
    transaction), then the copy made self-contained (no WAL) and checked."""
    src = sqlite3.connect(src_path, timeout=60)  # read only by the backup; WAL needs -shm
    dst = sqlite3.connect(dst_path, timeout=60)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        ok = dst.execute("PRAGMA integrity_check").fetchone()
        if not ok or ok[0] != "ok":
            raise BackupError(f"the copy of {src_path} fails SQLite's integrity check: {ok}")
    finally:
        dst.close()
        src.close()


def backup(store: Store, out: Path, *, with_key: bool = True,
           progress: Progress | None = None) -> BackupResult:
    """Back the store up into the new folder `out` (see the module docstring)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder; choose a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        files = []
        names = DATA_FILES + ((keys.PRIVATE_FILENAME,) if with_key else ())
        for name in names:  # the anchors first: the database copy then holds all they record
            src = store.data_dir / name
            if src.is_file():
                shutil.copy2(src, work / name)
                files.append(_entry(work, name))
        if progress:
            progress("database", 0, 1)
        pg_schema = None
        if store.dialect == "sqlite":
            db_name = SQLITE_FILENAME
            _sqlite_copy(Path(store.engine.url.database or ""), work / db_name)
        else:
            db_name = PG_DUMP
            schema = _schema_of(store.engine)
            pg_schema = None if schema == "public" else schema
            url, env = _libpq(store.engine.url)
            _run(["pg_dump", "--format=custom", f"--file={work / db_name}",
                  *([f"--schema={schema}"] if pg_schema else []), f"--dbname={url}"], env,
                 f"pg_dump of {store.url}")
        if progress:
            progress("database", 1, 1)
        warnings, images = [], []
        digests = list(store.images.iter_digests())
        copy = ImageStore(work / IMAGES_DIRNAME)
        for n, digest in enumerate(digests, 1):
            data = store.images.path(digest).read_bytes()
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                warnings.append(f"image {digest[:12]}… does not match its name (it hashes to "
                                f"{actual[:12]}…): copied as it is; `scantally verify` names "
                                "the page")
            target = copy.path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            images.append(FileEntry(name=digest, sha256=actual, bytes=len(data)))
            if progress:
                progress("copying", n, len(digests))
        for folder in {copy.path(d).parent for d in digests}:
            for f in folder.iterdir():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
            fsync_dir(folder)
        manifest = BackupManifest(created_at=iso_utc(utc_now()) or "", source=store.url,
                                  kind="sqlite" if store.dialect == "sqlite" else "postgresql",
                                  pg_schema=pg_schema, database=_entry(work, db_name),
                                  files=files, images=images)
        write_atomic(work / MANIFEST, manifest.model_dump_json(indent=1))
        if out.exists():
            out.rmdir()
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    fsync_dir(out.parent)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return BackupResult(out, len(images), size, warnings)


def read_manifest(folder: Path) -> BackupManifest:
    path = Path(folder) / MANIFEST
    try:
        return BackupManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{path} not found: {folder} is not a Scantally backup folder") from None
    except (OSError, ValidationError) as exc:
        raise BackupError(f"{path} is not a Scantally backup manifest: {exc}") from None


def check_backup(folder: Path, manifest: BackupManifest,
                 progress: Progress | None = None) -> None:
    """Every file of the backup against the manifest; BackupError naming the first that
    differs (or is missing)."""
    folder = Path(folder)
    entries = [(folder / e.name, e, e.name) for e in [manifest.database, *manifest.files]]
    copy = ImageStore(folder / IMAGES_DIRNAME)
    entries += [(copy.path(e.name), e, f"image {e.name[:12]}…") for e in manifest.images]
    for n, (path, e, label) in enumerate(entries, 1):
        if not path.is_file():
            raise BackupError(f"{folder}: {label} ({path.name}) is missing from the backup")
        actual = _sha_file(path)
        if actual != e.sha256:
            raise BackupError(f"{folder}: {label} ({path.name}) was changed after the backup "
                              f"was made (SHA-256 {actual[:16]}…, the manifest says "
                              f"{e.sha256[:16]}…); nothing was restored")
        if progress:
            progress("hashes", n, len(entries))


def _pg_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not inspect(conn).get_table_names()


def restore(folder: Path, data_dir: Path, db_url: str | None, *, force: bool = False,
            progress: Progress | None = None) -> RestoreResult:
    """Restore the backup in `folder` into the store at `data_dir` (+ `db_url`); see the
    module docstring."""
    folder, data_dir = Path(folder), Path(data_dir)
    manifest = read_manifest(folder)
    check_backup(folder, manifest, progress)
    wants_pg = bool(db_url) and not normalize_url(db_url or "").startswith("sqlite")
    if wants_pg != (manifest.kind == "postgresql"):
        raise BackupError(f"{folder} is a {manifest.kind} backup; restore it into a "
                          + ("PostgreSQL store (--db postgresql://…)" if manifest.kind ==
                             "postgresql" else "SQLite store (no --db)"))
    images_dir = data_dir / IMAGES_DIRNAME
    occupied = [p.name for p in (data_dir / SQLITE_FILENAME, data_dir / anchors.ANCHOR_FILENAME)
                if p.exists()]
    if images_dir.is_dir() and any(images_dir.rglob(f"*{SUFFIX}")):
        occupied.append(IMAGES_DIRNAME)
    engine = None
    if wants_pg:
        engine = create_engine(make_url(normalize_url(db_url or "")))
        if not _pg_empty(engine):
            occupied.append(f"the database {engine.url.render_as_string(hide_password=True)}")
    if occupied and not force:
        if engine is not None:
            engine.dispose()
        raise BackupError(f"the target is not empty ({', '.join(occupied)} in {data_dir}); "
                          "restore into an empty store, or pass --force to overwrite it (stop "
                          "every station using it first)")
    data_dir.mkdir(parents=True, exist_ok=True)
    if progress:
        progress("database", 0, 1)
    if engine is not None:
        if manifest.pg_schema and _schema_of(engine) != manifest.pg_schema:
            engine.dispose()
            raise BackupError(f"{folder} holds PostgreSQL schema {manifest.pg_schema!r}; "
                              "restore it into a database whose search_path is that schema, "
                              "or into an empty database")
        url, env = _libpq(engine.url)
        engine.dispose()
        _run(["pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", *(["--clean", "--if-exists"] if force else []),
              f"--dbname={url}", str(folder / manifest.database.name)], env,
             f"pg_restore into {db_url}")
    else:
        target = data_dir / SQLITE_FILENAME
        src = sqlite3.connect(f"file:{folder / manifest.database.name}?mode=ro", uri=True)
        dst = sqlite3.connect(target, timeout=60)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
            src.close()
    if progress:
        progress("database", 1, 1)
    store = ImageStore(images_dir)
    source = ImageStore(folder / IMAGES_DIRNAME)
    for n, e in enumerate(manifest.images, 1):
        write_atomic(store.path(e.name), source.path(e.name).read_bytes())
        if progress:
            progress("copying", n, len(manifest.images))
    if anchors.ANCHOR_FILENAME not in {e.name for e in manifest.files}:
        (data_dir / anchors.ANCHOR_FILENAME).unlink(missing_ok=True)  # --force: not the old ones
    for e in manifest.files:
        write_atomic(data_dir / e.name, (folder / e.name).read_bytes())
        if e.name == keys.PRIVATE_FILENAME:
            os.chmod(data_dir / e.name, 0o600)
    where = db_url and make_url(normalize_url(db_url)).render_as_string(hide_password=True)
    return RestoreResult(str(where or data_dir / SQLITE_FILENAME), len(manifest.images))
