"""Both languages in Debian's chromium (Playwright) against a real uvicorn: a refused sheet's
reason shows in Chinese under zh-CN and in English under en, in the ledger and in the review
queue; the warnings the live refresh (console.js) inserts after a new sheet arrives are English
in English mode and Chinese in zh-CN. Screenshots go to /tmp/server-look/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tally.store import Store, open_store
from tests.server_helpers import (
    PASSWORD,
    LiveServer,
    add_users,
    app_for,
    ingest_readings,
    layout_of,
    new_meeting,
)
from tests.server_helpers import reading as make_reading
from tests.test_server_browser import CHROMIUM
from tests.test_server_browser import browser as chromium_browser

browser = chromium_browser  # the same Playwright chromium fixture

SHOTS = Path("/tmp/server-look")
REC = layout_of("recommendation")
LOST = ("only 3 of 4 corner marks found (missing: bottom-right), and the box borders were found "
        "on only 40% of the boxes; re-scan the sheet straight and whole")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]


def _han_outside_quotes(text: str) -> list[str]:
    """Lines with Chinese outside “…” (a category's own name is the meeting's data)."""
    return [ln for ln in text.splitlines()
            if re.search(r"[\u4e00-\u9fff]", re.sub("“[^”]*”", "", ln))]


def test_reasons_and_live_warnings_follow_the_ui_language(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    SHOTS.mkdir(exist_ok=True)
    store: Store = open_store(tmp_path / "data")
    add_users(store)
    mid = new_meeting(store, "双语会议", expected={"leader": 10, "middle": 10, "staff": 10},
                      issued=30)
    torn = make_reading(REC, "S2", status="unreadable", source="s2-torn.png", reason=LOST)
    torn["marks"], torn["scores"] = {}, {}
    ingest_readings(store, mid, [make_reading(REC, "S1", marked={
        "category": ["leader"], "pos.director": ["P310012"]}, source="s1.png"), torn])
    server = LiveServer(app_for(store)).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        page.goto(f"{server.url}/login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        meeting = f"{server.url}/meetings/{mid}"

        # zh-CN (the default): the refused sheet's reason in Chinese, with its parameters
        page.goto(meeting)
        refused = page.locator("tr[data-state=refused] td[data-reason]")
        expect(refused).to_contain_text("定位角标只找到 3 个（共 4 个，缺：右下）")
        expect(refused).to_contain_text("仅在 40% 的选框找到边框")
        assert "corner marks" not in refused.inner_text()
        page.goto(f"{meeting}/review")
        item = page.locator("section.item", has=page.locator("p.reason",
                                                            has_text="定位角标"))
        expect(item.locator("p.reason")).to_contain_text("请重新送入该票、按图像手工录入，或排除该页")
        expect(item.locator("header b")).to_contain_text("编号 S2")
        assert "re-feed" not in item.inner_text()

        # a new sheet while the page is open: the live refresh rewrites the warnings
        page.goto(meeting)
        expect(page.locator("#live-read")).to_have_text("1")
        ingest_readings(store, mid, [make_reading(REC, "S3", marked={
            "category": ["leader"], "pos.director": ["P310027"]}, source="s3.png")], salt="b")
        expect(page.locator("#live-read")).to_have_text("2")
        expect(page.locator("#alarms")).to_contain_text("实到 2 人、应到 30 人")
        page.screenshot(path=str(SHOTS / "i18n-console-zh.png"), full_page=True)

        # English: the same reason in English, the warnings inserted by console.js in English
        page.goto(f"{server.url}/lang/en?next=/meetings/{mid}")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        refused = page.locator("tr[data-state=refused] td[data-reason]")
        expect(refused).to_contain_text("only 3 of 4 corner marks found (missing: bottom-right)")
        assert "定位角标" not in refused.inner_text()
        expect(page.locator("#live-read")).to_have_text("2")
        ingest_readings(store, mid, [make_reading(REC, "S4", marked={
            "category": ["middle"], "pos.director": ["P310027"]}, source="s4.png")], salt="c")
        expect(page.locator("#live-read")).to_have_text("3")
        alarms = page.locator("#alarms")
        # only the script writes "3 present": the page was rendered with 2 sheets
        expect(alarms).to_contain_text("All: 3 present of 30 expected", timeout=20_000)
        shown = alarms.inner_text()
        assert "participation" in shown
        assert _han_outside_quotes(shown) == [], shown
        page.screenshot(path=str(SHOTS / "i18n-console-en.png"), full_page=True)
        page.goto(f"{meeting}/review")
        reason = page.locator("p.reason", has_text="corner marks")
        expect(reason).to_contain_text("re-feed the sheet, enter its marks by hand")
        assert "请" not in reason.inner_text()
        page.screenshot(path=str(SHOTS / "i18n-review-en.png"), full_page=True)
        # the decision's acknowledgement the script writes is English too
        item = page.locator("section.item", has=reason)
        item.locator("input.why").fill("torn, cannot be re-scanned")
        item.locator("button[data-kind=dismiss]").click()
        expect(item.locator(".result")).to_have_text("✓ Dismiss")
    finally:
        server.stop()
        store.close()
