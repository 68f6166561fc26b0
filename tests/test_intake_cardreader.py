"""The intake pipeline with an OMR card reader on a real pty (hardware.sim), both protocols.

Cards are the bitmaps `hardware.grid.marks_to_bitmap` makes for known marks on the layout of
examples/evaluation-cardreader.yaml (timing track, reader grid); the stored readings hold
exactly those marks, each card is counted once across a jam and its re-feed, and the stored
image of a card gives its bitmap back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hardware.grid import marks_to_bitmap
from hardware.reader import open_card_reader
from hardware.sim import CardReaderSim, Faults
from scanner.errors import Jammed, TimingMarkError
from tally.ingest import close_batch, open_batch
from tally.intake import IntakeOptions, IntakePipeline
from tally.intake_read import bitmap_from_png, card_reading
from tests.intake_helpers import meeting_store, pages
from tests.tally_helpers import layout_of

LAYOUT = layout_of("evaluation-cardreader")
ROWS = len(LAYOUT["pages"][0]["timing_mm"])  # the reader counts one row per timing mark
COLS = 80
GRADES = ("excellent", "competent", "basic", "incompetent")
LEADERS = [f["id"] for f in LAYOUT["fields"] if f["id"].startswith("leader.")]


def card_votes(count: int) -> list[dict[str, list[str]]]:
    votes = []
    for n in range(count):
        marks = {"category": [("leader", "middle", "staff")[n % 3]],
                 "team.politics": [("good", "fair_good", "average", "poor")[n % 4]]}
        marks[LEADERS[n % len(LEADERS)]] = [GRADES[(n // 2) % 4]]
        votes.append(marks)
    votes[1] = dict(votes[0])  # two voters who marked the same: two cards, both counted
    return votes


def stored_marks(reading: dict) -> dict[str, list[str]]:
    return {f: m["marked"] for f, m in reading["marks"].items() if m["marked"]}


@pytest.mark.parametrize("protocol", ["sekonic", "framed"])
def test_cards_are_stored_with_their_marks_and_counted_once_across_a_jam(
        tmp_path: Path, protocol: str) -> None:
    votes = card_votes(7)
    bitmaps = [marks_to_bitmap(v, LAYOUT, 1, ROWS, COLS) for v in votes]
    with (meeting_store(tmp_path, ("evaluation-cardreader",)) as (store, mid),
          CardReaderSim(bitmaps, protocol=protocol, faults=Faults(jam_at={4})) as sim):
        reader = open_card_reader(f"{sim.uri}&timeout_s=2")
        batch = open_batch(store, mid, device=sim.uri)
        with IntakePipeline(store, batch, reader, options=IntakeOptions(workers=1)) as pipeline:
            first = pipeline.run()
            assert first.ended == "device_error" and isinstance(first.error, Jammed)
            assert first.refeed == [4] and first.stats.ingested == 3
            second = pipeline.run()  # the jammed card back on top of the hopper
        close_batch(store, batch)
        reader.close()
        assert second.ended == "end_of_stack", second.error
        assert second.stats.outcomes == {"ok": 7}
        stored = pages(store, mid)
    assert [p["source"].rsplit("#", 1)[1] for p in stored] == [str(n) for n in range(1, 8)]
    assert [p["serial"] for p in stored] == [f"R{batch.batch_id}S{n}" for n in range(1, 8)]
    assert all(p["state"] == "counted" and p["status"] == "ok" for p in stored)
    assert [stored_marks(p["reading"]) for p in stored] == votes
    assert stored[0]["sha256"] != stored[1]["sha256"]  # same marks, two cards
    for p, bitmap in zip(stored, bitmaps, strict=True):
        image = (store.data_dir / "images").rglob(p["sha256"] + "*")
        data = store.images.get(p["sha256"])
        assert np.array_equal(bitmap_from_png(data), bitmap), list(image)


def test_a_timing_mark_error_and_a_stray_mark(tmp_path: Path) -> None:
    votes = card_votes(3)
    bitmaps = [marks_to_bitmap(v, LAYOUT, 1, ROWS, COLS) for v in votes]
    bitmaps[2][ROWS - 1, COLS - 1] = True  # a pencil mark outside every box
    with (meeting_store(tmp_path, ("evaluation-cardreader",)) as (store, mid),
          CardReaderSim(bitmaps, faults=Faults(timing_mark_error_at={2})) as sim):
        reader = open_card_reader(f"{sim.uri}&timeout_s=2")
        batch = open_batch(store, mid, device=sim.uri)
        with IntakePipeline(store, batch, reader, options=IntakeOptions(workers=1)) as pipeline:
            first = pipeline.run()
            second = pipeline.run()
        close_batch(store, batch)
        reader.close()
        stored = pages(store, mid)
    assert isinstance(first.error, TimingMarkError) and first.refeed == [2]
    assert second.ended == "end_of_stack"
    assert [p["status"] for p in stored] == ["ok", "ok", "review"]
    assert f"[{ROWS - 1}, {COLS - 1}]" in stored[2]["reason"]
    assert stored_marks(stored[2]["reading"]) == votes[2]


def test_a_card_of_another_grid_is_unreadable_with_the_reason() -> None:
    bitmap = marks_to_bitmap(card_votes(3)[0], LAYOUT, 1, 30, COLS)
    reading = card_reading(bitmap, LAYOUT, 1, source="serial:///dev/x#1", serial="R1S1")
    assert reading.status == "unreadable" and "30 timing marks" in reading.reason
    assert f"has {ROWS}" in reading.reason and reading.marks == {}
