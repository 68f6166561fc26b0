"""The acceptance test of a whole meeting (issue 13), in Debian's chromium against a real uvicorn:
a 民主推荐 with two candidates named 张伟 and a two-page 民主测评, created in the console from
their specs; simulated sheets rendered to JPEG and uploaded; a sheet the engine refuses (its QR
code blotted) re-fed and the refused image dismissed; a sheet that cannot be re-scanned keyed by
hand by one operator and confirmed by a second login in another browser context; a scribbled
box called 涂改作废 at review; a write-in typed and then suggested. At every step the ledger
balances (fed = the sum of the states, in ledger.json and on the console page) and the
whole-meeting PDF says 临时结果 and lists the refused page until it is resolved, and not after;
the namesakes are told apart (张伟（职务）) in the PDF and on the hall screen.

Screenshots (console, review, ledger, manual entry, hall at 1920×1080 and 1280×720, every page
of the final PDF) go to /tmp/e2e-look/."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import cv2
import pypdfium2 as pdfium
import pytest

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from omr.sim.corpus import render_marked_page
from tally.results import meeting_results
from tally.review.decisions import history
from tally.store import Store, open_store
from tests.server_helpers import PASSWORD, LiveServer, add_users, app_for
from tests.test_server_browser import CHROMIUM
from tests.test_server_browser import browser as chromium_browser

browser = chromium_browser  # the same Playwright chromium fixture

SHOTS = Path("/tmp/e2e-look")
SPECS = Path("tests/specs/people")
REC, EVA = SPECS / "recommendation.yaml", SPECS / "evaluation.yaml"
BLOT = [{"name": "qr_blot", "seed": 3}]  # the QR code under an ink blot: the engine refuses it
ZW_OFFICE, ZW_PLAN = "张伟（办公室副主任）", "张伟（规划科副科长）"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]

# the 民主推荐 sheets: serial -> (marks, cancelled boxes, write-in names, degradations)
REC_SHEETS: dict[str, tuple[dict[str, list[str]], dict[str, list[str]],
                            dict[str, dict[str, str]], list[dict[str, Any]]]] = {
    "R0001": ({"category": ["staff"], "pos.director": ["P410001"],
               "pos.deputy": ["P410011", "P410013"]}, {}, {}, []),
    "R0002": ({"category": ["middle"], "pos.director": ["P410001"], "pos.deputy": ["P410011"]},
              {"pos.deputy": ["P410012"]}, {}, []),  # a scribbled box: 涂改作废 at review
    "R0003": ({"category": ["staff"], "pos.director": ["P410002"],
               "pos.deputy": ["P410011", "writein1"]}, {}, {"pos.deputy": {"writein1": "欧阳锋"}},
              []),
    "R0004": ({"category": ["staff"], "pos.director": ["P410003"], "pos.deputy": ["P410014"]},
              {}, {}, BLOT),  # refused, then re-fed clean
    "R0005": ({"category": ["leader"], "pos.director": ["P410001"], "pos.deputy": ["P410013"]},
              {}, {}, []),
    "R0006": ({"category": ["staff"], "pos.director": ["P410002"], "pos.deputy": ["P410012"]},
              {}, {}, BLOT),  # refused, cannot be re-scanned: keyed by hand
}
LEVELS = ("excellent", "competent", "basic")


def _jpeg(tmp: Path, spec: Path, name: str, marks: dict[str, list[str]], serial: str,
          **kwargs: Any) -> Path:
    image = render_marked_page(spec, marks, serial=serial, **kwargs)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    path = tmp / f"{name}.jpg"
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def _eval_sheets(tmp: Path) -> list[Path]:
    """Six two-page 民主测评 sheets, every sub-row marked (a level chosen per sheet and row)."""
    fields = layout_to_dict(compile_layout(load_spec(EVA)))["fields"]
    cats = ["leader", "middle", "staff", "staff", "middle", "staff"]
    out: list[Path] = []
    for n in range(6):
        serial = f"E{n + 1:04d}"
        for page in (1, 2):
            marks = {f["id"]: [LEVELS[(n + i) % len(LEVELS)]] for i, f in enumerate(fields)
                     if f["page"] == page and f["id"].startswith("leader.")}
            if page == 1:
                marks["category"] = [cats[n]]
            out.append(_jpeg(tmp, EVA, f"{serial}-p{page}", marks, serial, page=page))
    return out


def _log_in(page: Any, url: str, user: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _ledger(page: Any, url: str, mid: int, fed: int, **states: int) -> dict[str, Any]:
    """The ledger as ledger.json and the console page give it: it balances, with these figures."""
    doc = page.request.get(f"{url}/meetings/{mid}/ledger.json").json()
    assert doc["balanced"] and doc["fed"] == fed == sum(doc["states"].values()), doc
    for rows in (doc["by_form"], doc["by_batch"]):
        assert sum(r["fed"] for r in rows) == fed
        assert all(r["balanced"] and r["fed"] == sum(r["states"].values()) for r in rows)
    assert {k: v for k, v in doc["states"].items() if v} == states, doc["states"]
    page.goto(f"{url}/meetings/{mid}")
    shown = page.locator("#ledger-sum").inner_text()
    figures = [int(x) for x in re.findall(r"\d+", shown)]
    assert figures[0] == fed and sum(figures[1:]) == fed, shown
    return doc


def _pdf(page: Any, url: str, mid: int) -> tuple[str, pdfium.PdfDocument]:
    """The whole meeting's report: its text with white space removed, and the document."""
    r = page.request.get(f"{url}/meetings/{mid}/report.pdf")
    assert r.ok and r.body().startswith(b"%PDF")
    pdf = pdfium.PdfDocument(r.body())
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    return re.sub(r"\s+", "", text), pdf


