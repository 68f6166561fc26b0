"""The intake pipeline with an OMR card reader on a real pty (hardware.sim), both protocols.

Cards are the bitmaps `omr.grid.marks_to_bitmap` makes for known marks on the layout of
examples/evaluation-cardreader.yaml (timing track, reader grid, the serial printed as code
cells); the stored readings hold exactly those marks and the printed serials, each card is
counted once across a jam and its re-feed and across a whole stack fed twice, a card whose code
does not read is held for review, and the stored image of a card gives its bitmap back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hardware.reader import open_card_reader
from hardware.sim import CardReaderSim, Faults
from intake.pipeline import IntakeOptions, IntakePipeline, StackResult
from intake.recount import recount
from omr.card import bitmap_from_picture as bitmap_from_png
from omr.card import read_card as card_reading
from omr.grid import card_serial, marks_to_bitmap, serial_code_cells
from omr.layout import FormLayout
from scanner.errors import Jammed, TimingMarkError
from tally.ballots import load_ballots
from tally.ingest import close_batch, open_batch
from tally.review.queue import review_queue
from tally.store import Store
from tests.intake_helpers import counted_serials, meeting_store, pages
from tests.tally_helpers import layout_of

DOC = layout_of("evaluation-cardreader")
LAYOUT = FormLayout.parse(DOC)
ROWS = len(DOC["pages"][0]["timing_mm"])  # the reader counts one row per timing mark
COLS = 80
GRADES = ("excellent", "competent", "basic", "incompetent")
LEADERS = [f["id"] for f in DOC["fields"] if f["id"].startswith("leader.")]
SERIALS = [f"{n:06d}" for n in range(1, 20)]


def cards(votes: list[dict[str, list[str]]]) -> list[np.ndarray]:
    """The bitmaps of cards printed with SERIALS[k] and marked with votes[k]."""
    return [marks_to_bitmap(v, LAYOUT, 1, ROWS, COLS, serial=SERIALS[k])
            for k, v in enumerate(votes)]


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
    bitmaps = cards(votes)
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
    assert [p["serial"] for p in stored] == SERIALS[:7]  # read from the printed code
    assert all(p["state"] == "counted" and p["status"] == "ok" for p in stored)
    assert [stored_marks(p["reading"]) for p in stored] == votes
    assert stored[0]["sha256"] != stored[1]["sha256"]  # same marks, two cards
    for p, bitmap in zip(stored, bitmaps, strict=True):
        image = (store.data_dir / "images").rglob(p["sha256"] + "*")
        data = store.images.get(p["sha256"])
        assert np.array_equal(bitmap_from_png(data), bitmap), list(image)


def test_a_timing_mark_error_and_a_stray_mark(tmp_path: Path) -> None:
    votes = card_votes(3)
    bitmaps = cards(votes)
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
    bitmap = np.zeros((30, COLS), bool)
    bitmap[:, :20] = cards(card_votes(3))[0][:30, :20]
    reading = card_reading(bitmap, LAYOUT, 1, source="serial:///dev/x#1", serial="R1S1")
    assert reading.status == "unreadable" and "30 timing marks" in reading.reason
    assert f"has {ROWS}" in reading.reason and reading.marks == {}


def feed(store: Store, mid: int, bitmaps: list[np.ndarray], protocol: str = "sekonic"
         ) -> StackResult:
    """One stack through a simulated reader, in a batch of its own."""
    with CardReaderSim(bitmaps, protocol=protocol) as sim:
        reader = open_card_reader(f"{sim.uri}&timeout_s=2")
        batch = open_batch(store, mid, device=sim.uri)
        with IntakePipeline(store, batch, reader, options=IntakeOptions(workers=1)) as pipeline:
            result = pipeline.run()
        close_batch(store, batch)
        reader.close()
    assert result.ended == "end_of_stack", result.error
    return result


def test_a_stack_fed_twice_counts_each_card_once(tmp_path: Path) -> None:
    votes = card_votes(5)
    with meeting_store(tmp_path, ("evaluation-cardreader",)) as (store, mid):
        first = feed(store, mid, cards(votes))
        again = feed(store, mid, cards(votes), protocol="framed")  # another batch, same cards
        assert first.stats.outcomes == {"ok": 5}
        assert again.stats.outcomes == {"duplicate": 5}
        assert counted_serials(store, mid) == SERIALS[:5]
        stored = pages(store, mid)
        assert [p["state"] for p in stored] == ["counted"] * 5 + ["duplicate"] * 5
        with store.session(readonly=True) as s:
            assert len(load_ballots(s, mid)) == 5


def test_a_card_whose_serial_code_does_not_read_is_held_for_review(tmp_path: Path) -> None:
    votes = card_votes(3)
    bitmaps = cards(votes)
    code = serial_code_cells(LAYOUT)
    blank_code_cell = next(cell for cell in code if not bitmaps[1][cell])
    bitmaps[1][blank_code_cell] = True  # a pencil mark in the code strip
    with meeting_store(tmp_path, ("evaluation-cardreader",)) as (store, mid):
        result = feed(store, mid, bitmaps)
        stored = pages(store, mid)
        assert result.stats.outcomes == {"ok": 2, "review": 1}
        assert [p["serial"] for p in stored] == [
            SERIALS[0], f"R{stored[1]['batch']}S2", SERIALS[2]]
        assert stored[1]["status"] == "review" and "卡号编码" in stored[1]["reason"]
        assert stored_marks(stored[1]["reading"]) == votes[1]  # its votes are kept, not counted
        with store.session(readonly=True) as s:
            ballots = {b.serial: b for b in load_ballots(s, mid)}
            assert ballots[stored[1]["serial"]].pending_review
            items = [i for i in review_queue(s, mid) if i.page_id == stored[1]["id"]]
        assert items, "the held card is in the review queue"


def test_every_single_cell_error_in_the_serial_code_is_detected() -> None:
    bitmap = cards(card_votes(2))[0]
    assert card_serial(bitmap, LAYOUT) == SERIALS[0]
    for cell in serial_code_cells(LAYOUT):
        damaged = bitmap.copy()
        damaged[cell] = not damaged[cell]
        assert card_serial(damaged, LAYOUT) is None, cell


def test_recount_reads_stored_cards_through_the_grid_again(tmp_path: Path) -> None:
    votes = card_votes(4)
    bitmaps = cards(votes)
    bitmaps[2][next(c for c in serial_code_cells(LAYOUT) if not bitmaps[2][c])] = True
    with meeting_store(tmp_path, ("evaluation-cardreader",)) as (store, mid):
        feed(store, mid, bitmaps)
        with store.session(readonly=True) as s:
            report = recount(store, s, mid)
        assert report.pages == 4 and report.problems == []
        assert report.differences == []  # the held card keeps its batch-and-sequence serial
