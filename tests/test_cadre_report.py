"""The per-cadre PDF and the cadres' xlsx, made by the real CLI from a store where one cadre
appears in three meetings over two years plus a hand-entered 谈话推荐; the PDF rendered to PNG
pages by pypdfium2 (kept in /tmp/cadre-look/ to be looked at) and its text read back."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium

from tally.store import open_store
from tests.cadre_helpers import ZHAO, ZHAO_PID, evaluation_marks, meeting_with, person_id
from tests.tally_helpers import cli

LOOK = Path("/tmp/cadre-look")


def build(data: Path) -> None:
    store = open_store(data)
    meeting_with(store, "推荐2025a", "recommendation", 2025, [
        {"category": ["staff"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": ["P310012"]},
    ])
    meeting_with(store, "测评2025b", "evaluation", 2025, evaluation_marks(6, 3))
    meeting_with(store, "测评2026c", "evaluation", 2026, evaluation_marks(5, 5))
    store.close()


def test_cadre_pdf_shows_every_meeting_and_year(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    r = cli("cadre", "enter", ZHAO_PID, "--stage", "谈话推荐", "--year", "2026",
            "--meeting-label", "2026年换届谈话推荐", "--value", "votes=12", "--value", "of=30",
            data=data)
    assert r.returncode == 0, r.stderr
    bad = cli("cadre", "enter", ZHAO_PID, "--stage", "谈话推荐", "--year", "2026",
              "--meeting-label", "x", "--value", "votes=40", "--value", "of=30", data=data)
    assert bad.returncode == 2 and "more than of=30" in bad.stderr
    out = tmp_path / "cadre.pdf"
    r = cli("cadre", "report", ZHAO_PID, "-o", str(out), data=data)
    assert r.returncode == 0, r.stderr
    pdf = pdfium.PdfDocument(out.read_bytes())
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    LOOK.mkdir(exist_ok=True)
    for i in range(len(pdf)):
        pdf[i].render(scale=1.6).to_pil().save(LOOK / f"cadre-p{i + 1}.png")
    assert 1 <= len(pdf) <= 4
    for needle in ("赵志强 综合分析", "党组副书记、副局长", ZHAO_PID, "推荐2025a", "测评2025b",
                   "测评2026c", "2026年换届谈话推荐", "2025", "2026", "民主推荐", "谈话推荐",
                   "民主测评", "历年关键指标", "分环节对比", "分类别数据"):
        assert needle in text, needle
    # the figures: 得票率 3/4, 称职以上率 4/6 then 4/5, 谈话推荐 12/30
    for figure in ("75.0%", "66.7%", "80.0%", "40.0%"):
        assert figure in text, figure
    # the page with the charts is not blank: a good share of it is ink
    page1 = pdf[0].render(scale=1.0).to_pil().convert("L")
    dark = sum(1 for v in page1.get_flattened_data() if v < 200)
    assert dark > 0.02 * page1.width * page1.height


def test_cadres_xlsx_lists_each_cadre_and_keeps_text_as_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build(data)
    evil = "=HYPERLINK(\"http://x\")"
    r = cli("cadre", "enter", "EXT-1", "--stage", "民意调查", "--year", "2026",
            "--meeting-label", evil, "--name", "外部人员", "--value", "satisfied=8",
            "--value", "of=10", data=data)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "cadres.xlsx"
    other = person_id("P310012")  # 王建国: candidate in 2025, leader in both evaluations
    r = cli("cadre", "xlsx", ZHAO_PID, other, "EXT-1", "-o", str(out), data=data)
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    assert wb.sheetnames == ["说明", "干部汇总", "历次会议", "分类别"]
    summary = list(wb["干部汇总"].iter_rows(values_only=True))
    assert [row[0] for row in summary[1:]] == [ZHAO_PID, other, "EXT-1"]
    head = summary[0]
    col = head.index("2026年民主测评称职以上率")
    assert summary[1][col] == 0.8
    detail = list(wb["历次会议"].iter_rows(values_only=True))
    assert sum(1 for row in detail if row[0] == ZHAO_PID) == 3
    cell = next(c for row in wb["历次会议"].iter_rows() for c in row if c.value == evil)
    assert cell.data_type == "s"  # text, never a formula
    missing = cli("cadre", "xlsx", ZHAO_PID, "NOPE-9", "-o", str(tmp_path / "x.xlsx"),
                  data=data)
    assert missing.returncode == 2 and "NOPE-9" in missing.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_cadre_cli_lists_shows_refreshes_and_verifies(tmp_path: Path) -> None:
    import json
    import sqlite3

    from tally.cadre.model import CadreView

    data = tmp_path / "data"
    build(data)
    r = cli("cadre", "refresh", data=data)
    assert r.returncode == 0 and "3 meetings indexed" in r.stdout, r.stderr
    r = cli("cadre", "list", "--search", "赵志", "--json", data=data)
    assert ZHAO_PID in [c["key"] for c in json.loads(r.stdout)]
    r = cli("cadre", "show", ZHAO_PID, "--json", data=data)
    view = CadreView.model_validate_json(r.stdout)
    assert [a.meeting_label for a in view.appearances] == ["推荐2025a", "测评2025b", "测评2026c"]
    r = cli("cadre", "enter", ZHAO_PID, "--stage", "民意调查", "--year", "2026",
            "--meeting-label", "民意调查2026", "--value", "satisfied=7", "--value", "of=10",
            data=data)
    assert r.returncode == 0, r.stderr
    assert cli("cadre", "verify", data=data).returncode == 0
    with sqlite3.connect(data / "scantally.sqlite") as conn:  # an entry edited behind its back
        conn.execute("UPDATE cadre_entries SET \"values\" = '{\"of\":10,\"satisfied\":9}'")
    r = cli("cadre", "verify", data=data)
    assert r.returncode == 1 and "edited" in r.stderr
    assert cli("cadre", "show", "NOPE-1", data=data).returncode == 2
