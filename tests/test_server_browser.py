"""The console and the hall screen in Debian's chromium (Playwright), against a real uvicorn:
log in, create a meeting, open the hall, upload a batch, watch the hall update without a reload,
resolve a review item from the keyboard, download the report, and see the hall come back by
itself after a server restart. Screenshots go to /tmp/server-look/."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from omr.sim.corpus import render_marked_page
from tally.ingest import ingest_json, open_batch
from tally.review.decisions import history
from tally.store import Store, open_store
from tests.server_helpers import (
    CHROMIUM,
    PASSWORD,
    LiveServer,
    add_users,
    app_for,
    chromium,
    layout_of,
    reading,
)

SHOTS = Path("/tmp/server-look")
REC = Path("examples/recommendation.yaml")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]


def sheet(tmp: Path, serial: str, marks: dict[str, list[str]],
          writeins: dict[str, dict[str, str]] | None = None) -> Path:
    image = render_marked_page(REC, marks, serial=serial, writeins=writeins)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    path = tmp / f"sheet-{serial}.png"
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def test_console_and_hall_end_to_end(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    SHOTS.mkdir(exist_ok=True)
    store: Store = open_store(tmp_path / "data")
    add_users(store)
    scans = [sheet(tmp_path, "B0001", {"category": ["staff"], "pos.director": ["writein1"],
                                       "pos.deputy": ["P310072"]},
                   writeins={"pos.director": {"writein1": "欧阳锋"}}),
             sheet(tmp_path, "B0002", {"category": ["middle"], "pos.director": ["P310031"],
                                       "pos.chief": ["P310131"]})]
    server = LiveServer(app_for(store, read_threads=2)).start()
    try:
        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        console = ctx.new_page()
        console.set_default_timeout(30_000)
        # log in
        console.goto(f"{server.url}/")
        expect(console).to_have_url(f"{server.url}/login?next=/")
        console.fill("input[name=username]", "operator")
        console.fill("input[name=password]", PASSWORD)
        console.click("button[type=submit]")
        expect(console.locator("h1")).to_have_text("会议列表")
        # create a meeting from a form spec
        console.fill("input[name=name]", "浏览器测试会议")
        console.set_input_files("input[name=forms]", str(REC))
        console.fill("input[name=expected]", "leader=1,middle=2,staff=2")
        console.fill("input[name=issued]", "5")
        console.click("#new-meeting button[type=submit]")
        expect(console.locator("h1")).to_have_text("浏览器测试会议")
        meeting_url = console.url
        # a hall link, opened in its own window
        console.click("#hall button[type=submit]")
        hall_url = console.locator("#new-hall-url").get_attribute("href")
        assert hall_url and "token=" in hall_url
        hall = browser.new_page(viewport={"width": 1600, "height": 900})
        hall.goto(hall_url)
        expect(hall.locator("#read")).to_have_text("0")
        expect(hall.locator("#status")).to_have_class("status live")
        # upload a batch; progress arrives by SSE
        console.goto(meeting_url)
        console.set_input_files("#upload-form input[type=file]", [str(p) for p in scans])
        console.click("#upload-form button[type=submit]")
        expect(console.locator(".job [data-state=done]")).to_be_visible()
        expect(console.locator(".job [data-pages]")).to_have_text("2")
        # the hall follows without a reload
        expect(hall.locator("#read")).to_have_text("2", timeout=10_000)
        expect(hall.locator("#of")).to_contain_text("5")
        expect(console.locator("#live-read")).to_have_text("2")
        time.sleep(0.8)  # let the chart animation settle for the screenshots
        hall.screenshot(path=str(SHOTS / "hall.png"))
        console.screenshot(path=str(SHOTS / "console.png"), full_page=True)
        # resolve the write-in from the keyboard: type the name and the reason, then W
        console.click("a[href$='/review']")
        item = console.locator("section.item").first
        expect(item).to_contain_text("另推")
        expect(item.locator(".crops img").first).to_be_visible()
        item.locator("input.writein").fill("欧阳锋")
        item.locator("input.why").fill("照图像录入")
        item.locator("input.why").press("Escape")
        console.keyboard.press("w")
        expect(item).to_have_class(re.compile(r"\bdone\b"))
        console.screenshot(path=str(SHOTS / "review.png"))
        with store.session(readonly=True) as s:
            decisions = history(s, 1)
        assert [(d.kind, d.text, d.who, d.why) for d in decisions] == [
            ("writein", "欧阳锋", "operator", "照图像录入")]
        # download the report
        console.goto(meeting_url)
        with console.expect_download() as dl:
            console.click("a[data-report=pdf]")
        pdf = Path(dl.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        # restart the server: the hall reconnects and catches up by itself
        server.stop()
        expect(hall.locator("#status")).to_have_class("status lost", timeout=10_000)
        batch = open_batch(store, 1, operator="cli")
        doc = reading(layout_of("recommendation"), "B0003", marked={"category": ["leader"]})
        assert ingest_json(store, batch, doc, scans[0].read_bytes() + b"x").outcome == "ok"
        server = LiveServer(app_for(store), port=server.port).start()
        expect(hall.locator("#status")).to_have_class("status live", timeout=15_000)
        expect(hall.locator("#read")).to_have_text("3", timeout=15_000)
        hall.screenshot(path=str(SHOTS / "hall-after-restart.png"))
    finally:
        server.stop()
        store.close()
