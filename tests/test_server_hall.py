"""The hall screen: aggregates only (never a serial, a source, a write-in name or an image), and
pushed over SSE as sheets are committed."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from server.hall import HallAggregate
from tally import accounts
from tally.review.decisions import decide
from tally.review.queue import review_queue
from tally.store import Store, open_store
from tests.server_helpers import (
    add_users,
    app_for,
    ingest_readings,
    layout_of,
    live_server,
    login,
    new_meeting,
    reading,
)

NAMES = ("欧阳锋", "慕容复")
SERIALS = ("ZQXA01", "ZQXA02", "ZQXA03")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "data")
    add_users(s)
    yield s
    s.close()


def meeting_with_writeins(store: Store) -> int:
    mid = new_meeting(store, "rec", forms=("recommendation",))
    rec = layout_of("recommendation")
    docs = [reading(rec, SERIALS[0], marked={"pos.director": ["P310031"],
                                             "pos.deputy": ["writein1"]},
                    source="private-scan-0001.png"),
            reading(rec, SERIALS[1], marked={"pos.director": ["writein1"]},
                    source="private-scan-0002.png"),
            reading(rec, SERIALS[2], marked={"pos.director": ["P310031"]},
                    doubtful={"pos.deputy": ["P310072"]}, source="private-scan-0003.png")]
    ingest_readings(store, mid, docs)
    with store.session(readonly=True) as s:
        items = [i for i in review_queue(s, mid) if i.kind == "writein"]
    assert len(items) == 2
    for item, name in zip(items, NAMES, strict=True):
        decide(store, mid, item.id, "writein", who="operator", why="from the image", text=name)
    return mid


def leaks(text: str) -> list[str]:
    return [x for x in (*NAMES, *SERIALS, "private-scan", "writein", ".png")
            if x in text]


def test_hall_shows_aggregates_only(store: Store) -> None:
    mid = meeting_with_writeins(store)
    token, _ = accounts.create_display_token(store, mid, actor="operator")
    with TestClient(app_for(store)) as c:
        # the team sees the write-in names (the tally JSON)…
        login(c, "observer")
        team = c.get(f"/api/meetings/{mid}/tally").text
        assert all(name in team for name in NAMES)
    with TestClient(app_for(store)) as hall:
        data = hall.get(f"/hall/{mid}/data?token={token}")
        page = hall.get(f"/hall/{mid}?token={token}")
        assert data.status_code == 200 and page.status_code == 200
        agg = HallAggregate.model_validate(data.json())
        assert agg.read == 3
        assert agg.forms[0].positions[0].bars[0].value >= 0
        with hall.stream("GET", f"/hall/{mid}/events?token={token}") as stream:
            first = ""
            for line in stream.iter_lines():
                first += line + "\n"
                if line.startswith("data:"):
                    break
        # …the hall never does: not in the JSON, the page, or the stream
        for text in (data.text, page.text, first):
            assert leaks(text) == []
        # and no image either
        assert hall.get(f"/meetings/{mid}/pages/1/crop.png?token={token}").status_code == 403


def _listen(url: str, out: list[tuple[float, dict[str, Any]]], stop: threading.Event) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server goes away at the end
        _listen_once(url, out, stop)


def _listen_once(url: str, out: list[tuple[float, dict[str, Any]]],
                 stop: threading.Event) -> None:
    with httpx.Client(timeout=httpx.Timeout(5, read=10)) as c, c.stream("GET", url) as r:
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "aggregate":
                out.append((time.time(), json.loads(line[5:])))
            if stop.is_set():
                return


def test_hall_stream_pushes_a_new_aggregate_within_a_second(store: Store) -> None:
    mid = new_meeting(store, "ev", forms=("evaluation",), expected={"leader": 5, "middle": 5,
                                                                     "staff": 5})
    ev = layout_of("evaluation")
    token, _ = accounts.create_display_token(store, mid, actor="operator")
    got: list[tuple[float, dict[str, Any]]] = []
    stop = threading.Event()
    with live_server(store) as srv:
        t = threading.Thread(target=_listen, daemon=True,
                             args=(f"{srv.url}/hall/{mid}/events?token={token}", got, stop))
        t.start()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got and got[0][1]["read"] == 0
        with httpx.Client(base_url=srv.url) as c:
            csrf = login(c, "operator")
            batch = c.post(f"/api/meetings/{mid}/batches", json={},
                           headers={"X-CSRF-Token": csrf}).json()
            doc = reading(ev, "H0001", marked={"category": ["middle"],
                                               "leader.P310012": ["excellent"]})
            r = c.post(f"/api/meetings/{mid}/batches/{batch['batch_id']}/pages",
                       headers={"X-CSRF-Token": csrf}, data={"reading": json.dumps(doc)},
                       files={"image": ("p.png", b"\x89PNG fake but unique 1", "image/png")})
            committed = time.time()
            assert r.status_code == 200 and r.json()["outcome"] == "ok", r.text
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(a["read"] == 1 for _, a in got):
            time.sleep(0.02)
        stop.set()
    arrived = next(at for at, a in got if a["read"] == 1)
    assert arrived - committed < 1.0
    agg = next(a for _, a in got if a["read"] == 1)
    row = agg["forms"][0]["stacks"][0]["rows"]
    assert any(r["counts"][0] == 1 for r in row)  # one 优秀 somewhere
    assert agg["expected"] == 15
