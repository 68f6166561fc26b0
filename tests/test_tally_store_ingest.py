"""tally.ingest + tally.ballots: each printed sheet page counts once; bad pages are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tally.ballots import load_ballots
from tally.db import AuditEntry, Page
from tally.ingest import close_batch, ingest_json, iter_readings_file, open_batch
from tally.meetings import MeetingError
from tally.review.decisions import decide
from tally.review.queue import review_queue
from tally.store import Store
from tests.tally_helpers import (
    any_store,
    layout_of,
    new_meeting,
    pg_unreachable,
    reading,
    tiny_image,
    write_readings,
)

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]
REC = layout_of("recommendation")
LONG = layout_of("evaluation-long")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with any_store(request.param, tmp_path) as s:
        yield s


def _count(store: Store, model: type, **where: object) -> int:
    with store.session(readonly=True) as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q) or 0


def _ballots(store: Store, mid: int) -> list:
    with store.session(readonly=True) as s:
        return load_ballots(s, mid)


def test_a_sheet_counts_once_however_often_it_is_fed(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid, station="A", operator="op")
    first = reading(REC, "S1", marked={"category": ["leader"], "pos.director": ["P310012"]})
    ok = ingest_json(store, batch, first, tiny_image(1))
    assert ok.outcome == "ok" and ok.counted

    again = ingest_json(store, batch, first, tiny_image(1))  # the same image re-fed
    assert again.outcome == "already" and again.duplicate_of == ok.page_id
    assert "already stored" in again.message

    # the same sheet scanned again gives another image (and here, another reading)
    rescanned = reading(REC, "S1", marked={"category": ["leader"], "pos.director": ["P310027"]})
    dup = ingest_json(store, batch, rescanned, tiny_image(2))
    assert dup.outcome == "duplicate" and dup.duplicate_of == ok.page_id
    assert "already read" in dup.message
    close_batch(store, batch)

    assert _count(store, Page, meeting_id=mid) == 2  # the duplicate is kept, pointing back
    with store.session(readonly=True) as s:
        kept = s.get(Page, dup.page_id)
        assert kept is not None and kept.state == "duplicate" and kept.duplicate_of == ok.page_id
    ballots = _ballots(store, mid)
    assert len(ballots) == 1
    assert ballots[0].marks()["pos.director"] == ("P310012",)  # the first reading counts
    assert ballots[0].category == "leader"


def test_unknown_serial_is_held_until_accepted(store: Store) -> None:
    mid = new_meeting(store, serials=["S1", "S2"])
    batch = open_batch(store, mid)
    assert ingest_json(store, batch, reading(REC, "S1"), tiny_image(1)).outcome == "ok"
    held = ingest_json(store, batch, reading(REC, "FORGED"), tiny_image(2))
    assert held.outcome == "unknown_serial" and "not printed" in held.message
    assert [b.serial for b in _ballots(store, mid)] == ["S1"]
    with store.session(readonly=True) as s:
        items = [i for i in review_queue(s, mid) if i.kind == "unknown_serial"]
    assert [i.id for i in items] == [f"{held.page_id}:serial"]

    decide(store, mid, items[0].id, "accept", who="rev", why="serial list was incomplete")
    assert sorted(b.serial for b in _ballots(store, mid)) == ["FORGED", "S1"]
    decide(store, mid, items[0].id, "dismiss", who="rev", why="photocopy, not our paper")
    assert [b.serial for b in _ballots(store, mid)] == ["S1"]


def test_another_meetings_form_is_refused_and_nothing_written(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid)
    entries_before = _count(store, AuditEntry, meeting_id=mid)
    sat = layout_of("satisfaction")
    image = tiny_image(9)
    result = ingest_json(store, batch, reading(sat, "S1"), image)
    assert result.outcome == "refused"
    assert "'jt2026-sat'" in result.message and "'m1'" in result.message
    assert "take it out" in result.message
    other_version = {**reading(REC, "S1"), "layout_hash": "0123456789ab"}
    refused = ingest_json(store, batch, other_version, tiny_image(10))
    assert refused.outcome == "refused" and "another version" in refused.message
    # as omr.engine says it: the form id is this meeting's, the printing is not
    engine_says = {"source": "old.png", "status": "unknown_form", "form": "jt2026-rec",
                   "page": 1, "serial": "S1", "marks": {}, "scores": {},
                   "reason": "sheet printed from another version of form 'jt2026-rec'"}
    refused = ingest_json(store, batch, engine_says, tiny_image(12))
    assert refused.outcome == "refused" and "not a sheet of meeting 'm1'" in refused.message
    stray = reading(REC, "S1")
    stray["marks"]["pos.nobody"] = {"marked": ["x"], "doubtful": []}
    assert "pos.nobody" in ingest_json(store, batch, stray, tiny_image(11)).message
    no_image = ingest_json(store, batch, reading(REC, "S1"), None)
    assert no_image.outcome == "refused" and "re-scan" in no_image.message

    assert _count(store, Page, meeting_id=mid) == 0
    assert _count(store, AuditEntry, meeting_id=mid) == entries_before
    assert list(store.images.iter_digests()) == []  # not even the image file


def test_unreadable_pages_are_kept_for_refeed(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid)
    bad = {"source": "jam.png", "status": "unreadable", "reason": "2 of 4 fiducials found",
           "form": "jt2026-rec", "page": 1, "serial": "S7", "marks": {}, "scores": {}}
    result = ingest_json(store, batch, bad, tiny_image(1))
    assert result.outcome == "unreadable" and "re-feed" in result.message
    assert _ballots(store, mid) == []
    with store.session(readonly=True) as s:
        assert [i.kind for i in review_queue(s, mid)] == ["unreadable"]
    # the re-fed sheet reads: it counts, and the unreadable item clears itself
    assert ingest_json(store, batch, reading(REC, "S7"), tiny_image(2)).outcome == "ok"
    assert len(_ballots(store, mid)) == 1
    with store.session(readonly=True) as s:
        assert review_queue(s, mid) == []


def test_category_from_the_sheet_else_from_the_batch(store: Store) -> None:
    mid = new_meeting(store)
    with pytest.raises(MeetingError, match="not a voter category"):
        open_batch(store, mid, category="visitors")
    batch = open_batch(store, mid, category="staff")
    ingest_json(store, batch, reading(REC, "S1", marked={"category": ["middle"]}), tiny_image(1))
    ingest_json(store, batch, reading(REC, "S2"), tiny_image(2))
    cats = {b.serial: b.category for b in _ballots(store, mid)}
    assert cats == {"S1": "middle", "S2": "staff"}


def test_pages_of_one_sheet_make_one_ballot(store: Store) -> None:
    mid = new_meeting(store, forms=("evaluation-long",))
    batch = open_batch(store, mid)
    p1 = next(f for f in LONG["fields"] if f["page"] == 1 and f["id"] != "category")
    p2 = next(f for f in LONG["fields"] if f["page"] == 2)
    ingest_json(store, batch, reading(LONG, "S1", 2, marked={p2["id"]: [p2["options"][0]]}),
                tiny_image(2))
    ingest_json(store, batch, reading(LONG, "S1", 1, marked={p1["id"]: [p1["options"][1]]}),
                tiny_image(1))
    only_first = ingest_json(store, batch, reading(LONG, "S2", 1), tiny_image(3))
    ballots = {b.serial: b for b in _ballots(store, mid)}
    assert [p.page for p in ballots["S1"].pages] == [1, 2]
    assert ballots["S1"].marks()[p1["id"]] == (p1["options"][1],)
    assert ballots["S1"].marks()[p2["id"]] == (p2["options"][0],)
    with store.session(readonly=True) as s:
        items = review_queue(s, mid)
    assert [(i.id, i.kind) for i in items] == [(f"{only_first.page_id}:missing", "missing_page")]


def test_readings_file_pairs_each_reading_with_its_image(tmp_path: Path) -> None:
    rows = [(reading(REC, f"S{k}"), tiny_image(k)) for k in range(3)]
    path = write_readings(tmp_path / "r", rows)
    (tmp_path / "r" / "img-00001.png").unlink()
    got = list(iter_readings_file(path))
    assert [g[1] for g in got] == [rows[0][1], None, rows[2][1]]
    assert got[0][2] == "img-00000.png" and got[0][0]["serial"] == "S0"
    assert got[1][2] == "img-00001.png"  # named, so that the refusal can say which is missing
