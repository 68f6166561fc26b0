"""The command line as the README tells it: `user add NAME`, the settings file's keys, and the
review list printing item ids whole (so `review decide` can take them as printed)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from server.cli import app
from tally.accounts import list_users
from tally.meetings import list_meetings
from tally.model import Settings
from tally.store import open_store
from tests.tally_helpers import reading, tiny_image, write_readings

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "specs" / "people" / "evaluation.yaml"


def _run(tmp_path: Path, *args: str, code: int = 0, columns: int = 250):  # type: ignore[no-untyped-def]
    env = {"SCANTALLY_DATA": str(tmp_path / "data"), "SCANTALLY_DB": None,
           "COLUMNS": str(columns)}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_user_add_takes_the_name_as_the_readme_writes_it(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "scantally user add NAME --role admin" in readme
    _run(tmp_path, "user", "add", "zhangming", "--role", "admin", "--name", "张明",
         "--password", "a long pass phrase 1")
    _run(tmp_path, "user", "add", "--username", "lihua", "--password", "a long pass phrase 2")
    store = open_store(tmp_path / "data")
    try:
        users = {u.username: u for u in list_users(store)}
    finally:
        store.close()
    assert users["zhangming"].role == "admin" and users["zhangming"].display_name == "张明"
    assert users["lihua"].role == "operator"
    out = _run(tmp_path, "user", "add", "--password", "x" * 12, code=2).output
    assert "give the login name" in " ".join(out.split())
    out = _run(tmp_path, "user", "add", "a", "--username", "b", "--password", "x" * 12,
               code=2).output
    assert "two login names" in out


def test_readme_documents_every_settings_key_and_its_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Meeting settings"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    data = yaml.safe_load(block.group(1))
    assert set(data) == set(Settings.model_fields)  # every key, and no key that is not one
    settings = Settings.model_validate(data)
    assert settings.rank_by == "auto" and settings.category_weights["middle"] == 0.4


def test_review_list_prints_item_ids_whole_on_a_narrow_terminal(tmp_path: Path) -> None:
    _run(tmp_path, "meeting", "new", "--name", "m", "--form", str(EVAL), "--who", "组长")
    layout = layout_to_dict(compile_layout(load_spec(EVAL)))
    doubtful = {"leader.P420012.lian": ["basic"], "leader.P420011.lian": ["unknown"]}
    rows = [(reading(layout, "S1", 1, marked={"category": ["leader"]}), tiny_image(1)),
            (reading(layout, "S1", 2, doubtful=doubtful), tiny_image(2))]
    _run(tmp_path, "ingest", "--meeting", "m", "--readings",
         str(write_readings(tmp_path / "deck", rows)))
    listed = _run(tmp_path, "review", "--meeting", "m", columns=80).output
    ids = re.findall(r"\d+:leader\.P\d+\.lian:\w+", listed)
    assert len(ids) == 2, listed
    for item in ids:
        _run(tmp_path, "review", "decide", item, "--empty", "--who", "李华", "--why", "笔误",
             "-m", "m", columns=80)
    assert "nothing to review" in _run(tmp_path, "review", "--meeting", "m").output


def test_meeting_new_refuses_namesakes_that_cannot_be_told_apart(tmp_path: Path) -> None:
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    data["evaluation"]["individual"]["leaders"][1]["post"] = "党组书记、局长"  # as the first 张伟
    bad = tmp_path / "namesakes.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = " ".join(_run(tmp_path, "meeting", "new", "--name", "m", "--form", str(bad),
                        code=2).output.split())
    assert "two people named '张伟'" in out and "'P420001'" in out and "'P420002'" in out
    assert "evaluation.individual.leaders.1.post" in out
    store = open_store(tmp_path / "data")
    try:
        with store.session(readonly=True) as s:
            assert list_meetings(s) == []  # nothing half-made
    finally:
        store.close()
