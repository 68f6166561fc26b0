"""民主测评 figures: team dimensions and leaders (with optional 德/能/勤/绩/廉 sub-rows).

Named rates come from the levels' positions, so relabelled levels work too:
- individual: 优秀率 = first level; 称职以上率 = first two; 基本称职率 = the levels between the
  second and the last (None with fewer than four levels); 不称职率 = last; 不了解率 when the
  part has 不了解;
- team: 好评率 = first two levels (好+较好); 差评率 = last level.
Leaders are ranked by 称职以上率, then 优秀率 (all ballots; equal figures share a rank).
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


def evaluation_figures(ev: Evaluation, t: Tallies, settings: Settings) -> EvaluationResult:
    return EvaluationResult(
        team=_team(ev.team, t, settings) if ev.team else None,
        individual=_individual(ev.individual, t, settings) if ev.individual else None,
    )


def _team(part: TeamPart, t: Tallies, settings: Settings) -> PartResult:
    levels = level_infos(part.levels, settings)
    rates = team_rates(part)
    rows = [make_row(t, settings, row_id=d.id, fids=[f"team.{d.id}"], label=d.label,
                     levels=levels, rates=rates, field=f"team.{d.id}")
            for d in part.dimensions]
    return PartResult(id="team", title=part.title, levels=levels,
                      rate_labels={r.key: r.label for r in rates}, rows=rows)


def _individual(part: IndividualPart, t: Tallies, settings: Settings) -> PartResult:
    levels = level_infos(part.all_levels, settings)
    rates = individual_rates(part)
    rows: list[RowResult] = []
    for leader in part.leaders:
        common = {"label": leader.name, "person_id": leader.id, "post": leader.post,
                  "levels": levels, "rates": rates}
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
    rows = rank_rows(rows, ("competent_or_better", "excellent"))
    rows = order_rows(rows, settings)
    return PartResult(id="individual", title=part.title, levels=levels,
                      rate_labels={r.key: r.label for r in rates}, rows=rows)


def rank_rows(rows: list[RowResult], keys: tuple[str, ...]) -> list[RowResult]:
    """Give each row its competition rank by the rates `keys` (all ballots), descending."""
    def figure(r: RowResult) -> tuple[float, ...]:
        rates = r.stats[ALL].rates
        return tuple(-1.0 if rates.get(k) is None else float(rates[k] or 0.0) for k in keys)

    figures = {r.id: figure(r) for r in rows}
    ordered = sorted(figures.values(), reverse=True)
    return [r.model_copy(update={"rank": ordered.index(figures[r.id]) + 1}) for r in rows]


def order_rows(rows: list[RowResult], settings: Settings) -> list[RowResult]:
    if settings.sort == "strokes":
        return sorted(rows, key=lambda r: name_key(r.label))
    return sorted(rows, key=lambda r: r.rank or 0)


def levels_without_unknown(levels: list[LevelInfo]) -> list[LevelInfo]:
    return [lv for lv in levels if lv.id != UNKNOWN_ID]
