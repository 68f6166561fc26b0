"""tally.store / tally.images: opening, migrating (SQLite and PostgreSQL), the image store."""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from tally.db import Base
from tally.images import ImageMissing, ImageStore, ImageTampered, sha256_hex
from tally.store import MIGRATIONS_DIR, SQLITE_FILENAME, StoreError, open_store
from tests.tally_helpers import any_store, pg_schema, pg_unreachable, tiny_image

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_exactly_the_models(backend: str, tmp_path: Path) -> None:
    with contextlib.suppress(ImportError):  # tables of the web console share tally.db.Base
        importlib.import_module("tally.accounts")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with any_store(backend, tmp_path) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
        assert diff == []
        names = set(inspect(conn).get_table_names())
        assert {"meetings", "pages", "decisions", "audit_log", "alembic_version"} <= names
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_sqlite_store_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    assert (tmp_path / "d" / SQLITE_FILENAME).is_file()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()
    open_store(tmp_path / "d").close()  # re-opening is a no-op migration


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_openers_of_a_fresh_store_both_succeed(backend: str, tmp_path: Path) -> None:
    def go(url: str | None) -> None:
        errors: list[BaseException] = []

        def open_one() -> None:
            try:
                open_store(tmp_path / "d", url).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

    if backend == "sqlite":
        go(None)
    else:
        with pg_schema() as url:
            go(url)


def test_bad_database_urls_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="only PostgreSQL"):
        open_store(tmp_path, "mysql://x@y/z")
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store(tmp_path, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_image_store_is_content_addressed_and_verified(tmp_path: Path) -> None:
    images = ImageStore(tmp_path / "images")
    data = tiny_image(1)
    digest = images.put(data)
    assert digest == sha256_hex(data)
    assert images.path(digest).read_bytes() == data
    assert images.put(data) == digest  # idempotent
    assert images.get(digest) == data
    assert not list(images.path(digest).parent.glob(".*.tmp"))

    raw = bytearray(data)
    raw[-1] ^= 0xFF
    images.path(digest).write_bytes(bytes(raw))
    with pytest.raises(ImageTampered, match=digest[:12]):
        images.get(digest)
    images.put(data)  # a re-put repairs a damaged copy
    assert images.get(digest) == data

    images.path(digest).unlink()
    with pytest.raises(ImageMissing, match="missing from the store"):
        images.get(digest, what="page #7 (a.png)")


def test_garbage_collection_keeps_referenced_and_fresh_files(tmp_path: Path) -> None:
    images = ImageStore(tmp_path / "images")
    keep, orphan, fresh = (images.put(tiny_image(n)) for n in (1, 2, 3))
    old = time.time() - 7200
    for d in (keep, orphan):
        os.utime(images.path(d), (old, old))
    # a temp file left by a kill in the middle of `write_atomic`
    leftover = images.path(keep).parent / f".{images.path(keep).name}.x1y2.tmp"
    leftover.write_bytes(b"half an image")
    os.utime(leftover, (old, old))
    assert images.collect_garbage([keep], min_age_s=3600) == 2
    assert not images.path(orphan).exists() and not leftover.exists()
    assert images.path(keep).exists() and images.path(fresh).exists()
    assert set(images.iter_digests()) == {keep, fresh}
