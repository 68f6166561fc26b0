"""What each sheet of a form's test deck carries (`PlannedSheet`), decided from its fields.

For a form whose vote fields are F (each with its options and its quota `max`) and whose
category block (when printed on the sheet) has categories C, the deck is, in order:
- coverage sheets: sheet k marks, in every field, options k·max … k·max+max-1 (a row rated
  once: option k), so every option of every field — 另推 boxes too, with a name printed on the
  line — is marked at least once on a valid block; a field with fewer options is left blank
  on the later sheets (弃权 for that row); the category block cycles through C;
- `overmark_all`: every field marked max+1 times (every block void: the ballot is 无效), and
  the category block marked twice (so the sheet has no category: 未标明类别);
- `overmark_one`: the first field over-marked (that block void), every other field valid;
- `blank`: nothing marked at all (弃权; no category);
- `cancel`: every field marked once on its last option, and the first field's first option
  printed as a mark scribbled out past its border (the voter's corrected choice). The forms
  have no cancellation box, so such a mark is doubtful: the sheet must go to review, and the
  figures count only the sure mark until a person decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from forms.layout import FieldInfo

Purpose = Literal["coverage", "overmark_all", "overmark_one", "blank", "cancel"]
CATEGORY_FIELD = "category"
WRITEIN_NAME = "测试另推"
#: sheets of a form's deck beyond its coverage sheets
FIXED_SHEETS = 4


class PlannedSheet(BaseModel):
    """One deck sheet: its serial, why it is in the deck, and what is printed on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: str
    purpose: Purpose
    #: field id -> options printed as solid marks (the category block included)
    marks: dict[str, list[str]] = Field(default_factory=dict)
    #: [field id, option] printed as a cancelled mark (doubtful: goes to review)
    cancelled: list[tuple[str, str]] = Field(default_factory=list)
    #: "field.option" of a marked 另推 box -> the name printed on its line
    writein_names: dict[str, str] = Field(default_factory=dict)


def coverage_sheets(fields: Sequence[FieldInfo]) -> int:
    """How many sheets mark every option of every field once (and every category)."""
    need = [math.ceil(len(f.options) / max(f.max, 1)) for f in fields]
    return max(need, default=1)


def plan_form(fields: Sequence[FieldInfo], serials: Sequence[str]) -> list[PlannedSheet]:
    """The deck of one form (see the module docstring); `serials` must hold at least
    `deck_size(fields)` serials, used in order."""
    vote = [f for f in fields if f.id != CATEGORY_FIELD]
    category = next((f for f in fields if f.id == CATEGORY_FIELD), None)
    cats = category.options if category is not None else []
    size = deck_size(fields)
    if len(serials) < size:
        raise ValueError(f"the deck needs {size} serials, {len(serials)} given")
    it = iter(serials)
    sheets: list[PlannedSheet] = []
    for k in range(size - FIXED_SHEETS):
        marks = {f.id: f.options[k * f.max:(k + 1) * f.max] for f in vote}
        marks = {fid: opts for fid, opts in marks.items() if opts}
        if cats:
            marks[CATEGORY_FIELD] = [cats[k % len(cats)]]
        sheets.append(PlannedSheet(serial=next(it), purpose="coverage", marks=marks,
                                   writein_names=_names(marks, k + 1)))
    over = {f.id: f.options[:f.max + 1] for f in vote if len(f.options) > f.max}
    if len(cats) >= 2:
        over[CATEGORY_FIELD] = cats[:2]
    sheets.append(PlannedSheet(serial=next(it), purpose="overmark_all", marks=over,
                               writein_names=_names(over, 0)))
    one = {f.id: [_last(f)] for f in vote}
    first = next((f for f in vote if len(f.options) > f.max), None)
    if first is not None:
        one[first.id] = first.options[:first.max + 1]
    if cats:
        one[CATEGORY_FIELD] = [cats[0]]
    sheets.append(PlannedSheet(serial=next(it), purpose="overmark_one", marks=one,
                               writein_names=_names(one, 0)))
    sheets.append(PlannedSheet(serial=next(it), purpose="blank"))
    # the scribble's ink runs past its box: every other mark on the sheet stays clear of the
    # boxes round it (the last option: another column of a rated table, another row of a
    # position), else the reader rightly doubts those too
    cancel = {f.id: [_last(f)] for f in vote}
    cancelled: list[tuple[str, str]] = []
    target = next((f for f in vote if len(f.options) >= 3), None)
    if target is not None:
        cancelled = [(target.id, target.options[0])]
    if cats:
        cancel[CATEGORY_FIELD] = [cats[-1]]
    sheets.append(PlannedSheet(serial=next(it), purpose="cancel", marks=cancel,
                               cancelled=cancelled, writein_names=_names(cancel, 0)))
    return sheets


def deck_size(fields: Sequence[FieldInfo]) -> int:
    """Sheets in the deck of a form with these layout fields."""
    vote = [f for f in fields if f.id != CATEGORY_FIELD]
    category = next((f for f in fields if f.id == CATEGORY_FIELD), None)
    cover = max(coverage_sheets(vote), len(category.options) if category else 1)
    return cover + FIXED_SHEETS


def _last(f: FieldInfo) -> str:
    """The field's last option that is not a 另推 box."""
    return [o for o in f.options if not o.startswith("writein")][-1]


def _names(marks: dict[str, list[str]], k: int) -> dict[str, str]:
    """A name on the line of every marked 另推 box (as a voter writes one)."""
    suffix = str(k) if k else ""
    return {f"{fid}.{o}": f"{WRITEIN_NAME}{suffix}" for fid, opts in marks.items()
            for o in opts if o.startswith("writein")}
