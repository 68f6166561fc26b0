"""The end every reader of a page shares: its boxes' decisions -> the page's `Reading`.

`omr.engine` (our printed forms) and `omr.foreign` (forms registered on a reference image) both
end in `assemble_reading`, and both tell streaks and folds from marks by the same fills, so
these live here, below the two readers, which then need not import each other.
"""

from __future__ import annotations

import numpy as np

from forms.layout_json import BoxDoc
from omr.decide import BoxCall
from omr.layout import FormLayout, PageGeometry
from omr.reading import FieldMarks, Reading

#: the most of a box two streaks or folds can cover (3 px lines, blurred, along its short side,
#: at 150 dpi; a dark streak crossed by a fold measured 0.33)
LINES_ONLY_MAX_FILL = 0.45
#: the most of a box one streak or fold covers
LINES_ONLY_LIGHT_FILL = 0.3


def assemble_reading(layout: FormLayout, page_layout: PageGeometry, boxes: list[BoxDoc],
                     fills: np.ndarray,
                     calls: list[BoxCall], page_to_image: np.ndarray,
                     error_mm: float | None, source: str, who: dict) -> Reading:
    """The page's `Reading` from its boxes' decisions: marked and doubtful options per field in
    the field's order, scores and certainty per box, and the status with its reason (review
    when any box is doubtful, blank when none holds ink). Every reader of a page ends here."""
    page_fields = [f for f in layout.fields if f.page == page_layout.number]
    marks = {f.id: FieldMarks() for f in page_fields}
    scores: dict[str, dict[str, float]] = {f.id: {} for f in page_fields}
    certainty: dict[str, dict[str, float]] = {f.id: {} for f in page_fields}
    doubts: list[str] = []
    for box, fill, call in zip(boxes, fills, calls, strict=True):
        field, option = box.field, box.option
        marks.setdefault(field, FieldMarks())
        scores.setdefault(field, {})[option] = float(fill)
        certainty.setdefault(field, {})[option] = call.certainty
        if call.decision == "marked":
            marks[field].marked.append(option)
        elif call.decision == "doubtful":
            marks[field].doubtful.append(option)
            doubts.append(f"{field}/{option}: {call.why}")
    order = {f.id: f.options for f in page_fields}
    for field, m in marks.items():
        if field in order:
            m.marked.sort(key=order[field].index)
            m.doubtful.sort(key=order[field].index)
    if doubts:
        status, reason = "review", f"{len(doubts)} doubtful box(es): " + "; ".join(doubts[:5])
        if len(doubts) > 5:
            reason += f"; and {len(doubts) - 5} more"
    elif not any(c.decision != "empty" for c in calls):
        status, reason = "blank", "no marks"
    else:
        status, reason = "ok", ""
    return Reading(source, status, reason, **who, marks=marks, scores=scores,
                   page_to_image=page_to_image, registration_error_mm=error_mm,
                   certainty=certainty)
