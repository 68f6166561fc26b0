"""The intake pipeline: one device -> a bounded queue -> OMR worker processes -> tally ingest.

    acquisition thread ──put──> queue (bound Q) ──> worker pool (≤ 2 × W sheets) ──> ingest
    (iterates the source)        blocks when full     decode + read_page              (this thread,
                                                                                      feed order)

`IntakePipeline(store, batch, source).run()` takes one stack. The acquisition thread asks the
device for a sheet, turns it into encoded pages (the scanner's own JPEG/PNG bytes; a page that
came only as pixels is PNG-encoded once, here) and puts it on a `queue.Queue(Q)`. **Backpressure**:
when the queue is full, `put` blocks, so the thread does not ask the device for the next sheet
(eSCL: no NextDocument request; card reader: no feed command; folder: no file read) until the
OMR side takes one. The consuming thread (the caller of `run`) takes sheets only while fewer than
2 × W are in the pool, so at most Q + 2 × W + 1 sheets are held at once, and ingests them in feed
order with `tally.ingest.ingest_page`. Pages travel to the workers as bytes and are decoded there
(`tally.intake_read`); only readings come back.

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
import multiprocessing
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from omr.batch import default_workers
from omr.reading import Reading, failed
from scanner.errors import DeviceError, DeviceIO, NoDocuments
from scanner.images import sniff_format
from scanner.source import Sheet, SheetSource
from tally.ingest import BatchContext, IngestResult, close_batch, ingest_page, open_batch
from tally.intake_read import (
    PageRead,
    PageTask,
    bitmap_png,
    card_form,
    card_reading,
    init_worker,
    ping,
    read_encoded,
    read_in_worker,
)
from tally.meetings import meeting_layouts
from tally.store import Store

Ended = Literal["end_of_stack", "empty", "device_error", "stopped", "failed"]
#: formats sent to the workers as they came; anything else is PNG-encoded from its pixels
KEPT_FORMATS = ("JPEG", "PNG", "TIFF")
#: how long the threads wait before looking again (stop requests, a free slot)
POLL_S = 0.02
#: while waiting for the device, progress is reported this often (after each sheet otherwise)
IDLE_REPORT_S = 0.5
#: a file this large is not read back to keep an undecodable page's bytes
MAX_RAW_FILE_BYTES = 256 * 1024 * 1024
#: pool restarts in a row (no page read in between) before giving up
MAX_POOL_RESTARTS = 3


@dataclass(frozen=True)
class IntakeOptions:
    """How to run: W worker processes (1 = read in the consuming thread), queue bound Q
    (default 2 × W), and for a card reader, which form its cards are (when not obvious)."""

    workers: int = field(default_factory=default_workers)
    queue_size: int | None = None
    card_form: str | None = None

    @property
    def queue_bound(self) -> int:
        return self.queue_size if self.queue_size is not None else 2 * max(1, self.workers)


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
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StackResult:
    """How a run ended. `refeed`: device sequence numbers to feed again (the device error's,
    or after a failure every sheet acquired but not stored); `unreadable`: pages stored as
    unreadable, refused, or unreadable and the same image as one stored before, as
    (sequence, message) — those sheets need re-scanning too."""

    ended: Ended
    stats: IntakeStats
    error: BaseException | None = None
    refeed: list[int] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def device_error(self) -> DeviceError | None:
        return self.error if isinstance(self.error, DeviceError) else None


# -- internals ----------------------------------------------------------------------------------

@dataclass
class _Item:
    """A sheet on its way: encoded pages (or a card's bitmap) and when it was acquired."""

    sequence: int
    source: str
    pages: list[PageTask]
    bitmap: np.ndarray | None
    metadata: dict[str, Any]
    acquired_at: float


@dataclass
class _End:
    how: Ended
    error: BaseException | None = None


@dataclass
class _Pending:
    item: _Item
    reads: list[Future[PageRead] | PageRead]
    images: list[bytes | None]
    resubmits: int = 0

    def wait(self, timeout_s: float) -> bool:
        futures = [r for r in self.reads if isinstance(r, Future)]
        return not futures or not wait_futures(futures, timeout=timeout_s).not_done


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


class IntakePipeline:
    """One device's intake into one batch; use as a context manager (it owns the worker pool).

    `ingest(reading, image_bytes)` defaults to `ingest_page(store, batch, ...)` (the console
    passes its own, which also publishes events). `on_page(PageDone)` and `progress(IntakeStats)`
    are called from the thread running `run()`. `stop` (an Event) asks for a stop between sheets.
    """

    def __init__(self, store: Store, batch: BatchContext, source: SheetSource, *,
                 options: IntakeOptions | None = None,
                 layouts: dict[str, dict] | None = None,
                 ingest: Callable[[Reading, bytes | None], IngestResult] | None = None,
                 on_page: Callable[[PageDone], None] | None = None,
                 progress: Callable[[IntakeStats], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.store, self.batch, self.source = store, batch, source
        self.options = options or IntakeOptions()
        self.workers = max(1, self.options.workers)
        self.queue_bound = max(1, self.options.queue_bound)
        self.in_flight_bound = 2 * self.workers if self.workers > 1 else 1
        self.uri = str(getattr(source, "uri", "") or type(source).__name__)
        if layouts is None:
            with store.session(readonly=True) as s:
                layouts = meeting_layouts(s, batch.meeting_id)
        self.layouts = layouts
        self.card: tuple[str, int] | None = None
        if is_card_reader(source):  # fail now, not at the first card
            self.card = card_form(layouts, self.options.card_form)
        self._ingest = ingest or (lambda reading, image: ingest_page(store, batch, reading, image))
        self._on_page, self._progress = on_page, progress
        self._stop = stop or threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        self._restarts = 0
        self._lock = threading.Lock()
        self._started: float | None = None
        self._depth = 0
        self._count: Counter[str] = Counter()
        self._outcomes: Counter[str] = Counter()
        self._stage_s: Counter[str] = Counter()
        self._latencies_s: list[float] = []
        self._current: _Run | None = None
        self._woken = False
        self._reported = 0.0

    # -- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> IntakePipeline:
        if self.workers > 1 and self._pool is None:
            self._pool = _new_pool(self.workers, self.layouts)
            for _ in range(self.workers):  # start the workers while the device feeds
                self._pool.submit(ping)
        return self

    def warm_up(self) -> None:
        """Start the worker processes now and wait until they are ready (a benchmark calls
        this so that timing starts with the first sheet; `run` does not need it)."""
        self.__enter__()
        if self._pool is not None:
            for f in [self._pool.submit(ping) for _ in range(self.workers)]:
                f.result()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the worker pool down (the source is the caller's to close)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stop(self) -> None:
        """Ask the run to end between sheets: no further sheet is requested; those already
        acquired are read and ingested. (Setting the `stop` event given to the constructor
        does the same.)"""
        self._stop.set()
        self._wake_source()

    def _wake_source(self) -> None:
        """A watched folder or a SANE scan may wait long for a sheet: close them (both may be
        closed from another thread) so that a stop takes effect now."""
        if self._woken:
            return
        self._woken = True
        from scanner.folder import FolderSource
        from scanner.sane import SaneSource

        if isinstance(self.source, FolderSource | SaneSource):
            self.source.close()

    # -- one stack -------------------------------------------------------------------------------

    def run(self) -> StackResult:
        """Take sheets until the stack ends, the device fails or `stop()`; see the module doc."""
        self.__enter__()
        run = self._current = _Run(queue.Queue(self.queue_bound))
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
            return StackResult("failed", self.stats(final=True), exc, lost, run.unreadable)
        thread.join()
        error = end.error if end.how == "device_error" else None
        refeed = list(error.refeed) if isinstance(error, DeviceError) else []
        return StackResult(end.how, self.stats(final=True), error, refeed, run.unreadable)

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
                if self._stop.is_set() or run.aborted.is_set():
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
            return _Item(sheet.sequence, sheet.source, [], np.asarray(sheet.bitmap),
                         dict(sheet.metadata), now)
        error = str(sheet.metadata.get("error") or "") or None
        pages = [self._page(sheet.source, sheet.front, sheet.front_bytes, sheet, error)]
        if sheet.back is not None or sheet.back_bytes is not None:
            pages.append(self._page(f"{sheet.source}#back", sheet.back, sheet.back_bytes,
                                    sheet, error))
        return _Item(sheet.sequence, sheet.source, pages, None, dict(sheet.metadata), now)

    def _page(self, label: str, image: np.ndarray | None, data: bytes | None, sheet: Sheet,
              error: str | None) -> PageTask:
        """The page as bytes for a worker: the scanner's own JPEG/PNG/TIFF, else a lossless PNG
        of its pixels. A page the device or its decoder could not decode keeps its raw bytes
        (stored as evidence) and the reason, and is not decoded again."""
        if image is None and error:
            return PageTask(label, data or self._raw_file(sheet), sheet.dpi, error)
        if data is not None and sniff_format(data) in KEPT_FORMATS:
            return PageTask(label, data, sheet.dpi)
        if image is not None:
            started = time.perf_counter()
            try:
                return PageTask(label, encode_png(image), sheet.dpi)
            except Exception as exc:
                return PageTask(label, data, sheet.dpi, f"cannot encode the page ({exc})")
            finally:
                self._add_time("encode", started)
        return PageTask(label, data, sheet.dpi,
                        None if data else "the device delivered no image for this page")

    def _raw_file(self, sheet: Sheet) -> bytes | None:
        """An undecodable file of a folder, read back so that it can be kept as evidence."""
        folder, name = getattr(self.source, "path", None), sheet.metadata.get("file")
        if not isinstance(folder, Path) or not name or "member" in sheet.metadata:
            return None
        try:
            path = folder / str(name)
            if path.stat().st_size > MAX_RAW_FILE_BYTES:
                return None
            return path.read_bytes() or None
        except OSError:
            return None

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
                run.in_hand = message  # until it is in `pending`: lost if submitting fails
                pending.append(self._submit(message))
                run.in_hand = None
            if not pending:
                assert end is not None
                return end
            head = pending[0]
            if end is None and len(pending) < self.in_flight_bound and not head.wait(POLL_S):
                continue  # room in the pool and the oldest sheet not read yet: look for more
            self._finish(head, run)
            pending.popleft()

    def _submit(self, item: _Item) -> _Pending:
        if item.bitmap is not None:
            reading, png = self._card(item)
            self._bump("read")
            return _Pending(item, [PageRead(reading, 0.0)], [png])
        reads: list[Future[PageRead] | PageRead] = []
        for task in item.pages:
            if self._pool is None or task.error is not None:  # known-bad pages need no worker
                reads.append(read_encoded(task, self.layouts))
            else:
                try:
                    reads.append(self._pool.submit(read_in_worker, task))
                except BrokenProcessPool:  # a worker died since the last look: a new pool
                    self._restart_pool()
                    reads.append(self._pool.submit(read_in_worker, task))
        pending = _Pending(item, reads, [t.data for t in item.pages])
        futures = [r for r in reads if isinstance(r, Future)]
        if not futures:
            self._bump("read")
        else:
            left = [len(futures)]

            def one_done(_: Future[PageRead]) -> None:
                with self._lock:
                    left[0] -= 1
                    if left[0] == 0:
                        self._count["read"] += 1

            for f in futures:
                f.add_done_callback(one_done)
        return pending

    def _card(self, item: _Item) -> tuple[Reading, bytes]:
        assert self.card is not None, "a card reader's sheet, but no card form resolved"
        form_id, page = self.card
        serial = f"R{self.batch.batch_id}S{item.sequence}"
        reading = card_reading(item.bitmap, self.layouts[form_id], page,  # type: ignore[arg-type]
                               source=item.source, serial=serial)
        png = bitmap_png(item.bitmap, {  # type: ignore[arg-type]
            "device": self.uri, "batch": str(self.batch.batch_id),
            "sequence": str(item.sequence), "serial": reading.serial or serial, "form": form_id})
        return reading, png

    def _finish(self, pending: _Pending, run: _Run) -> None:
        """Ingest the sheet's pages in order (waiting for their readings)."""
        item = pending.item
        sides: tuple[Literal["front", "back"], ...] = ("front", "back")
        for k, (read, image) in enumerate(zip(pending.reads, pending.images, strict=True)):
            page_read = self._result(pending, k) if isinstance(read, Future) else read
            with self._lock:
                self._stage_s["omr"] += page_read.seconds
            started = time.perf_counter()
            result = self._ingest(page_read.reading, image)
            self._add_time("ingest", started)
            if result.outcome == "refused" and not image:  # say why there was no image
                result = dataclasses.replace(result, message=(
                    f"{result.source}: {page_read.reading.reason or 'no image'}; nothing could "
                    "be stored, re-feed this sheet"))
            if result.outcome in ("unreadable", "refused") or (
                    result.outcome == "already" and not page_read.reading.read):
                run.unreadable.append((item.sequence, result.message if result.outcome != "already"
                                       else f"{page_read.reading.reason} ({result.message})"))
            with self._lock:
                self._outcomes[result.outcome] += 1
                self._count["pages"] += 1
            if self._on_page is not None:
                self._on_page(PageDone(item.sequence, sides[min(k, 1)], page_read.reading,
                                       result, k == len(pending.reads) - 1, item.metadata))
        with self._lock:
            self._count["ingested"] += 1
            self._latencies_s.append(time.monotonic() - item.acquired_at)
        self._report()

    def _result(self, pending: _Pending, k: int) -> PageRead:
        """A page's reading from the pool; a worker that died is replaced and the page retried
        once; a page that kills a worker twice is unreadable."""
        while True:
            future = pending.reads[k]
            assert isinstance(future, Future)
            try:
                read = future.result()
                self._restarts = 0
                return read
            except BrokenProcessPool:
                self._restart_pool()
                pending.resubmits += 1
                if pending.resubmits > 1:
                    task = pending.item.pages[k]
                    return PageRead(failed(task.source, "unreadable", "the reader process "
                                           "crashed on this page; re-scan it or report it"), 0.0)

    def _restart_pool(self) -> None:
        self._restarts += 1
        if self._restarts > MAX_POOL_RESTARTS:
            raise RuntimeError("the OMR worker processes keep dying; check memory and the "
                               "system log")
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = _new_pool(self.workers, self.layouts)
        for p in self._current.pending if self._current is not None else ():
            for k, read in enumerate(p.reads):
                if isinstance(read, Future) and (not read.done() or read.exception() is not None):
                    p.reads[k] = self._pool.submit(read_in_worker, p.item.pages[k])

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
                ingested=ingested, pages=self._count["pages"], outcomes=dict(self._outcomes),
                elapsed_s=round(elapsed, 3),
                sheets_per_min=round(ingested * 60 / elapsed, 1) if elapsed > 0 else 0.0,
                queue_depth=self._current.queue.qsize() if self._current else 0,
                max_queue_depth=self._depth, queue_bound=self.queue_bound,
                in_flight_bound=self.in_flight_bound,
                stage_s={k: round(v, 3) for k, v in self._stage_s.items()}, latency_s=latency)


def is_card_reader(source: object) -> bool:
    """Does this source send mark bitmaps (an OMR card reader) rather than images?"""
    from hardware.base import SerialCardReader

    return isinstance(source, SerialCardReader)


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG of a grey or RGB page (the stored image of a page that came as pixels)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("cannot encode the page as PNG")
    return png.tobytes()


def _new_pool(workers: int, layouts: dict[str, dict]) -> ProcessPoolExecutor:
    # forkserver: workers start from a clean single-threaded server, not a copy of this process
    # (which runs threads: the acquisition thread, a progress bar, a web server)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tally.intake_read"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=init_worker, initargs=(layouts,))


def scan(store: Store, meeting_id: int, source: SheetSource, *, station: str = "",
         operator: str = "", category: str | None = None,
         options: IntakeOptions | None = None,
         on_page: Callable[[PageDone], None] | None = None,
         progress: Callable[[IntakeStats], None] | None = None,
         stop: threading.Event | None = None,
         on_start: Callable[[IntakePipeline], None] | None = None
         ) -> tuple[BatchContext, StackResult]:
    """Open a batch, take one stack from `source` through the pipeline, close the batch.

    Raises MeetingError (bad category) or ValueError (no card-reader form) before any batch is
    opened; `on_start(pipeline)` lets the caller keep a handle (to `stop()` it)."""
    with store.session(readonly=True) as s:
        layouts = meeting_layouts(s, meeting_id)
    options = options or IntakeOptions()
    if is_card_reader(source):
        card_form(layouts, options.card_form)
    batch = open_batch(store, meeting_id, station=station, device=str(source.uri)[:120],
                       operator=operator, category=category)
    try:
        with IntakePipeline(store, batch, source, options=options, layouts=layouts,
                            on_page=on_page, progress=progress, stop=stop) as pipeline:
            if on_start is not None:
                on_start(pipeline)
            return batch, pipeline.run()
    finally:
        close_batch(store, batch)
