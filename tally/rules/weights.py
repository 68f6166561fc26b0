"""Level-weight presets for the weighted score (Σ share × weight).

A preset gives weights to the levels of a part in printed order (不了解 excluded), e.g.
"100/80/60/0" → 优秀 100, 称职 80, 基本称职 60, 不称职 0 (and 好 100, 较好 80, 一般 60, 差 0).
Parts whose number of levels differs from the preset's keep their weights.
"""

from __future__ import annotations

from forms.spec import FormSpec, Level
from tally.rules.rows import UNKNOWN_ID

PRESETS: dict[str, tuple[float, ...]] = {
    "100/80/60/0": (100, 80, 60, 0),
    "1/0.8/0.6/0.4": (1, 0.8, 0.6, 0.4),
    "100/60/0": (100, 60, 0),
}


def weight_preset(name: str, spec: FormSpec) -> dict[str, float]:
    """`Settings.level_weights` for preset `name` applied to every part of `spec`."""
    if name not in PRESETS:
        raise ValueError(f"unknown weight preset '{name}'; use one of: {', '.join(PRESETS)}")
    values = PRESETS[name]
    out: dict[str, float] = {}
    for levels in _level_lists(spec):
        known = [lv for lv in levels if lv.id != UNKNOWN_ID]
        if len(known) == len(values):
            out.update({lv.id: float(v) for lv, v in zip(known, values, strict=True)})
    return out


def _level_lists(spec: FormSpec) -> list[list[Level]]:
    out: list[list[Level]] = []
    if spec.evaluation:
        if spec.evaluation.team:
            out.append(spec.evaluation.team.levels)
        if spec.evaluation.individual:
            out.append(spec.evaluation.individual.levels)
    if spec.satisfaction:
        out += [spec.satisfaction.levels, spec.satisfaction.item_levels]
    return out
