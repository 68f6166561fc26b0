"""People by identity in the figures, the warning summary, and the weighted-score ranking.

- two leaders named 张伟 (different 职务) are two rows, each shown as "张伟（职务）", and every
  warning about one names him so; a person without a namesake is shown by name alone;
- one stray page (a category of a single sheet) trips a warning for every sub-row of every
  leader; the summary has one line per cadre, with the count and the n behind it;
- with category weights set, leaders are ranked by the category-weighted score (rank_by:
  auto), and `competent_or_better_rate` keeps the old order; the report prints the basis.
"""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium

from forms.load import load_spec
from tally.model import MeetingFacts, Settings
from tally.report.pdf import render_report
from tally.rules import compute
from tally.rules.result import ALL, RowResult, TallyResult
from tests.rules_helpers import make_ballot

PEOPLE = Path(__file__).resolve().parent / "specs" / "people"
EVAL = load_spec(PEOPLE / "evaluation.yaml")
REC = load_spec(PEOPLE / "recommendation.yaml")
SUBS = ("de", "neng", "qin", "ji", "lian")
LEADERS = [x.id for x in EVAL.evaluation.individual.leaders]  # type: ignore[union-attr]


def _marks(levels: dict[str, str], default: str = "competent") -> dict[str, str]:
    return {f"leader.{lid}.{s}": levels.get(lid, default) for lid in LEADERS for s in SUBS}


def _eval(ballots: list, **settings: object) -> TallyResult:  # type: ignore[type-arg]
    result = compute(ballots, EVAL, MeetingFacts(), Settings(**settings))
    assert isinstance(result, TallyResult)
    return result


def _rows(result: TallyResult) -> dict[str, RowResult]:
    assert result.evaluation and result.evaluation.individual
    return {r.person_id or r.id: r for r in result.evaluation.individual.rows}


def test_namesakes_are_two_rows_each_shown_with_the_post() -> None:
    ballots = [make_ballot(EVAL, f"S{k}", "middle",
                           _marks({"P420001": "incompetent", "P420002": "excellent"}))
               for k in range(4)]
    result = _eval(ballots)
    rows = _rows(result)
    assert rows["P420001"].shown == "张伟（党组书记、局长）"
    assert rows["P420002"].shown == "张伟（党组成员、副局长）"
    assert rows["P420003"].shown == "阿依古丽·买买提" and rows["P420003"].label == "阿依古丽·买买提"
    assert rows["P420001"].stats[ALL].rates["incompetent"] == 1.0
    assert rows["P420002"].stats[ALL].rates["excellent"] == 1.0
    about = {n.about for n in result.warnings if n.code == "incompetent_high"}
    assert about == {"张伟（党组书记、局长）"}
    assert all(n.subject and n.subject.startswith("张伟（党组书记、局长）")
               for n in result.warnings if n.code == "incompetent_high")
    assert all(n.n == 4 for n in result.warnings if n.bucket == ALL and n.n is not None)
    rec = compute([make_ballot(REC, "R1", "leader", {"pos.director": "P410001"})], REC)
    assert isinstance(rec, TallyResult) and rec.recommendation is not None
    shown = {c.id: c.shown for p in rec.recommendation.positions for c in p.candidates}
    assert shown["P410001"] == "张伟（办公室副主任）" and shown["P410011"] == "张伟（规划科副科长）"
    assert shown["P410003"] == "欧阳建国"


def test_a_stray_page_gives_one_summary_line_per_cadre() -> None:
    ballots = [make_ballot(EVAL, f"S{k}", "middle", _marks({})) for k in range(20)]
    ballots.append(make_ballot(EVAL, "STRAY", "staff", _marks({}, "incompetent")))
    result = _eval(ballots)
    stray = [n for n in result.warnings if n.bucket == "staff"]
    assert len(stray) >= 12 * 6  # every leader and sub-row: 不称职率 ≥ 1/3 and 称职以上率 < 1/2
    lines = {line.subject: line for line in result.warning_summary}
    assert len(lines) == 12
    for leader in EVAL.evaluation.individual.leaders:  # type: ignore[union-attr]
        line = next(x for s, x in lines.items() if s.startswith(leader.name))
        assert line.count == sum(1 for n in result.warnings if n.about == line.subject)
        assert line.n == 21 or line.n is None
        assert {r.code for r in line.rules} == {"incompetent_high", "competent_low"}
        for r in line.rules:
            assert r.n_min == r.n_max == 1 and "其他人员" in r.scopes[0]
        assert "n=1" in line.message and f"{line.count} 条" in line.message


def _weighted_meeting() -> list:  # type: ignore[type-arg]
    """P420003 is the leaders' favourite (班子成员, weight 0.6), P420004 everyone else's."""
    ballots = []
    for k in range(3):
        ballots.append(make_ballot(EVAL, f"L{k}", "leader",
                                   _marks({"P420003": "excellent", "P420004": "basic"})))
    for k in range(6):
        ballots.append(make_ballot(EVAL, f"M{k}", "staff",
                                   _marks({"P420003": "basic", "P420004": "excellent"})))
    return ballots


WEIGHTS = {"leader": 0.6, "middle": 0.2, "staff": 0.2}


def test_category_weights_rank_by_the_weighted_score_unless_told_otherwise() -> None:
    ballots = _weighted_meeting()
    auto = _rows(_eval(ballots, category_weights=WEIGHTS))
    # 称职以上率: P420004 6/9 > P420003 3/9; weighted: P420003 (0.6×100 + 0.2×60)/0.8 = 90
    # over P420004 (0.6×60 + 0.2×100)/0.8 = 70
    assert auto["P420003"].category_weighted_score > auto["P420004"].category_weighted_score
    assert auto["P420003"].rank < auto["P420004"].rank
    assert _eval(ballots, category_weights=WEIGHTS).evaluation.individual.ranked_by.startswith(
        "类别加权得分")
    rate = _rows(_eval(ballots, category_weights=WEIGHTS, rank_by="competent_or_better_rate"))
    assert rate["P420004"].rank < rate["P420003"].rank
    plain = _eval(ballots)  # no weights: 称职以上率 as before
    assert _rows(plain)["P420004"].rank < _rows(plain)["P420003"].rank
    assert plain.evaluation.individual.ranked_by.startswith("称职以上率")
    scored = _rows(_eval(ballots, rank_by="weighted_score"))  # no weights: the plain score
    assert (scored["P420004"].stats[ALL].score or 0) > (scored["P420003"].stats[ALL].score or 0)
    assert scored["P420004"].rank < scored["P420003"].rank


def test_the_report_prints_the_ranking_basis() -> None:
    result = _eval(_weighted_meeting(), category_weights=WEIGHTS)
    pdf = pdfium.PdfDocument(render_report(result, EVAL, include_appendix=False))
    text = re.sub(r"\s+", "", "".join(pdf[i].get_textpage().get_text_range()
                                      for i in range(len(pdf))))
    assert "名次按类别加权得分，相同时按称职以上率、优秀率排列" in text
    assert "领导干部名次依据类别加权得分" in text
    assert "按全体类别加权得分排序" in text
