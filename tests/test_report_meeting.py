"""One report for a whole meeting: a recommendation and an evaluation handed out together,
with two candidates named 张伟 and two leaders named 张伟, long and minority names, a void
block, doubtful marks decided at review and a sheet voided with a reason.

`scantally report` writes ONE PDF holding both forms (and one workbook, one ZIP); `--form`
narrows it. The appendix names people (never `leader.P…` / `pos.…` ids), lists every void
block, shows crops of the real page images and who decided what and why, and is there after
review is complete; the warning summary comes before the detail.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from typer.testing import CliRunner

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from forms.render import render_pdf
from server.cli import app
from tally.review.queue import review_queue
from tally.store import open_store
from tests.tally_helpers import reading, write_readings

PEOPLE = Path(__file__).resolve().parent / "specs" / "people"
REC, EVAL = PEOPLE / "recommendation.yaml", PEOPLE / "evaluation.yaml"


def _run(tmp_path: Path, *args: str, code: int = 0):  # type: ignore[no-untyped-def]
    env = {"SCANTALLY_DATA": str(tmp_path / "data"), "SCANTALLY_DB": None, "COLUMNS": "250"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def _pages_png(spec_path: Path, serial: str) -> list[bytes]:
    """The printed sheet `serial` of a form, each page as a PNG (what a scanner would store)."""
    compiled = compile_layout(load_spec(spec_path))
    doc = layout_to_dict(compiled)
    pdf = pdfium.PdfDocument(render_pdf(compiled, doc["form"]["hash"], [serial]))
    out = []
    for i in range(len(pdf)):
        buf = io.BytesIO()
        pdf[i].render(scale=1.2).to_pil().convert("L").save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("meeting")
    _run(tmp, "meeting", "new", "--name", "m", "--form", str(REC), "--form", str(EVAL),
         "--expected", "leader=3,middle=3,staff=3", "--issued", "9", "--who", "组长")
    rec = layout_to_dict(compile_layout(load_spec(REC)))
    ev = layout_to_dict(compile_layout(load_spec(EVAL)))
    rows = []
    rec_sheets = [
        ("R1", "leader", {"pos.director": ["P410001"], "pos.deputy": ["P410011", "P410012"]}, {}),
        ("R2", "middle", {"pos.director": ["P410002"], "pos.deputy": ["P410012"]}, {}),
        # over the quota of 2: the 副主任 block is void on this sheet, 主任 still counts
        ("R3", "staff", {"pos.director": ["P410003"],
                         "pos.deputy": ["P410011", "P410012", "P410013"]}, {}),
        ("R4", "staff", {"pos.deputy": ["P410014"]}, {"pos.director": ["P410003"]}),
        # a write-in: the name is typed at review from the image
        ("R5", "middle", {"pos.director": ["P410002"], "pos.deputy": ["P410013", "writein1"]},
         {}),
    ]
    for serial, cat, marked, doubtful in rec_sheets:
        [png] = _pages_png(REC, serial)
        rows.append((reading(rec, serial, marked={"category": [cat], **marked},
                             doubtful=doubtful), png))
    leaders = [f["id"] for f in ev["fields"] if f["id"].startswith("leader.")]
    for k, (serial, cat) in enumerate([("E1", "leader"), ("E2", "middle"), ("E3", "staff")]):
        pngs = _pages_png(EVAL, serial)
        for page, png in enumerate(pngs, 1):
            on_page = {f["id"] for f in ev["fields"] if f["page"] == page}
            # the two 张伟 fare differently: P420001 incompetent from everyone
            marked = {fid: ["incompetent" if ".P420001." in fid else
                            ("excellent" if k % 2 else "competent")]
                      for fid in leaders if fid in on_page}
            doubtful: dict[str, list[str]] = {}
            if page == 1:
                marked["category"] = [cat]
                if serial == "E1":
                    doubtful = {"leader.P420002.de": ["basic"]}
            rows.append((reading(ev, serial, page, marked=marked, doubtful=doubtful), png))
    _run(tmp, "ingest", "--meeting", "m", "--readings", str(write_readings(tmp / "deck", rows)))
    store = open_store(tmp / "data")
    try:
        with store.session(readonly=True) as s:
            items = review_queue(s, 1)
        by_serial = {i.serial: i for i in items if i.kind == "mark"}
        assert {"R4", "E1"} <= set(by_serial)
        [writein] = [i for i in items if i.kind == "writein" and i.serial == "R5"]
    finally:
        store.close()
    _run(tmp, "review", "decide", by_serial["R4"].id, "--mark", "--who", "李审",
         "--why", "勾画清楚，计为推荐", "-m", "m")
    _run(tmp, "review", "decide", writein.id, "--writein", "热依拉·艾合买提", "--who", "李审",
         "--why", "据票面录入", "-m", "m")
    _run(tmp, "review", "decide", by_serial["E1"].id, "--empty", "--who", "王复核",
         "--why", "仅为笔误圈点", "-m", "m")
    e3_page = f"{_page_id(tmp, 'E3')}:sheet"
    _run(tmp, "review", "decide", e3_page, "--void", "--who", "李审", "--why", "票面有署名",
         "-m", "m")
    out = tmp / "out"
    _run(tmp, "report", "m", "-o", str(out / "r.pdf"), "--xlsx", str(out / "r.xlsx"),
         "--csv", str(out / "r.zip"))
    _run(tmp, "report", "m", "--form", "people-eval", "-o", str(out / "eval.pdf"))
    return tmp


def _page_id(tmp: Path, serial: str) -> int:
    from sqlalchemy import select

    from tally.db import Page

    store = open_store(tmp / "data")
    try:
        with store.session(readonly=True) as s:
            return min(s.scalars(select(Page.id).where(Page.serial == serial)))
    finally:
        store.close()


def _text(pdf: pdfium.PdfDocument) -> list[str]:
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def test_one_pdf_holds_every_form_and_form_narrows_it(meeting: Path) -> None:
    pages = _text(pdfium.PdfDocument(str(meeting / "out" / "r.pdf")))
    text = re.sub(r"\s+", "", "".join(pages))
    assert "干部民主推荐票计票结果分析报告" in text
    assert "领导干部民主测评表计票结果分析报告" in text
    rec_at, eval_at = (text.index(f"{t}计票结果分析报告")
                       for t in ("干部民主推荐票", "领导干部民主测评表"))
    assert rec_at < eval_at
    assert "本报告包括本次会议的2种表单" in text
    # the footer's hash is the meeting's result hash, as `scantally tally --json` gives it
    doc = json.loads(_run(meeting, "tally", "m", "--json").output)
    assert f"结果校验码{doc['sha256'][:16]}" in text
    assert all(f["sha256"] in text for f in doc["forms"])  # each form's on its cover
    only = re.sub(r"\s+", "", "".join(_text(pdfium.PdfDocument(str(meeting / "out" /
                                                                  "eval.pdf")))))
    assert "领导干部民主测评表计票结果分析报告" in only and "干部民主推荐票" not in only


def test_namesakes_are_told_apart_and_no_internal_id_is_printed(meeting: Path) -> None:
    text = re.sub(r"\s+", "", "".join(_text(pdfium.PdfDocument(str(meeting / "out" /
                                                                  "r.pdf")))))
    for shown in ("张伟（党组书记、局长）", "张伟（党组成员、副局长）", "张伟（办公室副主任）",
                  "张伟（规划科副科长）", "阿依古丽·买买提", "买买提江·阿不都热合曼"):
        assert shown in text, shown
    assert not re.search(r"leader\.P\d|pos\.(director|deputy)|team\.", text)
    # the warning about the first 张伟 names him by his 职务, with its n
    assert "张伟（党组书记、局长）（全体，n=" in text


def test_appendix_lists_void_blocks_decisions_and_crops(meeting: Path) -> None:
    pdf = pdfium.PdfDocument(str(meeting / "out" / "r.pdf"))
    pages = _text(pdf)
    text = re.sub(r"\s+", "", "".join(pages))
    # present for both forms although nothing awaits review any more
    assert text.count("附录：无效票、存疑票及复核记录") == 2
    assert "临时结果" not in text
    assert "副主任人选：划了3项，超过限推2项，该栏无效" in text
    assert "勾画清楚，计为推荐" in text and "李审" in text
    assert "仅为笔误圈点" in text and "王复核" in text
    assert "票面有署名" in text and "整张作废" in text
    assert "办公室主任人选·欧阳建国" in text  # the decided mark, by names
    assert "录入另推姓名“热依拉·艾合买提”" in text and "副主任人选·另推1" in text
    # the write-in's votes in the position's write-in list
    assert "副主任人选另推人选（复核时据票面录入）" in text and "热依拉·艾合买提" in text
    appendix_pages = [i for i, p in enumerate(pages) if "逐张核查" in p]
    assert len(appendix_pages) == 2
    images = sum(len(list(pdf[i].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])))
                 for i in range(appendix_pages[0], len(pdf)))
    assert images >= 5  # R3's block, R4's, R5's, E1's leader block, E3's whole pages


def test_warning_summary_comes_before_the_detail(meeting: Path) -> None:
    text = re.sub(r"\s+", "", "".join(_text(pdfium.PdfDocument(str(meeting / "out" /
                                                                  "r.pdf")))))
    at = text.rindex("一、预警汇总（每个对象一行）")  # the evaluation's (the second form)
    detail = text.rindex("二、预警明细（逐条）")
    assert at < detail
    # one line for the first 张伟 however many sub-rows and categories tripped
    summary = text[at:detail]
    assert summary.count("张伟（党组书记、局长）") == 1
    line = summary[summary.index("张伟（党组书记、局长）"):]
    assert re.match(r"张伟（党组书记、局长）(\d+)", line) and int(
        re.match(r"张伟（党组书记、局长）(\d+)", line).group(1)) > 5


def test_workbook_and_zip_hold_every_form(meeting: Path) -> None:
    wb = openpyxl.load_workbook(meeting / "out" / "r.xlsx")
    # `meeting new` makes a meeting in test mode: the workbook opens on its notice
    assert wb.sheetnames[:2] == ["测试模式", "表单"]
    assert {"1-说明", "1-票面记录", "2-说明", "2-票面记录", "2-个人测评"} <= set(wb.sheetnames)
    head = list(next(wb["2-票面记录"].iter_rows(values_only=True)))
    assert "张伟（党组书记、局长）·德" in head and "张伟（党组成员、副局长）·德" in head
    assert len(head) == len(set(head))  # every column tells its person apart
    with zipfile.ZipFile(meeting / "out" / "r.zip") as zf:
        names = set(zf.namelist())
        # test mode (see above): every table's name and first row say so
        assert {"people-rec/测试模式-recommendation.csv",
                "people-eval/测试模式-evaluation_individual.csv",
                "people-eval/测试模式-warning_summary.csv"} <= names
        table = list(csv.reader(io.StringIO(
            zf.read("people-eval/测试模式-evaluation_individual.csv")
            .decode("utf-8").lstrip("\ufeff"))))
    assert "测试模式" in table[0][0]
    table = table[1:]
    subjects = {r[1] for r in table[1:]}
    assert {"张伟（党组书记、局长）", "张伟（党组成员、副局长）"} <= subjects
