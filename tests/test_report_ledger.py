"""Every report shows the sheet ledger (issue 13, item 1: "an unreadable sheet silently leaves
the count"): `scantally report` of a one-form meeting, and of a two-form meeting narrowed with
`--form`, lists fed = the sum of the states and each refused sheet with its serial and its
reason in Chinese, under the 临时结果 banner, until the sheet is re-fed or dismissed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from typer.testing import CliRunner

from server.cli import app
from tests.tally_helpers import layout_of, reading, spec_path, tiny_image, write_readings

REC = layout_of("recommendation")
EVAL = layout_of("evaluation")
REC_ID, EVAL_ID = REC["form"]["id"], EVAL["form"]["id"]
CUT = ("only 2 of 4 corner marks found (missing: top-left, bottom-right), and the box borders "
       "were found on 3 of 20 boxes; re-scan the sheet straight and whole")
CUT_ZH = "定位角标只找到2个（共4个，缺：左上、右下），且仅在20个选框中的3个找到边框"


def _run(tmp: Path, *args: str) -> str:
    env = {"SCANTALLY_DATA": str(tmp / "data"), "SCANTALLY_DB": None, "COLUMNS": "250",
           "SCANTALLY_LANG": None}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _unreadable(layout: dict[str, Any], serial: str, source: str) -> dict[str, Any]:
    doc = reading(layout, serial, status="unreadable", source=source, reason=CUT)
    doc["marks"], doc["scores"], doc["reason_code"] = {}, {}, "not_read"
    return doc


def _ingest(tmp: Path, deck: str, rows: list[tuple[dict[str, Any], bytes]]) -> None:
    _run(tmp, "ingest", "--meeting", "m", "--readings", str(write_readings(tmp / deck, rows)))


def _report_text(tmp: Path, name: str, *args: str) -> str:
    out = tmp / "out" / name
    _run(tmp, "report", "m", "-o", str(out), *args)
    doc = pdfium.PdfDocument(str(out))
    return re.sub(r"\s+", "", "".join(doc[i].get_textpage().get_text_range()
                                      for i in range(len(doc))))


def _page_id(tmp: Path, serial: str, state: str) -> int:
    import json

    doc = json.loads(_run(tmp, "ledger", "m", "--json"))
    return next(p["page_id"] for p in doc["pages"]
                if p["serial"] == serial and p["state"] == state)


def test_one_form_report_lists_the_refused_sheet_until_it_is_refed(tmp_path: Path) -> None:
    _run(tmp_path, "meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
         "--who", "甲")
    _ingest(tmp_path, "d1", [
        (reading(REC, "S1", marked={"category": ["middle"], "pos.director": ["P310012"]}),
         tiny_image(1)),
        (_unreadable(REC, "S2", "s2-jam.png"), tiny_image(2)),
    ])
    text = _report_text(tmp_path, "r1.pdf")
    assert "选票台账" in text
    assert "送入2页=已计入1+拒收待处理1" in text
    # the refused sheet with its serial, state and reason in Chinese, and the banner
    ledger_at = text.index("未直接计入或待处理的页")
    listed = text[ledger_at:]
    assert "S2" in listed and "拒收待处理（待处理）" in listed and CUT_ZH in listed
    assert "corner" not in text  # never the stored English sentence
    assert "临时结果：尚有1页待处理" in text and "本报告为临时结果" in text

    # re-fed and read: the refused page is a duplicate of the counted one, nothing is open
    _ingest(tmp_path, "d2", [
        (reading(REC, "S2", marked={"category": ["staff"], "pos.director": ["P310027"]},
                 source="s2-again.png"), tiny_image(3)),
    ])
    text = _report_text(tmp_path, "r2.pdf")
    assert "送入3页=已计入2+重复1" in text
    assert "临时结果" not in text and "拒收待处理（待处理）" not in text
    assert "未直接计入或待处理的页" not in text and CUT_ZH not in text


def test_a_report_narrowed_to_a_form_shows_that_forms_ledger(tmp_path: Path) -> None:
    _run(tmp_path, "meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
         "--form", str(spec_path("evaluation")), "--who", "甲")
    _ingest(tmp_path, "d1", [
        (reading(REC, "R1", marked={"category": ["middle"], "pos.director": ["P310012"]}),
         tiny_image(1)),
        (_unreadable(EVAL, "E9", "e9-torn.png"), tiny_image(2)),
    ])
    rec = _report_text(tmp_path, "rec.pdf", "--form", REC_ID)
    assert "选票台账" in rec and "送入1页=已计入1" in rec
    assert "E9" not in rec and "临时结果" not in rec  # the other form's page is not this one's

    ev = _report_text(tmp_path, "eval.pdf", "--form", EVAL_ID)
    assert "选票台账" in ev and "送入1页=拒收待处理1" in ev
    assert "E9" in ev and CUT_ZH in ev and "临时结果：尚有1页待处理" in ev

    whole = _report_text(tmp_path, "all.pdf")  # the meeting's report: both forms' pages
    assert "送入2页=已计入1+拒收待处理1" in whole and "E9" in whole and "临时结果" in whole

    page = _page_id(tmp_path, "E9", "refused")
    _run(tmp_path, "review", "decide", f"{page}:unreadable", "--dismiss", "--who", "乙",
         "--why", "投票人撕毁后交回工作组", "-m", "m")
    ev = _report_text(tmp_path, "eval2.pdf", "--form", EVAL_ID)
    assert "送入1页=已排除1" in ev and "临时结果" not in ev
    assert "E9" in ev and "投票人撕毁后交回工作组" in ev and "乙" in ev
