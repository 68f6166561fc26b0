"""Reasons, live-refresh notices and spec errors reach people in their language.

Every `ReasonCode` (and every key `tally.reasons` knows) has a sentence in zh-CN and en, the
console's catalogue and the report's Chinese agree; real engine sentences become Chinese with
their parameters (which corner marks are lost); the console's ledger, review queue, live
refresh JSON and spec errors follow the reader's language; the English sentence stays stored."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from omr.reading import ReasonCode
from server import i18n
from tally.db import Page
from tally.reasons import TEMPLATES, Explained, Parts, explain
from tally.report.reasons import ZH, reason_zh
from tally.store import Store, open_store
from tests.server_helpers import add_users, client_for, ingest_readings, layout_of, new_meeting
from tests.server_helpers import reading as make_reading

REC = layout_of("recommendation")
SPECS = Path(__file__).resolve().parent / "specs"


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_reason_code_has_a_sentence_in_both_languages() -> None:
    codes = [str(c) for c in ReasonCode]
    assert len(codes) >= 13
    missing = [c for c in codes if c not in TEMPLATES or c not in ZH]
    assert missing == []
    assert set(ZH) == set(TEMPLATES)  # the report knows every key, and no stale one
    zh, en = i18n.catalogue("zh-CN").messages, i18n.catalogue("en").messages
    for key, template in TEMPLATES.items():
        assert en.get(template) == template, key
        assert zh.get(template) == ZH[key], f"{key}: catalogue and report wording differ"
        assert fields(ZH[key]) == fields(template), key
        assert has_han(ZH[key]), key
    for code in codes:  # shown for a sentence of no known shape, in each language
        assert has_han(i18n.reason(code, "something new went wrong", "zh-CN")), code
        assert i18n.reason(code, "something new went wrong", "en") == "something new went wrong"
        # a page with a code and no sentence: the code's sentence, in either language
        assert i18n.reason(code, "", "en") == TEMPLATES[code]
        assert i18n.reason(code, "", "zh-CN") == ZH[code]


def test_real_engine_sentences_become_chinese_with_their_parameters() -> None:
    from tests.test_omr_engine import SHEET, _cover_fiducial, _read

    sheet = SHEET.copy()
    for i in (0, 3):
        _cover_fiducial(sheet, i)
    rng = np.random.default_rng(1)
    # crumple it (as test_omr_engine does) so the box borders cannot fix it
    from tests.omr_helpers import crumpled
    from tests.test_omr_engine import DOC

    warped = crumpled(sheet, DOC["pages"][0]["code_mm"])
    lost = _read(warped)
    assert lost.status == "unreadable" and "missing: top-left" in lost.reason
    why = explain(str(lost.reason_code), lost.reason)
    assert isinstance(why, Explained) and why.key == "corner_marks_missing", lost.reason
    found = why.params["found"]
    assert f"only {found} of 4 corner marks found" in lost.reason and why.params["total"] == "4"
    zh = reason_zh(str(lost.reason_code), lost.reason)
    assert "左上" in zh and "左下" in zh and f"只找到 {found} 个" in zh and "边框" in zh, zh
    assert not any(w in zh for w in ("corner", "top-left", "borders")), zh
    assert i18n.reason(str(lost.reason_code), lost.reason, "en") == lost.reason

    noise = rng.integers(0, 256, (1600, 1200), dtype=np.uint8)
    noisy = _read(noise)
    assert noisy.status == "unreadable" and noisy.reason.startswith("QR code unreadable")
    assert i18n.reason(str(noisy.reason_code), noisy.reason, "zh-CN").startswith("二维码无法识别")
    blank = _read(np.full((1600, 1200), 255, np.uint8))
    assert i18n.reason(str(blank.reason_code), blank.reason, "zh-CN") == "空白背面"


def test_a_review_sentence_is_explained_part_by_part() -> None:
    sentence = ("QR code unreadable (none found, or damaged); check the sheet is one of ours "
                "and re-scan it; re-feed the sheet, enter its marks by hand, or dismiss the page")
    parts = explain("not_read", sentence)
    assert isinstance(parts, Parts) and len(parts.parts) == 2
    assert i18n.reason(None, sentence, "zh-CN") == (
        "二维码无法识别（未找到或已损坏）；请确认是本系统印制的票并重新扫描；"
        "请重新送入该票、按图像手工录入，或排除该页")
    assert i18n.reason(None, sentence, "en") == sentence
    # an unknown head keeps its words; the known advice is still translated
    mixed = i18n.reason(None, "two corners torn; dismiss it with a reason", "zh-CN")
    assert mixed == "two corners torn；请填写原因后排除"


def _refused_readings() -> tuple[dict, dict]:
    """Two refused pages: one with corner marks lost (serial S2), one whose code is gone."""
    lost = ("only 3 of 4 corner marks found (missing: bottom-right), and the box borders were "
            "found on only 40% of the boxes; re-scan the sheet straight and whole")
    torn = make_reading(REC, "S2", status="unreadable", source="s2-torn.png", reason=lost)
    torn["marks"], torn["scores"] = {}, {}
    qr = make_reading(REC, None, status="unreadable", source="no-code.png",
                      reason="QR code unreadable (none found, or damaged); check the sheet is "
                             "one of ours and re-scan it")
    qr.update(marks={}, scores={}, form=None, page=None)
    return torn, qr


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, int, dict[str, int]]]:
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = new_meeting(store, "原因会议")
    torn, qr = _refused_readings()
    # a sentence of no known shape: shown by its code's sentence in Chinese, as is in English
    broken = make_reading(REC, None, status="unreadable", source="broken.tif",
                          reason="cannot open the file: OSError: truncated TIFF strip")
    broken.update(marks={}, scores={}, form=None, page=None, reason_code="decode_failed")
    results = ingest_readings(store, mid, [
        make_reading(REC, "S1", marked={"pos.director": ["P310012"]}, source="s1.png"), torn,
        make_reading(REC, "S3", doubtful={"pos.director": ["P310027"]}, source="s3.png"), qr,
        broken])
    yield store, mid, {"S1": results[0].page_id, "S2": results[1].page_id,
                       "S3": results[2].page_id, "qr": results[3].page_id}
    store.close()


def test_console_ledger_and_review_show_reasons_in_the_ui_language(world) -> None:  # type: ignore[no-untyped-def]
    store, mid, pages = world
    with client_for(store, "operator") as (c, _csrf):
        zh_meeting = c.get(f"/meetings/{mid}").text
        zh_review = c.get(f"/meetings/{mid}/review").text
        c.get("/lang/en?next=/")
        en_meeting = c.get(f"/meetings/{mid}").text
        en_review = c.get(f"/meetings/{mid}/review").text
    assert "定位角标只找到 3 个（共 4 个，缺：右下）" in zh_meeting
    assert "二维码无法识别" in zh_meeting and "QR code unreadable" not in zh_meeting
    assert "only 3 of 4 corner marks found (missing: bottom-right)" in en_meeting
    assert "定位角标" not in en_meeting
    assert "存疑标记：该框是否已划？" in zh_review and "doubtful mark" not in zh_review
    assert "请重新送入该票、按图像手工录入，或排除该页" in zh_review
    assert "? sheet ? page ?" not in zh_review and "未识别表单 · 编号 ? · 第 ? 页" in zh_review
    assert "doubtful mark: is the box marked?" in en_review
    # by its code where the sentence has no known shape (ledger and review alike)
    assert zh_review.count("文件无法解码为图像，请重新扫描") == 1, zh_review
    assert "文件无法解码为图像，请重新扫描" in zh_meeting and "truncated TIFF" not in zh_meeting
    assert "cannot open the file: OSError: truncated TIFF strip" in en_review
    assert "truncated TIFF strip" in en_meeting
    assert "Unidentified form · serial ? · page ?" in en_review or "serial ? · page ?" in en_review
    with store.session(readonly=True) as s:  # the record stays English
        row = s.get(Page, pages["S2"])
        assert row is not None and row.reason.startswith("only 3 of 4 corner marks")


def test_live_refresh_json_carries_notices_in_the_request_language(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = new_meeting(store, "实时会议", expected={"leader": 10}, present={"leader": 4},
                      issued=10)
    ingest_readings(store, mid, [make_reading(REC, "S1", marked={"pos.director": ["P310012"]},
                                              source="s1.png")])
    with client_for(store, "observer") as (c, _csrf):
        zh = c.get(f"/meetings/{mid}/live.json").json()
        record = c.get(f"/api/meetings/{mid}/tally").json()
        c.get("/lang/en?next=/")
        en = c.get(f"/meetings/{mid}/live.json").json()
        record_en = c.get(f"/api/meetings/{mid}/tally").json()
    store.close()
    zh_texts = [n["message"] for r in zh for n in r["warnings"] + r["alarms"]]
    en_texts = [n["message"] for r in en for n in r["warnings"] + r["alarms"]]
    assert zh_texts and len(zh_texts) == len(en_texts)
    assert all(has_han(t) for t in zh_texts)
    # a category's own name (“班子成员”) is the meeting's data; nothing else Chinese
    assert [t for t in en_texts if has_han(re.sub("“[^”]*”", "", t))] == [], en_texts
    assert any("participation" in t for t in en_texts), en_texts
    # the summary lines too, by their templates: the same lines, in English
    zh_lines = [x["message"] for x in zh[0]["warning_summary"]]
    en_lines = [x["message"] for x in en[0]["warning_summary"]]
    assert zh_lines and len(en_lines) == len(zh_lines) and all(has_han(x) for x in zh_lines)
    assert [x for x in en_lines if has_han(re.sub("“[^”]*”", "", x))] == [], en_lines
    assert [row["label"] for row in en[0]["reconciliation"]["rows"]][-1] != "全体"
    assert record == record_en  # the API's record does not change with the reader


def test_spec_errors_in_the_console_follow_the_ui_language(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    quota = (SPECS / "invalid" / "quota_too_large.yaml").read_bytes()
    with client_for(store, "operator") as (c, csrf):
        def create() -> str:
            r = c.post("/meetings", headers={"X-CSRF-Token": csrf}, data={"name": "坏表"},
                       files={"forms": ("quota.yaml", quota, "application/yaml")})
            assert r.status_code == 400, r.text
            return r.text

        zh = create()
        c.get("/lang/en?next=/")
        en = create()
    store.close()
    assert "quota.yaml：表单定义有误" in zh and "超过其 2 名候选人与 1 个另推栏之和" in zh, zh
    assert "字段“recommendation.positions.0.quota”" in zh
    assert "exceeds its 2 candidates and 1 write-in lines" not in zh
    assert "quota.yaml: invalid form spec" in en
    assert "quota 4 of position &#39;director&#39; exceeds its 2 candidates and 1 write-in" in en


def test_namesakes_without_a_post_are_refused_in_chinese() -> None:
    from forms.load import SpecError, parse_spec

    text = (SPECS / "people" / "recommendation.yaml").read_text(encoding="utf-8")
    # the two 张伟 left without a post or profile: refused, saying so in either language
    bare = text.replace("{id: P410001, name: 张伟, post: 办公室副主任, profile: 男，1980年生，"
                        "现任办公室副主任}", "{id: P410001, name: 张伟}")
    bare = bare.replace("{id: P410011, name: 张伟, post: 规划科副科长, profile: 男，1986年生，"
                        "现任规划科副科长}", "{id: P410011, name: 张伟}")
    assert bare.count("name: 张伟}") == 2
    with pytest.raises(SpecError) as caught:
        parse_spec(bare, "people.yaml")
    zh = i18n.spec_error_text(caught.value, "zh-CN")
    assert "两人同名 '张伟'" in zh and "请为每人填写能区分二人的职务" in zh, zh
    assert i18n.spec_error_text(caught.value, "en") == str(caught.value)


def test_the_cli_speaks_chinese_on_request_and_english_by_default(tmp_path: Path) -> None:
    import os

    from tests.tally_helpers import cli, spec_path, tiny_image, write_readings

    data = tmp_path / "data"

    def run(*args: str, code: int = 0, env_lang: str | None = None) -> str:
        saved = os.environ.pop("SCANTALLY_LANG", None)
        if env_lang:
            os.environ["SCANTALLY_LANG"] = env_lang
        try:
            result = cli(*args, data=data)
        finally:
            os.environ.pop("SCANTALLY_LANG", None)
            if saved is not None:
                os.environ["SCANTALLY_LANG"] = saved
        assert result.returncode == code, result.stdout + result.stderr
        return result.stdout + result.stderr

    made = run("--lang", "zh-CN", "meeting", "new", "--name", "m", "--form",
               str(spec_path("recommendation")), "--who", "甲")
    assert "已创建" in made and "个表单" in made, made
    lost = ("only 3 of 4 corner marks found (missing: bottom-right), and the box borders were "
            "found on only 40% of the boxes; re-scan the sheet straight and whole")
    torn = make_reading(REC, "S2", status="unreadable", source="s2.png", reason=lost)
    torn["marks"], torn["scores"] = {}, {}
    rows = [(make_reading(REC, "S1", marked={"pos.director": ["P310012"]}), tiny_image(1)),
            (torn, tiny_image(2))]
    feed = write_readings(tmp_path / "d", rows)
    ingested = run("--lang", "zh-CN", "ingest", "--meeting", "m", "--readings", str(feed))
    assert "已读页数" in ingested and "请重新送入以下选票" in ingested, ingested
    assert "缺：右下" in ingested and "corner marks" not in ingested, ingested
    ledger_zh = run("ledger", "m", env_lang="zh-CN")  # $SCANTALLY_LANG
    assert "送入 2 页" in ledger_zh and "临时结果" in ledger_zh, ledger_zh
    assert "定位角标只找到 3 个" in ledger_zh and "corner marks" not in ledger_zh
    ledger_en = run("ledger", "m")  # English by default, the sentence as stored
    assert "fed 2 =" in ledger_en and "only 3 of 4 corner marks" in ledger_en, ledger_en
    assert "定位角标" not in ledger_en
    tallied = run("--lang", "zh-CN", "tally", "m")
    assert "临时结果：尚有待处理的页" in tallied and "结果 sha256" in tallied, tallied
    review = run("--lang", "zh-CN", "review", "--meeting", "m")
    assert "请重新送入该票" in review or "定位角标" in review, review
    missing = run("--lang", "zh-CN", "tally", "nope", code=2)
    assert "错误" in missing and "本数据库中没有会议 'nope'" in missing, missing
    assert "no meeting 'nope' in this store" in run("tally", "nope", code=2)
    assert "give one of en, zh-CN" in run("--lang", "fr", "ledger", "m", code=2)


def test_the_pdf_report_lists_a_refused_sheet_with_its_reason_in_chinese(tmp_path: Path) -> None:
    """The meeting's PDF (two forms: it opens with the sheet ledger) lists the refused pages
    with their reasons in the report's Chinese."""
    import pypdfium2 as pdfium

    from tally.report.meeting import meeting_report

    store = open_store(tmp_path / "data")
    mid = new_meeting(store, "两表会议", forms=("recommendation", "evaluation"))
    torn, qr = _refused_readings()
    ingest_readings(store, mid, [make_reading(REC, "S1", marked={"pos.director": ["P310012"]},
                                              source="s1.png"), torn, qr])
    _name, content = meeting_report(store, mid, "pdf", operator="甲")
    store.close()
    pdf = pdfium.PdfDocument(content)
    try:
        text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    flat = re.sub(r"\s+", "", text)  # table cells wrap
    assert "定位角标只找到3个（共4个，缺：右下）" in flat, flat[:3000]
    assert "二维码无法识别" in flat
    assert "corner marks found" not in text and "QR code unreadable" not in text


