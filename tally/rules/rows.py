"""Figures of rated rows (evaluation and satisfaction): counts, shares, named rates, score.

For one row and one bucket, with D the row's denominator per `Settings.denominator` (ballots
returned, valid ballots, or the ballots with exactly one mark in this row):
- when `unknown_in_denominator` is off, D' = D − (不了解 marks); otherwise D' = D;
- share of a level = its count / D'; the 不了解 share and 不了解率 = 不了解 / D (always of D);
- a named rate (优秀率, 称职以上率, 满意率 …) = the sum of its levels' counts / D';
- weighted score = Σ count_level × weight_level / D' over the levels with a weight
  (= Σ share × weight), so abstentions count as 0 when D includes them;
- a leader with sub-rows (德/能/勤/绩/廉) also gets a pooled total: counts and denominators of
  the sub-rows added up (in ballot-row units), i.e. the mean over the sub-rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from forms.spec import Level
from tally.model import Settings
from tally.rules.result import LevelInfo, RowResult, RowStats
from tally.rules.tallies import Tallies, rate

UNKNOWN_ID = "unknown"


@dataclass(frozen=True)
class RateDef:
    key: str
    label: str
    levels: tuple[str, ...]


def level_infos(levels: list[Level], settings: Settings) -> list[LevelInfo]:
    return [LevelInfo(id=lv.id, label=lv.label, weight=settings.level_weights.get(lv.id, lv.weight))
            for lv in levels]


def row_stats(t: Tallies, settings: Settings, fids: list[str], bucket: str,
              levels: list[LevelInfo], rates: list[RateDef]) -> RowStats:
    counts: Counter[str] = Counter()
    block: Counter[str] = Counter()
    for fid in fids:
        counts.update(t.fields[fid].options[bucket])
        block.update(t.block_counts(fid, bucket, t.base_denominator(settings, fid, bucket)))
    # pooled (several fids): every count, ballots included, is in ballot-row units
    has_unknown = any(lv.id == UNKNOWN_ID for lv in levels)
    unknown = counts[UNKNOWN_ID] if has_unknown else 0
    full = block["denominator"]
    den = full if settings.unknown_in_denominator else full - unknown
    block["denominator"] = den

    def level_rate(ids: tuple[str, ...]) -> float | None:
        if ids == (UNKNOWN_ID,):
            return rate(unknown, full)
        return rate(sum(counts[i] for i in ids), den)

    weighted = [(lv.id, lv.weight) for lv in levels if lv.weight is not None
                and not (lv.id == UNKNOWN_ID and not settings.unknown_in_denominator)]
    score = (sum(counts[i] * w for i, w in weighted) / den) if den > 0 and weighted else None
    return RowStats(
        **block,
        counts={lv.id: counts[lv.id] for lv in levels},
        shares={lv.id: level_rate((lv.id,)) for lv in levels},
        rates={r.key: level_rate(r.levels) if r.levels else None for r in rates},
        score=score,
    )


def category_weighted_score(stats: dict[str, RowStats], weights: dict[str, float]) -> float | None:
    """Σ_c w_c·score_c / Σ_c w_c over categories with a weight > 0 and a score; None if none."""
    if not weights:
        return None
    pairs = [(w, stats[c].score) for c, w in weights.items()
             if w > 0 and c in stats and stats[c].score is not None]
    total = sum(w for w, _ in pairs)
    return sum(w * s for w, s in pairs if s is not None) / total if total > 0 else None


def make_row(t: Tallies, settings: Settings, *, row_id: str, fids: list[str], label: str,
             levels: list[LevelInfo], rates: list[RateDef], field: str | None,
             person_id: str | None = None, post: str = "", shown: str = "",
             sub_rows: list[RowResult] | None = None) -> RowResult:
    stats = {b: row_stats(t, settings, fids, b, levels, rates) for b in t.all_buckets}
    return RowResult(
        id=row_id, field=field, label=label, person_id=person_id, post=post,
        shown=shown or label, stats=stats,
        category_weighted_score=category_weighted_score(stats, settings.category_weights),
        sub_rows=sub_rows or [],
    )
