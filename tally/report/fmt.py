"""Formatting shared by the reports: percentages, scores, and the settings in words."""

from __future__ import annotations

from tally.rules.result import LevelInfo, TallyResult

DENOMINATOR_LABELS = {
    "attendees": "实到人数（收回票数）",
    "valid_ballots": "有效票数",
    "block_valid": "该栏（该项）有效票数",
}
SORT_LABELS = {"votes": "按得票（测评结果）排序", "strokes": "按姓氏笔画排序"}
KIND_LABELS = {"recommendation": "民主推荐", "evaluation": "民主测评",
               "satisfaction": "选人用人工作民主评议"}


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def weight_text(levels: list[LevelInfo]) -> str:
    parts = [f"{lv.label} {lv.weight:g}" for lv in levels if lv.weight is not None]
    return "，".join(parts) if parts else "未设权重"


def settings_lines(result: TallyResult) -> list[tuple[str, str]]:
    """The settings a report must print, as (label, value) pairs."""
    s = result.settings
    out = [("得票率 / 占比计算基数", DENOMINATOR_LABELS[s.denominator])]
    if result.evaluation or result.satisfaction:
        out.append(("“不了解”是否计入基数", "计入" if s.unknown_in_denominator else
                    "不计入（不了解率仍以全部为基数）"))
    for title, levels in _level_sets(result):
        out.append((f"等次权重（{title}）", weight_text(levels)))
    if s.category_weights:
        labels = {b.id: b.label for b in result.buckets}
        out.append(("类别权重", "，".join(f"{labels.get(c, c)} {w:g}"
                                        for c, w in s.category_weights.items())
                    + "（无票类别不参与，其余按比例归一）"))
    else:
        out.append(("类别权重", "不分类别加权（每张票权重相同）"))
    if result.evaluation:
        out.append(("预警线", f"不称职率（差评率）≥ {pct(s.incompetent_warn_rate)}；"
                             f"称职以上率（好评率）< {pct(s.competent_or_better_warn_rate)}"))
    if result.satisfaction:
        out.append(("预警线", f"不满意率（不认同率）≥ {pct(s.dissatisfied_warn_rate)}"))
    out.append(("到会率预警", f"实到 / 应到 < {pct(s.participation_warn_rate)}"))
    out.append(("排序方式", SORT_LABELS[s.sort]))
    if result.evaluation and result.evaluation.individual:
        out.append(("领导干部名次依据", result.evaluation.individual.ranked_by))
    return out


def _level_sets(result: TallyResult) -> list[tuple[str, list[LevelInfo]]]:
    out: list[tuple[str, list[LevelInfo]]] = []
    if result.evaluation:
        for part in (result.evaluation.team, result.evaluation.individual):
            if part:
                out.append(("班子" if part.id == "team" else "个人", part.levels))
    if result.satisfaction:
        out.append(("总体评价", result.satisfaction.overall.levels))
        if result.satisfaction.items:
            out.append(("干部评议", result.satisfaction.items.levels))
    return out