def _upload(page: Any, files: list[Path], pages: int) -> None:
    page.set_input_files("#upload-form input[type=file]", [str(p) for p in files])
    page.click("#upload-form button[type=submit]")
    from playwright.sync_api import expect

    expect(page.locator(".job [data-state=done]").first).to_be_visible(timeout=90_000)
    expect(page.locator(".job [data-pages]").first).to_have_text(str(pages))


def _decide(page: Any, item_id: str, key: str, why: str, name: str = "") -> None:
    from playwright.sync_api import expect

    item = page.locator(f"section.item[data-item='{item_id}']")
    item.click()
    if name:
        item.locator("input.writein").fill(name)
    item.locator("input.why").fill(why)
    item.locator("input.why").press("Escape")
    page.keyboard.press(key)
    expect(item).to_have_class(re.compile(r"\bdone\b"))


def _images_loaded(page: Any, selector: str) -> None:
    """Wait until every image under `selector` has loaded (none broken): the crops are real."""
    for _ in range(100):
        if page.locator(selector).evaluate_all(
                "(imgs) => imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0)"):
            return
        time.sleep(0.2)
    raise AssertionError(f"images {selector} did not load")


def _votes(store: Store, mid: int, field: str, candidate: str) -> int:
    form = next(f for f in meeting_results(store, mid).forms if f.form_id == "people-rec")
    assert form.result.recommendation is not None
    pos = next(p for p in form.result.recommendation.positions if p.field == field)
    return next(c for c in pos.candidates if c.id == candidate).votes["_all"]


