"""民主测评 figures: team dimensions and leaders (with optional 德/能/勤/绩/廉 sub-rows).

Named rates come from the levels' positions, so relabelled levels work too:
- individual: 优秀率 = first level; 称职以上率 = first two; 基本称职率 = the levels between the
  second and the last (None with fewer than four levels); 不称职率 = last; 不了解率 when the
  part has 不了解;
- team: 好评率 = first two levels (好+较好); 差评率 = last level.
Leaders are ranked (all ballots; equal figures share a rank) by `Settings.rank_by`: 称职以上率
then 优秀率, or the weighted score (the category-weighted score when category weights are set)
then 称职以上率 and 优秀率; the basis is in `PartResult.ranked_by`, printed on the report.
"""

from __future__ import annotations

from forms.spec import Evaluation, IndividualPart, TeamPart
from tally.model import Settings
from tally.rules.result import ALL, EvaluationResult, LevelInfo, PartResult, RowResult
from tally.rules.rows import UNKNOWN_ID, RateDef, level_infos, make_row
from tally.rules.tallies import Tallies
from tally.strokes import name_key


def individual_rates(part: IndividualPart) -> list[RateDef]:
    ids = [lv.id for lv in part.levels]
    out = [
        RateDef("excellent", "优秀率", (ids[0],)),
        RateDef("competent_or_better", "称职以上率", tuple(ids[:2])),
        RateDef("basic", "基本称职率", tuple(ids[2:-1]) if len(ids) >= 4 else ()),
        RateDef("incompetent", "不称职率", (ids[-1],)),
    ]
    if part.include_unknown:
        out.append(RateDef("unknown", "不了解率", (UNKNOWN_ID,)))
    return out


def team_rates(part: TeamPart) -> list[RateDef]:
    ids = [lv.id for lv in part.levels]
    return [RateDef("favourable", "好评率", tuple(ids[:2])), RateDef("poor", "差评率", (ids[-1],))]


def evaluation_figures(ev: Evaluation, t: Tallies, settings: Settings,
                       shown: dict[str, str] | None = None) -> EvaluationResult:
    """`shown`: person id -> the name shown for them (`forms.people.display_names`)."""
    return EvaluationResult(
        team=_team(ev.team, t, settings) if ev.team else None,
        individual=_individual(ev.individual, t, settings, shown or {}) if ev.individual
        else None,
    )


def ranks_by_weighted_score(settings: Settings) -> bool:
    """Whether leaders are ranked by the weighted score (see `Settings.rank_by`)."""
    if settings.rank_by == "auto":
        return bool(settings.category_weights)
    return settings.rank_by == "weighted_score"


def rank_basis(settings: Settings) -> str:
    """The ranking basis of leaders in words, as the report prints it."""
    if not ranks_by_weighted_score(settings):
        return "称职以上率，相同时按优秀率"
    score = "类别加权得分" if settings.category_weights else "得分"
    return f"{score}，相同时按称职以上率、优秀率"


def _team(part: TeamPart, t: Tallies, settings: Settings) -> PartResult:
    levels = level_infos(part.levels, settings)
    rates = team_rates(part)
    rows = [make_row(t, settings, row_id=d.id, fids=[f"team.{d.id}"], label=d.label,
                     levels=levels, rates=rates, field=f"team.{d.id}")
            for d in part.dimensions]
    return PartResult(id="team", title=part.title, levels=levels,
                      rate_labels={r.key: r.label for r in rates}, rows=rows)


def _individual(part: IndividualPart, t: Tallies, settings: Settings,
                shown: dict[str, str]) -> PartResult:
    levels = level_infos(part.all_levels, settings)
    rates = individual_rates(part)
    rows: list[RowResult] = []
    for leader in part.leaders:
        common = {"label": leader.name, "person_id": leader.id, "post": leader.post,
                  "shown": shown.get(leader.id, leader.name), "levels": levels, "rates": rates}
        if not part.rows:
            fid = f"leader.{leader.id}"
            rows.append(make_row(t, settings, row_id=leader.id, fids=[fid], field=fid, **common))
            continue
        subs = [make_row(t, settings, row_id=s.id, fids=[f"leader.{leader.id}.{s.id}"],
                         field=f"leader.{leader.id}.{s.id}", label=s.label, levels=levels,
                         rates=rates, person_id=leader.id)
                for s in part.rows]
        rows.append(make_row(t, settings, row_id=leader.id, fids=[s.field for s in subs
                                                                  if s.field],
                             field=None, sub_rows=subs, **common))
    keys = ("competent_or_better", "excellent")
    if ranks_by_weighted_score(settings):
        by_category = bool(settings.category_weights)
        rows = rank_rows(rows, (WEIGHTED if by_category else SCORE, *keys))
    else:
        rows = rank_rows(rows, keys)
    rows = order_rows(rows, settings)
    return PartResult(id="individual", title=part.title, levels=levels,
                      rate_labels={r.key: r.label for r in rates}, rows=rows,
                      ranked_by=rank_basis(settings))


#: rank keys beside the rate keys: the row's score (all ballots), its category-weighted score
SCORE = "@score"
WEIGHTED = "@category_weighted_score"


def rank_rows(rows: list[RowResult], keys: tuple[str, ...]) -> list[RowResult]:
    """Give each row its competition rank by `keys` (all ballots), descending: rate keys, or
    `SCORE` / `WEIGHTED`; a figure that cannot be computed ranks last."""
    def one(r: RowResult, k: str) -> float:
        if k == SCORE:
            value = r.stats[ALL].score
        elif k == WEIGHTED:
            value = r.category_weighted_score
        else:
            value = r.stats[ALL].rates.get(k)
        return -1.0 if value is None else float(value)

    def figure(r: RowResult) -> tuple[float, ...]:
        return tuple(one(r, k) for k in keys)

    figures = {r.id: figure(r) for r in rows}
    ordered = sorted(figures.values(), reverse=True)
    return [r.model_copy(update={"rank": ordered.index(figures[r.id]) + 1}) for r in rows]


def order_rows(rows: list[RowResult], settings: Settings) -> list[RowResult]:
    if settings.sort == "strokes":
        return sorted(rows, key=lambda r: name_key(r.label))
    return sorted(rows, key=lambda r: r.rank or 0)


def levels_without_unknown(levels: list[LevelInfo]) -> list[LevelInfo]:
    return [lv for lv in levels if lv.id != UNKNOWN_ID]
