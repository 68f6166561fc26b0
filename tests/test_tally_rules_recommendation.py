"""Golden test: a 12-sheet recommendation meeting, every figure worked out by hand.

Positions: 局长 (quota 1: 王一 a1, 李二 a2, 张三 a3, one 另推 line) and 副局长 (quota 2: 赵四 b1,
钱五 b2, 孙六 b3, one 另推 line). Sheets (category: 局长 | 副局长):

    L1 班子: a1 | b1 b2           M1 中层: a1 a2 (void) | b1 b3
    L2 班子: a1 | b1              M2 中层: a2 | —
    L3 班子: a2 | b1 b2 b3 (void) M3 中层: a1 | b1 + 另推 (empty line)
    L4 班子: — | b2 + 另推 周七    M4 中层: 另推 吴八 | b3
    S1 其他: a3 | b1 b2 (+ 郑九 written, not marked)
    S2 其他: — | — (blank sheet)
    S3 其他: voided by a reviewer
    N1 no category: a1 a2 | b1 b2 b3 (every block void)
"""

from __future__ import annotations

import pytest

from tally.model import MeetingFacts, Settings
from tally.rules import TallyInputError, compute, verify_result_sha256
from tally.rules.result import ALL
from tests.rules_helpers import make_ballot, small_spec

SPEC = small_spec("recommendation", """recommendation:
  positions:
    - id: director
      title: 局长人选
      quota: 1
      candidates:
        - {id: a1, name: 王一}
        - {id: a2, name: 李二}
        - {id: a3, name: 张三}
    - id: deputy
      title: 副局长人选
      quota: 2
      writein_lines: 1
      candidates:
        - {id: b1, name: 赵四}
        - {id: b2, name: 钱五}
        - {id: b3, name: 孙六}
""")
A, B = "pos.director", "pos.deputy"


def ballots():
    def b(serial, cat, a=(), d=(), **kw):
        return make_ballot(SPEC, serial, cat, {A: a, B: d}, **kw)

    return [
        b("L1", "leader", "a1", ("b1", "b2")),
        b("L2", "leader", "a1", "b1"),
        b("L3", "leader", "a2", ("b1", "b2", "b3")),
        b("L4", "leader", (), ("b2", "writein1"), writeins={B: {"writein1": "周七"}}),
        b("M1", "middle", ("a1", "a2"), ("b1", "b3")),
        b("M2", "middle", "a2", ()),
        b("M3", "middle", "a1", ("b1", "writein1"), writeins={B: {"writein1": "  "}}),
        b("M4", "middle", "writein1", "b3", writeins={A: {"writein1": "吴八"}}),
        b("S1", "staff", "a3", ("b1", "b2"), writeins={B: {"writein1": "郑九"}}),
        b("S2", "staff"),
        b("S3", "staff", "a1", "b1", void=True, void_reason="有署名"),
        b("N1", None, ("a1", "a2"), ("b1", "b2", "b3")),
    ]


FACTS = MeetingFacts(expected={"leader": 5, "middle": 4, "staff": 6}, issued=12)


def run(**settings):
    return compute(ballots(), SPEC, FACTS, Settings(**settings))


def pos(result, pid):
    return next(p for p in result.recommendation.positions if p.id == pid)


def cand(position, cid):
    return next(c for c in position.candidates if c.id == cid)


def test_block_counts_per_category():
    r = run()
    a, d = pos(r, "director"), pos(r, "deputy")
    counts = lambda blk: (blk.valid, blk.void, blk.abstain, blk.ballot_void)  # noqa: E731
    assert counts(a.blocks[ALL]) == (7, 2, 2, 1)
    assert counts(a.blocks["leader"]) == (3, 0, 1, 0)
    assert counts(a.blocks["middle"]) == (3, 1, 0, 0)
    assert counts(a.blocks["staff"]) == (1, 0, 1, 1)
    assert counts(a.blocks["_none"]) == (0, 1, 0, 0)
    assert counts(d.blocks[ALL]) == (7, 2, 2, 1)
    assert counts(d.blocks["leader"]) == (3, 1, 0, 0)
    assert counts(d.blocks["middle"]) == (3, 0, 1, 0)


def test_votes_ranks_and_writeins():
    r = run()
    a, d = pos(r, "director"), pos(r, "deputy")
    assert {c.id: c.votes[ALL] for c in a.candidates} == {"a1": 3, "a2": 2, "a3": 1}
    assert {c.id: c.votes["leader"] for c in a.candidates} == {"a1": 2, "a2": 1, "a3": 0}
    assert {c.id: c.votes["middle"] for c in a.candidates} == {"a1": 1, "a2": 1, "a3": 0}
    assert {c.id: c.rank["middle"] for c in a.candidates} == {"a1": 1, "a2": 1, "a3": 3}
    assert {c.id: c.votes[ALL] for c in d.candidates} == {"b1": 5, "b2": 3, "b3": 2}
    assert {c.id: c.rank["leader"] for c in d.candidates} == {"b1": 1, "b2": 1, "b3": 3}
    assert {c.id: c.rank["middle"] for c in d.candidates} == {"b1": 1, "b3": 1, "b2": 3}
    assert [c.id for c in d.candidates] == ["b1", "b2", "b3"]  # by votes
    assert [(w.name, w.votes[ALL], w.votes["middle"]) for w in a.writeins] == [("吴八", 1, 1)]
    assert [(w.name, w.votes[ALL], w.votes["leader"]) for w in d.writeins] == [("周七", 1, 1)]
    assert d.unnamed_writein_marks[ALL] == 1 and d.unnamed_writein_marks["middle"] == 1


