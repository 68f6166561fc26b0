"""The intake pipeline: one source -> a bounded queue -> the OMR worker pool -> tally ingest.

    acquisition thread ──put──> queue (bound Q) ──> worker pool (≤ 2 × W sheets) ──> ingest
    (iterates the source)        blocks when full     decode + read_page              (this thread,
                                                                                      feed order)

`IntakePipeline(store, batch, source).run()` takes one stack. The acquisition thread asks the
source for a sheet (its pages encoded, as the device or file delivered them: nothing is decoded
here) and puts it on a `queue.Queue(Q)`. **Backpressure**:
the thread takes one of Q places before it asks the device for a sheet, and the consuming
thread gives the place back when it takes the sheet off the queue: when the queue is full the
thread does not ask the device for the next sheet
(eSCL: no NextDocument request; card reader: no feed command; folder: no file read) until the
OMR side takes one, and no sheet is fed only to wait. The consuming thread (the caller of `run`)
takes sheets only while fewer than
2 × W are in the pool, so at most Q + 2 × W + 1 sheets are held at once, and ingests them in feed
order with `tally.ingest.ingest_page` (or the caller's `ingest`). Pages travel to the workers
(`intake.pool`) encoded and are decoded there, once (`intake.work`); readings and the image to
store come back.

**Stacks and errors.** A stack ends when the source stops iterating or raises `NoDocuments`
(the card reader ends every stack that way; a scanner only when its feeder was empty from the
start: `ended == "empty"`). Any other device error ends the run after every sheet already
acquired has been read and ingested, never lost; `StackResult.error` is the typed error and
`refeed` the sheet numbers it names. `run()` may be called again on the same pipeline after the
operator cleared the fault (sequence numbers carry on); image sheets fed twice are counted once
by tally (same image -> `already`, same form/serial/page -> `duplicate`).

**Card readers** send a mark bitmap, no image. A card-reader form prints each sheet's serial
as solid cells of the reader grid (`forms.cardcode`), so a card's serial is read from its own
bitmap: a card fed twice, in any batch, is one sheet (`duplicate`). The stored image (a PNG of
the bitmap) carries device, batch, sequence and serial, so two voters with the same marks stay
two images. A card whose code does not decode (a mark in the code area), or a layout printed
without a code, falls back to the serial ``R<batch>S<sequence>``: the reader's driver never
spends a number on a failed feed, so the card re-fed after a jam gets the number the error
named and counts once. Fed again after it was read, such a card would get a new number: so a
card whose printed code does not decode is held for review (`review`, with the reason) until a
person accepts it; and an error message names exactly the cards to put back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, Literal

from intake.outcomes import Outcomes
from intake.pool import Job, ReaderPool, default_workers
from intake.work import PageRead, ReadSettings
from omr.card import card_form, card_picture, read_card
from omr.layout import FormLayout, Layouts
from omr.reading import Reading
from scanner.errors import DeviceError, DeviceIO, NoDocuments
from scanner.pages import EncodedPage
from scanner.source import Sheet, SheetSource
from tally.ingest import BatchContext, IngestResult, ingest_page
from tally.references import reading_layouts
from tally.store import Store

Ended = Literal["end_of_stack", "empty", "device_error", "stopped", "failed"]
#: how long the threads wait before looking again (stop requests, a free slot)
POLL_S = 0.02
#: while waiting for the device, progress is reported this often (after each sheet otherwise)
IDLE_REPORT_S = 0.5


@dataclass(frozen=True)
class IntakeOptions:
    """How to run: W worker processes (1 = read in the consuming thread), queue bound Q
    (default max(2, W)), and for a card reader, which form its cards are (when not obvious).

    Why Q is small: the queue fills only when the OMR side is the slower one, and then every
    place on it is time a sheet waits between the feeder and the store (Little's law: at 50
    sheets/s, each place adds 20 ms to every sheet's fed->stored time). The pool already holds
    2 × W sheets, so W places in front of it keep the workers busy; `bench intake --pace 0` read
    as fast with Q = 2 as with Q = 4 and the median latency fell 0.13-0.14 -> 0.10 s."""

    workers: int = field(default_factory=default_workers)
    queue_size: int | None = None
    card_form: str | None = None

    @property
    def queue_bound(self) -> int:
        return self.queue_size if self.queue_size is not None else max(2, self.workers)


@dataclass(frozen=True)
class IntakeStats:
    """A progress snapshot; sheet counts, per-outcome page counts, and where time went."""

    device: str
    acquired: int
    read: int
    ingested: int
    pages: int
    outcomes: dict[str, int]
    elapsed_s: float
    sheets_per_min: float
    queue_depth: int
    max_queue_depth: int
    queue_bound: int
    in_flight_bound: int
    #: acquire (waiting on the device), backpressure (blocked on a full queue), encode,
    #: omr (worker seconds, summed over workers), ingest
    stage_s: dict[str, float]
    #: acquired -> ingested, per sheet: (p50, p95, max) seconds, when any
    latency_s: tuple[float, float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PageDone:
    """One page ingested: which sheet (device sequence), its reading and what tally did."""

    sequence: int
    side: Literal["front", "back"]
    reading: Reading
    result: IngestResult
    last_of_sheet: bool
    sheet: Sheet


@dataclass(frozen=True)
class StackResult:
    """How a run ended. `refeed`: device sequence numbers to feed again (the device error's,
    or after a failure every sheet acquired but not stored); `unreadable`: pages stored as
    unreadable, refused, or unreadable and the same image as one stored before, as
    (sequence, message) — those sheets need re-scanning too."""

    ended: Ended
    stats: IntakeStats
    outcomes: Outcomes
    error: BaseException | None = None
    refeed: list[int] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def device_error(self) -> DeviceError | None:
        return self.error if isinstance(self.error, DeviceError) else None


# -- internals ----------------------------------------------------------------------------------

@dataclass
class _Item:
    """A sheet on its way: its encoded pages (or a card's bitmap) and when it was acquired."""

    sheet: Sheet
    pages: list[EncodedPage]
    acquired_at: float

    @property
    def sequence(self) -> int:
        return self.sheet.sequence


@dataclass
class _End:
    how: Ended
    error: BaseException | None = None


@dataclass
class _Pending:
    item: _Item
    reads: list[Job | PageRead]


@dataclass
class _Run:
    queue: queue.Queue[_Item | _End]
    pending: deque[_Pending] = field(default_factory=deque)
    aborted: threading.Event = field(default_factory=threading.Event)
    acquired: int = 0
    #: a sheet taken off the queue, on its way into `pending`
    in_hand: _Item | None = None
    #: sheets acquired that could not be queued because the run was aborted
    unqueued: list[int] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    #: free places on the queue: taken before the device is asked for a sheet, given back when
    #: the consuming thread takes one off (None: not bounded that way)
    room: threading.Semaphore | None = None


def stored_layouts(store: Store, meeting_id: int) -> dict[str, FormLayout]:
    """The meeting's stored layout JSON, parsed once into typed layouts with the foreign forms'
    reference images from the store attached (`tally.references.reading_layouts`: the edge;
    from here on, pipeline and workers only read them)."""
    with store.session(readonly=True) as s:
        return reading_layouts(store, s, meeting_id)


class IntakePipeline:
    """One source's intake into one batch; use as a context manager (it owns the worker pool).

    `ingest(reading, image_bytes)` defaults to `ingest_page(store, batch, ...)` (the console
    passes its own, which also publishes events; recount compares instead). `on_page(PageDone)`
    and `progress(IntakeStats)` are called from the thread running `run()`. `stop` (an Event)
    asks for a stop between sheets.
    """

    def __init__(self, store: Store, batch: BatchContext, source: SheetSource, *,
                 options: IntakeOptions | None = None,
                 layouts: Layouts | None = None,
                 ingest: Callable[[Reading, bytes | None], IngestResult] | None = None,
                 on_page: Callable[[PageDone], None] | None = None,
                 progress: Callable[[IntakeStats], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.store, self.batch, self.source = store, batch, source
        self.options = options or IntakeOptions()
        self.workers = max(1, self.options.workers)
        self.queue_bound = max(1, self.options.queue_bound)
        self.in_flight_bound = 2 * self.workers if self.workers > 1 else 1
        self.uri = str(source.uri)
        if layouts is None:
            layouts = stored_layouts(store, batch.meeting_id)
        self.layouts = layouts
        self.card: tuple[str, int] | None = None
        if source.kind == "cards":  # fail now, not at the first card
            self.card = card_form(layouts, self.options.card_form)
        # bound, not wrapped: the pipeline calls the ingest step itself, no forwarding frame
        self._ingest = ingest or functools.partial(ingest_page, store, batch)
        self._on_page, self._progress = on_page, progress
        self._stop = stop or threading.Event()
        self.pool = ReaderPool(ReadSettings(layouts), self.workers)
        self._lock = threading.Lock()
        self._started: float | None = None
        self._depth = 0
        self._count: Counter[str] = Counter()
        self.outcomes = Outcomes()
        self._stage_s: Counter[str] = Counter()
        self._latencies_s: list[float] = []
        self._current: _Run | None = None
        self._woken = False
        self._reported = 0.0

    # -- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> IntakePipeline:
        self.pool.__enter__()
        return self

    def warm_up(self) -> None:
        """Start the worker processes now and wait until they are ready (a benchmark calls
        this so that timing starts with the first sheet; `run` does not need it)."""
        self.pool.warm_up()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the worker pool down (the source is the caller's to close)."""
        self.pool.close()

    def stop(self) -> None:
        """Ask the run to end between sheets: no further sheet is requested; those already
        acquired are read and ingested. (Setting the `stop` event given to the constructor
        does the same.)"""
        self._stop.set()
        self._wake_source()

    def _wake_source(self) -> None:
        """A watched folder or a SANE scan may wait long for a sheet: a source that says its
        `close()` ends that wait is closed, so that a stop takes effect now."""
        if self._woken:
            return
        self._woken = True
        if self.source.close_wakes:
            self.source.close()

    # -- one stack -------------------------------------------------------------------------------

    def run(self) -> StackResult:
        """Take sheets until the stack ends, the device fails or `stop()`; see the module doc."""
        self.__enter__()
        run = self._current = _Run(queue.Queue(self.queue_bound),
                                   room=threading.Semaphore(self.queue_bound))
        if self._started is None:
            self._started = time.monotonic()
        thread = threading.Thread(target=self._acquire, args=(run,), daemon=True,
                                  name=f"acquire {self.uri[:40]}")
        thread.start()
        try:
            end = self._consume(run)
        except BaseException as exc:  # the store failed, a bug, ^C: say what was not stored
            run.aborted.set()
            self._wake_source()
            thread.join()
            lost = self._not_stored(run)
            if not isinstance(exc, Exception):
                raise
            return StackResult("failed", self.stats(final=True), self.outcomes, exc, lost,
                               run.unreadable)
        thread.join()
        error = end.error if end.how == "device_error" else None
        refeed = list(error.refeed) if isinstance(error, DeviceError) else []
        return StackResult(end.how, self.stats(final=True), self.outcomes, error, refeed,
                           run.unreadable)

    def _not_stored(self, run: _Run) -> list[int]:
        lost = [p.item.sequence for p in run.pending]
        if run.in_hand is not None:
            lost.append(run.in_hand.sequence)
        with contextlib.suppress(queue.Empty):
            while True:
                msg = run.queue.get_nowait()
                if isinstance(msg, _Item):
                    lost.append(msg.sequence)
        return sorted(set(lost + run.unqueued))

    # -- the acquisition thread -------------------------------------------------------------------

    def _acquire(self, run: _Run) -> None:
        end = _End("end_of_stack")
        sheets = None
        try:
            sheets = iter(self.source)
            while True:
                if self._stop.is_set() or run.aborted.is_set() or not self._room(run):
                    end = _End("stopped")
                    break
                started = time.perf_counter()
                try:
                    sheet = next(sheets)
                except StopIteration:
                    break
                finally:
                    self._add_time("acquire", started)
                item = self._item(sheet)
                run.acquired += 1
                self._bump("acquired")
                if not self._put(run, item):
                    run.unqueued.append(item.sequence)
                    return
        except NoDocuments:
            end = _End("empty" if run.acquired == 0 else "end_of_stack")
        except DeviceError as exc:
            end = _End("device_error", exc)
        except Exception as exc:  # a driver bug or an OS error: still a device failure to report
            end = _End("device_error", DeviceIO(
                f"the device stopped with an unexpected error ({type(exc).__name__}: {exc})",
                device=self.uri, refeed=[]))
        finally:
            close = getattr(sheets, "close", None)
            if close is not None:  # a generator: an early stop cancels the job (eSCL DELETE)
                with contextlib.suppress(Exception):
                    close()
        self._put(run, end)

    def _room(self, run: _Run) -> bool:
        """Wait for a free place on the queue before asking the device for the next sheet, so
        that no sheet is fed and then held waiting for one (False: stopped meanwhile)."""
        if run.room is None:
            return True
        started = time.perf_counter()
        while not run.room.acquire(timeout=POLL_S):
            if self._stop.is_set() or run.aborted.is_set():
                return False
        self._add_time("backpressure", started)
        return True

    def _put(self, run: _Run, message: _Item | _End) -> bool:
        """Queue a message, blocking while the queue is full: this is the backpressure."""
        started = time.perf_counter()
        while not run.aborted.is_set():
            try:
                run.queue.put(message, timeout=POLL_S)
            except queue.Full:
                continue
            if isinstance(message, _Item):
                self._add_time("backpressure", started)
                depth = run.queue.qsize()
                with self._lock:
                    self._depth = max(self._depth, depth)
            return True
        return False

    def _item(self, sheet: Sheet) -> _Item:
        now = time.monotonic()
        if sheet.bitmap is not None:
            return _Item(sheet, [], now)
        # pages are labelled by their sheet: "escl://host/eSCL#17", its back "...#17#back"
        front = (dataclasses.replace(sheet.front, source=sheet.source) if sheet.front else
                 EncodedPage(sheet.source, error="the device delivered no image for this page; "
                             "re-scan the sheet"))
        if sheet.back is None:
            return _Item(sheet, [front], now)
        back = dataclasses.replace(sheet.back, source=f"{sheet.source}#back")
        pages = [front, back]
        return _Item(sheet, pages, now)

    # -- the consuming thread -------------------------------------------------------------------

    def _consume(self, run: _Run) -> _End:
        pending = run.pending
        end: _End | None = None
        while True:
            while end is None and len(pending) < self.in_flight_bound:
                idle = not pending
                try:
                    message = run.queue.get(timeout=POLL_S) if idle else run.queue.get_nowait()
                except queue.Empty:
                    if idle:
                        if self._stop.is_set():
                            self._wake_source()
                        self._report(every_s=IDLE_REPORT_S)
                        continue
                    break
                if isinstance(message, _End):
                    end = message
                    break
                if run.room is not None:
                    run.room.release()
                run.in_hand = message  # until it is in `pending`: lost if submitting fails
                pending.append(self._submit(message))
                run.in_hand = None
            if not pending:
                assert end is not None
                return end
            head = pending[0]
            if end is None and len(pending) < self.in_flight_bound and not self._ready(head):
                continue  # room in the pool and the oldest sheet not read yet: look for more
            self._finish(head, run)
            pending.popleft()

    def _ready(self, pending: _Pending) -> bool:
        """Are the sheet's readings all there (waiting at most POLL_S for them)?"""
        futures = [r.future for r in pending.reads if isinstance(r, Job) and r.future is not None]
        return not futures or not wait_futures(futures, timeout=POLL_S).not_done

    def _submit(self, item: _Item) -> _Pending:
        if item.sheet.bitmap is not None:
            reading, png = self._card(item)
            self._bump("read")
            return _Pending(item, [PageRead(reading, png, 0.0)])
        jobs = [self.pool.submit(page) for page in item.pages]
        futures = [j.future for j in jobs if j.future is not None]
        if not futures:
            self._bump("read")
        else:
            left = [len(futures)]

            def one_done(_: object) -> None:
                with self._lock:
                    left[0] -= 1
                    if left[0] == 0:
                        self._count["read"] += 1

            for f in futures:
                f.add_done_callback(one_done)
        return _Pending(item, list(jobs))

    def _card(self, item: _Item) -> tuple[Reading, bytes]:
        assert self.card is not None, "a card reader's sheet, but no card form resolved"
        form_id, page = self.card
        sheet = item.sheet
        assert sheet.bitmap is not None
        serial = f"R{self.batch.batch_id}S{sheet.sequence}"
        reading = read_card(sheet.bitmap, self.layouts[form_id], page, source=sheet.source,
                            serial=serial)
        png = card_picture(sheet.bitmap, {
            "device": self.uri, "batch": str(self.batch.batch_id),
            "sequence": str(sheet.sequence), "serial": reading.serial or serial, "form": form_id})
        return reading, png

    def _finish(self, pending: _Pending, run: _Run) -> None:
        """Ingest the sheet's pages in order (waiting for their readings)."""
        item = pending.item
        sides: tuple[Literal["front", "back"], ...] = ("front", "back")
        for k, read in enumerate(pending.reads):
            page_read = self.pool.result(read) if isinstance(read, Job) else read
            with self._lock:
                self._stage_s["omr"] += page_read.seconds
            started = time.perf_counter()
            result = self._ingest(page_read.reading, page_read.image)
            self._add_time("ingest", started)
            if result.outcome == "refused" and not page_read.image:  # say why there was none
                result = dataclasses.replace(result, message=(
                    f"{result.source}: {page_read.reading.reason or 'no image'}; nothing could "
                    "be stored, re-feed this sheet"))
            if result.outcome in ("unreadable", "refused") or (
                    result.outcome == "already" and not page_read.reading.read):
                run.unreadable.append((item.sequence, result.message if result.outcome != "already"
                                       else f"{page_read.reading.reason} ({result.message})"))
            with self._lock:
                self.outcomes.note(result)
                self._count["pages"] += 1
            if self._on_page is not None:
                self._on_page(PageDone(item.sequence, sides[min(k, 1)], page_read.reading,
                                       result, k == len(pending.reads) - 1, item.sheet))
        with self._lock:
            self._count["ingested"] += 1
            self._latencies_s.append(time.monotonic() - item.acquired_at)
        self._report()

    # -- figures ---------------------------------------------------------------------------------

    def _bump(self, what: str) -> None:
        with self._lock:
            self._count[what] += 1

    def _add_time(self, stage: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        with self._lock:
            self._stage_s[stage] += elapsed

    def _report(self, every_s: float = 0.0) -> None:
        now = time.monotonic()
        if self._progress is not None and now - self._reported >= every_s:
            self._reported = now
            self._progress(self.stats())

    def stats(self, *, final: bool = False) -> IntakeStats:
        """The figures so far (`final`: with the latency percentiles)."""
        with self._lock:
            elapsed = time.monotonic() - self._started if self._started is not None else 0.0
            ingested = self._count["ingested"]
            latency = None
            if final and self._latencies_s:
                ordered = sorted(self._latencies_s)
                pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
                latency = (round(pick(0.5), 3), round(pick(0.95), 3), round(ordered[-1], 3))
            return IntakeStats(
                device=self.uri, acquired=self._count["acquired"], read=self._count["read"],
                ingested=ingested, pages=self._count["pages"], outcomes=dict(self.outcomes.counts),
                elapsed_s=round(elapsed, 3),
                sheets_per_min=round(ingested * 60 / elapsed, 1) if elapsed > 0 else 0.0,
                queue_depth=self._current.queue.qsize() if self._current else 0,
                max_queue_depth=self._depth, queue_bound=self.queue_bound,
                in_flight_bound=self.in_flight_bound,
                stage_s={k: round(v, 3) for k, v in self._stage_s.items()}, latency_s=latency)
