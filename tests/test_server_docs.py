"""/docs (Swagger UI) and /redoc: served from vendored assets only, no CDN and no inline script,
and they render in Debian's chromium under the server's own CSP without a network request
leaving the server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.app import CSP
from tally.store import open_store
from tests.server_helpers import LiveServer, app_for

CHROMIUM = "/usr/bin/chromium"
SERVER_DIR = Path("server")
DOC_PAGES = ("/docs", "/redoc")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    store = open_store(tmp_path / "data")
    s = LiveServer(app_for(store)).start()
    try:
        yield s
    finally:
        s.stop()
        store.close()


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url|data-openapi)="([^"]*)"', html)


@pytest.mark.parametrize("page", DOC_PAGES)
def test_doc_pages_reference_only_local_assets(server: LiveServer, page: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.get(page)
        assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
        html = r.text
        assert "http://" not in html and "https://" not in html and "//" not in html.replace(
            "<!doctype html>", "")
        assert "<script>" not in html  # no inline script: the CSP would refuse it
        refs = _references(html)
        assert refs and all(ref.startswith("/") for ref in refs), refs
        for ref in refs:
            assert c.get(ref).status_code == 200, ref


def test_no_network_reference_in_what_the_server_serves() -> None:
    """Templates and our scripts and styles name no outside URL; Python code only the local
    server's own address (printed by `serve`, `demo`, `bench`) and a JSON Schema id."""
    hits = []
    for path in [*(SERVER_DIR / "templates").rglob("*.html"),
                 *(SERVER_DIR / "static" / "js").rglob("*.js"),
                 *(SERVER_DIR / "static" / "css").rglob("*.css")]:
        hits += [f"{path}: {m}" for m in re.findall(r"(?:https?:)?//[\w.-]+\.\w+/",
                                                    path.read_text(encoding="utf-8"))]
    for path in SERVER_DIR.rglob("*.py"):
        hits += [f"{path}: {m}" for m in re.findall(r"https?://[^\s\"')]+",
                                                    path.read_text(encoding="utf-8"))
                 if not m.startswith(("http://127.0.0.1:", "http://{host",
                                      "https://json-schema.org/"))]
    assert hits == []
    for name in ("swagger-ui", "redoc"):
        assert (SERVER_DIR / "static" / "vendor" / name / "LICENSE.txt").exists()


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")
def test_doc_pages_render_in_chromium_offline(server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            requests: list[str] = []
            problems: list[str] = []
            page.on("request", lambda req: requests.append(req.url))
            page.on("console", lambda msg: problems.append(msg.text)
                    if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            missing: list[str] = []
            page.on("response", lambda res: missing.append(res.url)
                    if res.status >= 400 else None)
            page.goto(f"{server.url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Scantally")
            expect(page.locator(".opblock-tag-section").first).to_be_visible()
            assert page.locator(".opblock").count() > 10
            page.goto(f"{server.url}/redoc")
            expect(page.locator("h1").first).to_contain_text("Scantally")
            expect(page.get_by_text("/api/meetings").first).to_be_attached()
            outside = [u for u in requests if not u.startswith((server.url, "data:", "blob:"))]
            assert outside == []
            assert [m for m in problems if "Content Security Policy" in m] == []
            # a browser asks for /favicon.ico by itself; everything else must be there
            assert [u for u in missing if not u.endswith("/favicon.ico")] == []
            assert [m for m in problems if "404" not in m] == []
        finally:
            browser.close()
