"""tally.recount.verify / intake.recount.recount: any edit of an image, a log entry or a row is
found and named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from intake.recount import recount
from omr.layout import Layouts
from omr.reading import Reading
from tally.db import AuditEntry, Decision, Page
from tally.ingest import ingest_json, open_batch
from tally.recount import verify
from tally.review.decisions import decide
from tally.store import Store
from tests.tally_helpers import (
    any_store,
    layout_of,
    new_meeting,
    pg_unreachable,
    reading,
    tiny_image,
)

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]
REC = layout_of("recommendation")


@pytest.fixture(params=BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, int, list]]:
    """A meeting with three counted sheets, one decided mark, one voided ballot."""
    with any_store(request.param, tmp_path) as store:
        mid = new_meeting(store)
        batch = open_batch(store, mid, station="A")
        pages = [ingest_json(store, batch, reading(REC, f"S{k}",
                                                   doubtful={"pos.director": ["P310012"]}),
                             tiny_image(k)).page_id for k in range(3)]
        decide(store, mid, f"{pages[0]}:pos.director:P310012", "marked", who="rev",
               why="ink visible in the crop")
        decide(store, mid, f"{pages[1]}", "void", who="rev", why="torn in half")
        yield store, mid, pages


def _problems(store: Store, mid: int) -> list[str]:
    with store.session(readonly=True) as s:
        return [str(p) for p in verify(store, s, mid).problems]


def _sql(store: Store, stmt: Any) -> None:
    with store.transaction() as s:
        s.execute(stmt)


def test_an_untouched_store_verifies(filled: tuple[Store, int, list]) -> None:
    store, mid, _ = filled
    with store.session(readonly=True) as s:
        report = verify(store, s, mid)
    assert report.ok and report.images == 3 and report.pages == 3
    assert report.audit_entries == 1 + 1 + 3 + 2  # meeting, batch, pages, decisions
    assert report.head_seq == report.audit_entries and len(report.head_hash or "") == 64


def test_a_changed_image_byte_is_named(filled: tuple[Store, int, list]) -> None:
    store, mid, pages = filled
    with store.session(readonly=True) as s:
        row = s.get(Page, pages[2])
        assert row is not None
    path = store.images.path(row.sha256)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    [problem] = _problems(store, mid)
    assert f"page #{pages[2]} ({row.source})" in problem and "was changed" in problem


def test_a_missing_image_is_named_with_what_to_do(filled: tuple[Store, int, list]) -> None:
    store, mid, pages = filled
    with store.session(readonly=True) as s:
        row = s.get(Page, pages[0])
        assert row is not None
    store.images.path(row.sha256).unlink()
    [problem] = _problems(store, mid)
    assert f"page #{pages[0]}" in problem and "missing from the store" in problem
    assert "backup" in problem


def test_an_edited_log_entry_is_named(filled: tuple[Store, int, list]) -> None:
    store, mid, _ = filled
    _sql(store, update(AuditEntry).where(AuditEntry.meeting_id == mid, AuditEntry.seq == 4)
         .values(actor="someone else"))
    problems = _problems(store, mid)
    assert problems == ["audit entry #4 (page.ingest, " + problems[0].split(", ", 1)[1]]
    assert "the entry was edited" in problems[0]


def test_a_rewritten_log_entry_breaks_the_link(filled: tuple[Store, int, list]) -> None:
    store, mid, _ = filled
    from tally.audit import entry_hash

    with store.transaction() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == mid,
                                               AuditEntry.seq == 3)).one()
        e.actor = "forger"  # and recompute its hash so the entry itself looks whole
        e.hash = entry_hash(e.meeting_id, e.seq, e.at, e.actor, e.action, e.payload, e.prev_hash)
    problems = _problems(store, mid)
    assert any("audit entry #4" in p and "does not link to entry #3" in p for p in problems)


def test_a_deleted_log_entry_is_named(filled: tuple[Store, int, list]) -> None:
    store, mid, pages = filled
    _sql(store, delete(AuditEntry).where(AuditEntry.meeting_id == mid, AuditEntry.seq == 5))
    problems = _problems(store, mid)
    assert "audit entries #5: missing: deleted from the log" in problems
    # and the page it recorded is now a row the log does not know
    assert any(f"page #{pages[2]}" in p and "not in the audit log" in p for p in problems)


def test_edited_inserted_and_deleted_rows_are_named(filled: tuple[Store, int, list]) -> None:
    store, mid, pages = filled
    _sql(store, update(Page).where(Page.id == pages[2]).values(status="ok"))
    _sql(store, delete(Decision).where(Decision.page_id == pages[1]))
    _sql(store, text("UPDATE pages SET reading = :r WHERE id = :i").bindparams(
        r='{"status":"ok"}', i=pages[0]))
    with store.transaction() as s:  # a counted page slipped in by hand, bypassing ingest
        row = s.get(Page, pages[2])
        assert row is not None
        s.add(Page(meeting_id=mid, batch_id=row.batch_id, sha256="f" * 64, image_bytes=1,
                   source="extra.png", form_id=row.form_id, page_no=1, serial="S9",
                   status="ok", reading=row.reading, state="counted", count_key="x|S9|1"))
    problems = _problems(store, mid)
    assert any(p.startswith(f"page #{pages[2]}") and "status 'review' -> 'ok'" in p
               for p in problems)
    assert any(p.startswith(f"page #{pages[0]}") and "reading_sha256" in p for p in problems)
    assert any(p.startswith("decision #") and "deleted" in p for p in problems)
    assert any(p.startswith("page #4 (extra.png)") and "not in the audit log" in p
               for p in problems)
    assert any(p.startswith("page #4 (extra.png)") and "missing from the store" in p
               for p in problems)
    # and the deleted decision leaves fewer rows than the last signed anchor counted
    assert any(p.startswith("table decisions: has 1 row(s)") and "rows were deleted" in p
               for p in problems)
    assert len(problems) == 6


def test_recount_lists_differences_and_image_problems(filled: tuple[Store, int, list]) -> None:
    store, mid, pages = filled
    with store.session(readonly=True) as s:
        stored = {p.source: p.reading for p in s.scalars(select(Page))}

    def same(_image: Any, layouts: Layouts, source: str, _dpi: float | None) -> Reading:
        assert set(layouts) == {"jt2026-rec"}
        return Reading.from_dict(stored[source])

    with store.session(readonly=True) as s:
        report = recount(store, s, mid, read_page=same)
    assert report.pages == 3 and report.differences == [] and report.problems == []

    def changed(_image: Any, _layouts: Layouts, source: str, _dpi: float | None) -> Reading:
        doc = dict(stored[source])
        if source.startswith("sheet-S1"):
            doc = reading(REC, "S1", marked={"pos.director": ["P310012"]}, source=source)
        return Reading.from_dict(doc)

    with store.session(readonly=True) as s:
        row = s.get(Page, pages[2])
        assert row is not None
    store.images.path(row.sha256).unlink()
    with store.session(readonly=True) as s:
        report = recount(store, s, mid, read_page=changed)
    diffs = {(d.page_id, d.what, d.stored, d.now) for d in report.differences}
    assert diffs == {(pages[1], "status", "review", "ok"),
                     (pages[1], "pos.director marked", "-", "P310012"),
                     (pages[1], "pos.director doubtful", "P310012", "-")}
    assert [p.subject for p in report.problems] == [f"page #{pages[2]} ({row.source})"]
