"""The warning summary lines (`tally.rules.warnsummary`) in the reader's language (issue 13,
item 10: "in English, every warning stays Chinese"): each line keeps its Chinese words as
recorded (the result's JSON and sha256, the PDF) and is shown in English by its templates in
the CLI and the console, the spec's names and labels as they are."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from forms.spec import DEFAULT_SUB_ROWS
from server import i18n
from server.cli import app
from tally.model import MeetingFacts, Settings
from tally.rules import compute
from tally.rules.compute import result_sha256, verify_result_sha256
from tally.rules.result import TallyResult
from tests.rules_helpers import make_ballot
from tests.tally_helpers import layout_of, reading, spec_path, tiny_image, write_readings

PEOPLE = Path(__file__).resolve().parent / "specs" / "people"
EVAL = load_spec(PEOPLE / "evaluation.yaml")
LEADERS = [x.id for x in EVAL.evaluation.individual.leaders]  # type: ignore[union-attr]
SUBS = ("de", "neng", "qin", "ji", "lian")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _marks(default: str) -> dict[str, str]:
    return {f"leader.{lid}.{s}": default for lid in LEADERS for s in SUBS}


def _stray_page_result() -> TallyResult:
    ballots = [make_ballot(EVAL, f"S{k}", "middle", _marks("competent")) for k in range(20)]
    ballots.append(make_ballot(EVAL, "STRAY", "staff", _marks("incompetent")))
    facts = MeetingFacts(expected={"middle": 8, "staff": 2}, present={"middle": 30}, issued=10)
    result = compute(ballots, EVAL, facts, Settings())
    assert isinstance(result, TallyResult)
    return result


def _data(result: TallyResult) -> set[str]:
    """What the spec names (people, posts, categories, sub-rows): data, shown as it is."""
    assert result.evaluation and result.evaluation.individual
    words = {x.shown for x in result.evaluation.individual.rows if x.shown}
    words |= {c.label for c in EVAL.categories.options}  # type: ignore[union-attr]

    def strings(value: object) -> None:  # every text of the printed layout (sub-row labels)
        if isinstance(value, str):
            words.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                strings(v)
        elif isinstance(value, list):
            for v in value:
                strings(v)

    strings(layout_to_dict(compile_layout(EVAL)))
    words |= {x.label for x in DEFAULT_SUB_ROWS}  # 德/能/勤/绩/廉: the spec's sub-rows
    return {w for w in words if HAN.search(w)}


def test_summary_lines_in_english_by_templates_and_chinese_as_recorded() -> None:
    result = _stray_page_result()
    lines = result.warning_summary
    assert len(lines) == 13  # the meeting's line and one per leader
    meeting = lines[0]
    assert meeting.message == (
        "本次会议：3 条：收回选票 21 张，多于发出的 10 张：本次投票无效，必须重新组织投票；"
        "“中层正职”实到 30 人，多于应到 8 人，请核对应到、实到人数或选票的类别；"
        "“其他人员”实到 1 人、应到 2 人，到会率 50.0%，低于 66.7%")
    leader = next(x for x in lines if x.subject == "张伟（党组成员、副局长）")
    assert leader.message == (
        "张伟（党组成员、副局长）：12 条：不称职率达到预警线 33.3% 6 条（其他人员（合计、德、能、"
        "勤、绩、廉）；最高 100.0%；n=1）；称职以上率低于预警线 50.0% 6 条（其他人员（合计、德、"
        "能、勤、绩、廉）；最低 0.0%；n=1）")
    for line in lines:
        assert i18n.summary_text(line, "zh-CN") == line.message
    en = {x.subject: i18n.summary_text(x, "en") for x in lines}
    assert en["本次会议"].startswith("this meeting: 3 warnings: ")
    assert "participation" in en["本次会议"] and "issued" in en["本次会议"]
    assert en["张伟（党组成员、副局长）"] == (
        "张伟（党组成员、副局长）: 12 warnings: 不称职率 at or above the warning line 33.3%: 6 "
        "(其他人员 (total, 德, 能, 勤, 绩, 廉); highest 100.0%; n=1); 称职以上率 below the "
        "warning line 50.0%: 6 (其他人员 (total, 德, 能, 勤, 绩, 廉); lowest 0.0%; n=1)"
        .replace("不称职率", i18n.translate("不称职率", "en"))
        .replace("称职以上率", i18n.translate("称职以上率", "en")))
    data = _data(result)
    for text in en.values():
        left = text
        for word in sorted(data, key=len, reverse=True):
            left = left.replace(word, "")
        assert not HAN.search(re.sub("“[^”]*”", "", left)), text


def test_the_templates_stay_out_of_the_result_and_its_hash() -> None:
    result = _stray_page_result()
    doc = result.model_dump(mode="json", by_alias=True)
    assert verify_result_sha256(doc) and result.sha256 == result_sha256(doc)
    for line in doc["warning_summary"]:
        for rule in line["rules"]:
            assert "template" not in rule and "params" not in rule
    # the objects carry them: the meeting line's rules are the notices' own templates
    meeting = result.warning_summary[0]
    assert all(r.template for r in meeting.rules)


def _run(tmp: Path, *args: str) -> str:
    env = {"SCANTALLY_DATA": str(tmp / "data"), "SCANTALLY_DB": None, "COLUMNS": "400",
           "SCANTALLY_LANG": None}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return " ".join(result.output.split())


def test_the_cli_prints_summary_lines_in_its_language(tmp_path: Path) -> None:
    rec = layout_of("recommendation")
    _run(tmp_path, "meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
         "--expected", "leader=5", "--issued", "3", "--who", "甲")
    _run(tmp_path, "ingest", "--meeting", "m", "--readings", str(write_readings(
        tmp_path / "d", [(reading(rec, "R1", marked={"category": ["leader"],
                                                     "pos.director": ["P310012"]}),
                          tiny_image(1))])))
    zh = _run(tmp_path, "--lang", "zh-CN", "tally", "m")
    en = _run(tmp_path, "tally", "m")
    assert "本次会议：2 条：" in zh and "到会率 20.0%，低于 66.7%" in zh
    assert "this meeting: 2 warnings: " in en and "本次会议" not in en
    assert "participation" in en and "到会率" not in en
