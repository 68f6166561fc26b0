"""Manual entry in Debian's chromium (Playwright) against a real uvicorn: a refused sheet shows
in the meeting's ledger, one operator keys its marks from its image, the same login cannot
confirm, a second login confirms, and the ledger and the figures follow. Screenshots go to
/tmp/server-look/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tally import accounts
from tally.ingest import ingest_json, open_batch
from tally.results import meeting_results
from tally.store import Store, open_store
from tests.server_helpers import PASSWORD, LiveServer, add_users, app_for, layout_of, new_meeting
from tests.server_helpers import reading as make_reading
from tests.test_server_browser import CHROMIUM, sheet
from tests.test_server_browser import browser as chromium_browser

browser = chromium_browser  # the same Playwright chromium fixture

SHOTS = Path("/tmp/server-look")
REC = layout_of("recommendation")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]


def _png(tmp: Path, serial: str, marks: dict[str, list[str]]) -> bytes:
    return sheet(tmp, serial, marks).read_bytes()


def _log_in(page, url: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_manual_entry_is_confirmed_by_a_second_login(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    SHOTS.mkdir(exist_ok=True)
    store: Store = open_store(tmp_path / "data")
    add_users(store)
    mid = new_meeting(store, "手工录入测试")
    batch = open_batch(store, mid, operator="operator")
    ingest_json(store, batch, make_reading(REC, "M0001", marked={"category": ["staff"],
                                                                  "pos.director": ["P310012"]}),
                _png(tmp_path, "M0001", {"category": ["staff"], "pos.director": ["P310012"]}))
    torn = make_reading(REC, "M0002", status="unreadable", source="M0002-torn.png",
                        reason="two corner marks cut off; re-feed the sheet")
    torn["marks"], torn["scores"] = {}, {}
    page_id = ingest_json(store, batch, torn, _png(tmp_path, "M0002", {
        "category": ["middle"], "pos.director": ["P310027"], "pos.deputy": ["P310061"]})).page_id
    token, _ = accounts.create_display_token(store, mid, actor="test")
    server = LiveServer(app_for(store)).start()
    try:
        hall = browser.new_page(viewport={"width": 1280, "height": 720})
        hall.goto(f"{server.url}/hall/{mid}?token={token}")
        expect(hall.locator("#pending")).to_have_text("1")  # 待处理: the refused sheet
        expect(hall.locator("#provisional")).to_be_visible()
        first = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        first.set_default_timeout(30_000)
        _log_in(first, server.url, "operator")
        first.goto(f"{server.url}/meetings/{mid}")
        expect(first.locator("#ledger-provisional")).to_be_visible()
        row = first.locator(f"#ledger-open tr[data-page='{page_id}']")
        expect(row).to_contain_text("M0002-torn.png")
        first.screenshot(path=str(SHOTS / "ledger.png"), full_page=True)
        row.locator(f"a[data-enter='{page_id}']").click()
        expect(first.locator("#entry-image")).to_be_visible()
        form = first.locator("#enter-form")
        form.locator("fieldset[data-field='category'] input[value='middle']").check()
        form.locator("fieldset[data-field='pos.director'] input[value='P310027']").check()
        form.locator("fieldset[data-field='pos.deputy'] input[value='P310061']").check()
        form.locator("button[type=submit]").click()  # no reason yet: the browser refuses
        expect(first.locator("#entry")).to_have_count(0)
        form.locator("input[name=why]").fill("两角缺失，读卡机拒收")
        form.locator("button[type=submit]").click()
        expect(first.locator("#entry-state")).to_have_text("待确认")
        expect(first.locator("#confirm-hint")).to_be_visible()  # not for the one who keyed it
        expect(first.locator("#entered-by")).to_have_text("operator")
        expect(first.locator("#entry-image")).to_be_visible()  # loaded beside the fields
        first.screenshot(path=str(SHOTS / "enter.png"), full_page=True)
        assert meeting_results(store, mid).forms[0].result.reconciliation.returned == 1

        second = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        second.set_default_timeout(30_000)
        _log_in(second, server.url, "admin")
        second.goto(f"{server.url}/meetings/{mid}/pages/{page_id}/enter")
        marks = second.locator("#entry-marks")
        expect(marks).to_contain_text("李红梅")  # the candidate's printed name, not its id
        second.locator("#confirm-form input[name=why]").fill("与图像核对一致")
        second.locator("#confirm-form button[type=submit]").click()
        expect(second.locator("#entry-state")).to_have_text("已确认")
        expect(second.locator("#confirmed-by")).to_have_text("admin")
        expect(second.locator("#entry-image")).to_be_visible()
        second.screenshot(path=str(SHOTS / "confirmed.png"), full_page=True)
        second.goto(f"{server.url}/meetings/{mid}")
        expect(second.locator("#ledger-provisional")).to_have_count(0)
        expect(hall.locator("#read")).to_have_text("2", timeout=10_000)  # no reload
        expect(hall.locator("#provisional")).to_be_hidden()
        expect(second.locator("#ledger-sum")).to_contain_text("手工录入")
        result = meeting_results(store, mid).forms[0].result
        assert result.reconciliation.returned == 2 and not result.provisional
        # the sheet found by its serial: its page, state and both decisions
        second.fill("#find-form input[name=serial]", "M0002")
        second.click("#find-form button[type=submit]")
        expect(second.locator("#sheet-pages")).to_contain_text("手工录入")
        expect(second.locator("#sheet-decisions")).to_contain_text("与图像核对一致")
        expect(second.locator("#sheet-decisions")).to_contain_text("确认录入")
        expect(second.locator("#sheet-image")).to_be_visible()
        second.screenshot(path=str(SHOTS / "find.png"), full_page=True)
    finally:
        server.stop()
        store.close()
