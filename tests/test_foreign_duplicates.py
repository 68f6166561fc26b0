"""The store catches a sheet fed twice by its ink fingerprint (`tally.fingerprints`), on SQLite
and PostgreSQL: another file, another serial (a foreign sheet's is its source), the same ink."""

from __future__ import annotations

import cv2
import numpy as np
from sqlalchemy import func, select

from omr.fingerprint import fingerprint
from tally.fingerprints import SheetFingerprint
from tally.ingest import IngestResult, close_batch, ingest_json, open_batch
from tally.store import Store
from tally.testmode import go_official
from tests.tally_helpers import (
    layout_of,
    new_meeting,
    reading,
    tiny_image,
)

REC = layout_of("recommendation")


def _ink(kind: str, speckle: int = 0) -> str:
    """The fingerprint of a tick or a cross in boxes 2 and 5 (48 px boxes); `speckle` pixels
    at the strokes' edges flipped (a re-scan: noise, JPEG)."""
    rng = np.random.default_rng(speckle)
    masks = {}
    for box in (2, 5):
        mask = np.zeros((48, 48), np.uint8)
        if kind == "tick":
            cv2.polylines(mask, [np.array([(6, 24), (18, 40), (44, 6)], np.int32)], False, 1, 4)
        else:
            cv2.line(mask, (8, 8), (40, 40), 1, 4)
            cv2.line(mask, (40, 8), (8, 40), 1, 4)
        edge = np.argwhere(cv2.dilate(mask, np.ones((3, 3), np.uint8)) != mask)
        flip = edge[rng.choice(len(edge), speckle, replace=False)] if speckle else edge[:0]
        mask[flip[:, 0], flip[:, 1]] ^= 1
        masks[box] = mask.astype(bool)
    return fingerprint(masks)


def test_a_sheet_fed_twice_is_a_duplicate_by_its_ink(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid, operator="t")
    marked = {"pos.director": ["P310031"]}

    def feed(n: int, serial: str, ink: str) -> object:
        doc = reading(REC, serial, marked=marked, source=f"scan-{n}.png#1") | {"fingerprint": ink}
        return ingest_json(store, batch, doc, tiny_image(n))

    first = feed(1, "a1b2c3d4e5f60001", _ink("tick"))
    again = feed(2, "a1b2c3d4e5f60002", _ink("tick", speckle=12))  # re-scanned
    other = feed(3, "a1b2c3d4e5f60003", _ink("cross"))  # same choice, another hand
    assert first.outcome == "ok" and other.outcome == "ok"
    assert again.outcome == "duplicate" and again.duplicate_of == first.page_id
    assert "same ink" in again.message
    with store.session(readonly=True) as s:
        kept = s.scalar(select(func.count()).select_from(SheetFingerprint)
                        .where(SheetFingerprint.meeting_id == mid))
    assert kept == 2  # the counted pages only


def test_a_reading_without_a_fingerprint_is_never_matched(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid, operator="t")
    results = [ingest_json(store, batch, reading(REC, f"S{n:04d}", marked={
        "pos.director": ["P310031"]}), tiny_image(n)) for n in range(3)]
    assert [r.outcome for r in results] == ["ok"] * 3


def test_going_official_forgets_the_ink_of_the_test_pages(store: Store) -> None:
    """The test phase's pages go with their fingerprints (a row of `sheet_fingerprints` names
    its page): the first official feed of the same ink counts, it is no duplicate."""
    mid = new_meeting(store, test_mode=True)
    marked = {"pos.director": ["P310031"]}

    def feed(n: int) -> IngestResult:
        batch = open_batch(store, mid, operator="t")
        doc = reading(REC, f"a1b2c3d4e5f6000{n}", marked=marked,
                      source=f"scan-{n}.png#1") | {"fingerprint": _ink("tick", speckle=n)}
        try:
            return ingest_json(store, batch, doc, tiny_image(n))
        finally:
            close_batch(store, batch)

    assert feed(1).outcome == "ok"
    report = go_official(store, mid, actor="leader", why="deck matched")
    assert report.pages == 1
    with store.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(SheetFingerprint)
                        .where(SheetFingerprint.meeting_id == mid)) == 0
    official = feed(2)
    assert official.outcome == "ok", official.message
    assert official.duplicate_of is None
