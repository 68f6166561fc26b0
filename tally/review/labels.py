"""A box in words, as its form prints it: a field's label, an option's (a candidate's name, a
level's label)."""

from __future__ import annotations

from forms.people import display_names
from forms.spec import FormSpec
from omr.layout import FormLayout
from tally.ballots import CATEGORY_FIELD, is_writein


def mark_label(layout: FormLayout | None, spec: FormSpec | None, f: str, o: str) -> str:
    """What a box is about, in words ("副局长人选 · 另推1"): its field's label and its option's."""
    field_label = next((x.label for x in layout.fields if x.id == f), f) if layout else f
    return f"{field_label} · {option_label(spec, f, o) if spec else o}"


def option_label(spec: FormSpec, field_id: str, option: str) -> str:
    """The printed label of an option (a candidate's name, a level's label), else its id."""
    if is_writein(option):
        return f"另推{option.removeprefix('writein')}"
    labels: dict[str, str] = {}
    if field_id == CATEGORY_FIELD and spec.categories:
        labels = {c.id: c.label for c in spec.categories.options}
    elif field_id.startswith("pos.") and spec.recommendation:
        pos = next((p for p in spec.recommendation.positions
                    if f"pos.{p.id}" == field_id), None)
        shown = display_names(spec)
        labels = {c.id: shown.get(c.id, c.name) for c in pos.candidates} if pos else {}
    elif field_id.startswith("team.") and spec.evaluation and spec.evaluation.team:
        labels = {lv.id: lv.label for lv in spec.evaluation.team.levels}
    elif field_id.startswith("leader.") and spec.evaluation and spec.evaluation.individual:
        labels = {lv.id: lv.label for lv in spec.evaluation.individual.all_levels}
    elif field_id.startswith("q.") and spec.satisfaction:
        labels = {lv.id: lv.label for lv in spec.satisfaction.levels}
    elif field_id.startswith("item.") and spec.satisfaction:
        labels = {lv.id: lv.label for lv in spec.satisfaction.item_levels}
    return labels.get(option, option)
