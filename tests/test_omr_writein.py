"""omr.writein: a name written on a 另推 line whose box is left empty is listed in the reading's
`writein_ink` (no vote; a person looks); folds, streaks, dust and an empty line are not; and the
review queue of the store offers the line to type the name."""

from __future__ import annotations

from pathlib import Path

import pytest

from omr.engine import read_page
from omr.layout import parse_layouts
from omr.reading import Reading
from omr.sim.corpus import render_page
from tally.ingest import ingest_json, open_batch
from tally.review.queue import review_queue
from tally.store import open_store
from tests import omr_helpers as H
from tests.tally_helpers import new_meeting, spec_path

SPEC = spec_path("recommendation")
DOC = H.layout("recommendation")
LAYOUTS = parse_layouts({DOC["form"]["id"]: DOC})
LINE = next(r for r in DOC["pages"][0]["regions"] if r["kind"] == "writein")
FIELD, OPTION = LINE["field"], LINE["option"]
VOTES = {"pos.deputy": ["P310061"], "pos.chief": ["P310125"]}
DPI = 200


def _read(image, dpi: int = DPI) -> Reading:
    return read_page(image, LAYOUTS, source="t.png#1", dpi=dpi)


@pytest.mark.parametrize("pen", ["black", "blue", "pencil"])
@pytest.mark.parametrize("name", ["张伟", "欧阳明华"])
def test_a_name_without_a_mark_is_listed(pen: str, name: str) -> None:
    page = render_page(SPEC, VOTES, pen=pen, writeins={FIELD: {OPTION: name}}, seed=3,
                       degradations=[{"name": "rotate", "deg": 0.8}, {"name": "blur",
                                                                        "sigma_px": 0.6}])
    reading = _read(page.image)
    assert reading.status == "ok", reading.reason
    assert reading.writein_ink == [LINE["id"]]
    assert reading.marks[FIELD].marked == [] and reading.marks["pos.deputy"].marked == ["P310061"]
    assert reading.to_dict()["writein_ink"] == [LINE["id"]]
    assert Reading.from_dict(reading.to_dict()).writein_ink == [LINE["id"]]


def test_a_name_with_its_mark_is_a_marked_writein_not_ink() -> None:
    page = render_page(SPEC, {**VOTES, FIELD: [OPTION]}, writeins={FIELD: {OPTION: "李强"}},
                       seed=4)
    reading = _read(page.image)
    assert reading.marks[FIELD].marked == [OPTION] and reading.writein_ink == []


def test_folds_streaks_and_dust_across_empty_lines_are_not_names() -> None:
    x, y, w, h = LINE["rect_mm"]
    k = DPI / H.MM_PER_INCH
    cases = [
        [{"name": "fold", "axis": "h", "pos_mm": y + h / 2, "angle_deg": 0.4, "level": 120,
          "width_px": 3}],
        [{"name": "fold", "axis": "h", "pos_mm": y + h / 2, "angle_deg": 0.9, "level": 213,
          "width_px": 3}],
        [{"name": "streak", "x_px": round((x + w / 3) * k), "width_px": 3, "level": 0}],
        [{"name": "dust", "count": 400, "seed": 5}],
    ]
    for pen in ("black", "pencil"):
        for ops in cases:
            page = render_page(SPEC, VOTES, pen=pen, degradations=ops, seed=6)
            reading = _read(page.image)
            assert reading.status == "ok", (ops, reading.reason)
            assert reading.writein_ink == [], (pen, ops)
            assert "writein_ink" not in reading.to_dict()


def test_a_name_under_a_streak_and_a_fold_is_still_listed() -> None:
    x, y, w, h = LINE["rect_mm"]
    k = DPI / H.MM_PER_INCH
    ops = [{"name": "fold", "axis": "h", "pos_mm": y + h * 0.7, "angle_deg": 0.3, "level": 140,
            "width_px": 2},
           {"name": "streak", "x_px": round((x + w / 2) * k), "width_px": 2, "level": 20}]
    page = render_page(SPEC, VOTES, writeins={FIELD: {OPTION: "王五"}}, degradations=ops, seed=8)
    assert _read(page.image).writein_ink == [LINE["id"]]


def test_the_review_queue_offers_the_line(tmp_path: Path) -> None:
    page = render_page(SPEC, VOTES, writeins={FIELD: {OPTION: "赵六"}}, seed=9)
    reading = _read(page.image)
    store = open_store(tmp_path / "data")
    try:
        mid = new_meeting(store)
        result = ingest_json(store, open_batch(store, mid), reading.to_dict(),
                             H.encode_jpeg(page.image, DPI))
        assert result.outcome == "ok", result.message
        with store.session(readonly=True) as s:
            items = {i.id: i for i in review_queue(s, mid)}
        item = items[f"{result.page_id}:{FIELD}:{OPTION}"]
        assert item.kind == "writein" and "no mark" in item.reason
        assert item.choices == ("writein", "empty", "cancel")  # 涂改作废 on every item
    finally:
        store.close()
