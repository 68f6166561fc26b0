"""The per-cadre view in the console: /cadres (list, search) and /cadres/{key} (meetings,
stages, years, categories, PDF, hand entry), for admins and operators only. Driven in Debian's
chromium (Playwright) against a real uvicorn; screenshots go to /tmp/cadre-look/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.cadre.view import cadre_view
from tally.store import Store, open_store
from tests.cadre_helpers import ZHAO, ZHAO_PID, evaluation_marks, meeting_with
from tests.server_helpers import (
    CHROMIUM,
    PASSWORD,
    LiveServer,
    add_users,
    app_for,
    chromium,
    client_for,
)

LOOK = Path("/tmp/cadre-look")


def build(store: Store) -> int:
    meeting_with(store, "推荐2025a", "recommendation", 2025, [
        {"category": ["staff"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": ["P310012"]},
        {"category": ["middle"], "pos.director": [ZHAO]},
    ])
    meeting_with(store, "测评2025b", "evaluation", 2025, evaluation_marks(6, 3))
    meeting_with(store, "测评2026c", "evaluation", 2026, evaluation_marks(5, 5))
    return meeting_with(store, "无编号2026d", "evaluation", 2026, evaluation_marks(4, 2),
                        with_ids=False)


def test_cadre_pages_need_an_operator_and_name_what_is_missing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    build(store)
    with client_for(store, "observer") as (client, _):
        assert client.get("/cadres").status_code == 403
        assert client.get(f"/cadres/{ZHAO_PID}").status_code == 403
    with client_for(store) as (client, _):
        r = client.get("/cadres", follow_redirects=False, headers={"Accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/cadres"
    with client_for(store, "admin") as (client, csrf):
        page = client.get("/cadres", params={"q": "赵志强"})
        assert page.status_code == 200
        assert ZHAO_PID in page.text and "未设编号（仅本会议）" in page.text
        assert client.get("/cadres/NOBODY-1").status_code == 404
        r = client.post(f"/cadres/{ZHAO_PID}/entries", data={
            "stage": "谈话推荐", "year": "2026", "meeting_label": "谈话",
            "values": "votes=40,of=30", "csrf_token": csrf})
        assert r.status_code == 400 and "more than of=30" in r.text
        pdf = client.get(f"/cadres/{ZHAO_PID}/report.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    store.close()


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")
def test_cadre_view_in_the_browser(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    LOOK.mkdir(exist_ok=True)
    store = open_store(tmp_path / "data")
    add_users(store)
    local_meeting = build(store)
    server = LiveServer(app_for(store)).start()
    try:
        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{server.url}/cadres")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("干部综合分析")
        page.fill("#cadre-q", "赵志强")
        page.click("form[role=search] button[type=submit]")
        rows = page.locator("#cadres tbody tr")
        expect(rows).to_have_count(2)  # the one with a person id, and the one without
        page.locator("#cadres a", has_text="赵志强").first.click()
        expect(page.locator("#cadre-id")).to_have_text(ZHAO_PID)
        table = page.locator("#appearances tbody tr")
        expect(table).to_have_count(3)
        expect(table.nth(0)).to_contain_text("推荐2025a")
        expect(table.nth(0)).to_contain_text("75.0%")
        expect(table.nth(2)).to_contain_text("2026")
        expect(table.nth(2)).to_contain_text("80.0%")
        expect(page.locator("table.categories")).to_have_count(3)
        # a 谈话推荐 entered by hand: logged with who, shown in place
        page.select_option("#hand-entry select[name=stage]", "谈话推荐")
        page.fill("#hand-entry input[name=year]", "2026")
        page.fill("#hand-entry input[name=meeting_label]", "2026年换届谈话推荐")
        page.fill("#hand-entry input[name=values]", "votes=12,of=30")
        page.fill("#hand-entry input[name=why]", "谈话记录汇总")
        page.click("#hand-entry button[type=submit]")
        expect(table).to_have_count(4)
        hand = table.filter(has_text="2026年换届谈话推荐")
        expect(hand).to_contain_text("40.0%")
        expect(hand).to_contain_text("operator")
        page.screenshot(path=str(LOOK / "console-cadre.png"), full_page=True)
        with page.expect_download() as dl:
            page.click("#cadre-pdf")
        assert Path(dl.value.path()).read_bytes().startswith(b"%PDF")
        # the person without a person id: one meeting only, and the page says why
        page.goto(f"{server.url}/cadres/~{local_meeting}~{ZHAO}")
        expect(page.locator("#local-only")).to_be_visible()
        expect(page.locator("#appearances tbody tr")).to_have_count(1)
        # in English
        page.goto(f"{server.url}/lang/en?next=/cadres")
        expect(page.locator("h1")).to_have_text("Cadre analysis")
        page.screenshot(path=str(LOOK / "console-cadres-en.png"), full_page=True)
    finally:
        server.stop()
    entry = next(a for a in cadre_view(store, ZHAO_PID).appearances if a.source == "hand")
    assert (entry.entered_by, entry.why) == ("operator", "谈话记录汇总")
    store.close()
