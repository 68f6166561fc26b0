"""The one OMR worker pool: pages in, `PageRead`s out, a dying worker costs only its page.

`ReaderPool(settings, workers)` starts `workers` processes (forkserver: they start from a clean,
single-threaded server, not from a copy of a caller that runs threads - the acquisition thread,
a progress bar, a web server) that keep `settings` from their start. `submit(page)` hands one
page over and returns a `Job`; `result(job)` waits for it. When a worker dies (killed, out of
memory, a crash in a C library) the pool is started again, the page being waited for is re-run
alone in a pool of its own (a second crash makes it `unreadable`), and the other pages in flight
are resubmitted. A pool that dies `MAX_POOL_RESTARTS` times in a row, with no page read in
between, is not a bad page: RuntimeError. With workers == 1 everything runs in the caller.
`map(pages)` yields results in input order with a bounded number in flight.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from intake.work import PageRead, ReadSettings, read_work
from omr.reading import ReasonCode, Status, failed
from scanner.pages import EncodedPage

#: pages in flight per worker in `map` (bounds memory)
QUEUE_PER_WORKER = 4
#: a pool that dies this many times in a row, with no page read in between, is not a bad page
MAX_POOL_RESTARTS = 3
#: a worker's task: (page, settings, *args) -> PageRead; a module-level function
Task = Callable[..., PageRead]
#: the settings of this worker process, set once by `_init_worker` (never in the caller)
_worker_settings: ReadSettings | None = None


@dataclass
class Job:
    """One page handed to the pool: its task and, in a pool, its future."""

    page: EncodedPage
    task: Task
    #: the task's arguments after the page and the worker's settings (picklable)
    args: tuple[object, ...] = ()
    future: Future[PageRead] | None = None
    value: PageRead | None = field(default=None, repr=False)


class ReaderPool:
    """Worker processes that keep the layouts loaded; use as a context manager."""

    def __init__(self, settings: ReadSettings, workers: int | None = None) -> None:
        self.settings = settings
        self.workers = default_workers() if workers is None else max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._in_flight: dict[int, Job] = {}
        self._restarts = 0

    def __enter__(self) -> ReaderPool:
        if self.workers > 1 and self._pool is None:
            self._pool = _new_pool(self.workers, self.settings)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def warm_up(self) -> None:
        """Start the worker processes now and wait until they are ready."""
        self.__enter__()
        if self._pool is not None:
            for f in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
                f.result()

    def submit(self, page: EncodedPage, task: Task = read_work, *args: object) -> Job:
        """Hand `page` over (a known-bad page, or workers == 1: read when its result is asked)."""
        job = Job(page, task, args)
        if self._pool is not None and page.error is None:
            try:
                job.future = self._pool.submit(_in_worker, task, page, *args)
            except BrokenProcessPool:  # a worker died since the last look: a new pool
                self._restart()
                job.future = self._pool.submit(_in_worker, task, page, *args)
            self._in_flight[id(job)] = job
        return job

    def result(self, job: Job) -> PageRead:
        """The page's result, waiting for it; see the module docstring for crashes."""
        if job.value is not None:
            return job.value
        if job.future is None:
            job.value = _guarded(job.task, job.page, self.settings, *job.args)
            return job.value
        try:
            job.value = self._wait(job.future)
            self._restarts = 0
        except BrokenProcessPool:
            self._in_flight.pop(id(job), None)
            self._restart()
            job.value = _retry_alone(job, self.settings)
        self._in_flight.pop(id(job), None)
        return job.value

    def _wait(self, future: Future[PageRead]) -> PageRead:
        return _wait_on(self._pool, future)

    def map(self, pages: Iterable[EncodedPage], task: Task = read_work,
            *args: object) -> Iterator[PageRead]:
        """Results in the order of `pages`, at most QUEUE_PER_WORKER × workers in flight."""
        pending: deque[Job] = deque()
        bound = self.workers * QUEUE_PER_WORKER if self._pool is not None else 1
        for page in pages:
            pending.append(self.submit(page, task, *args))
            while len(pending) >= bound:
                yield self.result(pending.popleft())
        while pending:
            yield self.result(pending.popleft())

    def _restart(self) -> None:
        self._restarts += 1
        if self._restarts > MAX_POOL_RESTARTS:
            raise RuntimeError("the OMR worker processes keep dying; check memory and the "
                               "system log")
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = _new_pool(self.workers, self.settings)
        for job in self._in_flight.values():
            future = job.future
            if future is not None and (not future.done() or future.exception() is not None):
                job.future = self._pool.submit(_in_worker, job.task, job.page, *job.args)


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _new_pool(workers: int, settings: ReadSettings) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["intake.work"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(settings, os.getpid()))


#: how often a wait for a page looks whether a dead worker jammed the pool
JAM_CHECK_S = 5.0
#: at most this many bytes are fed to a jammed pool's result pipe, in chunks of ...
UNJAM_MAX_BYTES = 64 * 2**20
UNJAM_CHUNK_BYTES = 4096


def _wait_on(pool: ProcessPoolExecutor | None, future: Future[PageRead]) -> PageRead:
    """The future's result; a pool jammed by a worker killed mid-message is unjammed (see
    `_unjam`) so that the wait ends in BrokenProcessPool instead of never."""
    while True:
        try:
            return future.result(timeout=JAM_CHECK_S)
        except TimeoutError:
            if pool is not None and _lost_worker(pool):
                _unjam(pool)


