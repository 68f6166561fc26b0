"""Helpers for the server tests: apps over temporary stores, users, logins, live uvicorn servers,
and meetings with synthetic readings."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from server.app import ServerSettings, create_app
from tally import accounts
from tally.ingest import ingest_json, open_batch
from tally.store import Store, open_store
from tests.tally_helpers import layout_of, new_meeting, reading, tiny_image

PASSWORD = "correct horse battery"
# argon2 at full strength costs ~0.1 s and 64 MiB per hash: tests use a light one
accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ROLES = ("admin", "operator", "observer")

__all__ = ["PASSWORD", "ROLES", "LiveServer", "add_users", "app_for", "client_for",
           "csrf_of", "ingest_readings", "layout_of", "live_server", "login", "new_meeting",
           "reading", "tiny_image"]


def app_for(store: Store, **settings: Any):  # type: ignore[no-untyped-def]
    settings.setdefault("read_threads", 1)
    settings.setdefault("hall_min_interval_s", 0.05)
    settings.setdefault("hall_poll_s", 0.5)
    return create_app(store, ServerSettings(**settings))


def add_users(store: Store) -> None:
    """One user per role, named after the role."""
    for role in ROLES:
        accounts.create_user(store, role, PASSWORD, role, actor="test")


def csrf_of(client: TestClient | httpx.Client) -> str:
    """The session's CSRF token (from /api/me)."""
    r = client.get("/api/me")
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def login(client: TestClient | httpx.Client, username: str, password: str = PASSWORD) -> str:
    """Log in through the form (pre-login CSRF cookie first); returns the session CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client)


@contextmanager
def client_for(store: Store, role: str | None = None, **settings: Any
               ) -> Iterator[tuple[TestClient, str]]:
    """A TestClient of a new app, logged in as `role` (None: anonymous); yields it and the
    session's CSRF token ("" when anonymous)."""
    app = app_for(store, **settings)
    with TestClient(app) as client:
        yield client, login(client, role) if role else ""


def ingest_readings(store: Store, meeting_id: int, readings: list[dict[str, Any]],
                    salt: str = "") -> list[Any]:
    batch = open_batch(store, meeting_id, operator="tester")
    return [ingest_json(store, batch, r, tiny_image(n, salt + str(meeting_id)))
            for n, r in enumerate(readings)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a thread, on a free 127.0.0.1 port."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, timeout_graceful_shutdown=1, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.app.state.closing.set()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def live_server(store: Store, port: int | None = None, **settings: Any) -> Iterator[LiveServer]:
    server = LiveServer(app_for(store, **settings), port).start()
    try:
        yield server
    finally:
        server.stop()


def temp_store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "data")


#: Debian's chromium, driven by Playwright for every page test
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium under Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
