"""Golden test: a 12-sheet evaluation meeting, every figure worked out by hand.

Two leaders P1 王一, P2 李二 (优秀 ex / 称职 co / 基本称职 ba / 不称职 in / 不了解 un) and two team
dimensions d1, d2 (好 g / 较好 f / 一般 a / 差 p). Sheet 12 is voided by a reviewer.

    #  cat     P1      P2   d1  d2        #  cat     P1      P2   d1  d2
    1  leader  ex      co   g   g         7  middle  ex+co!  co   g   g
    2  leader  ex      ex   g   f         8  middle  un      ba   f   f
    3  leader  co      un   f   g         9  staff   in      in   p   a
    4  middle  co      co   a   p        10  staff   in      un   a   g+p!
    5  middle  ba      in   g   —        11  staff   ex      co   g   g
    6  middle  —       in   p   p        12  staff   (void: ex ex g g)

P1 (all): ex 3, co 2, ba 1, in 2, un 1 = 9 valid rows; 1 invalid (#7), 1 blank (#6), 1 void sheet.
P2 (all): ex 1, co 4, ba 1, in 3, un 2 = 11 valid rows.
d1: g 5, f 2, a 2, p 2 (11 valid). d2: g 4, f 2, a 1, p 2 (9 valid, 1 invalid, 1 blank).
"""

from __future__ import annotations

import pytest

from tally.model import MeetingFacts, Settings
from tally.rules import compute
from tally.rules.result import ALL
from tally.rules.weights import weight_preset
from tests.rules_helpers import make_ballot, small_spec

SPEC = small_spec("evaluation", """evaluation:
  team:
    dimensions:
      - {id: d1, label: 思想政治建设}
      - {id: d2, label: 工作实绩}
  individual:
    include_unknown: true
    leaders:
      - {id: P1, name: 王一, post: 局长}
      - {id: P2, name: 李二, post: 副局长}
""")
L = {"ex": "excellent", "co": "competent", "ba": "basic", "in": "incompetent", "un": "unknown"}
T = {"g": "good", "f": "fair_good", "a": "average", "p": "poor"}
SHEETS = [
    ("1", "leader", "ex", "co", "g", "g"), ("2", "leader", "ex", "ex", "g", "f"),
    ("3", "leader", "co", "un", "f", "g"), ("4", "middle", "co", "co", "a", "p"),
    ("5", "middle", "ba", "in", "g", ""), ("6", "middle", "", "in", "p", "p"),
    ("7", "middle", "ex+co", "co", "g", "g"), ("8", "middle", "un", "ba", "f", "f"),
    ("9", "staff", "in", "in", "p", "a"), ("10", "staff", "in", "un", "a", "g+p"),
    ("11", "staff", "ex", "co", "g", "g"), ("12", "staff", "ex", "ex", "g", "g"),
]


def ballots():
    out = []
    for serial, cat, p1, p2, d1, d2 in SHEETS:
        marks = {"leader.P1": tuple(L[x] for x in p1.split("+") if x),
                 "leader.P2": tuple(L[x] for x in p2.split("+") if x),
                 "team.d1": tuple(T[x] for x in d1.split("+") if x),
                 "team.d2": tuple(T[x] for x in d2.split("+") if x)}
        out.append(make_ballot(SPEC, serial, cat, marks, void=serial == "12"))
    return out


def run(**settings):
    return compute(ballots(), SPEC, MeetingFacts(), Settings(**settings))


def row(result, part, rid):
    rows = getattr(result.evaluation, part).rows
    return next(r for r in rows if r.id == rid)


