"""The edge of the engine: read image files in a process pool, pages out in input order.

`read_paths(paths, layouts, workers)` decodes every file with `scanner.images` inside the
workers (only small readings and the encoded bytes travel back) and yields one
`(Reading, data)` per page, in the order of `paths` and of the pages within each file. A file
that cannot be opened or decoded becomes an `unreadable` reading with the reason; an error in
the engine, or a worker process that dies, does the same for that file only: one bad file never
stops a batch. `ReaderPool` keeps the workers alive across batches (a scanner session, the
benchmarks). This is the only omr module that touches files or imports `scanner`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from omr.decide import Thresholds
from omr.engine import read_page
from omr.reading import Reading, failed
from scanner.images import MAX_PIXELS, Page, iter_pages

#: files in flight per worker (bounds memory: each holds at most one file's results)
QUEUE_PER_WORKER = 4
#: a pool that dies this many times in a row, with no file read in between, is not a bad file
MAX_POOL_RESTARTS = 3


@dataclass(frozen=True)
class ReadOptions:
    """What the workers need besides the file: layouts by form id, limits, where to annotate."""

    layouts: dict[str, dict]
    thresholds: Thresholds = field(default_factory=Thresholds)
    pdf_dpi: float = 200
    max_pixels: int = MAX_PIXELS
    keep_data: bool = True
    #: write each page drawn with its reading here (PNG), when set
    annotate_dir: str | None = None


@dataclass(frozen=True)
class PageTiming:
    """One page's wall time inside a worker (for `scantally bench omr`)."""

    source: str
    seconds: float
    status: str


PageResult = tuple[Reading, bytes | None]
Task = Callable[[str, ReadOptions], list]
#: a pool worker's options, set once per worker process by `_init_worker` (never in the caller)
_worker_options: ReadOptions | None = None