def _lost_worker(pool: ProcessPoolExecutor) -> bool:
    """Has a worker of the pool died (and the pool not noticed it since)?"""
    processes = getattr(pool, "_processes", None) or {}
    return any(p.exitcode is not None for p in list(processes.values()))


def _unjam(pool: ProcessPoolExecutor) -> None:
    """Break a pool that a worker's death jammed instead of breaking it.

    A worker killed (SIGKILL, the OOM killer) while it writes its result leaves half a message
    in the pool's one result pipe and its write lock taken: the other workers wait for the lock
    and the executor's manager thread waits for the rest of the message, both for ever, so no
    future ever ends (a CPython limitation of ProcessPoolExecutor). The workers left are killed
    and the pipe is fed zero bytes until the manager thread reads a broken message: it then
    marks the pool broken and fails its futures with BrokenProcessPool, which `result` handles
    like any dead worker (a new pool, the page re-read alone)."""
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        if p.exitcode is None:
            p.kill()
    manager = getattr(pool, "_executor_manager_thread", None)
    queue = getattr(pool, "_result_queue", None)
    writer = getattr(queue, "_writer", None)
    if manager is None or writer is None:
        return
    fed = 0
    zeros = bytes(UNJAM_CHUNK_BYTES)
    try:
        fd = writer.fileno()
        os.set_blocking(fd, False)  # never block here: a full pipe is simply tried again
    except OSError:  # the pipe is closed: the pool is being torn down anyway
        return
    while manager.is_alive() and fed < UNJAM_MAX_BYTES:
        try:
            fed += os.write(fd, zeros)
        except BlockingIOError:
            pass
        except OSError:
            return
        manager.join(0.01)


def _retry_alone(job: Job, settings: ReadSettings) -> PageRead:
    with _new_pool(1, settings) as solo:
        try:
            return _wait_on(solo, solo.submit(_in_worker, job.task, job.page, *job.args))
        except BrokenProcessPool:
            reading = failed(job.page.source, Status.UNREADABLE, "the reader process crashed "
                             "on this page; re-scan it or report it",
                             code=ReasonCode.WORKER_CRASHED)
            return PageRead(reading, None, 0.0)


def _init_worker(settings: ReadSettings, owner_pid: int | None = None) -> None:
    import cv2

    global _worker_settings
    _worker_settings = settings
    cv2.setNumThreads(1)  # one process per core already
    if owner_pid is not None:
        end_with_owner(owner_pid)
    _keep_freed_memory()


def end_with_owner(owner_pid: int) -> None:
    """In a pool's worker process: end it once the process `owner_pid`, which started the
    pool, is gone (`_end_with`, watched from a daemon thread). For every process pool of the
    product: the intake's readers and the hall screen's tally workers."""
    threading.Thread(target=_end_with, args=(owner_pid,), daemon=True,
                     name="end-with-owner").start()


#: how often a worker looks whether the process that started its pool still runs
OWNER_CHECK_S = 1.0


def _end_with(owner_pid: int) -> None:
    """End this worker once the process that started the pool is gone (killed: SIGKILL, the
    OOM killer). A worker's parent is the forkserver, which itself waits for its children, so
    without this the workers, the forkserver and the resource tracker would stay behind
    forever, waiting for pages that never come."""
    while True:
        time.sleep(OWNER_CHECK_S)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # a new process of another user has the number: gone too
            os._exit(0)
        if _zombie(owner_pid):  # ended, not yet reaped by its own parent: gone
            os._exit(0)


def _zombie(pid: int) -> bool:
    """Has process `pid` ended without its parent having reaped it yet (Linux's /proc; False
    where that cannot be read)?"""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: a page and its working copies stay below this: served from the heap, not mmap
WORKER_MMAP_THRESHOLD_BYTES = 64 * 2**20
#: free memory kept at the top of the heap before any is given back to the system
WORKER_TRIM_THRESHOLD_BYTES = 256 * 2**20


def _keep_freed_memory() -> None:
    """A worker frees a page's buffers (a 200 dpi A4 page is ~4 MB each) and allocates the same
    sizes for the next page. By default glibc hands such blocks back to the system and faults
    them in again, zeroed: measured, decoding a page took ~50 % longer. Keep them in the worker
    instead (its RSS then stays at its peak, as a pool worker's does anyway). glibc only."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # pragma: no cover - not glibc
        return
    libc.mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD_BYTES)
    libc.mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD_BYTES)


def _in_worker(task: Task, page: EncodedPage, *args: object) -> PageRead:
    assert _worker_settings is not None, "_init_worker was not run in this process"
    return _guarded(task, page, _worker_settings, *args)


def _guarded(task: Task, page: EncodedPage, settings: ReadSettings, *args: object) -> PageRead:
    """`task(page)`, with any unexpected error turned into an unreadable reading of the page."""
    try:
        return task(page, settings, *args)
    except Exception as exc:  # a bug or an I/O error must not stop the batch
        what = "cannot open the file" if isinstance(exc, OSError) else "internal error"
        reading = failed(page.source, Status.UNREADABLE, f"{what}: {type(exc).__name__}: {exc}",
                         code=ReasonCode.INTERNAL_ERROR)
        return PageRead(reading, None, 0.0)
