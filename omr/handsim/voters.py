"""Voters: who marks what on one sheet, with which pen, how hard and in which style.

A voter keeps a style (ticks, crosses, circles, slashes, dots, or filling boxes), a pen and a
hand, but people are not machines: some marks come out much lighter or heavier than the
others, some voters change pens half way, pick up a pencil for one mark, correct a choice
by scribbling it out and marking another, leave a faint hesitation, or rest the pen beside a
box. Choices follow the form kind: one mark per evaluation row (most often the top levels),
up to N per recommendation position, one voter category; now and then a row is left empty
(abstention) or over-marked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omr.handsim.pens import PENS

STYLES = ("tick", "cross", "circle", "slash", "dot", "fill", "mixed")
STYLE_WEIGHTS = (0.42, 0.14, 0.07, 0.07, 0.03, 0.17, 0.10)
#: card-reader forms ask for a 2B pencil and filled boxes
CARD_STYLE_WEIGHTS = (0.22, 0.06, 0.02, 0.04, 0.02, 0.58, 0.06)
PEN_NAMES = ("ballpoint-blue", "ballpoint-black", "gel-black", "gel-blue", "felt-tip",
             "pencil-hb", "pencil-2b")
PEN_WEIGHTS = (0.27, 0.18, 0.17, 0.07, 0.07, 0.13, 0.11)
CARD_PEN_WEIGHTS = (0.07, 0.05, 0.05, 0.02, 0.03, 0.18, 0.60)
#: how often (per sheet or per row) people do each thing
ABSTAIN_ROW = 0.03
OVERVOTE_ROW = 0.012
STRAIGHT_LINER = 0.25
LIGHTER_MARK = 0.05
HEAVIER_MARK = 0.03
PEN_CHANGE_SHEET = 0.08
ONE_PENCIL_MARK_SHEET = 0.05
CANCEL_SHEET = 0.16
SECOND_CANCEL = 0.25
CANCEL_WITHOUT_NEW_MARK = 0.2
FAINT_SHEET = 0.07
FAINT_ALONE_SHEET = 0.03
STRAYS_PER_SHEET = 0.35
WRITEIN_SHEET = 0.05
#: choice weights by level position (best level first); "unknown" levels get UNKNOWN_WEIGHT
LEVEL_WEIGHTS = (0.52, 0.3, 0.12, 0.04)
UNKNOWN_WEIGHT = 0.04


@dataclass
class MarkPlan:
    """One mark to draw: where, what it means (truth), how it is drawn."""

    field: str
    option: str
    truth: str  # clear | cancel | faint
    shape: str  # tick ... | fill | scribble-out | hatch-tick | fill-scribble-out | faint-<shape>
    pen: str
    force: float
    order: int = 0


@dataclass
class SheetPlan:
    marks: list[MarkPlan] = field(default_factory=list)
    #: boxes (field, option) a stray dash or dot lands beside
    strays: list[tuple[str, str]] = field(default_factory=list)
    #: write-in options (field, option) with a name on their line
    writeins: list[tuple[str, str]] = field(default_factory=list)
    style: str = "tick"
    pens: list[str] = field(default_factory=list)


@dataclass
class Voter:
    style: str
    pen: str
    force: float
    straight_column: int | None

    @staticmethod
    def draw(rng: np.random.Generator, card_reader: bool) -> Voter:
        sw = CARD_STYLE_WEIGHTS if card_reader else STYLE_WEIGHTS
        pw = CARD_PEN_WEIGHTS if card_reader else PEN_WEIGHTS
        style = str(rng.choice(STYLES, p=np.array(sw) / sum(sw)))
        pen = str(rng.choice(PEN_NAMES, p=np.array(pw) / sum(pw)))
        column = int(rng.choice([0, 0, 0, 1])) if rng.random() < STRAIGHT_LINER else None
        return Voter(style, pen, float(rng.uniform(0.75, 1.15)), column)

    def shape(self, rng: np.random.Generator) -> str:
        if self.style == "mixed":
            return str(rng.choice(["tick", "cross", "tick", "circle", "fill"]))
        return self.style


def _weights(options: list[str]) -> np.ndarray:
    w = []
    for i, o in enumerate(options):
        w.append(UNKNOWN_WEIGHT if o == "unknown" else LEVEL_WEIGHTS[min(i, 3)])
    a = np.array(w, dtype=float)
    return a / a.sum()


def _choose(fld: dict, voter: Voter, rng: np.random.Generator) -> list[str]:
    """The options a voter means to mark in one field (maybe none, maybe too many)."""
    options: list[str] = list(fld["options"])
    quota = int(fld["max"])
    if fld.get("group") == "recommendation":
        r = rng.random()
        if r < 0.04:
            n = 0
        elif r < 0.10:
            n = quota + 1
        elif r < 0.32:
            n = int(rng.integers(1, quota + 1))
        else:
            n = quota
        named = [o for o in options if not o.startswith("writein")]
        n = min(n, len(options))
        picks = list(rng.choice(named, size=min(n, len(named)), replace=False))
        return [str(p) for p in picks]
    if rng.random() < ABSTAIN_ROW:
        return []
    if fld.get("group") == "category":
        return [str(rng.choice(options))]
    if voter.straight_column is not None and rng.random() < 0.85:
        first = options[min(voter.straight_column, len(options) - 1)]
    else:
        first = str(rng.choice(options, p=_weights(options)))
    picks = [first]
    if rng.random() < OVERVOTE_ROW:
        picks.append(str(rng.choice([o for o in options if o != first])))
    return picks


def _cancel_shape(voter: Voter, rng: np.random.Generator) -> str:
    if voter.style == "fill":
        return "fill-scribble-out"
    return str(rng.choice(["scribble-out", "hatch-tick"]))


def plan_sheet(layout: dict, page: int, rng: np.random.Generator) -> SheetPlan:
    """What one voter does on `page` of a sheet of this layout."""
    card = bool(layout.get("grid_pitch_mm"))
    voter = Voter.draw(rng, card)
    fields = [f for f in layout["fields"] if f["page"] == page]
    plan = SheetPlan(style=voter.style, pens=[voter.pen])
    change_at = int(rng.integers(1, max(2, len(fields)))) if rng.random() < PEN_CHANGE_SHEET \
        else None
    other_pen = str(rng.choice([p for p in PEN_NAMES if p != voter.pen]))
    pen = voter.pen
    order = 0
    for i, fld in enumerate(fields):
        if change_at is not None and i == change_at:
            pen = other_pen
            plan.pens.append(pen)
        for option in _choose(fld, voter, rng):
            order += 1
            force = voter.force * float(rng.lognormal(0, 0.1))
            r = rng.random()
            if r < LIGHTER_MARK:
                force *= float(rng.uniform(0.35, 0.55))
            elif r < LIGHTER_MARK + HEAVIER_MARK:
                force *= float(rng.uniform(1.3, 1.6))
            plan.marks.append(MarkPlan(fld["id"], option, "clear", voter.shape(rng), pen,
                                       force, order))
    clear = [m for m in plan.marks]
    if clear and not PENS[voter.pen].pencil and rng.random() < ONE_PENCIL_MARK_SHEET:
        m = clear[int(rng.integers(len(clear)))]
        m.pen = str(rng.choice(["pencil-hb", "pencil-2b"]))
        m.force *= float(rng.uniform(0.5, 0.9))
        plan.pens.append(m.pen)
    _cancels(plan, fields, voter, rng)
    _faints(plan, fields, voter, rng)
    _strays(plan, fields, rng)
    _writeins(plan, fields, voter, rng, layout, page)
    return plan


def _free_options(plan: SheetPlan, fld: dict) -> list[str]:
    used = {m.option for m in plan.marks if m.field == fld["id"]}
    return [o for o in fld["options"] if o not in used]


def _cancels(plan: SheetPlan, fields: list[dict], voter: Voter, rng: np.random.Generator
             ) -> None:
    if not fields or rng.random() >= CANCEL_SHEET:
        return
    count = 2 if rng.random() < SECOND_CANCEL else 1
    for fld in rng.permutation(np.array(fields, dtype=object))[:count]:
        free = [o for o in _free_options(plan, fld) if not o.startswith("writein")]
        if not free:
            continue
        target = str(rng.choice(free))
        pen = voter.pen
        plan.marks.append(MarkPlan(fld["id"], target, "cancel", _cancel_shape(voter, rng), pen,
                                   voter.force * float(rng.uniform(1.05, 1.35)), 0))
        keep = [m for m in plan.marks if m.field == fld["id"] and m.truth == "clear"]
        if keep and rng.random() < CANCEL_WITHOUT_NEW_MARK:
            plan.marks.remove(keep[0])  # the voter cancelled and left the row empty


def _faints(plan: SheetPlan, fields: list[dict], voter: Voter, rng: np.random.Generator
            ) -> None:
    for prob, alone in ((FAINT_SHEET, False), (FAINT_ALONE_SHEET, True)):
        if not fields or rng.random() >= prob:
            continue
        fld = fields[int(rng.integers(len(fields)))]
        free = [o for o in _free_options(plan, fld) if not o.startswith("writein")]
        if not free:
            continue
        if alone:  # a hesitation left alone: the row's only mark is barely visible
            for m in [m for m in plan.marks if m.field == fld["id"]]:
                plan.marks.remove(m)
            free = [o for o in fld["options"] if not o.startswith("writein")]
        shape = str(rng.choice(["tick", "cross", "slash", "fill"]))
        pen = str(rng.choice(["pencil-hb", voter.pen]))
        plan.marks.append(MarkPlan(fld["id"], str(rng.choice(free)), "faint", f"faint-{shape}",
                                   pen, 0.3, 0))


def _strays(plan: SheetPlan, fields: list[dict], rng: np.random.Generator) -> None:
    boxes = [(f["id"], o) for f in fields for o in f["options"]]
    for _ in range(int(rng.poisson(STRAYS_PER_SHEET))):
        if boxes:
            plan.strays.append(boxes[int(rng.integers(len(boxes)))])


def _writeins(plan: SheetPlan, fields: list[dict], voter: Voter, rng: np.random.Generator,
              layout: dict, page: int) -> None:
    regions = {(r.get("field"), r.get("option")) for p in layout["pages"] if p["page"] == page
               for r in p.get("regions", []) if r["kind"] == "writein"}
    for fld in fields:
        if fld.get("group") != "recommendation" or rng.random() >= WRITEIN_SHEET:
            continue
        free = [o for o in _free_options(plan, fld) if (fld["id"], o) in regions]
        if not free:
            continue
        option = free[0]
        plan.writeins.append((fld["id"], option))
        plan.marks.append(MarkPlan(fld["id"], option, "clear", voter.shape(rng), voter.pen,
                                   voter.force, 0))
