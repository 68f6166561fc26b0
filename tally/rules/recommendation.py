"""民主推荐 figures: per position, per candidate 得票数 / 得票率 / rank, overall and per category.

得票率 = 得票数 / denominator, the denominator per `Settings.denominator`: ballots returned
(实到, the default), valid ballots (有效票), or the ballots on which this position's block is
valid (1..quota marks). Ranks are competition ranks by votes (equal votes share a rank: 1, 2,
2, 4). Write-in names (typed at review) are tallied separately, by votes.
"""

from __future__ import annotations

from forms.spec import Position, Recommendation
from tally.model import Settings
from tally.rules.result import (
    ALL,
    CandidateResult,
    PositionResult,
    RecommendationResult,
    WriteinResult,
)
from tally.rules.tallies import Tallies, rate
from tally.strokes import name_key


def competition_ranks(values: dict[str, float]) -> dict[str, int]:
    """1 for the largest value; equal values share a rank (1, 2, 2, 4)."""
    ordered = sorted(values.values(), reverse=True)
    return {k: ordered.index(v) + 1 for k, v in values.items()}


def recommendation_figures(rec: Recommendation, t: Tallies, settings: Settings,
                           shown: dict[str, str] | None = None) -> RecommendationResult:
    """`shown`: person id -> the name shown for them (`forms.people.display_names`)."""
    return RecommendationResult(positions=[_position(p, t, settings, shown or {})
                                           for p in rec.positions])


def _position(pos: Position, t: Tallies, settings: Settings,
              shown: dict[str, str]) -> PositionResult:
    fid = f"pos.{pos.id}"
    ft = t.fields[fid]
    blocks = {b: t.block(settings, fid, b) for b in t.all_buckets}
    dens = {b: blocks[b].denominator for b in t.all_buckets}
    votes = {c.id: {b: ft.options[b][c.id] for b in t.all_buckets} for c in pos.candidates}
    ranks = {b: competition_ranks({c: v[b] for c, v in votes.items()}) for b in t.all_buckets}
    candidates = [
        CandidateResult(
            id=c.id, name=c.name, profile=c.profile, post=c.post,
            shown=shown.get(c.id, c.name), votes=votes[c.id],
            rate={b: rate(votes[c.id][b], dens[b]) for b in t.all_buckets},
            rank={b: ranks[b][c.id] for b in t.all_buckets},
        )
        for c in pos.candidates
    ]
    if settings.sort == "strokes":
        candidates.sort(key=lambda c: name_key(c.name))
    else:
        candidates.sort(key=lambda c: c.rank[ALL])  # stable: equal votes keep the spec order
    by_name = {c.name: c.id for c in pos.candidates}
    names = sorted(ft.writein_names[ALL].items(), key=lambda kv: (-kv[1], name_key(kv[0]), kv[0]))
    writeins = [
        WriteinResult(
            name=name,
            votes={b: ft.writein_names[b][name] for b in t.all_buckets},
            rate={b: rate(ft.writein_names[b][name], dens[b]) for b in t.all_buckets},
            same_as_candidate=by_name.get(name),
        )
        for name, _ in names
    ]
    return PositionResult(
        id=pos.id, field=fid, title=pos.title, quota=pos.quota, blocks=blocks,
        candidates=candidates, writeins=writeins,
        unnamed_writein_marks={b: ft.unnamed_writeins[b] for b in t.all_buckets},
    )
