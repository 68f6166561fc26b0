"""Opening a store: the database plus the image folder, migrated to the current schema on open.

By default the database is a SQLite file in the data folder (`<data>/scantally.sqlite`), in
WAL mode with `synchronous=FULL`: every commit is fsynced before it returns, so an
acknowledged sheet survives a power cut, not only a crash of the process (with NORMAL, WAL
commits are safe from a process crash but the last ones can be lost on power loss; a sheet a
counter has seen acknowledged must not vanish, and one fsync per sheet is cheap next to
reading it). Write transactions start with `BEGIN IMMEDIATE`, so two writers wait on each other
(`busy_timeout`) instead of failing half-way.

With `--db postgresql://…` several stations share one meeting. The images stay files under
`<data>/images`: point every station's `--data` at one shared folder so any station can
recount and verify (the store is content-addressed, so concurrent writers of one file agree).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tally.images import ImageStore

DEFAULT_DATA_DIR = Path("data")
DATA_ENV = "SCANTALLY_DATA"
DB_ENV = "SCANTALLY_DB"
SQLITE_FILENAME = "scantally.sqlite"
IMAGES_DIRNAME = "images"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: a PostgreSQL advisory lock key held while migrating, so two stations opening at once agree
MIGRATION_LOCK_KEY = 0x5CA27A11
SQLITE_BUSY_TIMEOUT_MS = 60_000
OPEN_LOCK_FILENAME = ".open.lock"
#: how often `Store.write` re-runs a transaction that lost a race to another station
WRITE_ATTEMPTS = 60
#: PostgreSQL: serialization failure, deadlock -> retry
_RETRY_SQLSTATES = {"40001", "40P01"}


T = TypeVar("T")


class StoreError(Exception):
    """The store cannot be opened; the message says where and what to do."""


@dataclass
class Store:
    engine: Engine
    images: ImageStore
    data_dir: Path
    #: the database URL with any password hidden
    url: str
    _sessions: sessionmaker[Session] = field(repr=False)
    _readonly_sessions: sessionmaker[Session] = field(repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, readonly: bool = False) -> Session:
        """A new session; `readonly` ones do not take SQLite's write lock."""
        return (self._readonly_sessions if readonly else self._sessions)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.session() as s, s.begin():
            yield s

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work(session)` in one transaction and commit it; if it loses a race to another
        writer (a unique constraint: the same image, sheet or audit seq committed first), roll
        back and run it again, so `work` sees the winner's rows and decides anew."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.session() as s, s.begin():
                    return work(s)
            except (IntegrityError, OperationalError) as exc:
                if attempt == WRITE_ATTEMPTS or not _is_race(exc):
                    raise
                time.sleep(random.uniform(0.0, min(0.002 * attempt, 0.05)))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_race(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES


def resolve_location(data: str | Path | None, db: str | None) -> tuple[Path, str | None]:
    """The data folder and database URL from options, else SCANTALLY_DATA / SCANTALLY_DB."""
    data_dir = Path(data or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR)
    return data_dir, db or os.environ.get(DB_ENV) or None


def normalize_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` use psycopg 3 (the driver installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def open_store(data_dir: str | Path | None = None, db_url: str | None = None, *,
               migrate: bool = True) -> Store:
    """Open (creating if need be) the store in `data_dir`, with the database at `db_url` or a
    SQLite file in `data_dir`; bring the schema up to date unless `migrate` is False."""
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data folder {root}: {exc}; choose another "
                         "with --data") from None
    engine = _server_engine(db_url) if db_url else _sqlite_engine(root / SQLITE_FILENAME)
    url = engine.url.render_as_string(hide_password=True)
    # SQLite: the first connection switches a fresh file to WAL, which can fail at once as
    # "database is locked" (no busy wait) while another opener is migrating; an OS lock in the
    # data folder serialises openers, threads and processes alike. PostgreSQL takes an
    # advisory lock in `upgrade`.
    opening = _open_lock(root) if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    try:
        with opening:
            if migrate:
                upgrade(engine)
            else:
                with engine.connect():
                    pass
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open the database {url}: {str(exc.orig).strip()}; check --db / {DB_ENV} "
            "and that the server is running"
        ) from None
    store = Store(
        engine=engine,
        images=ImageStore(root / IMAGES_DIRNAME),
        data_dir=root,
        url=url,
        _sessions=sessionmaker(engine, expire_on_commit=False),
        _readonly_sessions=sessionmaker(
            engine.execution_options(scantally_readonly=True), expire_on_commit=False
        ),
    )
    from tally import anchors  # imports the models, which import this module

    anchors.watch(store)  # the chain heads, signed, outside the database (tally.anchors)
    return store


@contextlib.contextmanager
def _open_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive flock on `root/.open.lock` (each open() is its own lock holder)."""
    with (root / OPEN_LOCK_FILENAME).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> None:
    """Run the Alembic migrations up to head in one transaction (idempotent, concurrency-safe:
    SQLite's write lock or a PostgreSQL advisory lock makes a second opener wait)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _server_engine(db_url: str) -> Engine:
    try:
        url = make_url(normalize_url(db_url))
    except ArgumentError:
        raise StoreError(f"--db {db_url!r} is not a database URL; use "
                         "postgresql://user@host:5432/dbname") from None
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(Path(url.database or ""))
    if url.get_backend_name() != "postgresql":
        raise StoreError(f"--db {db_url!r}: only PostgreSQL (postgresql://…) or a SQLite file "
                         "is supported")
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}",
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        readonly = conn.get_execution_options().get("scantally_readonly", False)
        conn.exec_driver_sql("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")

    return engine
