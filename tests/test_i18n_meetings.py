"""The errors of tally/meetings.py reach people in their language (issue 13, item 10): each is
raised with a literal template and parameters, so the CLI and the console show it in zh-CN
with its parameters (file, line, serial, form) and in English as raised."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server import i18n
from server.cli import app
from tally.meetings import (
    FormText,
    MeetingError,
    create_meeting,
    parse_serials,
    parse_settings,
    update_meeting,
)
from tally.store import open_store
from tests.tally_helpers import layout_of, spec_path

ROOT = Path(__file__).resolve().parent.parent
REC_ID = layout_of("recommendation")["form"]["id"]


def _han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_meeting_error_of_the_file_is_a_literal_template() -> None:
    tree = ast.parse((ROOT / "tally" / "meetings.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "MeetingError"]
    assert len(calls) >= 20
    for call in calls:
        first = call.args[0]
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), call.lineno
        known = i18n.catalogue("zh-CN").messages
        assert _han(known[first.value]), first.value


@pytest.mark.parametrize(("make", "zh", "params"), [
    (lambda: parse_serials("OK1\nnot-a-serial!\n", "serials.txt"), "不是选票编号",
     ("serials.txt", "第 2 行", "'not-a-serial!'")),
    (lambda: parse_serials("OK1\nOK1\n", "serials.txt"), "出现两次", ("第 2 行", "'OK1'")),
    (lambda: parse_serials("# none\n", "empty.txt"), "文件中没有编号", ("empty.txt",)),
    (lambda: parse_settings(["a"], "s.yaml"), "设置文件须为键值对", ("s.yaml", "denominator")),
    (lambda: parse_settings({"denominator": "voters"}, "s.json"), "设置无效",
     ("s.json", "denominator")),
    (lambda: FormText.read("/nonexistent/spec.yaml"), "无法读取表单定义",
     ("/nonexistent/spec.yaml",)),
])
def test_meeting_errors_in_chinese_keep_their_parameters(make, zh: str,  # type: ignore[no-untyped-def]
                                                         params: tuple[str, ...]) -> None:
    with pytest.raises(MeetingError) as caught:
        make()
    exc = caught.value
    assert i18n.error_text(exc, "en") == str(exc) and not _han(str(exc))
    shown = i18n.error_text(exc, "zh-CN")
    assert zh in shown, shown
    for p in params:
        assert p in shown, (p, shown)


def test_a_serial_given_for_two_forms_is_refused_in_chinese(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    try:
        m = create_meeting(store, name="m", actor="t",
                           forms=[FormText.read(spec_path("recommendation")),
                                  FormText.read(spec_path("evaluation"))],
                           serials_by_form={REC_ID: ["R1"]})
        with pytest.raises(MeetingError) as caught:
            update_meeting(store, m.id, actor="t", add_serials=["R1"])
        assert "'R1' is already recorded for form 'jt2026-rec', not any form" in str(
            caught.value)
        assert i18n.error_text(caught.value, "zh-CN").startswith(
            "编号 'R1' 已登记为表单 'jt2026-rec' 的编号，而非适用于任一表单")
        with pytest.raises(MeetingError) as caught:
            update_meeting(store, m.id, actor="t", add_serials=["R2"], serials_form="nope")
        assert i18n.error_text(caught.value, "zh-CN").startswith(
            "--serials：'nope' 不是本会议的表单；请使用 ")
        with pytest.raises(MeetingError) as caught:
            update_meeting(store, 99, actor="t", issued=1)
        assert i18n.error_text(caught.value, "zh-CN") == "没有第 #99 号会议"
    finally:
        store.close()


def test_the_cli_shows_a_meeting_error_in_its_language(tmp_path: Path) -> None:
    serials = tmp_path / "serials.txt"
    serials.write_text("OK1\nnot-a-serial!\n", encoding="utf-8")
    env = {"SCANTALLY_DATA": str(tmp_path / "data"), "SCANTALLY_DB": None, "COLUMNS": "250",
           "SCANTALLY_LANG": None}
    args = ["meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
            "--serials", str(serials)]
    zh = CliRunner().invoke(app, ["--lang", "zh-CN", *args], env=env)
    en = CliRunner().invoke(app, ["--lang", "en", *args], env=env)
    assert zh.exit_code == en.exit_code == 2
    zh_text, en_text = (" ".join(r.output.split()) for r in (zh, en))
    assert "第 2 行：'not-a-serial!' 不是选票编号" in zh_text
    assert "line 2: 'not-a-serial!' is not a sheet serial" in en_text and not _han(en_text)
