"""`scantally bench hall`: how soon the hall screen hears of a sheet while sheets stream in.

A real server (`scantally serve`, a subprocess) over a fresh store with an evaluation meeting;
a station client posts synthetic readings with small unique images through the API at a fixed
rate; a hall client listens on the hall's SSE stream with a display token. For every page:
- tick latency: its commit (the server's clock, sent in the event) to its progress tick arriving;
- aggregate latency: its commit to the first recomputed aggregate that includes it arriving.
Both clocks are this machine's wall clock. The target is aggregate p95 ≤ 1 s at 50 sheets/s.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "evaluation.yaml"
PASSWORD = "bench-password-1"
#: concurrent senders (a station's feeders); each page is still sent at its due time
SENDERS = 2


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        if not values:
            return cls(0, float("nan"), float("nan"), float("nan"))
        v = sorted(values)
        pick = lambda q: v[min(len(v) - 1, round(q * (len(v) - 1)))]  # noqa: E731
        return cls(len(v), pick(0.5), pick(0.95), v[-1])


@dataclass
class HallBench:
    sheets: int
    target_rate: float
    achieved_rate: float
    tick: Stats
    aggregate: Stats
    aggregates_received: int
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        ms = lambda x: f"{x * 1000:7.0f} ms"  # noqa: E731
        lines = [f"hall bench: {self.sheets} sheets at {self.target_rate:g}/s "
                 f"(achieved {self.achieved_rate:.1f}/s), {self.aggregates_received} "
                 "aggregates pushed",
                 f"{'latency from commit to':<34}{'n':>6}{'p50':>11}{'p95':>11}{'max':>11}"]
        for name, s in (("progress tick (SSE)", self.tick),
                        ("aggregate incl. the sheet (SSE)", self.aggregate)):
            lines.append(f"{name:<34}{s.n:>6}{ms(s.p50)}{ms(s.p95)}{ms(s.max)}")
        verdict = "PASS" if self.aggregate.p95 <= 1.0 else "FAIL"
        lines.append(f"target: aggregate p95 <= 1000 ms -> {verdict}")
        return "\n".join(lines + self.notes)


def synthetic_readings(layout: dict[str, Any], n: int, seed: int = 1
                       ) -> list[tuple[dict[str, Any], bytes]]:
    """n readings of page 1 of `layout` (one mark per row, a category) with unique images."""
    rng = random.Random(seed)
    fields = [f for f in layout["fields"] if f["page"] == 1]
    out = []
    for k in range(1, n + 1):
        marks = {f["id"]: {"marked": [rng.choice(f["options"])], "doubtful": []}
                 for f in fields}
        reading = {"source": f"bench-{k:05d}.png", "form": layout["form"]["id"], "page": 1,
                   "serial": f"{k:06d}", "status": "ok", "reason": "", "marks": marks,
                   "scores": {}}
        img = np.full((32, 32), 255, np.uint8)
        bits = np.unpackbits(np.frombuffer(k.to_bytes(4, "big") + seed.to_bytes(4, "big"),
                                           np.uint8))
        img[:8, :8] = np.where(bits.reshape(8, 8), 0, 255)
        out.append((reading, cv2.imencode(".png", img)[1].tobytes()))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(client: httpx.Client, username: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf_token": token.group(1)})
    if r.status_code not in (200, 303):
        raise RuntimeError(f"login failed: {r.status_code} {r.text[:200]}")
    return str(client.get("/api/me").json()["csrf_token"])


def _listen(url: str, ticks: dict[int, tuple[float, float]], aggregates: list[tuple[float, int]],
            stop: threading.Event, ready: threading.Event) -> None:
    try:
        _listen_once(url, ticks, aggregates, stop, ready)
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def _listen_once(url: str, ticks: dict[int, tuple[float, float]],
                 aggregates: list[tuple[float, int]], stop: threading.Event,
                 ready: threading.Event) -> None:
    with httpx.Client(timeout=httpx.Timeout(5.0, read=30.0)) as c, \
            c.stream("GET", url) as r:
        event = ""
        for line in r.iter_lines():
            now = time.time()
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "progress" and data.get("page_id") is not None:
                    ticks[int(data["page_id"])] = (now, float(data["committed_at"]))
                elif event == "aggregate":
                    aggregates.append((now, int(data["through_page_id"])))
                    ready.set()
            if stop.is_set():
                return


def bench_hall(sheets: int = 500, rate: float = 50.0, data_dir: Path | None = None,
               progress: Callable[[str], None] = print) -> HallBench:
    from forms.layout import compile_layout
    from forms.layout_json import layout_to_dict
    from forms.load import load_spec
    from tally import accounts
    from tally.meetings import FormText, create_meeting
    from tally.store import open_store

    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="scantally-bench-")
        data_dir = Path(tmp.name)
    store = open_store(data_dir)
    meeting = create_meeting(store, name=f"bench {time.strftime('%H%M%S')}",
                             forms=[FormText.read(EXAMPLE)], actor="bench",
                             expected={"leader": sheets // 10, "middle": sheets // 3,
                                       "staff": sheets}, issued=sheets + 10)
    with contextlib.suppress(accounts.AccountError):  # made by an earlier run
        accounts.create_user(store, "bench-operator", PASSWORD, "operator", actor="bench")
    token, _ = accounts.create_display_token(store, meeting.id, actor="bench")
    store.close()
    layout = layout_to_dict(compile_layout(load_spec(EXAMPLE)))
    pages = synthetic_readings(layout, sheets, seed=meeting.id)

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-c", "from server.cli import main; main()",
                               "serve", "--data", str(data_dir), "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ticks: dict[int, tuple[float, float]] = {}
    aggregates: list[tuple[float, int]] = []
    committed: dict[int, float] = {}
    stop, ready = threading.Event(), threading.Event()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start: "
                                   + (server.stderr.read().decode()[-2000:]
                                      if server.stderr and server.poll() is not None else ""))
            time.sleep(0.2)
        listener = threading.Thread(target=_listen, daemon=True, args=(
            f"{base}/hall/{meeting.id}/events?token={token}", ticks, aggregates, stop, ready))
        listener.start()
        if not ready.wait(30):
            raise RuntimeError("no aggregate arrived on the hall stream")
        progress(f"server up on {base}; ingesting {sheets} sheets at {rate:g}/s …")
        with httpx.Client(base_url=base, timeout=30) as client:
            csrf = _login(client, "bench-operator")
            headers = {"X-CSRF-Token": csrf}
            batch = client.post(f"/api/meetings/{meeting.id}/batches", json={"device": "bench"},
                                headers=headers).json()
            url = f"/api/meetings/{meeting.id}/batches/{batch['batch_id']}/pages"
            start = time.perf_counter()
            errors: list[str] = []

            def send(lane: int) -> None:
                # like a station with SENDERS feeders: page k is due at start + k / rate
                with httpx.Client(base_url=base, timeout=30, cookies=client.cookies) as c:
                    for k in range(lane, len(pages), SENDERS):
                        reading, image = pages[k]
                        wait = start + k / rate - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                        r = c.post(url, headers=headers, data={"reading": json.dumps(reading)},
                                   files={"image": ("page.png", image, "image/png")})
                        if r.status_code != 200:
                            errors.append(f"{r.status_code} {r.text[:300]}")
                            return
                        committed[r.json()["page_id"]] = 0.0

            senders = [threading.Thread(target=send, args=(lane,)) for lane in range(SENDERS)]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            elapsed = time.perf_counter() - start
            if errors:
                raise RuntimeError(f"ingest failed: {errors[0]}")
            client.post(f"/api/meetings/{meeting.id}/batches/{batch['batch_id']}/close",
                        headers=headers)
        last = max(committed)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(t >= last for _, t in aggregates):
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        if tmp is not None:
            tmp.cleanup()
    return _report(sheets, rate, elapsed, committed, ticks, aggregates)


def _report(sheets: int, rate: float, elapsed: float, committed: dict[int, float],
            ticks: dict[int, tuple[float, float]], aggregates: list[tuple[float, int]]
            ) -> HallBench:
    # the commit time of each page comes with its tick (the server's clock, same machine)
    tick_lat, agg_lat = [], []
    for page_id in committed:
        if page_id not in ticks:
            continue
        arrived, commit = ticks[page_id]
        tick_lat.append(arrived - commit)
        first = next((t for t, through in aggregates if through >= page_id), None)
        if first is not None:
            agg_lat.append(first - commit)
    notes = []
    missing = len(committed) - len(agg_lat)
    if missing:
        notes.append(f"{missing} page(s) never reached the hall within 30 s")
    return HallBench(sheets, rate, sheets / max(elapsed, 1e-9), Stats.of(tick_lat),
                     Stats.of(agg_lat), len(aggregates), notes)

