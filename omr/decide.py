"""The three-way decision per box - empty, marked, doubtful - with named thresholds.

Inputs per box, from `omr.score.BoxInk`: `fill`, the share of its measured area covered by ink
(the voter's own ink level already taken into account: a light pencil counts); `cover`, how
evenly the ink covers the box (high only when the box is filled or scribbled all over);
`spread_mm`, how wide the ink is across its main direction; `solidity`, how much of its outline
the ink fills (low for pen strokes: a tick, a cross, a circle).

- below `marginal_fill` a box is empty; at or above `definite_fill` it is marked; in between it
  is doubtful (a faint or tiny mark, a smudge: a person looks); so is a single thin straight
  line (`line_spread_mm`: a hair on the glass, a scratch), whatever its length;
- a cancelled mark is doubtful: a box covered all over (`covered_cell_fill`: scribbled over or
  filled solid) on a sheet where this voter otherwise ticks, crosses or circles - their other
  marks are pen strokes (`stroke_solidity_max`) and at least as many; a voter who fills every
  box, or fills boxes partly, is read as marked; with no other mark to compare, a filled box is
  a vote;
- a mark far heavier (`heavy_ratio`) than the same voter's other marks beside it in the same
  field (a tick crossed out next to a new one) is doubtful too.

`marked` holds only sure options; one doubtful box makes the page `review`; a page with no ink
in any box is `blank`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from omr.score import BoxInk

Decision = Literal["empty", "marked", "doubtful"]


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds (fills are shares 0..1 of a box's measured area)."""

    #: below this a box is empty (noise, dust and specks stay under it)
    marginal_fill: float = 0.03
    #: at or above this a box is marked (the lightest clear tick is far above it)
    definite_fill: float = 0.08
    #: a box whose every cell (but one) is at least this full is covered all over: filled
    #: solid or scribbled over (simulated: ticks, crosses, circles at most 0.72, a thick pen in
    #: small boxes; cancels at least 0.83)
    covered_cell_fill: float = 0.78
    #: a voter whose uncovered marks have a median solidity below this marks with pen strokes
    #: (simulated sheets: ticks, crosses, circles at most 0.87, even a thick pen in small
    #: boxes; partial fills at least 0.98)
    stroke_solidity_max: float = 0.93
    #: ink no wider than this across its main direction is a single straight line (a hair, a
    #: scratch, a slip of the pen), not a tick, a cross or a circle (simulated ticks: 0.84+)
    line_spread_mm: float = 0.7
    #: a mark at least this many times the fill of another mark in its field is heavy
    heavy_ratio: float = 2.0
    #: ...and at least this full (a small tick beside a tiny one is not heavy)
    heavy_min_fill: float = 0.3


@dataclass(frozen=True)
class BoxCall:
    """The decision on one box and, when doubtful, why (for the page's reason)."""

    decision: Decision
    why: str = ""


def decide(ink: BoxInk, fields: list[str], thresholds: Thresholds) -> list[BoxCall]:
    """Decide every box of a page: `ink` measured per box, `fields[i]` the field of box i."""
    t = thresholds
    fill = np.asarray(ink.fill, np.float64)
    thin = np.asarray(ink.spread_mm) <= t.line_spread_mm
    inked = (fill >= t.definite_fill) & ~thin
    covered = inked & (np.asarray(ink.cover) >= t.covered_cell_fill)
    open_marks = inked & ~covered
    # this voter's style: a covered box is a cancellation when their marks are mostly strokes
    # (the solidity is only measured when some box is covered)
    strokes = (bool(covered.any()) and bool(open_marks.any())
               and covered.sum() <= open_marks.sum()
               and float(np.median(ink.solidity[open_marks])) < t.stroke_solidity_max)
    by_field: dict[str, list[int]] = {}
    for i, f in enumerate(fields):
        by_field.setdefault(f, []).append(i)
    calls: list[BoxCall] = []
    for i, value in enumerate(fill):
        if value < t.marginal_fill:
            calls.append(BoxCall("empty"))
        elif value < t.definite_fill:
            calls.append(BoxCall("doubtful", "faint mark"))
        elif thin[i]:
            calls.append(BoxCall("doubtful", "a single thin straight line: a hair, a slip of "
                                             "the pen?"))
        elif covered[i] and strokes:
            calls.append(BoxCall("doubtful", "scribbled over or filled where the voter "
                                             "otherwise ticks: cancelled?"))
        elif _heavy(i, fill, by_field[fields[i]], open_marks, t):
            calls.append(BoxCall("doubtful", "far more ink than the mark beside it: crossed "
                                             "out?"))
        else:
            calls.append(BoxCall("marked"))
    return calls


def _heavy(i: int, fill: np.ndarray, same_field: list[int], open_marks: np.ndarray,
           t: Thresholds) -> bool:
    """Is mark i far heavier than another open mark of its own field?"""
    if fill[i] < t.heavy_min_fill or not open_marks[i]:
        return False
    others = [fill[j] for j in same_field if j != i and open_marks[j]]
    return bool(others) and fill[i] >= t.heavy_ratio * min(others)
