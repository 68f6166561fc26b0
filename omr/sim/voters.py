"""What each simulated voter marks, by ballot kind: the plan of a sheet, before any drawing.

A `Population` is fixed per corpus (seeded): front-runners among candidates, a per-row spread of
ratings (a weak leader or two, so warnings can trigger), a pool of write-in names. `plan_sheet`
draws one voter from it: valid ballots mostly, plus over-marked blocks, blank rows, blank sheets,
cancelled marks (scribbled, filled solid, or struck beside a new tick), write-ins, comments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from omr.sim.marks import Pen, random_pen

#: how a voter marks a box (every sheet keeps one style)
STYLES = ("tick", "cross", "circle", "solid", "partial")
STYLE_P = (0.66, 0.12, 0.08, 0.07, 0.07)
#: how a mark is cancelled: box scribbled over, filled solid where the voter ticks, or a tick
#: struck out (scribbled) beside a new tick in the same row/block
CANCEL_KINDS = ("scribble", "solid", "struck")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文海波东晓燕林辉鹏飞"
COMMENTS = ["建议进一步扩大民主", "希望加强干部交流", "选人用人总体公正", "工作程序规范",
            "建议加大年轻干部培养力度", "无意见", "希望更加公开透明", "对新提拔干部满意"]


@dataclass(frozen=True)
class Rates:
    """Behaviour rates (probabilities per sheet or per row)."""

    blank_sheet: float = 0.02
    blank_row: float = 0.03
    double_row: float = 0.015
    straight_line: float = 0.08
    abstain_block: float = 0.06
    over_block: float = 0.04
    cancel_sheet: float = 0.04
    writein: float = 0.07
    category_empty: float = 0.05
    category_double: float = 0.01
    comment: float = 0.12
    stray_page: float = 0.10


@dataclass(frozen=True)
class Mark:
    """One box as the voter leaves it; `cancelled` marks are not votes (they go to review)."""

    field: str
    option: str
    style: str
    cancelled: bool = False


@dataclass
class SheetPlan:
    pen: Pen
    style: str
    marks: list[Mark]
    category: str | None
    writeins: dict[str, dict[str, str]] = field(default_factory=dict)
    comment: str | None = None
    blank: bool = False

    def voter(self) -> dict:
        return {"style": self.style, **self.pen.describe()}


def _name(rng: np.random.Generator) -> str:
    given = "".join(rng.choice(list(GIVEN), size=int(rng.integers(1, 3))))
    return str(rng.choice(list(SURNAMES))) + given


class Population:
    """The electorate of one corpus: preferences per field, categories and write-in names."""

    def __init__(self, layout: dict, seed: int, categories: list[str] | None = None,
                 fixed_category: str | None = None, rates: Rates | None = None) -> None:
        rng = np.random.default_rng([seed, 0x5C4])
        self.rates = rates or Rates()
        self.fields = [f for f in layout["fields"] if f["group"] != "category"]
        self.category_field = next((f for f in layout["fields"] if f["group"] == "category"),
                                   None)
        self.categories = categories or []
        self.fixed_category = fixed_category
        n_cat = len(self.categories)
        self.category_p = _normalise(rng.uniform(0.5, 2.0, n_cat) * np.linspace(0.4, 1.0, n_cat))
        self.writein_names = [_name(rng) for _ in range(6)]
        self.writein_p = _normalise(rng.gamma(1.0, size=6) + 0.05)
        persons = sorted({f.get("person") or f["id"] for f in self.fields})
        weak = set(rng.choice(persons, size=max(1, len(persons) // 8), replace=False)) \
            if persons else set()
        self.weights: dict[str, np.ndarray] = {}
        for f in self.fields:
            n = len(f["options"])
            if f["group"] == "recommendation":
                cands = [o for o in f["options"] if not o.startswith("writein")]
                w = rng.gamma(0.8, size=len(cands)) ** 1.5 + 0.02
                self.weights[f["id"]] = _normalise(w)
                continue
            ratio = rng.uniform(0.25, 0.55)
            w = ratio ** np.arange(n, dtype=np.float64)
            if (f.get("person") or f["id"]) in weak:
                w = np.array([0.15, 0.3, 0.2, 0.45, 0.03, 0.03][:n] + [0.03] * max(0, n - 6))
            w = np.where(np.array(f["options"]) == "unknown", 0.03, w)
            self.weights[f["id"]] = _normalise(w * rng.uniform(0.8, 1.2, n))

    def plan_sheet(self, rng: np.random.Generator) -> SheetPlan:
        """One voter's sheet: what they mark, cancel, write in, and their pen."""
        r = self.rates
        pen = random_pen(rng)
        style = str(rng.choice(STYLES, p=STYLE_P))
        category = self.fixed_category or (
            str(rng.choice(self.categories, p=self.category_p)) if self.categories else None)
        if rng.random() < r.blank_sheet:
            batch = self.category_field is None
            return SheetPlan(pen, style, [], category if batch else None, blank=True)
        marks: list[Mark] = []
        writeins: dict[str, dict[str, str]] = {}
        harsh = float(np.clip(rng.normal(0.0, 0.7), -1.5, 2.0))
        straight = rng.random() < r.straight_line
        for f in self.fields:
            if f["group"] == "recommendation":
                marks += self._recommend(f, style, rng, writeins)
            else:
                marks += self._rate(f, style, rng, harsh, straight)
        sheet_category = category
        if self.category_field is not None and category is not None:
            u = rng.random()
            if u < r.category_empty:
                sheet_category = None
            else:
                marks.append(Mark("category", category, style))
                if u < r.category_empty + r.category_double and len(self.categories) > 1:
                    other = [c for c in self.categories if c != category]
                    marks.append(Mark("category", str(rng.choice(other)), style))
                    sheet_category = None
        if marks and rng.random() < r.cancel_sheet:
            marks = self._cancel(marks, style, rng)
        if not any(not m.cancelled for m in marks):  # nothing votes: no write-in names either
            writeins = {f: {o: t for o, t in opts.items() if not t} for f, opts in
                        writeins.items()}
            writeins = {f: o for f, o in writeins.items() if o}
        comment = str(rng.choice(COMMENTS)) if marks and rng.random() < r.comment else None
        return SheetPlan(pen, style, marks, sheet_category, writeins, comment)

    def _recommend(self, f: dict, style: str, rng: np.random.Generator,
                   writeins: dict[str, dict[str, str]]) -> list[Mark]:
        r, quota = self.rates, int(f["max"])
        cands = [o for o in f["options"] if not o.startswith("writein")]
        lines = [o for o in f["options"] if o.startswith("writein")]
        u = rng.random()
        if u < r.abstain_block:
            k = 0
        elif u < r.abstain_block + r.over_block:
            k = min(len(cands), quota + int(rng.integers(1, 3)))
        else:
            k = quota if rng.random() < 0.8 else int(rng.integers(1, quota + 1))
        chosen = list(rng.choice(cands, size=k, replace=False, p=self.weights[f["id"]]))
        out = [Mark(f["id"], str(o), style) for o in chosen]
        if lines and rng.random() < r.writein:
            line = str(rng.choice(lines))
            name = str(rng.choice(self.writein_names, p=self.writein_p))
            kind = rng.choice(["name_mark", "name_only", "mark_only"], p=[0.7, 0.15, 0.15])
            if kind != "mark_only":
                writeins.setdefault(f["id"], {})[line] = name
            if kind != "name_only":
                writeins.setdefault(f["id"], {}).setdefault(line, "")
                if len(out) >= quota and k <= quota and out:
                    out.pop()  # the write-in takes one of the quota's places
                out.append(Mark(f["id"], line, style))
        return out

    def _rate(self, f: dict, style: str, rng: np.random.Generator, harsh: float,
              straight: bool) -> list[Mark]:
        r, opts = self.rates, f["options"]
        u = rng.random()
        if u < r.blank_row:
            return []
        if straight:
            return [Mark(f["id"], opts[0], style)]
        # a harsh voter shifts towards the lower levels; 不了解 (unknown) keeps its weight
        base = self.weights[f["id"]]
        w = [b if o == "unknown" else b * math.exp(harsh * 0.35 * k)
             for k, (b, o) in enumerate(zip(base, opts, strict=True))]
        if u < r.blank_row + r.double_row and len(opts) > 1:
            p = np.asarray(w) / sum(w)
            return [Mark(f["id"], str(o), style) for o in rng.choice(opts, 2, replace=False, p=p)]
        return [Mark(f["id"], opts[_pick(w, rng.random())], style)]

    def _cancel(self, marks: list[Mark], style: str, rng: np.random.Generator) -> list[Mark]:
        """Turn one of the voter's marks into a cancelled one (see CANCEL_KINDS)."""
        votes = [i for i, m in enumerate(marks) if not m.cancelled and m.field != "category"]
        if not votes or style not in ("tick", "cross", "circle"):
            return marks  # a cancelled fill would look like any other fill: not generated
        i = int(rng.choice(votes))
        m = marks[i]
        kinds = ["scribble", "struck"]
        if style in ("tick", "cross", "circle") and len(votes) >= 3:
            kinds.append("solid")
        kind = str(rng.choice(kinds))
        out = list(marks)
        out[i] = Mark(m.field, m.option, kind, cancelled=True)
        if kind == "struck":
            spec = next(f for f in self.fields if f["id"] == m.field)
            taken = {x.option for x in marks if x.field == m.field}
            free = [o for o in spec["options"] if o not in taken and not o.startswith("writein")]
            if not free:
                out[i] = Mark(m.field, m.option, "scribble", cancelled=True)
                return out
            out.append(Mark(m.field, str(rng.choice(free)), style))
        return out


def _pick(weights: list[float], u: float) -> int:
    """The index that a uniform draw `u` in [0, 1) selects from unnormalised `weights`."""
    x, acc = u * sum(weights), 0.0
    for i, w in enumerate(weights):
        acc += w
        if x < acc:
            return i
    return len(weights) - 1


def _normalise(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    return w / w.sum() if w.size and w.sum() > 0 else w