def read_paths(
    paths: Iterable[str | Path],
    layouts: dict[str, dict],
    workers: int | None = None,
    *,
    thresholds: Thresholds | None = None,
    pdf_dpi: float = 200,
    max_pixels: int = MAX_PIXELS,
    keep_data: bool = True,
    annotate_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[PageResult]:
    """Read every page of every file; yields (reading, encoded bytes of a one-image file or
    None) in input order. `workers` None: one per core; 1: in this process. `progress(n)` is
    called with the number of files finished so far."""
    options = ReadOptions(layouts, thresholds or Thresholds(), pdf_dpi, max_pixels, keep_data,
                          str(annotate_dir) if annotate_dir is not None else None)
    with ReaderPool(options, workers) as pool:
        yield from pool.read(paths, progress=progress)


class ReaderPool:
    """Worker processes that keep the layouts loaded; use as a context manager.

    `read(paths)` yields (reading, data) per page, `time(paths, decode_only=...)` a
    `PageTiming` per page, both in input order. With workers == 1 everything runs here.
    """

    def __init__(self, options: ReadOptions, workers: int | None = None) -> None:
        self.options = options
        self.workers = default_workers() if workers is None else max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ReaderPool:
        if self.workers > 1:
            self._pool = _new_pool(self.workers, self.options)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def read(self, paths: Iterable[str | Path],
             progress: Callable[[int], None] | None = None) -> Iterator[PageResult]:
        for result in self._map(_read_file, paths, progress):
            yield from result

    def time(self, paths: Iterable[str | Path], *, decode_only: bool = False,
             progress: Callable[[int], None] | None = None) -> Iterator[PageTiming]:
        task = _decode_file_timed if decode_only else _read_file_timed
        for result in self._map(task, paths, progress):
            yield from result

    def _map(self, task: Task, paths: Iterable[str | Path],
             progress: Callable[[int], None] | None) -> Iterator[list]:
        done = 0
        if self._pool is None:
            for path in paths:
                yield _guarded(task, str(path), self.options)
                done += 1
                if progress:
                    progress(done)
            return
        pending: deque[tuple[str, Future]] = deque()
        it = iter(paths)
        exhausted = False
        restarts = 0
        while True:
            while not exhausted and len(pending) < self.workers * QUEUE_PER_WORKER:
                try:
                    path = str(next(it))
                except StopIteration:
                    exhausted = True
                    break
                pending.append((path, self._pool.submit(_in_worker, task, path)))
            if not pending:
                break
            path, future = pending.popleft()
            try:
                result = future.result()
                restarts = 0
            except BrokenProcessPool:
                # a worker died (killed, out of memory, a crash in a C library): start a new
                # pool, re-run this file alone, then resubmit the others that were in flight
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    raise RuntimeError("the reader processes keep dying; check memory and the "
                                       "system log") from None
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = _new_pool(self.workers, self.options)
                result = _retry_alone(task, path, self.options)
                pending = deque((p, self._pool.submit(_in_worker, task, p)) for p, _ in pending)
            yield result
            done += 1
            if progress:
                progress(done)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _new_pool(workers: int, options: ReadOptions) -> ProcessPoolExecutor:
    # forkserver: workers start from a clean, single-threaded server, not from a copy of a
    # caller that may hold threads (a progress bar, a web server)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["omr.batch"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(options,))


def _retry_alone(task: Task, path: str, options: ReadOptions) -> list:
    with _new_pool(1, options) as solo:
        try:
            return solo.submit(_in_worker, task, path).result()
        except BrokenProcessPool:
            return _failure(task, path, "the reader process crashed on this file; re-scan it "
                                        "or report it")


def _failure(task: Task, path: str, reason: str) -> list:
    """The result of `task` for a file that failed as a whole: one unreadable page."""
    reading = failed(f"{path}#1", "unreadable", reason)
    if task in (_read_file_timed, _decode_file_timed):
        return [PageTiming(reading.source, 0.0, reading.status)]
    return [(reading, None)]


def _init_worker(options: ReadOptions) -> None:
    global _worker_options
    _worker_options = options
    cv2.setNumThreads(1)  # one process per core already


def _in_worker(task: Task, path: str) -> list:
    assert _worker_options is not None
    return _guarded(task, path, _worker_options)


def _guarded(task: Task, path: str, options: ReadOptions) -> list:
    """`task(path)`, with any unexpected error turned into an unreadable reading of the file."""
    try:
        return task(path, options)
    except Exception as exc:  # a bug or an I/O error must not stop the batch
        what = "cannot open the file" if isinstance(exc, OSError) else "internal error"
        return _failure(task, path, f"{what}: {type(exc).__name__}: {exc}")


def _pages(path: str, o: ReadOptions) -> Iterator[Page]:
    return iter_pages(path, pdf_dpi=o.pdf_dpi, max_pixels=o.max_pixels, name=path)


def _read_file(path: str, o: ReadOptions) -> list[PageResult]:
    out: list[PageResult] = []
    for page in _pages(path, o):
        reading = _read_one(page, o)
        if o.annotate_dir is not None and page.image is not None:
            _annotate(page, reading, o)
        out.append((reading, page.data if o.keep_data else None))
    return out


def _read_one(page: Page, o: ReadOptions) -> Reading:
    if page.image is None:
        return failed(page.source, "unreadable", page.error or "cannot be decoded")
    try:
        return read_page(page.image, o.layouts, source=page.source, dpi=page.dpi,
                         thresholds=o.thresholds)
    except Exception as exc:  # one page's engine error stays that page's
        return failed(page.source, "unreadable", f"internal error: {type(exc).__name__}: {exc}")


def annotation_name(source: str) -> str:
    """File name of a page's annotated image: readable, and unique per source."""
    name, _, page = source.rpartition("#")
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{Path(name).stem}-{digest}-p{page or 1}.png"


def _annotate(page: Page, reading: Reading, o: ReadOptions) -> None:
    from omr.annotate import annotate  # drawing only when asked

    assert o.annotate_dir is not None
    ok, png = cv2.imencode(".png", annotate(page.image, reading, o.layouts))
    if not ok:
        return
    folder = Path(o.annotate_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / annotation_name(page.source)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(png.tobytes())
    tmp.replace(target)


def _read_file_timed(path: str, o: ReadOptions) -> list[PageTiming]:
    out = []
    start = time.perf_counter()
    for page in _pages(path, o):
        reading = _read_one(page, o)
        now = time.perf_counter()
        out.append(PageTiming(page.source, now - start, reading.status))
        start = now
    return out


def _decode_file_timed(path: str, o: ReadOptions) -> list[PageTiming]:
    out = []
    start = time.perf_counter()
    for page in _pages(path, o):
        now = time.perf_counter()
        out.append(PageTiming(page.source, now - start, "decoded" if page.ok else "unreadable"))
        start = now
    return out
