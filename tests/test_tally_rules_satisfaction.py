"""Golden test: a 12-sheet satisfaction meeting, every figure worked out by hand.

Question q.overall (满意 s / 基本满意 b / 不满意 d / 不了解 u) and item P7 何七
(认同 a / 基本认同 b / 不认同 d / 不了解 u). Sheet 8 is blank (弃权); sheet 9 has two
marks on the question.

    #  cat     q    item      #  cat     q    item      #  cat    q    item
    1  leader  s    a         5  middle  d    d         9  staff  s+d! b
    2  leader  s    a         6  middle  d    u        10  staff  u    a
    3  leader  b    a         7  middle  b    a        11  staff  d    d
    4  leader  u    b         8  middle  —    —        12  staff  b    u

q: s 2, b 3, d 3, u 2 (10 valid, 1 invalid, 1 blank). item: a 5, b 2, d 2, u 2 (11 valid).
"""

from __future__ import annotations

import pytest

from tally.model import MeetingFacts, Settings
from tally.rules import compute
from tally.rules.result import ALL
from tests.rules_helpers import make_ballot, small_spec

SPEC = small_spec("satisfaction", """satisfaction:
  overall:
    - {id: overall, label: 对本单位选人用人工作的总体评价}
  items:
    - {id: P7, name: 何七, post: 科长}
  comment: {label: 意见和建议}
""")
Q = {"s": "satisfied", "b": "basic", "d": "dissatisfied", "u": "unknown"}
I = {"a": "agree", "b": "basic", "d": "disagree", "u": "unknown"}  # noqa: E741
SHEETS = [("1", "leader", "s", "a"), ("2", "leader", "s", "a"), ("3", "leader", "b", "a"),
          ("4", "leader", "u", "b"), ("5", "middle", "d", "d"), ("6", "middle", "d", "u"),
          ("7", "middle", "b", "a"), ("8", "middle", "", ""), ("9", "staff", "s+d", "b"),
          ("10", "staff", "u", "a"), ("11", "staff", "d", "d"), ("12", "staff", "b", "u")]


def run(**settings):
    bs = [make_ballot(SPEC, n, cat, {"q.overall": tuple(Q[x] for x in q.split("+") if x),
                                     "item.P7": tuple(I[x] for x in it.split("+") if x)})
          for n, cat, q, it in SHEETS]
    return compute(bs, SPEC, MeetingFacts(), Settings(**settings))


@pytest.mark.parametrize(("denominator", "unknown_in", "den", "full"), [
    ("attendees", True, 12, 12), ("attendees", False, 10, 12),
    ("valid_ballots", True, 11, 11), ("valid_ballots", False, 9, 11),
    ("block_valid", True, 10, 10), ("block_valid", False, 8, 10),
])
def test_question_rates(denominator, unknown_in, den, full):
    r = run(denominator=denominator, unknown_in_denominator=unknown_in)
    s = r.satisfaction.overall.rows[0].stats[ALL]
    assert s.counts == {"satisfied": 2, "basic": 3, "dissatisfied": 3, "unknown": 2}
    assert (s.valid, s.void, s.abstain) == (10, 1, 1)
    assert s.rates == {"satisfied": 5 / den, "dissatisfied": 3 / den, "unknown": 2 / full}
    assert s.score == pytest.approx((2 * 100 + 3 * 60) / den)


def test_item_rates():
    r = run(denominator="block_valid", unknown_in_denominator=False)
    s = r.satisfaction.items.rows[0].stats[ALL]
    assert s.counts == {"agree": 5, "basic": 2, "disagree": 2, "unknown": 2}
    assert s.rates == {"agree": 7 / 9, "disagree": 2 / 9, "unknown": 2 / 11}
    assert r.satisfaction.items.rate_labels["agree"] == "认同率"


def test_blank_sheet_is_abstention():
    r = run()
    total = next(x for x in r.reconciliation.rows if x.bucket == ALL)
    assert (total.valid, total.invalid, total.abstain) == (11, 0, 1)


def test_dissatisfied_warnings():
    r = run()  # attendees: 3/12 overall, 2/4 in 中层
    hits = {(w.code, w.bucket) for w in r.warnings if w.part == "overall"}
    assert hits == {("dissatisfied_high", "middle")}
    r = run(denominator="block_valid", unknown_in_denominator=False)  # 3/8 >= 1/3
    hits = {(w.code, w.bucket) for w in r.warnings if w.part == "overall"}
    assert ("dissatisfied_high", ALL) in hits
    w = next(w for w in r.warnings if w.part == "overall" and w.bucket == ALL)
    assert w.value == 3 / 8 and "不满意率" in w.message


def test_comment_area_never_a_figure():
    r = run()
    text = r.model_dump_json()
    assert "comment" not in text and "意见和建议" not in text


def test_a_meeting_with_two_forms():
    from tally.rules import MeetingResult, TallyInputError, verify_result_sha256
    from tests.test_tally_rules_evaluation import SPEC as EVAL
    from tests.test_tally_rules_evaluation import ballots as eval_ballots

    sat = [make_ballot(SPEC, f"s{n}", cat, {"q.overall": Q[q]}) for n, cat, q, _ in SHEETS
           if q in Q]
    both = compute([*eval_ballots(), *sat], {EVAL.id: EVAL, SPEC.id: SPEC}, MeetingFacts())
    assert isinstance(both, MeetingResult)
    by_form = {r.form.id: r for r in both.forms}
    assert by_form[EVAL.id].reconciliation.returned == 12
    assert by_form[SPEC.id].reconciliation.returned == len(sat) == 10
    assert verify_result_sha256(both.model_dump(mode="json"))
    one = compute(sat, {SPEC.id: SPEC})
    assert one.form.id == SPEC.id
    with pytest.raises(TallyInputError, match="not one of this meeting's forms"):
        compute([*eval_ballots(), *sat], {SPEC.id: SPEC, "other": EVAL})
