"""The hall screen holds a real meeting at 1920×1080 and 1280×720: 2 and 4 forms, a position of
22 candidates with long and minority names, two 张伟 told apart by 职务, 12 leaders rated on
德/能/勤/绩/廉 — in Debian's chromium (Playwright) against a real uvicorn.

Checked in the browser, not by eye alone: every chart text lies inside its panel's chart box
(no value label under the subtitle), no two texts of a chart overlap (names do not run into
the next), titles and subtitles are not cut, a shortened name shows in full on hover, the
evaluation panel counts people (sheets), and forms that returned different counts each show
their own. Screenshots go to /tmp/hall-look/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from tally import accounts
from tally.meetings import FormText, create_meeting
from tally.store import Store, open_store
from tests.server_helpers import (
    CHROMIUM,
    add_users,
    chromium,
    ingest_readings,
    live_server,
    reading,
)

SHOTS = Path("/tmp/hall-look")
ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "tests" / "specs" / "people"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]

LONG_NAMES = ["买买提江·阿不都热合曼", "阿依古丽·买买提", "欧阳建国", "司马相如", "诸葛明远",
              "热依拉·艾合买提", "张伟", "张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆", "赵敏",
              "黄磊", "周杰", "吴昊", "徐丽", "孙强", "马超", "朱琳", "胡歌"]


def _big_position_spec(folder: Path) -> Path:
    """people-rec with a third position of 22 candidates (two of them 张伟, told apart)."""
    data = yaml.safe_load((PEOPLE / "recommendation.yaml").read_text(encoding="utf-8"))
    data["id"] = "people-rec22"
    data["recommendation"]["positions"] = [{
        "id": "members", "title": "科室负责人人选", "quota": 3, "writein_lines": 0,
        "candidates": [{"id": f"P43{i:04d}", "name": n, "post": f"第{i + 1}科副科长"}
                       for i, n in enumerate(LONG_NAMES)]}]
    path = folder / "rec22.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _ballots(store: Store, mid: int, spec_path: Path, n: int, salt: str) -> None:
    layout = layout_to_dict(compile_layout(load_spec(spec_path)))
    cats = [o for f in layout["fields"] if f["id"] == "category" for o in f["options"]]
    docs: list[dict[str, Any]] = []
    pages = max(f["page"] for f in layout["fields"])
    for k in range(n):
        for page in range(1, pages + 1):
            marked: dict[str, list[str]] = {}
            for f in layout["fields"]:
                if f["page"] != page:
                    continue
                opts = [o for o in f["options"] if not o.startswith("writein")]
                if f["id"] == "category":
                    marked["category"] = [cats[k % len(cats)]]
                elif f["max"] > 1:
                    marked[f["id"]] = opts[k % len(opts):k % len(opts) + 2]
                else:
                    marked[f["id"]] = [opts[(k + len(f["id"])) % len(opts)]]
            docs.append(reading(layout, f"{salt}{k:04d}", page, marked=marked))
    ingest_readings(store, mid, docs, salt=salt)


@pytest.fixture(scope="module")
def halls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("hall")
    store = open_store(tmp / "data")
    add_users(store)
    rec22 = _big_position_spec(tmp)
    two = [PEOPLE / "recommendation.yaml", PEOPLE / "evaluation.yaml"]
    four = [rec22, PEOPLE / "evaluation.yaml", ROOT / "examples" / "satisfaction.yaml",
            ROOT / "examples" / "evaluation.yaml"]
    urls: dict[str, str] = {}
    for name, paths, counts in (("two", two, (7, 6)), ("four", four, (9, 8, 5, 6))):
        m = create_meeting(store, name=name, forms=[FormText.read(p) for p in paths],
                           actor="tester", issued=30)
        for k, (p, n) in enumerate(zip(paths, counts, strict=True)):
            _ballots(store, m.id, p, n, f"{name[0]}{k}")
        token, _ = accounts.create_display_token(store, m.id, actor="operator")
        urls[name] = f"/hall/{m.id}?token={token}"
    with live_server(store) as server:
        yield server.url, urls
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


#: in the page: every problem of the layout, as strings (empty: none)
CHECK = """() => {
  const bad = [];
  const inside = (r, box, tol) => r.left >= box.left - tol && r.right <= box.right + tol
    && r.top >= box.top - tol && r.bottom <= box.bottom + tol;
  const fits = (el, what) => {
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
      bad.push(`${what} cut: ${el.textContent}`);
  };
  const boxes = "header .unit, header .read > *, .chart h2, .chart .sub";
  for (const el of document.querySelectorAll(boxes))
    if (!el.hidden) fits(el, el.className || el.tagName);
  const main = document.getElementById("charts").getBoundingClientRect();
  for (const panel of document.querySelectorAll(".chart")) {
    const id = panel.dataset.panel;
    const pr = panel.getBoundingClientRect();
    if (!inside(pr, main, 1)) bad.push(`${id}: panel outside the screen`);
    fits(panel, `${id} panel`);
    const canvas = panel.querySelector(".canvas").getBoundingClientRect();
    const sub = panel.querySelector(".sub").getBoundingClientRect();
    if (canvas.top < sub.bottom - 1) bad.push(`${id}: chart under the subtitle`);
    if (canvas.height < 60) bad.push(`${id}: chart squeezed to ${canvas.height}px`);
    const texts = [...panel.querySelectorAll("svg text")]
      .filter((t) => t.textContent.trim() && getComputedStyle(t).opacity !== "0"
              && t.getAttribute("fill-opacity") !== "0")
      .map((t) => ({ t: t.textContent, r: t.getBoundingClientRect() }))
      .filter((x) => x.r.width > 0 && x.r.height > 0);
    if (!texts.length) bad.push(`${id}: no text drawn`);
    for (const x of texts)
      if (!inside(x.r, canvas, 1.5)) bad.push(`${id}: "${x.t}" outside its chart`);
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].r, b = texts[j].r;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1.5 && h > 1.5) bad.push(`${id}: "${texts[i].t}" overlaps "${texts[j].t}"`);
      }
  }
  return bad;
}"""


def _open(browser: Any, url: str, size: tuple[int, int]) -> Any:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url)
    page.wait_for_function("() => Number(document.body.dataset.rendered || 0) > 0",
                           timeout=20_000)
    page.evaluate("() => document.fonts.ready")
    page.wait_for_timeout(1500)  # the bars' grow-in animation
    return page


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=["1080p", "720p"])
@pytest.mark.parametrize("meeting", ["two", "four"])
def test_hall_layout_has_nothing_clipped_or_overlapping(halls: tuple[str, dict[str, str]],
                                                        browser: Any, meeting: str,
                                                        size: tuple[int, int]) -> None:
    base, urls = halls
    page = _open(browser, base + urls[meeting], size)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"hall-{meeting}-{size[0]}x{size[1]}.png"))
        problems = page.evaluate(CHECK)
        assert problems == [], "\n".join(problems)
        panels = page.locator(".chart").count()
        assert panels >= (3 if meeting == "two" else 6)
    finally:
        page.close()


def test_hall_says_each_forms_count_and_counts_people(halls: tuple[str, dict[str, str]],
                                                     browser: Any) -> None:
    base, urls = halls
    page = _open(browser, base + urls["two"], (1280, 720))
    try:
        per_form = page.locator("#per-form")
        assert per_form.is_visible()
        assert "干部民主推荐票 7" in per_form.inner_text()
        assert "领导干部民主测评表 6" in per_form.inner_text()
        assert page.locator("#read").inner_text() == "7"
        # the evaluation panel: 6 sheets are 6 people, although each has 5 sub-rows
        sub = page.locator('.chart[data-kind="stack"] .sub').first.inner_text()
        assert "6 人" in sub and "5 个分项取平均" in sub and "收回 6" in sub
        data_url = urls["two"].replace("?", "/data?", 1)
        agg = page.evaluate(f"() => fetch('{data_url}').then((r) => r.json())")
        [stack] = [s for f in agg["forms"] for s in f["stacks"]]
        assert stack["people"] == 6 and {r["people"] for r in stack["rows"]} == {6}
        assert sum(stack["rows"][0]["counts"]) == 30  # 6 sheets × 5 sub-rows, not drawn
        labels = [r["label"] for r in stack["rows"]]
        assert "张伟（党组书记、局长）" in labels and "张伟（党组成员、副局长）" in labels
    finally:
        page.close()


def test_a_shortened_name_shows_in_full_on_hover(halls: tuple[str, dict[str, str]],
                                                browser: Any) -> None:
    base, urls = halls
    page = _open(browser, base + urls["four"], (1280, 720))
    try:
        panel = page.locator('.chart[data-kind="bars"]').first
        shortened = [t for t in panel.locator("svg text").all_text_contents() if t.endswith("…")]
        assert shortened, "expected the long names shortened at 720p"
        box = panel.locator(".canvas").bounding_box()
        label = panel.locator("svg text", has_text="买买提江").first.bounding_box()
        assert box is not None and label is not None
        # over the bars of that name's row
        page.mouse.move(box["x"] + box["width"] * 0.6, label["y"] + label["height"] / 2)
        page.wait_for_timeout(400)
        tip = page.locator(".canvas div").filter(has_text="买买提江·阿不都热合曼（第1科副科长）")
        assert tip.count() >= 1
    finally:
        page.close()
