"""The stages of a cadre's inspection and what each one's figures are called.

A stage read from ballots takes its figures from the tally (民主推荐 from recommendation
forms, 民主测评 from a form's individual part, 满意度评议 from a satisfaction form's items);
the others have no ballot and are entered by hand with named counts (`HAND_VALUES`), from which
the same rates are worked out here (`hand_figures`). Each stage has one key rate, the line of
its year-over-year chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["民主推荐", "谈话推荐", "民主测评", "民意调查", "满意度评议"]
STAGES: tuple[Stage, ...] = ("民主推荐", "谈话推荐", "民主测评", "民意调查", "满意度评议")
#: the stage of a person read from ballots, by how the form lists them
STAGE_OF_ROLE: dict[str, Stage] = {"candidate": "民主推荐", "leader": "民主测评",
                                   "item": "满意度评议"}

#: figure key -> its Chinese name (ballot-read and hand-entered figures alike)
FIGURE_LABELS: dict[str, str] = {
    "votes": "得票数", "rate": "得票率", "rank": "排名", "denominator": "基数",
    "excellent": "优秀率", "competent_or_better": "称职以上率", "basic": "基本称职率",
    "incompetent": "不称职率", "unknown": "不了解率", "score": "加权得分",
    "category_weighted_score": "类别加权得分", "agree": "认同率", "disagree": "不认同率",
    "satisfied": "满意率", "dissatisfied": "不满意率",
}
#: figures that are fractions (shown as %)
RATE_KEYS = frozenset({"rate", "excellent", "competent_or_better", "basic", "incompetent",
                       "unknown", "agree", "disagree", "satisfied", "dissatisfied"})


@dataclass(frozen=True)
class StageDef:
    name: Stage
    #: the stage's headline figure (the line of the year-over-year chart)
    key: str
    #: counts a hand entry may give (besides `of`, the denominator it is out of)
    hand_values: tuple[str, ...]
    #: hand entries: rate key -> the counts it sums (over `of`)
    hand_rates: tuple[tuple[str, tuple[str, ...]], ...]


STAGE_DEFS: dict[Stage, StageDef] = {s.name: s for s in (
    StageDef("民主推荐", "rate", ("votes",), (("rate", ("votes",)),)),
    StageDef("谈话推荐", "rate", ("votes",), (("rate", ("votes",)),)),
    StageDef("民主测评", "competent_or_better", ("excellent", "competent", "basic", "incompetent"),
             (("excellent", ("excellent",)), ("competent_or_better", ("excellent", "competent")),
              ("basic", ("basic",)), ("incompetent", ("incompetent",)))),
    StageDef("民意调查", "satisfied", ("satisfied", "basic", "dissatisfied"),
             (("satisfied", ("satisfied", "basic")), ("dissatisfied", ("dissatisfied",)))),
    StageDef("满意度评议", "agree", ("agree", "basic", "disagree"),
             (("agree", ("agree", "basic")), ("disagree", ("disagree",)))),
)}
OF = "of"


class HandValueError(ValueError):
    """Hand-entered values that do not fit the stage; the message names the value."""


def check_hand_values(stage: str, values: dict[str, float]) -> dict[str, int]:
    """The counts of a hand entry, checked: known names for the stage, whole numbers ≥ 0, an
    `of` > 0 that no count exceeds, and at least one count."""
    if stage not in STAGE_DEFS:
        raise HandValueError(f"--stage {stage!r} is not a stage; use one of {', '.join(STAGES)}")
    d = STAGE_DEFS[stage]  # type: ignore[index]
    allowed = (*d.hand_values, OF)
    out: dict[str, int] = {}
    for key, value in values.items():
        if key not in allowed:
            raise HandValueError(f"--value {key}=…: {stage} takes {', '.join(allowed)} "
                                 f"(e.g. --value {d.hand_values[0]}=12 --value of=30)")
        if float(value) != int(value) or value < 0:
            raise HandValueError(f"--value {key}={value:g}: counts are whole numbers ≥ 0")
        out[key] = int(value)
    if out.get(OF, 0) <= 0:
        raise HandValueError(f"{stage}: give --value of=N, the number of people it is out of "
                             "(N ≥ 1)")
    counts = {k: v for k, v in out.items() if k != OF}
    if not counts:
        raise HandValueError(f"{stage}: give at least one of {', '.join(d.hand_values)}")
    for k, v in counts.items():
        if v > out[OF]:
            raise HandValueError(f"--value {k}={v} is more than of={out[OF]}")
    if sum(counts.values()) > out[OF] and stage not in ("民主推荐", "谈话推荐"):
        raise HandValueError(f"{stage}: the counts add up to {sum(counts.values())}, more "
                             f"than of={out[OF]}")
    return out


def hand_figures(stage: Stage, values: dict[str, int]) -> dict[str, float | None]:
    """The figures of a hand entry: its counts as given, the stage's rates over `of`."""
    d = STAGE_DEFS[stage]
    of = values[OF]
    out: dict[str, float | None] = {"denominator": float(of)}
    if "votes" in values:
        out["votes"] = float(values["votes"])
    for key, parts in d.hand_rates:
        if any(p in values for p in parts):
            out[key] = sum(values.get(p, 0) for p in parts) / of
    return out
