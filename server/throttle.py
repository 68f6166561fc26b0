"""Login throttling: per account and per client address, with exponential back-off, and a bound
on how many password hashes run at once.

- Each login attempt first takes a place on its account's and its address's counter; when the
  failures (and attempts still in flight) reach `attempts` (`address_attempts` for an address),
  further attempts are refused with `Throttled` (HTTP 429 with Retry-After) without hashing,
  until `backoff_s * 2**(failures - attempts)` (at most `max_backoff_s`) has passed since the
  last failure; then one attempt at a time is let through. Counting in-flight attempts means
  180 simultaneous guesses hash at most `attempts` passwords, not 180.
- A success clears its account's counter; an address's failures are forgotten only after
  `window_s` without one (a valid login does not buy an attacker more guesses).
- Argon2 takes 64 MiB per hash: at most `hash_concurrency` run at once; up to `hash_queue`
  more wait (without holding a thread) at most `hash_wait_s`, anything beyond gets
  `HashingBusy` (HTTP 503) at once. So memory stays within hash_concurrency x 64 MiB
  whatever arrives.
- State lives in memory, on the app (`app.state.login_guard`); at most `max_tracked` counters
  are kept (oldest dropped), so a flood of random names cannot grow it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class LoginLimits:
    #: wrong passwords per account before it is throttled
    attempts: int = 5
    #: wrong logins per client address before it is throttled (several people may share one)
    address_attempts: int = 20
    #: failures are forgotten after this long without one (once any back-off has passed)
    window_s: float = 900.0
    #: the first back-off once throttled; each further failure doubles it
    backoff_s: float = 1.0
    #: the longest back-off
    max_backoff_s: float = 900.0
    #: password hashes computed at once (argon2: 64 MiB each)
    hash_concurrency: int = 2
    #: logins that may wait for a hashing slot; more are refused at once (503)
    hash_queue: int = 64
    #: how long a login waits for a hashing slot before 503
    hash_wait_s: float = 10.0
    #: counters kept (accounts + addresses); the oldest go first
    max_tracked: int = 10_000


class Throttled(Exception):
    """Too many failures: retry after `retry_after_s` (the message says so)."""

    def __init__(self, scope: str, retry_after_s: float, first: bool) -> None:
        super().__init__(f"too many failed logins for this {scope}; try again in "
                         f"{math.ceil(retry_after_s)} s")
        self.scope = scope
        self.retry_after_s = retry_after_s
        #: the first refusal of this back-off (log it once, not every refused request)
        self.first = first


class HashingBusy(Exception):
    """Every hashing slot is taken and the queue is full (or the wait ran out)."""

    retry_after_s = 2.0


@dataclass
class _Counter:
    failures: int = 0
    pending: int = 0
    last_failure: float = 0.0
    #: the back-off end already logged
    logged_until: float = 0.0


class Attempt:
    """One login attempt's places on its counters; end it with `succeeded` or `failed`
    (leaving it otherwise, e.g. on an error, just gives the places back)."""

    def __init__(self, guard: LoginGuard, keys: list[str]) -> None:
        self._guard = guard
        self._keys = keys
        self._open = True

    def succeeded(self) -> None:
        self._guard._finish(self._keys, failed=False, reset=self._keys[:1])
        self._open = False

    def failed(self) -> None:
        self._guard._finish(self._keys, failed=True, reset=[])
        self._open = False

    def release(self) -> None:
        if self._open:
            self._guard._finish(self._keys, failed=False, reset=[])
            self._open = False


class LoginGuard:
    def __init__(self, limits: LoginLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: OrderedDict[str, _Counter] = OrderedDict()
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._waiting = 0
        #: figures for tests and the log
        self.hashing_now = 0
        self.hashing_peak = 0

    # -- the counters ---------------------------------------------------------------------

    def backoff_s(self, over: int) -> float:
        lim = self.limits
        return min(lim.backoff_s * 2.0 ** min(max(over, 0), 60), lim.max_backoff_s)

    def _counter(self, key: str, now: float) -> _Counter:
        c = self._counters.get(key)
        if c is not None and c.pending == 0:
            until = c.last_failure + self.backoff_s(c.failures - self._limit(key))
            if now > max(c.last_failure + self.limits.window_s, until):
                c = None  # quiet long enough: forgotten
        if c is None:
            c = _Counter()
            self._counters[key] = c
            while len(self._counters) > self.limits.max_tracked:
                self._counters.popitem(last=False)
        self._counters.move_to_end(key)
        return c

    def _limit(self, key: str) -> int:
        return self.limits.attempts if key.startswith("account:") else \
            self.limits.address_attempts

    def _wait_s(self, key: str, c: _Counter, now: float) -> float:
        limit = self._limit(key)
        if c.failures + c.pending < limit:
            return 0.0
        if c.failures >= limit:
            until = c.last_failure + self.backoff_s(c.failures - limit)
            if now < until:
                return until - now
            if c.pending == 0:
                return 0.0  # the back-off has passed: one attempt at a time
        return 1.0  # attempts in flight fill the quota

    def attempt(self, username: str, address: str) -> Attempt:
        """Take a place for a login of `username` from `address`, or raise `Throttled`."""
        keys = [f"account:{username.strip()}", f"address:{address}"]
        now = self._clock()
        with self._lock:
            counters = [self._counter(k, now) for k in keys]
            for key, c in zip(keys, counters, strict=True):
                wait = self._wait_s(key, c, now)
                if wait > 0:
                    until = now + wait
                    first = until > c.logged_until + 1.0
                    if first:
                        c.logged_until = until
                    raise Throttled(key.split(":", 1)[0], wait, first)
            for c in counters:
                c.pending += 1
        return Attempt(self, keys)

    def _finish(self, keys: list[str], *, failed: bool, reset: list[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                c = self._counters.get(key)
                if c is None:
                    continue
                c.pending = max(c.pending - 1, 0)
                if key in reset:
                    c.failures = 0
                elif failed:
                    c.failures += 1
                    c.last_failure = now

    # -- the hashing slots ----------------------------------------------------------------

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(id(loop))
        if sem is None:
            sem = self._semaphores[id(loop)] = asyncio.Semaphore(self.limits.hash_concurrency)
        return sem

    @asynccontextmanager
    async def hashing(self) -> AsyncIterator[None]:
        """Hold one of the `hash_concurrency` slots (waiting without a thread), or raise
        `HashingBusy` when the queue is full or the wait runs out."""
        sem = self._semaphore()
        if sem.locked() and self._waiting >= self.limits.hash_queue:
            raise HashingBusy()
        self._waiting += 1
        try:
            await asyncio.wait_for(sem.acquire(), self.limits.hash_wait_s)
        except TimeoutError:
            raise HashingBusy() from None
        finally:
            self._waiting -= 1
        self.hashing_now += 1
        self.hashing_peak = max(self.hashing_peak, self.hashing_now)
        try:
            yield
        finally:
            self.hashing_now -= 1
            sem.release()
