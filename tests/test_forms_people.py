"""Forms for a real meeting: namesakes told apart, quotas that can be met, titles that already
state the quota, category headers that do not break mid-word, and 12 leaders with sub-rows on
two pages instead of three."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forms.fonts import text_width_mm
from forms.layout import compile_layout
from forms.load import SpecError, load_spec, parse_spec
from forms.people import display_names
from forms.plan import Text, fit_lines
from tests.forms_helpers import run_form, squash

PEOPLE = Path(__file__).resolve().parent / "specs" / "people"


def _rec(positions: list[dict[str, object]]) -> str:
    data = yaml.safe_load((PEOPLE / "recommendation.yaml").read_text(encoding="utf-8"))
    data["recommendation"]["positions"] = positions
    return yaml.safe_dump(data, allow_unicode=True)


def _texts(spec_path: Path, page: int = 1) -> list[Text]:
    compiled = compile_layout(load_spec(spec_path))
    return [t for t in compiled.pages[page - 1].items if isinstance(t, Text)]


def test_namesakes_with_posts_are_shown_apart_everywhere_the_layout_names_them() -> None:
    spec = load_spec(PEOPLE / "evaluation.yaml")
    shown = display_names(spec)
    assert shown["P420001"] == "张伟（党组书记、局长）"
    assert shown["P420002"] == "张伟（党组成员、副局长）"
    assert shown["P420003"] == "阿依古丽·买买提"  # no namesake: the name alone
    labels = {f.id: f.label for f in compile_layout(spec).fields}
    assert labels["leader.P420001.de"] == "张伟（党组书记、局长）·德"
    assert labels["leader.P420002.de"] == "张伟（党组成员、副局长）·德"
    assert labels["leader.P420005.lian"] == "买买提江·阿不都热合曼·廉"
    rec = load_spec(PEOPLE / "recommendation.yaml")
    assert display_names(rec)["P410011"] == "张伟（规划科副科长）"


@pytest.mark.parametrize("second", [{}, {"post": "办公室副主任"}])
def test_two_people_of_one_name_and_no_distinction_is_an_error(tmp_path: Path,
                                                                second: dict[str, str]) -> None:
    first = {"id": "P1", "name": "张伟", **({"post": "办公室副主任"} if second else {})}
    text = _rec([{"id": "a", "title": "局长人选", "quota": 1,
                  "candidates": [first, {"id": "P2", "name": "李娜"}]},
                 {"id": "b", "title": "副局长人选", "quota": 1,
                  "candidates": [{"id": "P3", "name": "张伟", **second}]}])
    with pytest.raises(SpecError) as err:
        parse_spec(text, "namesakes.yaml")
    message = str(err.value)
    assert "'P1'" in message and "'P3'" in message and "张伟" in message
    assert "recommendation.positions.1.candidates.0.post" in message
    path = tmp_path / "namesakes.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_form("check", path)
    assert result.exit_code == 2
    assert "giveeachapost" in squash(result.output)


def test_the_same_person_in_two_positions_is_no_namesake() -> None:
    text = _rec([{"id": "a", "title": "局长人选", "quota": 1,
                  "candidates": [{"id": "P1", "name": "张伟"}, {"id": "P2", "name": "李娜"}]},
                 {"id": "b", "title": "副局长人选", "quota": 1,
                  "candidates": [{"id": "P1", "name": "张伟"}]}])
    assert display_names(parse_spec(text, "same.yaml"))["P1"] == "张伟"


def test_a_quota_over_the_candidates_is_an_error_unless_write_in_lines_make_it_up() -> None:
    six = [{"id": f"P{i}", "name": n} for i, n in enumerate(["甲一", "乙二", "丙三", "丁四",
                                                           "戊五", "己六"])]
    with pytest.raises(SpecError, match="quota 7 of position 'a' exceeds its 6 candidates"):
        parse_spec(_rec([{"id": "a", "title": "委员人选", "quota": 7, "candidates": six}]), "q")
    with pytest.raises(SpecError, match="6 candidates and 0 write-in lines"):
        parse_spec(_rec([{"id": "a", "title": "委员人选", "quota": 7, "writein_lines": 0,
                          "candidates": six}]), "q")
    ok = parse_spec(_rec([{"id": "a", "title": "委员人选", "quota": 7, "writein_lines": 1,
                           "candidates": six}]), "q")
    assert ok.recommendation is not None and ok.recommendation.positions[0].writeins == 1


def test_a_title_that_states_the_quota_is_printed_once() -> None:
    cands = [{"id": f"P{i}", "name": n} for i, n in enumerate(["甲一", "乙二", "丙三"])]
    spec = parse_spec(_rec([
        {"id": "a", "title": "副局长人选（应推荐2人，限推2人，多推无效）", "quota": 2,
         "candidates": cands},
        {"id": "b", "title": "局长人选", "quota": 1, "candidates": cands}]), "t")
    texts = [t.text for t in compile_layout(spec).pages[0].items if isinstance(t, Text)]
    assert "一、副局长人选（应推荐2人，限推2人，多推无效）" in texts
    assert "二、局长人选（应推荐1人，限推1人，多推无效）" in texts
    assert not any(t.count("应推荐") > 1 for t in texts)
    with pytest.raises(SpecError, match="says '推荐两人' but its quota is 1"):
        parse_spec(_rec([{"id": "a", "title": "局长人选（推荐两人）", "quota": 1,
                          "candidates": cands}]), "t")


def test_the_category_header_is_one_line_not_broken_mid_word() -> None:
    texts = [t.text for t in _texts(PEOPLE / "evaluation.yaml")]
    assert "局领导班子成员" in texts
    assert "局领导班子成" not in texts and "员" not in texts


def test_a_wrapped_text_is_balanced() -> None:
    lines, size = fit_lines("局领导班子成员", 18.0, 9.5, 7.5, 2, "t")
    assert len(lines) == 2 and "".join(lines) == "局领导班子成员"
    widths = [text_width_mm(x, size) for x in lines]
    assert max(widths) - min(widths) <= text_width_mm("局", size) + 0.01


def test_twelve_leaders_with_sub_rows_take_two_pages() -> None:
    spec = load_spec(PEOPLE / "evaluation.yaml")
    compiled = compile_layout(spec)
    assert len(compiled.pages) == 2
    per_page = [sum(1 for f in compiled.fields if f.page == p and f.id.endswith(".de"))
                for p in (1, 2)]
    assert per_page[0] + per_page[1] == 12 and min(per_page) >= 5
    # every box still has its room: no box lower than the minimum the reader needs
    assert min(b.rect_mm[3] for p in compiled.pages for b in p.boxes) >= 4.0
    # a spec that fits at the roomiest height keeps it
    roomy = load_spec(Path(__file__).resolve().parents[1] / "examples" / "evaluation-long.yaml")
    heights = {round(b.rect_mm[3], 3) for p in compile_layout(roomy).pages for b in p.boxes}
    assert heights == {5.0}
