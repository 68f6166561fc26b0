"""`scantally backup` / `restore` on SQLite (online backup API, a live store with its WAL) and
PostgreSQL (pg_dump / pg_restore): the restored copy verifies and gives the same result hash;
a non-empty target needs --force; a changed backup file is refused before anything is written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Select, make_url, select

from tally.db import Meeting
from tally.ingest import close_batch, ingest_json, open_batch
from tally.store import open_store
from tests.exchange_helpers import recommendation_station, result_hash, row_counts
from tests.tally_helpers import cli, layout_of, pg_unreachable, pg_url, reading, tiny_image

PG_SKIP = pg_unreachable()


def _verify(data: Path, meeting: str, db: str | None = None) -> None:
    r = cli("verify", meeting, "--json", data=data, db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True


def test_sqlite_round_trip_of_a_live_store(tmp_path: Path) -> None:
    st = recommendation_station(tmp_path, "B")
    with open_store(st.data) as live:  # open, with commits still in its WAL only
        with live.session() as s:
            mid = s.execute(live_meeting(st.meeting)).scalar_one()
        batch = open_batch(live, mid, station="B")
        for k in range(3):
            doc = reading(layout_of("recommendation"), f"L{k}",
                          marked={"category": ["staff"], "pos.director": ["P310044"]})
            assert ingest_json(live, batch, doc, tiny_image(k, "late")).outcome == "ok"
        close_batch(live, batch)
        assert (st.data / "scantally.sqlite-wal").stat().st_size > 0
        counts = row_counts(live)
        r = cli("backup", "-o", str(tmp_path / "bk"), data=st.data)
        assert r.returncode == 0, r.stderr
    want = result_hash(st.data, st.meeting)
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text())
    assert manifest["kind"] == "sqlite" and len(manifest["images"]) == 23
    target = tmp_path / "restored"
    r = cli("restore", str(tmp_path / "bk"), data=target)
    assert r.returncode == 0, r.stderr
    with open_store(target) as store:
        assert row_counts(store) == counts
    _verify(target, st.meeting)
    assert result_hash(target, st.meeting) == want
    # a second restore onto it is refused, unless --force
    r = cli("restore", str(tmp_path / "bk"), data=target)
    assert r.returncode == 2 and "not empty" in r.stderr and "--force" in r.stderr
    r = cli("restore", str(tmp_path / "bk"), "--force", data=target)
    assert r.returncode == 0, r.stderr
    _verify(target, st.meeting)
    # a backup into a folder that holds something is refused
    r = cli("backup", "-o", str(tmp_path / "bk"), data=st.data)
    assert r.returncode == 2 and "not an empty folder" in r.stderr


def live_meeting(name: str) -> Select[tuple[int]]:
    return select(Meeting.id).where(Meeting.name == name)


def test_a_changed_backup_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    st = recommendation_station(tmp_path, "B")
    assert cli("backup", "-o", str(tmp_path / "bk"), data=st.data).returncode == 0
    image = next((tmp_path / "bk" / "images").rglob("*.img"))
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 1
    image.write_bytes(bytes(data))
    target = tmp_path / "restored"
    r = cli("restore", str(tmp_path / "bk"), data=target)
    text = " ".join(r.stderr.split())
    assert r.returncode == 2 and f"image {image.stem[:12]}" in text and "was changed" in text
    assert not (target / "scantally.sqlite").exists()
    assert not (target / "images").exists() or not any((target / "images").rglob("*.img"))


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database for one test (pg_restore restores schemas by name)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(pg_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")
def test_postgres_round_trip_with_pg_dump_and_pg_restore(tmp_path: Path) -> None:
    st = recommendation_station(tmp_path, "B")
    bundle = tmp_path / "b.stb"
    assert cli("export", st.meeting, "-o", str(bundle), data=st.data).returncode == 0
    with fresh_database() as source_db, fresh_database() as target_db:
        source = tmp_path / "dept"
        assert cli("keys", "trust", str(st.pub), data=source).returncode == 0
        assert cli("import", str(bundle), data=source, db=source_db).returncode == 0
        want = result_hash(source, st.meeting, source_db)
        _verify(source, st.meeting, source_db)
        r = cli("backup", "-o", str(tmp_path / "bk"), data=source, db=source_db)
        assert r.returncode == 0, r.stderr
        assert json.loads((tmp_path / "bk" / "backup.json").read_text())["kind"] == "postgresql"
        target = tmp_path / "restored"
        r = cli("restore", str(tmp_path / "bk"), data=target, db=target_db)
        assert r.returncode == 0, r.stderr
        _verify(target, st.meeting, target_db)
        assert result_hash(target, st.meeting, target_db) == want
        r = cli("restore", str(tmp_path / "bk"), data=tmp_path / "other", db=target_db)
        assert r.returncode == 2 and "not empty" in r.stderr
        r = cli("restore", str(tmp_path / "bk"), data=target)  # a PostgreSQL dump into SQLite
        assert r.returncode == 2 and "postgresql backup" in r.stderr
