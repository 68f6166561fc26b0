"""The intake pipeline against the eSCL simulator over real HTTP on 127.0.0.1 (no mocks).

Every sheet fed is stored once: a whole stack, a stack interrupted by a jam and re-fed, 503
bursts, duplex with blank backs; a device that answers garbage or vanishes is a clear typed
error; and the OMR queue never grows past its bound while the device could feed faster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.pipeline import IntakeOptions, IntakePipeline, IntakeStats
from intake.run import scan
from scanner.errors import DeviceIO, Jammed
from scanner.escl import EsclSource
from scanner.escl_sim import EsclSimulator
from tally.ingest import close_batch, ingest_page, open_batch
from tests.intake_helpers import (
    ballot,
    blank_back,
    counted_serials,
    meeting_store,
    pages,
    serial,
    vote,
)


def _source(sim: EsclSimulator, **options: object) -> EsclSource:
    options.setdefault("busy_backoff_s", 0.01)
    return EsclSource(sim.uri, **options)  # type: ignore[arg-type]


def test_a_stack_is_ingested_once_in_feed_order_through_worker_processes(
        tmp_path: Path) -> None:
    stack = [ballot(n) for n in range(1, 21)]
    with (meeting_store(tmp_path) as (store, mid),
          EsclSimulator(stack, busy_every=4, busy_count=3) as sim, _source(sim) as source):
        seen: list[IntakeStats] = []
        _, result = scan(store, mid, source, options=IntakeOptions(workers=2),
                         progress=seen.append)
        busy = sum(1 for _, _, status in sim.requests if status == 503)
        assert result.ended == "end_of_stack" and result.error is None, result
        assert busy == 15  # the 503 bursts happened, and were absorbed
        stats = result.stats
        assert (stats.acquired, stats.read, stats.ingested, stats.pages) == (20, 20, 20, 20)
        assert stats.outcomes == {"ok": 20}
        assert stats.max_queue_depth <= stats.queue_bound == 2  # the default: max(2, W)
        assert seen and seen[-1].ingested == 20
        stored = pages(store, mid)
        assert [p["source"] for p in stored] == [f"{sim.uri}#{n}" for n in range(1, 21)]
        assert [p["serial"] for p in stored] == [serial(n) for n in range(1, 21)]
        assert stored[6]["reading"]["marks"]["leader.P310012"]["marked"] == \
            vote(7)["leader.P310012"]
        assert all(p["state"] == "counted" for p in stored)


def test_a_jam_stores_what_was_fed_names_the_sheet_and_refeeding_counts_each_once(
        tmp_path: Path) -> None:
    stack = [ballot(n) for n in range(1, 13)]
    with (meeting_store(tmp_path) as (store, mid),
          EsclSimulator(stack, jam_at=5) as sim, _source(sim) as source):
        batch = open_batch(store, mid, device=sim.uri)
        with IntakePipeline(store, batch, source, options=IntakeOptions(workers=1)) as pipeline:
            first = pipeline.run()
            assert first.ended == "device_error" and isinstance(first.error, Jammed)
            assert first.refeed == [5] and sim.uri in str(first.error)
            assert "Re-feed sheet(s) 5" in str(first.error)
            assert counted_serials(store, mid) == [serial(n) for n in range(1, 5)]
            sim.clear()  # the operator clears the jam; sheet 5 goes back on top
            second = pipeline.run()
        close_batch(store, batch)
        assert second.ended == "end_of_stack" and second.error is None
        assert second.stats.ingested == 12  # cumulative over the pipeline's runs
        assert counted_serials(store, mid) == [serial(n) for n in range(1, 13)]
        # the operator re-feeds too much: sheet 4 again (same image) and sheet 3 re-scanned
        # (another image of a sheet already counted): recognised, not counted again
        again = [ballot(4), ballot(3, quality=80)]
        with EsclSimulator(again) as sim2, _source(sim2) as source2:
            _, third = scan(store, mid, source2, options=IntakeOptions(workers=1))
        assert third.stats.outcomes == {"already": 1, "duplicate": 1}
        assert counted_serials(store, mid) == [serial(n) for n in range(1, 13)]


def test_duplex_blank_backs_are_stored_as_blank_not_errors(tmp_path: Path) -> None:
    stack = [side for n in range(1, 5) for side in (ballot(n), blank_back(n))]
    with (meeting_store(tmp_path) as (store, mid), EsclSimulator(stack) as sim,
          _source(sim, duplex=True) as source):
        _, result = scan(store, mid, source, options=IntakeOptions(workers=1))
    assert result.ended == "end_of_stack" and result.error is None
    assert (result.stats.ingested, result.stats.pages) == (4, 8)
    assert result.stats.outcomes == {"ok": 4, "blank": 4}
    stored = pages(store, mid)
    backs = [p for p in stored if p["source"].endswith("#back")]
    assert len(backs) == 4 and all(p["status"] == "blank" for p in backs)
    assert counted_serials(store, mid) == [serial(n) for n in range(1, 5)]


@pytest.mark.parametrize("fault", ["garbage_xml", "vanish_at"])
def test_a_device_that_misbehaves_is_a_clear_device_io(tmp_path: Path, fault: str) -> None:
    stack = [ballot(n) for n in range(1, 6)]
    options = {"garbage_xml": True} if fault == "garbage_xml" else {"vanish_at": 3}
    with (meeting_store(tmp_path) as (store, mid), EsclSimulator(stack, **options) as sim,
          _source(sim, timeout_s=5.0) as source):
        _, result = scan(store, mid, source, options=IntakeOptions(workers=1))
    assert result.ended == "device_error" and isinstance(result.error, DeviceIO)
    assert result.error.device == sim.uri and sim.uri in str(result.error)
    if fault == "garbage_xml":
        assert "malformed XML" in str(result.error)
        assert result.stats.acquired == 0 and pages(store, mid) == []
    else:  # the two sheets delivered are stored; the error names the next one
        assert counted_serials(store, mid) == [serial(1), serial(2)]
        assert result.refeed == [3]


def test_the_queue_never_grows_past_its_bound_and_the_device_waits(tmp_path: Path) -> None:
    """A slow database: the scanner could serve 24 sheets at once, but the pipeline only asks
    for the next one when the queue has room."""
    import time

    stack = [ballot(n) for n in range(1, 25)]
    with (meeting_store(tmp_path) as (store, mid), EsclSimulator(stack) as sim,
          _source(sim) as source):
        batch = open_batch(store, mid, device=sim.uri)

        def slow_ingest(reading, image):  # type: ignore[no-untyped-def]
            result = ingest_page(store, batch, reading, image)
            time.sleep(0.05)
            return result

        ahead: list[int] = []

        def watch(stats: IntakeStats) -> None:
            ahead.append(len(sim.delivered) - stats.ingested)

        options = IntakeOptions(workers=1, queue_size=3)
        with IntakePipeline(store, batch, source, options=options, ingest=slow_ingest,
                            progress=watch) as pipeline:
            result = pipeline.run()
        close_batch(store, batch)
    stats = result.stats
    assert result.ended == "end_of_stack" and stats.ingested == 24
    assert stats.max_queue_depth == stats.queue_bound == 3  # it filled, and went no further
    # sheets served by the scanner but not stored: the queue, the one being read or stored,
    # and the one the acquisition thread holds while it waits for room
    assert max(ahead) <= stats.queue_bound + stats.in_flight_bound + 1
    assert stats.stage_s["backpressure"] > 0.3  # the device really was kept waiting
    assert len(counted_serials(store, mid)) == 24


def test_a_store_failure_mid_stack_names_every_sheet_fed_but_not_stored(
        tmp_path: Path) -> None:
    stack = [ballot(n) for n in range(1, 11)]
    with (meeting_store(tmp_path) as (store, mid), EsclSimulator(stack) as sim,
          _source(sim) as source):
        batch = open_batch(store, mid, device=sim.uri)
        calls = [0]

        def failing_ingest(reading, image):  # type: ignore[no-untyped-def]
            calls[0] += 1
            if calls[0] == 3:
                raise OSError(28, "No space left on device")
            return ingest_page(store, batch, reading, image)

        with IntakePipeline(store, batch, source, options=IntakeOptions(workers=1),
                            ingest=failing_ingest) as pipeline:
            result = pipeline.run()
        close_batch(store, batch)
        assert result.ended == "failed" and "No space left" in str(result.error)
        acquired = result.stats.acquired
        assert counted_serials(store, mid) == [serial(1), serial(2)]
        assert result.refeed == list(range(3, acquired + 1))  # none fed is unaccounted for
        assert acquired <= 2 + result.stats.queue_bound + result.stats.in_flight_bound + 1


def test_a_worker_process_that_dies_is_replaced_and_no_sheet_is_lost(tmp_path: Path) -> None:
    import os
    import signal

    import psutil

    stack = [ballot(n) for n in range(1, 13)]
    killed: list[int] = []

    def kill_a_worker(stats: IntakeStats) -> None:
        if stats.ingested == 3 and not killed:
            # the pool's workers are the children of its forkserver, a child of this process
            workers = [w for p in psutil.Process().children() for w in p.children()]
            killed.append(workers[0].pid)
            os.kill(workers[0].pid, signal.SIGKILL)

    with (meeting_store(tmp_path) as (store, mid), EsclSimulator(stack) as sim,
          _source(sim) as source):
        _, result = scan(store, mid, source, options=IntakeOptions(workers=2),
                         progress=kill_a_worker)
        assert killed and result.ended == "end_of_stack", result
        assert counted_serials(store, mid) == [serial(n) for n in range(1, 13)]
