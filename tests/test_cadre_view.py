"""tally.cadre: one cadre across meetings, stages and years, joined on the spec's person_id,
with the figures the meetings' own tallies give, hand entries in their own chain, and people
without a person id kept to their meeting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import parse_spec
from tally.cadre.entries import EntryError, HandEntry, check_entries, enter
from tally.cadre.people import search
from tally.cadre.view import CadreNotFound, cadre_view
from tally.db import CadreEntry, CadreMeeting
from tally.results import meeting_results
from tally.rules.result import ALL
from tally.store import Store
from tests.cadre_helpers import ZHAO, ZHAO_PID, evaluation_marks, meeting_with, spec_text
from tests.server_helpers import ingest_readings, reading
from tests.tally_helpers import any_store, pg_unreachable

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]


def three_meetings(store: Store) -> tuple[int, int, int]:
    # 2025 recommendation: 赵志强 for 局长 on 3 of 4 sheets
    rec = meeting_with(store, "推荐2025a", "recommendation", 2025, [
        {"category": ["staff"], "pos.director": [ZHAO]},
        {"category": ["staff"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": [ZHAO]},
        {"category": ["middle"], "pos.director": ["P310012"]},
    ])
    ev25 = meeting_with(store, "测评2025b", "evaluation", 2025, evaluation_marks(6, 3))
    ev26 = meeting_with(store, "测评2026c", "evaluation", 2026, evaluation_marks(5, 5))
    return rec, ev25, ev26


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cadre_across_three_meetings_and_two_years(backend: str, tmp_path: Path) -> None:
    with any_store(backend, tmp_path) as store:
        rec, ev25, ev26 = three_meetings(store)
        view = cadre_view(store, ZHAO_PID)
        assert view.name == "赵志强" and view.post == "党组副书记、副局长"
        assert not view.local_only
        assert [(a.meeting_id, a.stage, a.year) for a in view.appearances] == [
            (rec, "民主推荐", 2025), (ev25, "民主测评", 2025), (ev26, "民主测评", 2026)]
        assert view.years == [2025, 2026] and view.stages == ["民主推荐", "民主测评"]
        r, e25, e26 = view.appearances
        assert r.figures["votes"] == 3 and r.figures["rate"] == pytest.approx(3 / 4)
        assert r.figures["rank"] == 1
        assert {c.bucket: c.figures["votes"] for c in r.categories} == {
            "leader": 0, "middle": 1, "staff": 2}
        # 6 sheets, 不称职 on sheets 0 and 3: 称职以上率 4/6, 不称职率 2/6
        assert e25.figures["competent_or_better"] == pytest.approx(4 / 6)
        assert e25.figures["incompetent"] == pytest.approx(2 / 6)
        assert e26.figures["competent_or_better"] == pytest.approx(4 / 5)
        # the same figures and hash as the meeting's own tally (its report)
        res = meeting_results(store, ev25).forms[0].result
        row = next(x for x in res.evaluation.individual.rows if x.id == ZHAO)  # type: ignore[union-attr]
        assert e25.figures["score"] == pytest.approx(row.stats[ALL].score)
        assert e25.result_sha256 == res.sha256
        cats = {c.bucket: c.figures for c in e25.categories}
        # middle: sheets 0, 2, 4 (不称职 on 0); staff: sheets 1, 3, 5 (不称职 on 3)
        assert cats["middle"]["incompetent"] == pytest.approx(1 / 3)
        assert cats["staff"]["incompetent"] == pytest.approx(1 / 3)
        assert cats["leader"]["denominator"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_figures_follow_the_meeting(backend: str, tmp_path: Path) -> None:
    with any_store(backend, tmp_path) as store:
        _, ev25, _ = three_meetings(store)
        first = cadre_view(store, ZHAO_PID)
        with store.session(readonly=True) as s:
            cached = s.get(CadreMeeting, ev25)
            assert cached is not None and cached.figures is not None
        assert cadre_view(store, ZHAO_PID) == first  # from the cache
        # one more sheet moves the audit head: the figures are recomputed, not stale
        layout = layout_to_dict(compile_layout(parse_spec(
            spec_text("evaluation", year=2025, form_id="eva2025b"), "x")))
        ingest_readings(store, ev25, [reading(layout, "S0099", marked={
            "category": ["staff"], f"leader.{ZHAO}": ["competent"]})], salt="more")
        after = cadre_view(store, ZHAO_PID)
        e25 = after.appearances[1]
        assert e25.figures["competent_or_better"] == pytest.approx(5 / 7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_entries_are_checked_chained_and_superseded(backend: str, tmp_path: Path) -> None:
    with any_store(backend, tmp_path) as store:
        three_meetings(store)
        talk = HandEntry(ZHAO_PID, "谈话推荐", 2026, "2026年换届谈话推荐",
                         {"votes": 12, "of": 30})
        enter(store, talk, who="张操作员")
        enter(store, HandEntry(ZHAO_PID, "谈话推荐", 2026, "2026年换届谈话推荐",
                               {"votes": 13, "of": 30}, why="复核更正"), who="李操作员")
        view = cadre_view(store, ZHAO_PID)
        hand = [a for a in view.appearances if a.source == "hand"]
        assert len(hand) == 1 and hand[0].figures["rate"] == pytest.approx(13 / 30)
        assert hand[0].entered_by == "李操作员" and hand[0].why == "复核更正"
        assert view.stages == ["民主推荐", "谈话推荐", "民主测评"]
        for bad, words in [({"votes": 31, "of": 30}, "more than of"),
                           ({"votes": 3}, "of=N"), ({"rate": 0.5, "of": 9}, "takes votes"),
                           ({"votes": 2.5, "of": 9}, "whole numbers")]:
            with pytest.raises(EntryError, match=words):
                enter(store, HandEntry(ZHAO_PID, "谈话推荐", 2026, "x", bad), who="w")
        with pytest.raises(EntryError, match="give --name"):
            enter(store, HandEntry("NOBODY-1", "民意调查", 2026, "x",
                                   {"satisfied": 3, "of": 9}), who="w")
        with pytest.raises(EntryError, match="not a stage"):
            enter(store, HandEntry(ZHAO_PID, "考核", 2026, "x", {"votes": 1, "of": 2}), who="w")
        with store.session(readonly=True) as s:
            assert check_entries(s) == []
        with store.transaction() as s:  # an entry edited in the database is found
            s.execute(update(CadreEntry).where(CadreEntry.seq == 1)
                      .values(values={"votes": 29, "of": 30}))
        with store.session(readonly=True) as s:
            problems = check_entries(s)
        assert len(problems) == 1 and "edited" in problems[0].message


def test_people_without_person_id_stay_in_their_meeting(tmp_path: Path) -> None:
    with any_store("sqlite", tmp_path) as store:
        a = meeting_with(store, "无编号2025a", "evaluation", 2025, evaluation_marks(4, 2),
                         with_ids=False)
        meeting_with(store, "无编号2026b", "evaluation", 2026, evaluation_marks(4, 4),
                     with_ids=False)
        found = [c for c in search(store, "赵志强")]
        assert len(found) == 2 and all(c.person_id is None for c in found)
        mine = next(c for c in found if c.key.startswith(f"~{a}~"))
        view = cadre_view(store, mine.key)
        assert view.local_only and [x.meeting_id for x in view.appearances] == [a]
        with pytest.raises(CadreNotFound, match="cadre list"):
            cadre_view(store, "GB3101-9999")


def test_a_spec_gives_one_person_id_to_one_row_only() -> None:
    import yaml

    from forms.load import SpecError, parse_spec

    doc = yaml.safe_load(spec_text("evaluation", year=2026, form_id="e1"))
    leaders = doc["evaluation"]["individual"]["leaders"]
    assert parse_spec(yaml.safe_dump(doc, allow_unicode=True), "ok.yaml").evaluation
    leaders[3]["person_id"] = leaders[1]["person_id"]
    with pytest.raises(SpecError, match=r"person_id 'GB3101-0031' is given to both") as err:
        parse_spec(yaml.safe_dump(doc, allow_unicode=True), "dup.yaml")
    assert "leaders" in str(err.value) and "dup.yaml" in str(err.value)
    leaders[3]["person_id"] = "has space"
    with pytest.raises(SpecError, match="person_id"):
        parse_spec(yaml.safe_dump(doc, allow_unicode=True), "bad.yaml")


def test_a_promoted_cadre_in_a_satisfaction_review(tmp_path: Path) -> None:
    with any_store("sqlite", tmp_path) as store:
        levels = ["agree", "agree", "basic", "disagree", "unknown"]
        mid = meeting_with(store, "评议2026a", "satisfaction", 2026, [
            {"category": ["staff"], "item.P310401": [lv]} for lv in levels])
        view = cadre_view(store, "GB3101-0401")
        (a,) = view.appearances
        assert (a.meeting_id, a.stage, a.role, a.name) == (mid, "满意度评议", "item", "杨明")
        # 认同率 = (认同 + 基本认同) / 5 with 不了解 in the denominator (the default)
        assert a.figures["agree"] == pytest.approx(3 / 5)
        assert a.figures["disagree"] == pytest.approx(1 / 5)
        assert a.figures["unknown"] == pytest.approx(1 / 5)
