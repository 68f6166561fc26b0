"""选人用人工作评议 figures: overall questions and items (newly promoted cadres).

With the levels other than 不了解 in their printed order: 满意率 (认同率) = all but the last
(满意+基本满意), 不满意率 (不认同率) = the last, 不了解率 = 不了解. The comment area is kept as an
image only and never enters any figure. Items are ranked by 认同率 (equal rates share a rank).
"""

from __future__ import annotations

from forms.spec import Level, Satisfaction
from tally.model import Settings
from tally.rules.evaluation import order_rows, rank_rows
from tally.rules.result import PartResult, SatisfactionResult
from tally.rules.rows import UNKNOWN_ID, RateDef, level_infos, make_row
from tally.rules.tallies import Tallies


def _rates(levels: list[Level], good: str, bad: str) -> list[RateDef]:
    known = [lv.id for lv in levels if lv.id != UNKNOWN_ID]
    out = [RateDef(good, f"{_word(good)}率", tuple(known[:-1])),
           RateDef(bad, f"{_word(bad)}率", (known[-1],))]
    if any(lv.id == UNKNOWN_ID for lv in levels):
        out.append(RateDef("unknown", "不了解率", (UNKNOWN_ID,)))
    return out


def _word(key: str) -> str:
    return {"satisfied": "满意", "dissatisfied": "不满意", "agree": "认同",
            "disagree": "不认同"}[key]


def satisfaction_figures(sat: Satisfaction, t: Tallies, settings: Settings,
                         shown: dict[str, str] | None = None) -> SatisfactionResult:
    """`shown`: person id -> the name shown for them (`forms.people.display_names`)."""
    shown = shown or {}
    levels = level_infos(sat.levels, settings)
    rates = _rates(sat.levels, "satisfied", "dissatisfied")
    overall = PartResult(
        id="overall", title="总体评价", levels=levels, rate_labels={r.key: r.label for r in rates},
        rows=[make_row(t, settings, row_id=q.id, fids=[f"q.{q.id}"], field=f"q.{q.id}",
                       label=q.label, levels=levels, rates=rates) for q in sat.overall],
    )
    items = None
    if sat.items:
        ilevels = level_infos(sat.item_levels, settings)
        irates = _rates(sat.item_levels, "agree", "disagree")
        rows = [make_row(t, settings, row_id=p.id, fids=[f"item.{p.id}"], field=f"item.{p.id}",
                         label=p.name, person_id=p.id, post=p.post,
                         shown=shown.get(p.id, p.name), levels=ilevels, rates=irates)
                for p in sat.items]
        rows = order_rows(rank_rows(rows, ("agree",)), settings)
        items = PartResult(id="items", title=sat.items_title, levels=ilevels,
                           rate_labels={r.key: r.label for r in irates}, rows=rows,
                           ranked_by="认同率")
    return SatisfactionResult(overall=overall, items=items)
