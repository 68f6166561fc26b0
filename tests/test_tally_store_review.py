"""tally.review: the queue, signed decisions with before/after in the audit log, image crops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from tally.ballots import load_ballots
from tally.db import AuditEntry
from tally.ingest import IngestResult, ingest_json, open_batch
from tally.review.crops import render_crop
from tally.review.decisions import decide, history
from tally.review.errors import ReviewError
from tally.review.items import MarkState
from tally.review.queue import review_queue
from tally.store import Store, open_store
from tests.tally_helpers import layout_of, new_meeting, reading, tiny_image

REC = layout_of("recommendation")
PX_PER_MM = 4.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def _box(field: str, option: str) -> list[float]:
    return next(b["rect_mm"] for b in REC["pages"][0]["boxes"]
                if b["field"] == field and b["option"] == option)


def _page_image(filled: list[tuple[str, str]]) -> np.ndarray:
    """A white A4 page at 4 px/mm with the given boxes filled black."""
    w_mm, h_mm = REC["page_size_mm"]
    img = np.full((round(h_mm * PX_PER_MM), round(w_mm * PX_PER_MM)), 255, np.uint8)
    for f, o in filled:
        x, y, w, h = (round(v * PX_PER_MM) for v in _box(f, o))
        img[y:y + h, x:x + w] = 0
    return img


def _png(img: np.ndarray) -> bytes:
    ok, enc = cv2.imencode(".png", img)
    assert ok
    return enc.tobytes()


def _ingest(store: Store, mid: int, doc: dict, image: bytes) -> IngestResult:
    return ingest_json(store, open_batch(store, mid), doc, image)


def _ballots(store: Store, mid: int) -> list:
    with store.session(readonly=True) as s:
        return load_ballots(s, mid)


def _items(store: Store, mid: int, **kw: bool) -> dict:
    with store.session(readonly=True) as s:
        return {i.id: i for i in review_queue(s, mid, **kw)}


def test_doubtful_marks_and_writeins_are_queued_and_decided(store: Store) -> None:
    mid = new_meeting(store)
    doc = reading(REC, "S1", marked={"pos.deputy": ["writein1"]},
                  doubtful={"pos.director": ["P310012"]})
    doc["writein_ink"] = ["pos.chief.writein1"]
    page = _ingest(store, mid, doc, tiny_image(1)).page_id
    items = _items(store, mid)
    assert set(items) == {f"{page}:pos.director:P310012", f"{page}:pos.deputy:writein1",
                          f"{page}:pos.chief:writein1"}
    mark = items[f"{page}:pos.director:P310012"]
    assert mark.kind == "mark" and mark.label == "局长人选 · 王建国" and mark.score == 0.4
    assert mark.state == MarkState(marked=False, doubtful=True, name=None)
    assert mark.to_json()["state"] == {"marked": False, "doubtful": True, "name": None}
    assert [c.label for c in items[f"{page}:pos.deputy:writein1"].crops] == [
        "box", "write-in line", "row"]
    assert "no mark" in items[f"{page}:pos.chief:writein1"].reason
    [ballot] = _ballots(store, mid)
    assert ballot.pending_review

    decide(store, mid, f"{page}:pos.director:P310012", "marked", who="李四", why="clear tick")
    d = decide(store, mid, f"{page}:pos.deputy:writein1", "writein", who="李四", text="钱七")
    assert d.before == {"marked": True, "doubtful": False, "name": None}
    assert d.after == {"marked": True, "doubtful": False, "name": "钱七"}
    decide(store, mid, f"{page}:pos.chief:writein1", "empty", who="李四", why="a smudge")
    assert _items(store, mid) == {}
    assert len(_items(store, mid, include_resolved=True)) == 3

    [ballot] = _ballots(store, mid)
    assert not ballot.pending_review and ballot.pages[0].status == "ok"
    assert ballot.marks()["pos.director"] == ("P310012",)
    assert ballot.marks()["pos.chief"] == ()
    assert ballot.writeins == {"pos.deputy": {"writein1": "钱七"}}

    # a reviewer may change their mind: the latest decision wins, both stay in the log
    decide(store, mid, f"{page}:pos.director:P310012", "empty", who="王五", why="second look")
    [ballot] = _ballots(store, mid)
    assert ballot.marks()["pos.director"] == ()
    with store.session(readonly=True) as s:
        rows = history(s, mid, page)
        assert [(r.kind, r.who) for r in rows][-1] == ("empty", "王五")
        logged = s.scalars(select(AuditEntry).where(AuditEntry.action == "review.decide")).all()
        assert len(logged) == 4
        last = logged[-1].payload["record"]
        assert last["who"] == "王五" and last["why"] == "second look"
        assert last["before"]["marked"] is True and last["after"]["marked"] is False


def test_void_a_whole_ballot_and_undo_it(store: Store) -> None:
    mid = new_meeting(store)
    page = _ingest(store, mid, reading(REC, "S1", marked={"pos.director": ["P310012"]}),
                   tiny_image(1)).page_id
    with pytest.raises(ReviewError, match="needs a reason"):
        decide(store, mid, str(page), "void", who="rev")
    d = decide(store, mid, f"{page}:sheet", "void", who="rev", why="signed by the voter")
    assert d.before["void"] is False and d.after == {"void": True,
                                                     "void_reason": "signed by the voter",
                                                     "accepted": None}
    [ballot] = _ballots(store, mid)
    assert ballot.void and ballot.void_reason == "signed by the voter"
    decide(store, mid, str(page), "unvoid", who="rev2", why="the mark was a printing flaw")
    [ballot] = _ballots(store, mid)
    assert not ballot.void


def test_decisions_that_do_not_fit_are_refused(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid)
    page = ingest_json(store, batch, reading(REC, "S1"), tiny_image(1)).page_id
    dup = ingest_json(store, batch, reading(REC, "S1"), tiny_image(2)).page_id
    cases = [
        (f"{page}:pos.director:P310012", "marked", "", "", "signed"),
        (f"{page}:pos.director:P310012", "writein", "rev", "x", "not a write-in"),
        (f"{page}:pos.deputy:writein1", "writein", "rev", "", "type the write-in name"),
        (f"{page}:pos.nobody:x", "marked", "rev", "", "has no box"),
        (f"{page}:pos.director:P310012", "void", "rev", "", "whole sheet"),
        (f"{page}", "marked", "rev", "", "one box"),
        (f"{dup}", "accept", "rev", "", "duplicate of page"),
        ("99999", "dismiss", "rev", "", "no page #99999"),
        ("abc", "dismiss", "rev", "", "not a review item id"),
    ]
    for item, kind, who, text, message in cases:
        with pytest.raises(ReviewError, match=message):
            decide(store, mid, item, kind, who=who, why="because", text=text)
    with store.session(readonly=True) as s:
        assert history(s, mid) == []


@pytest.mark.parametrize("turned", [False, True])
def test_crops_show_the_box_through_the_registration(store: Store, turned: bool) -> None:
    mid = new_meeting(store)
    page_img = _page_image([("pos.deputy", "P310072")])
    doc = reading(REC, "S1", doubtful={"pos.deputy": ["P310072"]})
    if turned:  # scanned upside down: the engine's registration maps mm to the turned image
        h_px, w_px = page_img.shape
        page_img = page_img[::-1, ::-1].copy()
        doc["page_to_image"] = [[-PX_PER_MM, 0, w_px - 1], [0, -PX_PER_MM, h_px - 1], [0, 0, 1]]
    page = _ingest(store, mid, doc, _png(page_img)).page_id
    item = _items(store, mid)[f"{page}:pos.deputy:P310072"]
    box_crop = next(c for c in item.crops if c.label == "box")
    with store.session(readonly=True) as s:
        png = render_crop(store, s, page, box_crop.rect_mm)
        whole = render_crop(store, s, page, None)
    crop = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    h, w = crop.shape
    assert (w, h) == (round(box_crop.rect_mm[2] * 8), round(box_crop.rect_mm[3] * 8))
    centre = crop[h // 2 - 4:h // 2 + 4, w // 2 - 4:w // 2 + 4]
    assert centre.mean() < 60  # the filled box, upright in the middle
    assert crop[:8, :].mean() > 200 and crop[-8:, :].mean() > 200  # white margins
    assert cv2.imdecode(np.frombuffer(whole, np.uint8), cv2.IMREAD_GRAYSCALE).shape == (891, 630)
