"""omr.sim.voters: each ballot kind gets its valid, over-marked, blank, cancelled and write-in
sheets at sensible rates, and every plan only names boxes the form has."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from omr.sim.voters import Population, Rates

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
N_SHEETS = 2000


def _layout(name: str) -> dict:
    return layout_to_dict(compile_layout(load_spec(EXAMPLES / f"{name}.yaml")))


def _plans(name: str, n: int = N_SHEETS, **kw):
    layout = _layout(name)
    cats = [o for f in layout["fields"] if f["group"] == "category" for o in f["options"]]
    pop = Population(layout, seed=5, categories=cats, **kw)
    return layout, [pop.plan_sheet(np.random.default_rng([5, i])) for i in range(n)]


def _check_boxes_exist(layout: dict, plans) -> None:
    boxes = {(b["field"], b["option"]) for p in layout["pages"] for b in p["boxes"]}
    for plan in plans:
        keys = [(m.field, m.option) for m in plan.marks]
        assert set(keys) <= boxes
        assert len(keys) == len(set(keys)), "a box planned twice"


def test_recommendation_behaviours_all_occur_at_sensible_rates() -> None:
    layout, plans = _plans("recommendation")
    _check_boxes_exist(layout, plans)
    quota = {f["id"]: f["max"] for f in layout["fields"]}
    c: Counter[str] = Counter()
    for plan in plans:
        c["blank"] += plan.blank
        votes = Counter(m.field for m in plan.marks if not m.cancelled)
        for fid in (f["id"] for f in layout["fields"] if f["group"] == "recommendation"):
            c["over"] += votes[fid] > quota[fid]
            c["abstain"] += votes[fid] == 0 and not plan.blank
        for m in plan.marks:
            if m.cancelled:
                c[f"cancel:{m.style}"] += 1
                assert plan.style in ("tick", "cross", "circle")
        for lines in plan.writeins.values():
            for option, name in lines.items():
                marked = any(m.option == option and not m.cancelled for m in plan.marks)
                c["wi:name+mark" if name and marked else "wi:name" if name else "wi:mark"] += 1
                assert marked or name
        c["no-category"] += plan.category is None and not plan.blank
    assert 0.01 * N_SHEETS < c["blank"] < 0.035 * N_SHEETS
    for key in ("over", "abstain", "cancel:scribble", "cancel:struck", "cancel:solid",
                "wi:name+mark", "wi:name", "wi:mark", "no-category"):
        assert c[key] > 0, f"no {key} in {N_SHEETS} sheets"


def test_evaluation_rows_get_double_blank_and_struck_marks() -> None:
    layout, plans = _plans("evaluation", 1000)
    _check_boxes_exist(layout, plans)
    rows = Counter()
    for plan in plans:
        per_field = Counter(m.field for m in plan.marks if not m.cancelled)
        for f in layout["fields"]:
            if f["group"] in ("team", "individual") and not plan.blank:
                rows[min(per_field[f["id"]], 2)] += 1
        cancelled = [m for m in plan.marks if m.cancelled and m.style == "struck"]
        for m in cancelled:  # a struck tick has a new mark beside it in the same row
            assert per_field[m.field] >= 1
    total = sum(rows.values())
    assert 0.015 < rows[0] / total < 0.05
    assert 0.005 < rows[2] / total < 0.03
    assert rows[1] / total > 0.9


def test_weak_leader_draws_low_ratings_and_categories_follow_the_fixed_one() -> None:
    _, plans = _plans("evaluation", 400, fixed_category="middle")
    assert {p.category for p in plans} <= {"middle", None}
    incompetent = Counter(m.field for p in plans for m in p.marks
                          if m.option == "incompetent" and not m.cancelled)
    worst = max(incompetent.values())
    assert worst > 0.25 * len(plans), "no leader near the 1/3 不称职 warning threshold"


@pytest.mark.parametrize("name", ["satisfaction", "evaluation-long"])
def test_other_kinds_plan_only_their_boxes(name: str) -> None:
    layout, plans = _plans(name, 300, rates=Rates(cancel_sheet=0.5, comment=0.5))
    _check_boxes_exist(layout, plans)
    assert any(any(m.cancelled for m in p.marks) for p in plans)
    if name == "satisfaction":
        assert any(p.comment for p in plans)