def test_row_counts():
    p1 = row(run(), "individual", "P1").stats[ALL]
    assert (p1.valid, p1.void, p1.abstain, p1.ballot_void) == (9, 1, 1, 1)
    assert p1.counts == {"excellent": 3, "competent": 2, "basic": 1, "incompetent": 2,
                         "unknown": 1}
    p1m = row(run(), "individual", "P1").stats["middle"]
    assert (p1m.valid, p1m.void, p1m.abstain) == (3, 1, 1)
    d2 = row(run(), "team", "d2").stats[ALL]
    assert (d2.valid, d2.void, d2.abstain, d2.ballot_void) == (9, 1, 1, 1)
    assert d2.counts == {"good": 4, "fair_good": 2, "average": 1, "poor": 2}


@pytest.mark.parametrize(("denominator", "unknown_in", "den"), [
    ("attendees", True, 12), ("attendees", False, 11),
    ("valid_ballots", True, 11), ("valid_ballots", False, 10),
    ("block_valid", True, 9), ("block_valid", False, 8),
])
def test_leader_rates_under_each_setting(denominator, unknown_in, den):
    r = run(denominator=denominator, unknown_in_denominator=unknown_in)
    s = row(r, "individual", "P1").stats[ALL]
    full = den + (0 if unknown_in else 1)  # 不了解率 always of the full denominator
    assert s.denominator == den
    assert s.rates == {"excellent": 3 / den, "competent_or_better": 5 / den, "basic": 1 / den,
                       "incompetent": 2 / den, "unknown": 1 / full}
    assert s.shares["competent"] == 2 / den
    assert s.score == pytest.approx((3 * 100 + 2 * 80 + 1 * 60) / den)


def test_team_rates():
    r = run(denominator="block_valid")
    d1, d2 = row(r, "team", "d1").stats[ALL], row(r, "team", "d2").stats[ALL]
    assert d1.rates == {"favourable": 7 / 11, "poor": 2 / 11}
    assert d2.rates == {"favourable": 6 / 9, "poor": 2 / 9}
    assert d1.score == pytest.approx((5 * 100 + 2 * 80 + 2 * 60) / 11)
    r = run()  # attendees
    assert row(r, "team", "d2").stats[ALL].rates["favourable"] == 6 / 12


def test_weight_preset_and_override():
    r = run(denominator="block_valid", unknown_in_denominator=False,
            level_weights=weight_preset("1/0.8/0.6/0.4", SPEC))
    assert row(r, "individual", "P1").stats[ALL].score == pytest.approx(
        (3 * 1 + 2 * 0.8 + 1 * 0.6 + 2 * 0.4) / 8)
    levels = {lv.id: lv.weight for lv in r.evaluation.individual.levels}
    assert levels == {"excellent": 1, "competent": 0.8, "basic": 0.6, "incompetent": 0.4,
                      "unknown": None}


def test_category_weighted_score_renormalised():
    w = {"leader": 0.3, "middle": 0.4, "staff": 0.3}
    r = run(denominator="block_valid", unknown_in_denominator=False, category_weights=w)
    p1 = row(r, "individual", "P1")
    # leader (2 ex, 1 co)/3 = 93.33; middle (1 co, 1 ba)/2 = 70; staff 1 ex / 3 = 33.33
    assert p1.stats["leader"].score == pytest.approx(280 / 3)
    assert p1.stats["middle"].score == pytest.approx(70)
    assert p1.stats["staff"].score == pytest.approx(100 / 3)
    assert p1.category_weighted_score == pytest.approx(0.3 * 280 / 3 + 0.4 * 70 + 0.3 * 100 / 3)
    assert p1.category_weighted_score == pytest.approx(66.0)
    # a weighted category without ballots drops out; the other weights are rescaled
    r = run(denominator="block_valid", unknown_in_denominator=False,
            category_weights={"leader": 0.3, "middle": 0.4, "retired": 0.3})
    assert row(r, "individual", "P1").category_weighted_score == pytest.approx((28 + 28) / 0.7)
    assert run().evaluation.individual.rows[0].category_weighted_score is None


