"""Tampering the red team got past `verify`, each now found and named (SQLite and PostgreSQL).

Each test edits the database the way someone with write access to it would, covering the
tracks the chain alone could not show (re-hashing the entries after an edit, cutting the
newest entries), and asserts `verify` fails naming what changed; one per backend runs the real
`scantally verify` for its exit status and message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, insert, select, update

from tally import accounts, anchors, audit, keys
from tally.accounts import AccountEvent, DisplayToken, User
from tally.db import AuditEntry, Decision, Page, utc_now
from tally.ingest import ingest_json, open_batch
from tally.recount import verify
from tally.review.decisions import decide
from tally.store import Store
from tests.tally_helpers import any_store, cli, layout_of, new_meeting, pg_unreachable, reading
from tests.tally_helpers import tiny_image as image

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]
REC = layout_of("recommendation")
PASSWORD = "correct horse battery"
accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class Filled:
    store: Store
    meeting: int
    pages: list[int]
    batch: Any


@pytest.fixture(params=BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Filled]:
    """A signed station: users, a login, a display token, three sheets, a decision."""
    with any_store(request.param, tmp_path) as store:
        keys.new_key(store.data_dir)
        accounts.create_user(store, "admin", PASSWORD, "admin", actor="test")
        accounts.create_user(store, "operator", PASSWORD, "operator", actor="test")
        assert accounts.login(store, "operator", PASSWORD, address="127.0.0.9") is not None
        assert accounts.login(store, "operator", "wrong password", address="10.1.1.1") is None
        mid = new_meeting(store)
        accounts.create_display_token(store, mid, actor="admin", label="hall")
        batch = open_batch(store, mid, station="A")
        pages = [ingest_json(store, batch, reading(REC, f"S{k}", marked={
            "pos.director": ["P310012"]} if k else {}, doubtful={} if k else {
            "pos.director": ["P310012"]}), image(k)).page_id for k in range(3)]
        decide(store, mid, f"{pages[0]}:pos.director:P310012", "marked", who="rev",
               why="ink visible in the crop")
        yield Filled(store, mid, pages, batch)


def _problems(store: Store, mid: int) -> list[str]:
    with store.session(readonly=True) as s:
        return [str(p) for p in verify(store, s, mid).problems]


def _rehash(s: Any, model: type, entries: list[Any], start: int) -> None:
    """Recompute hash and link of every entry from index `start` on, as a forger would."""
    prev = entries[start - 1].hash if start else audit.GENESIS_HASH
    for e in entries[start:]:
        e.prev_hash = prev
        e.hash = audit.entry_hash(e.meeting_id if model is AuditEntry else 0, e.seq, e.at,
                                  e.actor, e.action, e.payload, prev)
        prev = e.hash


def _verify_cli(f: Filled) -> tuple[int, str]:
    db = f.store.url if f.store.dialect == "postgresql" else None
    done = cli("verify", str(f.meeting), "--no-images", data=f.store.data_dir, db=db)
    return done.returncode, done.stdout + done.stderr


def test_an_untouched_signed_store_verifies(filled: Filled) -> None:
    with filled.store.session(readonly=True) as s:
        report = verify(filled.store, s, filled.meeting)
    assert report.ok, report.problems
    assert report.anchor is not None and report.anchor["sig"]
    assert report.anchor["key"] == keys.load_key(filled.store.data_dir).id  # type: ignore[union-attr]
    assert report.anchor["chains"][anchors.meeting_chain(filled.meeting)]["seq"] == \
        report.head_seq


def test_a_reading_edited_with_the_chain_rehashed_is_found(filled: Filled) -> None:
    """A vote moved in a stored reading; the page's audit record and every entry after it
    re-hashed so that the chain and the rows agree with each other again."""
    store, mid = filled.store, filled.meeting
    with store.transaction() as s:
        page = s.get(Page, filled.pages[1])
        assert page is not None
        moved = json.loads(json.dumps(page.reading))
        moved["marks"]["pos.director"]["marked"] = ["P310013"]
        page.reading = moved
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == mid)
                                 .order_by(AuditEntry.seq)))
        k = next(i for i, e in enumerate(entries) if e.payload.get("kind") == "page"
                 and e.payload["id"] == page.id)
        entries[k].payload = {**entries[k].payload, "record": audit.page_record(s, page)}
        _rehash(s, AuditEntry, entries, k)
    problems = _problems(store, mid)
    assert len(problems) == 1, problems
    assert f"meeting #{mid}'s audit chain" in problems[0]
    assert "rewritten and re-hashed" in problems[0]


def test_the_newest_page_deleted_with_its_entries_is_found(filled: Filled) -> None:
    store, mid = filled.store, filled.meeting
    with store.session(readonly=True) as s:
        before = audit.head(s, mid).seq  # type: ignore[union-attr]
    newest = ingest_json(store, filled.batch, reading(REC, "S9", doubtful={
        "pos.director": ["P310012"]}), image(9)).page_id
    decide(store, mid, f"{newest}", "void", who="rev", why="torn")  # anchored after this
    with store.transaction() as s:
        s.execute(delete(Decision).where(Decision.page_id == newest))
        s.execute(delete(Page).where(Page.id == newest))
        s.execute(delete(AuditEntry).where(AuditEntry.meeting_id == mid,
                                           AuditEntry.seq > before))
    problems = _problems(store, mid)
    assert any(f"meeting #{mid}'s audit chain" in p and f"ends at #{before}" in p
               and "newest entries were deleted" in p for p in problems), problems
    assert any(p.startswith("table pages: has 3 row(s)") for p in problems), problems
    code, out = _verify_cli(filled)
    assert code == 2 and "newest entries were deleted" in out, out


def test_a_role_raised_to_admin_in_the_database_is_found(filled: Filled) -> None:
    store = filled.store
    with store.transaction() as s:
        s.execute(update(User).where(User.username == "operator").values(role="admin"))
    problems = _problems(store, filled.meeting)
    assert len(problems) == 1, problems
    assert problems[0].startswith("user #2 ('operator'): differs from its account-log record")
    assert "role 'operator' -> 'admin'" in problems[0]
    code, out = _verify_cli(filled)
    assert code == 2 and "role 'operator' -> 'admin'" in out, out


def test_an_edited_account_log_is_found(filled: Filled) -> None:
    store = filled.store
    with store.transaction() as s:
        failed = s.scalars(select(AccountEvent)
                           .where(AccountEvent.action == "session.login_failed")).one()
        failed.payload = {**failed.payload, "address": "127.0.0.1"}  # cover who tried
    problems = _problems(store, filled.meeting)
    assert len(problems) == 1, problems
    assert "account log entry #" in problems[0] and "session.login_failed" in problems[0]
    assert "edited" in problems[0]


def test_an_edited_and_rehashed_account_log_is_found(filled: Filled) -> None:
    store = filled.store
    with store.transaction() as s:
        entries = list(s.scalars(select(AccountEvent).order_by(AccountEvent.seq)))
        k = next(i for i, e in enumerate(entries) if e.action == "session.login_failed")
        entries[k].payload = {**entries[k].payload, "address": "127.0.0.1"}
        _rehash(s, AccountEvent, entries, k)
    problems = _problems(store, filled.meeting)
    assert len(problems) == 1, problems
    assert problems[0].startswith("the account log (anchor #")
    assert "rewritten and re-hashed" in problems[0]


def test_an_inserted_display_token_is_found(filled: Filled) -> None:
    store, mid = filled.store, filled.meeting
    with store.transaction() as s:
        s.execute(insert(DisplayToken).values(
            meeting_id=mid, token_sha256=accounts.token_hash("known to the forger"),
            label="side door", created_by="admin", created_at=utc_now()))
    problems = _problems(store, mid)
    assert len(problems) == 1, problems
    assert problems[0].startswith("display token #2 ('side door'): is not in the audit log")
    code, out = _verify_cli(filled)
    assert code == 2 and "display token #2" in out, out


def test_an_edited_or_cut_anchor_file_is_found(filled: Filled) -> None:
    store, mid = filled.store, filled.meeting
    path = anchors.anchor_path(store.data_dir)
    lines = path.read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    last["counts"]["pages"] = 2
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n", encoding="utf-8")
    problems = _problems(store, mid)
    assert any("signature does not match" in p for p in problems), problems
    path.write_text("\n".join([*lines[:2], *lines[3:]]) + "\n", encoding="utf-8")
    problems = _problems(store, mid)
    assert any("does not follow the anchor before it" in p for p in problems), problems
    path.unlink()
    problems = _problems(store, mid)
    assert any("is missing or empty" in p for p in problems), problems