@pytest.mark.parametrize(("denominator", "den_all", "den_leader", "den_staff"), [
    ("attendees", 12, 4, 3),
    ("valid_ballots", 9, 4, 1),
    ("block_valid", 7, 3, 1),
])
def test_rates_under_each_denominator(denominator, den_all, den_leader, den_staff):
    r = run(denominator=denominator)
    a = pos(r, "director")
    assert a.blocks[ALL].denominator == den_all
    assert cand(a, "a1").rate[ALL] == 3 / den_all
    assert cand(a, "a1").rate["leader"] == 2 / den_leader
    assert cand(a, "a3").rate["staff"] == 1 / den_staff
    # the uncategorised sheet N1 is void on both blocks: a rate of 0, or no rate at all
    assert cand(a, "a1").rate["_none"] == (0.0 if denominator == "attendees" else None)
    d = pos(r, "deputy")
    assert cand(d, "b1").rate[ALL] == 5 / den_all
    assert a.writeins[0].rate[ALL] == 1 / den_all
    assert r.settings.denominator == denominator


def test_reconciliation_and_participation_warning():
    r = run()
    rows = {row.bucket: row for row in r.reconciliation.rows}
    assert (rows[ALL].returned, rows[ALL].valid, rows[ALL].invalid, rows[ALL].abstain) == (
        12, 9, 2, 1)
    assert (rows["staff"].valid, rows["staff"].invalid, rows["staff"].abstain) == (1, 1, 1)
    assert (rows["_none"].returned, rows["_none"].invalid) == (1, 1)
    assert rows["leader"].participation == 4 / 5 and not rows["leader"].participation_low
    assert rows["staff"].participation == 3 / 6 and rows["staff"].participation_low
    assert rows[ALL].expected == 15 and rows[ALL].present == 12
    assert [w.bucket for w in r.warnings if w.code == "participation_low"] == ["staff"]
    assert not r.reconciliation.vote_void and r.alarms == []
    assert r.reconciliation.not_returned == 0


def test_more_returned_than_issued_is_a_loud_alarm():
    r = compute(ballots(), SPEC, MeetingFacts(issued=11), Settings())
    assert r.reconciliation.vote_void
    assert [a.code for a in r.alarms] == ["returned_exceeds_issued"]
    assert "本次投票无效" in r.alarms[0].message and "12" in r.alarms[0].message


def test_sheet_notes_for_appendix():
    r = run()
    notes = {(n.serial, n.code) for n in r.sheets}
    # every over-quota block is listed too (DOMAIN.md: the appendix shows void blocks)
    assert notes == {("M3", "writein_mark_no_name"), ("S1", "writein_name_no_mark"),
                     ("S3", "voided"), ("N1", "all_blocks_void"), ("N1", "block_void"),
                     ("L3", "block_void"), ("M1", "block_void")}
    assert next(n for n in r.sheets if n.serial == "S3").reason == "有署名"
    assert not r.provisional


def test_sort_by_strokes_and_hash():
    r = run(sort="strokes")
    # 王 4 strokes, 张 7 (5153154), 李 7 (1234551): 王, 李, 张
    assert [c.name for c in pos(r, "director").candidates] == ["王一", "李二", "张三"]
    doc = r.model_dump(mode="json")
    assert doc["schema"] == "scantally.tally/1" and verify_result_sha256(doc)
    doc["recommendation"]["positions"][0]["candidates"][0]["votes"]["_all"] += 1
    assert not verify_result_sha256(doc)
    again = compute(list(reversed(ballots())), SPEC, FACTS, Settings(sort="strokes"))
    assert again.sha256 == r.sha256


def test_doubtful_marks_make_the_result_provisional():
    extra = make_ballot(SPEC, "P1", "leader", {A: "a1"}, doubtful={B: ("b3",)})
    r = compute([*ballots(), extra], SPEC, FACTS, Settings())
    assert r.provisional
    assert any(n.serial == "P1" and n.code == "doubtful" for n in r.sheets)
    assert any(w.code == "pending_review" for w in r.warnings)


def test_bad_input_is_named():
    wrong_form = make_ballot(SPEC, "X1", "leader", {A: "a1"}).__class__(
        serial="X1", form_id="other", category=None, pages=())
    with pytest.raises(TallyInputError, match=r"X1.*other"):
        compute([wrong_form], SPEC)
    bad_option = make_ballot(SPEC, "X2", "leader", {A: "zz"})
    with pytest.raises(TallyInputError, match="no option 'zz'"):
        compute([bad_option], SPEC)
    with pytest.raises(TallyInputError, match="twice"):
        compute(ballots() + ballots()[:1], SPEC)