def test_warnings_and_threshold_boundary():
    r = run()  # attendees, 不了解 in: both leaders 称职以上率 5/12 < 1/2
    codes = {(w.code, w.subject, w.bucket) for w in r.warnings}
    assert ("competent_low", "王一", ALL) in codes and ("competent_low", "李二", ALL) in codes
    assert ("incompetent_high", "王一", "staff") in codes  # 2 of 4 sheets
    assert ("incompetent_high", "王一", ALL) not in codes  # 2/12
    r = run(denominator="block_valid", unknown_in_denominator=False)
    codes = {(w.code, w.subject, w.bucket) for w in r.warnings}
    assert ("incompetent_high", "李二", ALL) in codes  # 3/9 == 1/3: at the threshold warns
    assert ("competent_low", "李二", ALL) not in codes  # 5/9
    assert ("competent_low", "王一", ALL) not in codes  # 5/8
    r = run(denominator="block_valid", unknown_in_denominator=False, incompetent_warn_rate=0.34)
    assert not any(w.code == "incompetent_high" and w.bucket == ALL for w in r.warnings)


def test_rank_and_order():
    r = run()  # equal 称职以上率 5/12: 优秀率 3/12 beats 1/12
    assert [(x.label, x.rank) for x in r.evaluation.individual.rows] == [("王一", 1), ("李二", 2)]
    r = run(sort="strokes")
    assert [x.label for x in r.evaluation.individual.rows] == ["王一", "李二"]  # 王 4 < 李 7


def test_reconciliation_counts_void_sheet():
    r = run()
    total = next(x for x in r.reconciliation.rows if x.bucket == ALL)
    assert (total.returned, total.valid, total.invalid, total.abstain) == (12, 11, 1, 0)


SUB = small_spec("evaluation", """evaluation:
  individual:
    sub_rows:
      - {id: de, label: 德}
      - {id: neng, label: 能}
    leaders:
      - {id: P9, name: 张三}
""", categories=False, form_id="t-sub")


def test_sub_rows_pool_into_the_leader_total():
    marks = [("excellent", "competent"), ("excellent", "excellent"), ("basic", ""),
             ("incompetent", "incompetent")]
    bs = [make_ballot(SUB, f"s{i}", None,
                      {"leader.P9.de": de, "leader.P9.neng": tuple(x for x in [ne] if x)})
          for i, (de, ne) in enumerate(marks)]
    r = compute(bs, SUB)
    total = r.evaluation.individual.rows[0]
    assert total.field is None and [s.id for s in total.sub_rows] == ["de", "neng"]
    assert total.stats[ALL].counts == {"excellent": 3, "competent": 1, "basic": 1,
                                       "incompetent": 2}
    assert total.stats[ALL].denominator == 8 and total.stats[ALL].abstain == 1
    assert total.stats[ALL].rates["excellent"] == 3 / 8
    de, neng = total.sub_rows
    assert de.stats[ALL].rates["excellent"] == 2 / 4 and neng.stats[ALL].rates["excellent"] == 1 / 4
    assert [b.id for b in r.buckets] == [ALL]  # no categories on this form


def test_missing_page_is_reported_and_counts_as_abstention():
    from tests.rules_helpers import example, field_pages

    spec = example("evaluation-long")
    where, n_pages = field_pages(spec)
    assert n_pages >= 2
    on_two = next(f for f, p in where.items() if p == 2 and f.startswith("leader."))
    marks = {f: "excellent" for f in where if f.startswith("leader.")}
    r = compute([make_ballot(spec, "m1", "leader", marks, drop_pages=(2,))], spec)
    assert [(n.code, n.kind) for n in r.sheets] == [("page_missing", "review")]
    person, sub = on_two.split(".")[1:]
    total = next(x for x in r.evaluation.individual.rows if x.id == person)
    sub_row = next(s for s in total.sub_rows if s.id == sub)
    assert sub_row.stats[ALL].abstain == 1 and sub_row.stats[ALL].valid == 0


def test_unknown_weight_preset_is_named():
    with pytest.raises(ValueError, match="unknown weight preset '5/4/3'"):
        weight_preset("5/4/3", SPEC)