def test_meeting_errors_in_the_console_follow_the_ui_language(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = new_meeting(store, "已有会议")
    from tests.tally_helpers import spec_path

    spec_bytes = spec_path("recommendation").read_bytes()
    with client_for(store, "operator") as (c, csrf):
        def facts() -> str:
            r = c.post(f"/meetings/{mid}/facts", headers={"X-CSRF-Token": csrf},
                       data={"expected": "leader=3,visitor=2"})
            assert r.status_code == 400, r.text
            return r.text

        def same_name() -> str:
            r = c.post("/meetings", headers={"X-CSRF-Token": csrf}, data={"name": "已有会议"},
                       files={"forms": ("rec.yaml", spec_bytes, "application/yaml")})
            assert r.status_code == 400, r.text
            return r.text

        zh_facts, zh_name = facts(), same_name()
        c.get("/lang/en?next=/")
        en_facts, en_name = facts(), same_name()
    store.close()
    import html

    zh_facts, en_facts = html.unescape(zh_facts), html.unescape(en_facts)
    zh_name, en_name = html.unescape(zh_name), html.unescape(en_name)
    assert "'visitor' 不是本会议表单的投票人类别" in zh_facts, zh_facts
    assert "'visitor' is not a voter category of this meeting's forms" in en_facts, en_facts
    assert "已有名为 '已有会议' 的会议" in zh_name, zh_name
    assert "a meeting named '已有会议' already exists" in en_name, en_name
