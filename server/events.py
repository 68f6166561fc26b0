"""In-process publish/subscribe of what happens to a meeting, for the SSE streams.

Publishers are threads (an ingest job, a request handler in the thread pool); subscribers are
asyncio tasks (one per open SSE stream). `EventBus.publish` is thread-safe and never blocks: it
hands the event to each subscriber's loop with `call_soon_threadsafe`. A subscriber that does not
keep up loses its oldest events (its queue is bounded) and is told so, so one stalled browser never
slows ingest.

Event kinds: "sheet" (a page was committed; `committed_at` is the wall time just after the
commit), "decision" (a review decision), "meeting" (facts or settings changed), "job" (an intake
job's progress), "aggregate" (the hall figures were recomputed: see `server.hall`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

QUEUE_LIMIT = 1000


@dataclass(frozen=True)
class Event:
    meeting_id: int
    kind: str
    data: dict[str, Any]
    seq: int = 0
    at: float = field(default_factory=time.time)


class Subscription:
    """One subscriber's queue, fed from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, meeting_id: int | None) -> None:
        self.loop = loop
        self.meeting_id = meeting_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = 0

    def _put(self, event: Event) -> None:  # runs on the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def offer(self, event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the stream is gone
            self.loop.call_soon_threadsafe(self._put, event)

    async def get(self, timeout: float | None = None) -> Event | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._seq = itertools.count(1)

    def publish(self, meeting_id: int, kind: str, data: dict[str, Any] | None = None) -> Event:
        event = Event(meeting_id, kind, dict(data or {}), next(self._seq))
        with self._lock:
            subs = [s for s in self._subs if s.meeting_id in (None, meeting_id)]
        for s in subs:
            s.offer(event)
        return event

    @asynccontextmanager
    async def subscribe(self, meeting_id: int | None) -> AsyncIterator[Subscription]:
        """Events of one meeting (None: of every meeting) while the block runs."""
        sub = Subscription(asyncio.get_running_loop(), meeting_id)
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)
