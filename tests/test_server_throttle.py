"""Login throttling: per account and per address with exponential back-off (429 + Retry-After),
failed logins in the account log, and the server's memory bounded under 180 concurrent wrong
logins by the bound on concurrent password hashing (argon2 at its real 64 MiB)."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import select

from server.throttle import LoginGuard, LoginLimits, Throttled
from tally.accounts import AccountEvent
from tally.store import Store, open_store
from tests.process_helpers import PeakRss, serve
from tests.server_helpers import PASSWORD, add_users, live_server
from tests.tally_helpers import SCANTALLY

CONCURRENT = 180
MiB = 1024 * 1024
#: argon2's memory per hash at the library's defaults (what `scantally user add` uses)
ARGON2_BYTES = 64 * MiB


# -- the guard alone, on a fake clock -------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail(guard: LoginGuard, user: str = "alice", address: str = "10.0.0.1") -> None:
    guard.attempt(user, address).failed()


def test_back_off_doubles_up_to_the_maximum_and_a_success_clears_it() -> None:
    clock = Clock()
    guard = LoginGuard(LoginLimits(attempts=3, address_attempts=100, backoff_s=2,
                                   max_backoff_s=10, window_s=60), clock)
    for _ in range(3):
        _fail(guard)
    with pytest.raises(Throttled) as refused:
        guard.attempt("alice", "10.0.0.2")
    assert refused.value.scope == "account" and refused.value.retry_after_s == 2
    assert refused.value.first
    with pytest.raises(Throttled) as again:
        guard.attempt("alice", "10.0.0.3")
    assert not again.value.first  # logged once per back-off
    waits = [refused.value.retry_after_s]
    clock.now += refused.value.retry_after_s
    _fail(guard)
    for _ in range(4):
        with pytest.raises(Throttled) as t:
            guard.attempt("alice", "10.0.0.1")
        waits.append(t.value.retry_after_s)
        clock.now += t.value.retry_after_s
        _fail(guard)
    assert waits == [2, 4, 8, 10, 10]
    clock.now += 10
    guard.attempt("alice", "10.0.0.1").succeeded()
    guard.attempt("alice", "10.0.0.1").release()  # cleared: no wait at all


def test_in_flight_attempts_count_and_addresses_have_their_own_limit() -> None:
    guard = LoginGuard(LoginLimits(attempts=2, address_attempts=3), Clock())
    a, b = guard.attempt("bob", "10.0.0.9"), guard.attempt("bob", "10.0.0.9")
    with pytest.raises(Throttled):  # two still hashing fill bob's quota
        guard.attempt("bob", "10.0.0.9")
    a.release()
    b.release()
    for name in ("u1", "u2", "u3"):
        _fail(guard, name, "10.0.0.7")
    with pytest.raises(Throttled) as t:
        guard.attempt("u4", "10.0.0.7")
    assert t.value.scope == "address"


def test_a_flood_of_names_cannot_grow_the_guards_memory() -> None:
    guard = LoginGuard(LoginLimits(max_tracked=100), Clock())
    for n in range(1000):
        _fail(guard, f"name{n}", f"10.1.{n // 250}.{n % 250}")
    assert len(guard._counters) <= 100


# -- against a real server ------------------------------------------------------------------

def _post_login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """The login form as a browser posts it (double-submit CSRF cookie)."""
    client.cookies.set("scantally_csrf", "t0ken")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": "t0ken"}, follow_redirects=False)


def _burst(base_url: str, n: int, request: Callable[[int], tuple[str, str]],
           address: Callable[[int], str] | None = None) -> list[httpx.Response]:
    """`n` logins released at once, each on its own connection (and local address)."""
    barrier = threading.Barrier(n)
    out: list[httpx.Response | None] = [None] * n

    def one(i: int) -> None:
        transport = httpx.HTTPTransport(local_address=address(i)) if address else None
        with httpx.Client(base_url=base_url, transport=transport, timeout=120) as client:
            barrier.wait()
            out[i] = _post_login(client, *request(i))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert all(r is not None for r in out)
    return out  # type: ignore[return-value]


def _failed_logins(store: Store) -> list[dict]:
    with store.session(readonly=True) as s:
        return [e.payload | {"at": e.at, "actor": e.actor}
                for e in s.scalars(select(AccountEvent).where(
                    AccountEvent.action == "session.login_failed"))]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "data")
    add_users(s)
    yield s
    s.close()


def test_concurrent_wrong_logins_are_throttled_logged_and_the_right_one_waits(
        store: Store) -> None:
    limits = LoginLimits(attempts=5, address_attempts=1000, backoff_s=1.0, max_backoff_s=4.0)
    with live_server(store, login=limits) as server:
        replies = _burst(server.url, CONCURRENT, lambda i: ("operator", f"guess {i}"))
        codes = Counter(r.status_code for r in replies)
        print(f"{CONCURRENT} concurrent wrong logins: {dict(codes)}")
        assert set(codes) <= {401, 429} and codes[401] <= limits.attempts
        assert codes[429] >= CONCURRENT - limits.attempts
        for r in replies:
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert "登录失败次数过多" in r.text and "秒后再试" in r.text
        logged = _failed_logins(store)
        wrong = [e for e in logged if e["reason"] == "wrong password"]
        assert len(wrong) == codes[401]
        assert all(e["username"] == "operator" and e["address"] == "127.0.0.1" and e["at"]
                   for e in wrong)
        assert any(e["reason"] == "throttled (account)" and e["retry_after_s"] >= 1
                   for e in logged)
        assert len(logged) < codes[401] + 10  # refusals are logged once per back-off

        with httpx.Client(base_url=server.url, cookies={"scantally_lang": "en"}) as client:
            started = time.monotonic()
            refused = _post_login(client, "operator", PASSWORD)
            assert refused.status_code == 429, refused.text
            wait_s = int(refused.headers["Retry-After"])
            assert "Too many failed logins; try again in" in refused.text
            while (r := _post_login(client, "operator", PASSWORD)).status_code == 429:
                assert time.monotonic() - started < 30
                time.sleep(float(r.headers["Retry-After"]))
            assert r.status_code == 303, r.text
            waited = time.monotonic() - started
            print(f"right password after throttling: waited {waited:.1f} s "
                  f"(first Retry-After {wait_s} s)")
            assert waited >= 0.5


# -- memory under 180 concurrent wrong logins, in a `scantally serve` process -----------------

@contextmanager
def _serve(data: Path, *args: str) -> Iterator[tuple[str, psutil.Process]]:
    with serve(data, *args) as served:
        yield served.url, served.process


@pytest.mark.slow
def test_rss_stays_bounded_under_180_concurrent_wrong_logins(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add = subprocess.run([str(SCANTALLY), "user", "add", "-u", "operator", "--role", "operator",
                          "--password", PASSWORD, "--data", str(data)],
                         capture_output=True, text=True, check=False)
    assert add.returncode == 0, add.stderr
    concurrency = 2
    with _serve(data, "--hash-concurrency", str(concurrency), "--login-attempts", "5") as (
            url, process):
        with httpx.Client(base_url=url) as client:  # warm up: imports, one real hash
            assert _post_login(client, "nobody", "x" * 10).status_code == 401
        base = process.memory_info().rss
        bound = base + (concurrency + 1) * ARGON2_BYTES + 128 * MiB

        def spread(i: int) -> str:  # a distinct loopback address per client
            return f"127.0.{2 + i // 200}.{1 + i % 200}"

        with PeakRss(lambda: process.memory_info().rss) as rss:
            # one account guessed by 180 at once: throttled before hashing
            same = _burst(url, CONCURRENT, lambda i: ("operator", f"guess {i}"), spread)
            # 180 names from 180 addresses: nothing to throttle, so all want a hash
            spread_codes = Counter(r.status_code for r in _burst(
                url, CONCURRENT, lambda i: (f"someone{i}", f"guess {i}"),
                lambda i: f"127.1.{i // 200}.{1 + i % 200}"))
        same_codes = Counter(r.status_code for r in same)
        print(f"one account, 180 at once: {dict(same_codes)}; 180 names and addresses: "
              f"{dict(spread_codes)}; RSS base {base / MiB:.0f} MiB, peak "
              f"{rss.peak / MiB:.0f} MiB, bound {bound / MiB:.0f} MiB "
              f"(base + {concurrency + 1} x 64 MiB + 128 MiB)")
        assert same_codes[429] >= CONCURRENT - 5 and set(same_codes) <= {401, 429}
        assert all(int(r.headers["Retry-After"]) >= 1 for r in same if r.status_code == 429)
        assert set(spread_codes) <= {401, 503} and spread_codes[401] >= concurrency
        assert rss.peak <= bound
    store = open_store(data)
    try:
        logged = _failed_logins(store)
    finally:
        store.close()
    reasons = Counter(e["reason"] for e in logged)
    assert reasons["wrong password"] == same_codes[401]
    assert reasons["unknown user"] == spread_codes[401] + 1
    assert reasons["throttled (account)"] >= 1
    addresses = {e["address"] for e in logged if e["reason"] == "unknown user"}
    assert "127.0.0.1" in addresses  # the warm-up; then each client from its own address
    assert len(addresses) == spread_codes[401] + 1
    assert re.fullmatch(r"\d{4}-.*\+00:00", logged[-1]["at"])
