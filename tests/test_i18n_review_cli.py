"""`scantally review -i` speaks the CLI's language (issue 13, items 4 and 10: "the prompt is
English in the Chinese UI"): the queue's headings, the choices by name (已标记 / 空白 /
涂改作废 …), the reason prompt (必填 where a reason is required) in zh-CN, English by default;
the decision taken at the prompt is recorded."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdfium2 as pdfium
from typer.testing import CliRunner

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from forms.render import render_pdf
from server.cli import app
from tests.tally_helpers import layout_of, reading, spec_path, write_readings

REC = layout_of("recommendation")


def _page_png(serial: str) -> bytes:
    """The printed sheet `serial`'s first page as a scanner would store it."""
    compiled = compile_layout(load_spec(spec_path("recommendation")))
    pdf = pdfium.PdfDocument(render_pdf(compiled, layout_to_dict(compiled)["form"]["hash"],
                                        [serial]))
    buf = io.BytesIO()
    pdf[0].render(scale=1.0).to_pil().convert("L").save(buf, format="PNG")
    return buf.getvalue()


def _run(tmp: Path, *args: str, given: str | None = None) -> str:
    env = {"SCANTALLY_DATA": str(tmp / "data"), "SCANTALLY_DB": None, "COLUMNS": "250",
           "SCANTALLY_LANG": None, "SCANTALLY_OPERATOR": None}
    result = CliRunner().invoke(app, list(args), env=env, input=given)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _meeting(tmp: Path) -> None:
    _run(tmp, "meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
         "--who", "甲")
    rows = [(reading(REC, f"S{k}", marked={"category": ["leader"]},
                     doubtful={"pos.director": ["P310012"]}), _page_png(f"S{k}"))
            for k in (1, 2)]
    _run(tmp, "ingest", "--meeting", "m", "--readings", str(write_readings(tmp / "d", rows)))


def test_interactive_review_in_chinese_records_the_decision(tmp_path: Path) -> None:
    _meeting(tmp_path)
    # the first item marked, with its reason; then quit
    out = _run(tmp_path, "--lang", "zh-CN", "review", "-m", "m", "-i", "--who", "李审",
               given="m\n勾画清楚\nq\n")
    flat = " ".join(out.split())
    assert "处理 [m/e/c]（m=已标记, e=空白, c=涂改作废），s=跳过，q=退出" in flat, flat
    assert "原因（必填）" in flat or "原因（选填）" in flat
    assert "图像截取：" in flat and "内容" in flat
    for english in ("decide [", "skip", "quit", "why", "crops:", "name on the line"):
        assert english not in flat, english
    left = " ".join(_run(tmp_path, "--lang", "zh-CN", "review", "-m", "m").split())
    history = json.loads(_run(tmp_path, "review", "history", "-m", "m", "--json"))
    assert [(d["kind"], d["who"], d["why"]) for d in history] == [("marked", "李审", "勾画清楚")]
    assert left.count(":pos.director") == 1  # one of the two items decided


def test_interactive_review_in_english_by_default(tmp_path: Path) -> None:
    _meeting(tmp_path)
    out = " ".join(_run(tmp_path, "review", "-m", "m", "-i", "--who", "bob",
                        given="s\ns\n").split())
    assert ("decide [m/e/c] (m=marked (a vote), e=empty (no vote), c=cancelled (struck out)), "
            "s=skip, q=quit") in out
    assert "已标记" not in out and "处理 [" not in out
