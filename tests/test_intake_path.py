"""One sheet's path from an eSCL scanner to the hall aggregate, traced, is short (issue 12).

A real run: the eSCL simulator over HTTP on 127.0.0.1, `server.intake.Intake.start_device` (what
the console's scan button calls), the intake pipeline with one reader (`workers == 1` reads in
the caller, so the profiler sees the worker's code too: the same functions a pool process runs),
a SQLite store, and the hall feed (`server.hall.HallFeeds`, in threads) recomputing the
aggregate that the hall screen is sent. `sys.setprofile` / `threading.setprofile` watch every
call and return of project code (packages server, intake, tally, omr, scanner, hardware, forms).

What counts as a function on the path - a **stage** - precisely:

1. Before the store (identity data flow): the sheet's data is the first `Sheet` a project
   function returns or yields, and everything reached from it or handed on: its dataclass fields
   (two levels: the encoded pages), and what a function that was handed the data (as an
   argument) returns or yields: the queued item, the job, the `PageRead`, the `Reading`, the
   `IngestResult`. A function *holds* the data when one of those objects is among its frame's
   locals (arguments included) when it is called or when it returns.
2. Across the store (the data is a row, then the live tally's ballot): the functions on the call
   stack when the hall's live tally (`tally.live.LiveResults.refresh`) is entered after the
   sheet was committed, and when the aggregate that counts the sheet is published.
3. Not stages, filtered out: a function called from a function of its own top-level package (a
   helper inside a layer: the engine's registration and scoring below `read_page`, the
   pipeline's own methods, the store's internals); a method called on one of the data objects
   themselves (`Reading.to_dict`, `EncodedPage.decode`: operations on the value, not hand-overs).
   A function at the bottom of its thread or asyncio task, or called from another package,
   is a stage.

The last leg, `server/routes/hall.py:hall_events.<locals>.stream` sending the published
aggregate to the screen over SSE, needs the web server and is listed in `intake`'s docstring,
not traced here; the test allows for it (at most 11 traced stages, so at most 12 with it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from scanner.escl_sim import EsclSimulator
from scanner.source import Sheet
from server.events import EventBus
from server.hall import HallFeeds
from server.intake import Intake
from tally.live import LiveResults
from tests.intake_helpers import ballot, meeting_store

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "intake", "tally", "omr", "scanner", "hardware", "forms")
#: traced stages allowed: 12 on the path, less the SSE leg that is not traced
MAX_TRACED = 11
_NOTHING = object()


def _project_file(frame: FrameType | None) -> str | None:
    if frame is None:
        return None
    try:
        rel = Path(frame.f_code.co_filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts[0] in PACKAGES else None


def _below(frame: FrameType) -> str | None:
    """The file of the nearest project frame below `frame` (None: bottom of its thread/task)."""
    back = frame.f_back
    while back is not None:
        f = _project_file(back)
        if f is not None:
            return f
        back = back.f_back
    return None


def _is_stage(frame: FrameType, file: str) -> bool:
    below = _below(frame)
    return below is None or below.split("/")[0] != file.split("/")[0]


class PathTracer:
    """Records the stages (see the module docstring) of the first sheet a source yields."""

    def __init__(self) -> None:
        self._data: dict[int, object] = {}
        self._lock = threading.Lock()
        self.seeded = False
        #: every function that held the sheet's data (helpers included), for the report
        self.held: set[tuple[str, str]] = set()
        self.stages: dict[tuple[str, str], str] = {}
        self.page_id: int | None = None
        self.aggregate_seen = False
        #: frames (by id, kept while they run) that were handed the data as an argument
        self._handed: dict[int, FrameType] = {}

    def _track(self, obj: object, depth: int = 2) -> None:
        if obj is None or depth < 0 or isinstance(obj, bool | int | float | str | bytes | type):
            return
        if id(obj) in self._data:
            return
        self._data[id(obj)] = obj  # kept alive: an id is never reused while traced
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                self._track(getattr(obj, f.name, None), depth - 1)
        elif isinstance(obj, list | tuple):
            for v in obj:
                self._track(v, depth - 1)
        page_id = getattr(obj, "page_id", None)
        if self.page_id is None and type(obj).__name__ == "IngestResult" and page_id:
            self.page_id = int(page_id)

    def _holds(self, frame: FrameType) -> bool:
        return any(self._data.get(id(v), _NOTHING) is v for v in list(frame.f_locals.values()))

    def _stage(self, frame: FrameType, file: str, why: str) -> None:
        key = (file, frame.f_code.co_qualname)
        if key not in self.stages and _is_stage(frame, file):
            self.stages[key] = why

    def _stack(self, frame: FrameType | None, why: str) -> None:
        while frame is not None:
            file = _project_file(frame)
            if file is not None:
                self._stage(frame, file, why)
            frame = frame.f_back

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "return"):
            return
        file = _project_file(frame)
        if file is None:
            return
        with self._lock:
            if event == "return" and not self.seeded and isinstance(arg, Sheet):
                self.seeded = True
                self._track(arg)
            if not self.seeded:
                return
            code = frame.f_code
            if (self.page_id is not None and event == "call"
                    and code is LiveResults.refresh.__code__):
                self._stack(frame, "reads the committed sheet into the live tally")
                return
            if (self.page_id is not None and event == "call"
                    and code.co_qualname == "EventBus.publish"
                    and frame.f_locals.get("kind") == "aggregate"
                    and (frame.f_locals.get("data") or {}).get("through_page_id", 0)
                    >= self.page_id):
                self.aggregate_seen = True
                self._stack(frame, "publishes the aggregate that counts the sheet")
                return
            handed = self._handed.pop(id(frame), None) is frame if event == "return" else False
            if not self._holds(frame):
                return
            if event == "call":
                self._handed[id(frame)] = frame
            self.held.add((file, code.co_qualname))
            first = code.co_varnames[0] if code.co_argcount else None
            value_method = first == "self" and self._data.get(
                id(frame.f_locals.get("self")), _NOTHING) is frame.f_locals.get("self")
            if not value_method:
                self._stage(frame, file, "holds the sheet's data")
            if handed:
                self._track(arg)


async def _scan_one_sheet_to_the_hall(tmp_path: Path, tracer: PathTracer) -> None:
    with meeting_store(tmp_path) as (store, mid), EsclSimulator([ballot(1)]) as sim:
        bus = EventBus()
        feeds = HallFeeds(store, bus, workers=0, min_interval_s=0.05, poll_s=0.2)
        intake = Intake(store, bus, read_threads=1)
        try:
            # watched from before the loop's worker threads start (3.11 has no way to reach
            # threads already running); nothing counts before the source yields the sheet
            sys.setprofile(tracer)
            threading.setprofile(tracer)
            try:
                await feeds.current(mid)  # the hall screen is open before the scan starts
                job = await asyncio.to_thread(intake.start_device, mid, sim.uri, operator="op",
                                              category=None)
                deadline = time.monotonic() + 120
                while (job.state == "running" or not tracer.aggregate_seen) \
                        and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            finally:
                threading.setprofile(None)  # type: ignore[arg-type]
                sys.setprofile(None)
            assert job.state == "done", (job.state, job.error)
            assert job.outcomes.counts == {"ok": 1}
        finally:
            await feeds.close()


def test_one_sheet_from_the_scanner_to_the_hall_passes_few_functions(tmp_path: Path) -> None:
    tracer = PathTracer()
    asyncio.run(_scan_one_sheet_to_the_hall(tmp_path, tracer))
    assert tracer.seeded and tracer.page_id is not None and tracer.aggregate_seen
    stages = sorted(tracer.stages)
    listing = "\n".join(f"{f}:{n} ({why})" for (f, n), why in sorted(tracer.stages.items()))
    # the layers it must cross, each once: device, pipeline, engine, store, hall
    files = {f for f, _ in stages}
    for needed in ("scanner/escl.py", "intake/pipeline.py", "omr/engine.py", "tally/ingest.py",
                   "tally/live.py", "server/hall.py"):
        assert needed in files, listing
    assert len(stages) <= MAX_TRACED, listing
    assert len(files) <= MAX_TRACED, listing
    # and no pass-through wrapper (a lambda forwarding the page) is left on it
    assert not any("<lambda>" in n for _, n in tracer.held), sorted(tracer.held)
    print(f"\n{len(stages)} stages in {len(files)} files; {len(tracer.held)} functions held "
          f"the sheet's data:\n{listing}")