def test_a_two_form_meeting_from_creation_to_the_final_report(tmp_path: Path, browser
                                                              ) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    SHOTS.mkdir(exist_ok=True)
    store: Store = open_store(tmp_path / "data")
    add_users(store)
    rec = {s: _jpeg(tmp_path, REC, s, m, s, cancelled=c, writeins=w, degradations=d)
           for s, (m, c, w, d) in REC_SHEETS.items()}
    refeed = _jpeg(tmp_path, REC, "R0004-refeed", REC_SHEETS["R0004"][0], "R0004")
    evals = _eval_sheets(tmp_path)
    server = LiveServer(app_for(store, read_threads=2)).start()
    url = server.url
    try:
        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        a = ctx.new_page()
        a.set_default_timeout(30_000)
        _log_in(a, url, "operator")
        # -- creation: both forms from their specs, 应到 per category, 发出 --------------------
        expect(a.locator("h1")).to_have_text("会议列表")
        a.fill("input[name=name]", "江州市交通运输局干部推荐测评会")
        a.set_input_files("input[name=forms]", [str(REC), str(EVA)])
        a.fill("input[name=expected]", "leader=1,middle=2,staff=3")
        a.fill("input[name=issued]", "6")
        a.click("#new-meeting button[type=submit]")
        expect(a.locator("h1")).to_have_text("江州市交通运输局干部推荐测评会")
        mid = int(a.url.rstrip("/").rsplit("/", 1)[1])
        a.click("#hall button[type=submit]")
        hall_url = a.locator("#new-hall-url").get_attribute("href")
        assert hall_url and "token=" in hall_url
        hall = browser.new_page(viewport={"width": 1920, "height": 1080})
        hall.goto(hall_url)
        expect(hall.locator("#read")).to_have_text("0")
        _ledger(a, url, mid, 0)

        # -- the first stack: 6 + 6 sheets, two of them refused ---------------------------------
        _upload(a, [*rec.values(), *evals], 18)
        doc = _ledger(a, url, mid, 18, counted=16, refused=2)
        assert doc["provisional"]
        refused = {p["source"].split("#")[0]: p["page_id"] for p in doc["pages"]
                   if p["state"] == "refused"}
        assert set(refused) == {"R0004.jpg", "R0006.jpg"}
        expect(a.locator("#ledger-provisional")).to_be_visible()
        expect(a.locator("#ledger-open tr[data-state=refused]")).to_have_count(2)
        # 待处理 on the hall: the refused pages and the pages waiting at review
        assert doc["unresolved"] == 2 + len({p["page_id"] for p in doc["pages"]
                                             if p["state"] == "counted" and p["unresolved"]})
        expect(hall.locator("#pending")).to_have_text(str(doc["unresolved"]), timeout=10_000)
        text, _ = _pdf(a, url, mid)
        assert "临时结果" in text and text.count("拒收待处理（待处理）") == 2
        assert ZW_OFFICE in text and ZW_PLAN in text
        a.goto(f"{url}/meetings/{mid}")
        unresolved = a.locator("#alarms [data-code=pages_unresolved]")
        expect(unresolved).to_have_count(1)  # a meeting-wide notice once, not once per form
        # the evaluation's warnings as the summary gives them: one line per cadre, with its n
        summary = a.locator("details.warnings[data-form=people-eval] > div[data-summary]")
        expect(summary).to_have_count(12)
        expect(summary.first).to_contain_text("张伟（党组书记、局长）")
        expect(summary.first).to_contain_text("n=")
        a.screenshot(path=str(SHOTS / "console-meeting.png"), full_page=True)
        a.locator("#ledger").screenshot(path=str(SHOTS / "ledger.png"))

        # -- review: 涂改作废 on the scribbled box, the write-in typed ---------------------------
        pages = {p["source"].split("#")[0]: p["page_id"] for p in doc["pages"]}
        a.goto(f"{url}/meetings/{mid}/review")
        r2, r3 = pages["R0002.jpg"], pages["R0003.jpg"]
        scribbled = a.locator(f"section.item[data-item='{r2}:pos.deputy:P410012']")
        expect(scribbled).to_contain_text("买买提江·阿不都热合曼")
        _images_loaded(a, "#items img")
        a.screenshot(path=str(SHOTS / "review.png"), full_page=True)
        _decide(a, f"{r2}:pos.deputy:P410012", "c", "涂改后作废，不计票")
        _decide(a, f"{r3}:pos.deputy:writein1", "w", "照图像录入", name="欧阳锋")
        with store.session(readonly=True) as s:
            kinds = {(d.page_id, d.option): (d.kind, d.who, d.why) for d in history(s, mid)}
        assert kinds[(r2, "P410012")] == ("cancel", "operator", "涂改后作废，不计票")
        assert _votes(store, mid, "pos.deputy", "P410012") == 0  # a cancellation is no vote
        a.reload()
        expect(a.locator("#writein-names option[value='欧阳锋']")).to_have_count(1)
        _ledger(a, url, mid, 18, counted=16, refused=2)  # decisions move no page

        # -- the re-feed of R0004; its refused image dismissed ----------------------------------
        _upload(a, [refeed], 1)
        _ledger(a, url, mid, 19, counted=17, refused=2)
        text, _ = _pdf(a, url, mid)
        assert "临时结果" in text and text.count("拒收待处理（待处理）") == 2
        a.goto(f"{url}/meetings/{mid}/review")
        _decide(a, f"{refused['R0004.jpg']}:unreadable", "d", "已重新送入，以重新送入的图像计入")
        _ledger(a, url, mid, 19, counted=17, refused=1, dismissed=1)
        text, _ = _pdf(a, url, mid)
        assert "临时结果" in text and text.count("拒收待处理（待处理）") == 1

        # -- R0006 cannot be re-scanned: operator keys it, admin confirms ------------------------
        r6 = refused["R0006.jpg"]
        a.goto(f"{url}/meetings/{mid}")
        a.locator(f"#ledger-open a[data-enter='{r6}']").click()
        expect(a.locator("#entry-image")).to_be_visible()
        form = a.locator("#enter-form")
        form.locator("input[name=serial]").fill("R0006")
        for field, options in REC_SHEETS["R0006"][0].items():
            for o in options:
                form.locator(f"fieldset[data-field='{field}'] input[value='{o}']").check()
        expect(form.locator("fieldset[data-field='pos.director']")).to_contain_text(ZW_OFFICE)
        form.locator("input[name=why]").fill("编号被墨迹覆盖，选票已破损无法重扫")
        form.locator("button[type=submit]").click()
        expect(a.locator("#entry-state")).to_have_text("待确认")
        expect(a.locator("#confirm-hint")).to_be_visible()  # not by the one who keyed it
        a.screenshot(path=str(SHOTS / "manual-entry.png"), full_page=True)
        _ledger(a, url, mid, 19, counted=17, manual=1, dismissed=1)
        text, _ = _pdf(a, url, mid)
        assert "临时结果" in text and "手工录入（待处理）" in text
        b = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        b.set_default_timeout(30_000)
        _log_in(b, url, "admin")
        b.goto(f"{url}/meetings/{mid}/pages/{r6}/enter")
        b.locator("#confirm-form input[name=why]").fill("与图像核对一致")
        b.locator("#confirm-form button[type=submit]").click()
        expect(b.locator("#entry-state")).to_have_text("已确认")
        expect(b.locator("#confirmed-by")).to_have_text("admin")
        b.screenshot(path=str(SHOTS / "manual-confirmed.png"), full_page=True)

        # -- resolved: nothing pending anywhere; the final report ---------------------------------
        doc = _ledger(a, url, mid, 19, counted=17, manual=1, dismissed=1)
        assert not doc["provisional"] and doc["unresolved"] == 0
        a.goto(f"{url}/meetings/{mid}/review")
        expect(a.locator("#remaining")).to_have_text("0")
        a.goto(f"{url}/meetings/{mid}")
        expect(a.locator("#ledger-provisional")).to_have_count(0)
        expect(hall.locator("#pending")).to_have_text("0", timeout=10_000)
        expect(hall.locator("#provisional")).to_be_hidden()
        results = meeting_results(store, mid)
        assert all(not f.result.provisional for f in results.forms)
        assert {f.form_id: f.result.reconciliation.returned for f in results.forms} == {
            "people-rec": 6, "people-eval": 6}
        assert _votes(store, mid, "pos.director", "P410001") == 3  # 张伟（办公室副主任）
        assert _votes(store, mid, "pos.deputy", "P410011") == 3  # 张伟（规划科副科长）
        assert _votes(store, mid, "pos.deputy", "P410012") == 1  # the hand-keyed sheet only
        with a.expect_download() as dl:
            a.click("a[data-report=meeting-pdf]")
        final = Path(dl.value.path()).read_bytes()
        pdf = pdfium.PdfDocument(final)
        text = re.sub(r"\s+", "", "".join(pdf[i].get_textpage().get_text_range()
                                          for i in range(len(pdf))))
        assert "临时结果" not in text and "（待处理）" not in text
        assert "干部民主推荐票" in text and "领导干部民主测评表" in text  # one PDF, both forms
        assert ZW_OFFICE in text and ZW_PLAN in text and "判为涂改作废（不计票）" in text
        assert "张伟（党组书记、局长）" in text and "张伟（党组成员、副局长）" in text
        # the ledger's listed pages: who keyed and who confirmed, who dismissed, and why
        assert "operator/admin" in text and "编号被墨迹覆盖" in text and "已重新送入" in text
        for i in range(len(pdf)):
            pdf[i].render(scale=1.3).to_pil().save(SHOTS / f"report-p{i + 1:02d}.png")
        # the hall: the namesakes distinguished, at both sizes
        time.sleep(0.8)  # let the chart animation settle for the screenshots
        hall_text = hall.locator("body").inner_text()
        assert ZW_OFFICE in hall_text and ZW_PLAN in hall_text
        hall.screenshot(path=str(SHOTS / "hall-1920x1080.png"))
        hall.set_viewport_size({"width": 1280, "height": 720})
        time.sleep(0.8)
        hall.screenshot(path=str(SHOTS / "hall-1280x720.png"))
        a.screenshot(path=str(SHOTS / "console-final.png"), full_page=True)
    finally:
        server.stop()
        store.close()
