"""Raw counts per bucket (all ballots and each voter category) from ballot verdicts.

Everything the figures need is counted here once; `denominator` applies `Settings.denominator`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tally.model import Settings
from tally.rules.result import ALL, BlockCounts
from tally.rules.validity import BallotVerdict


@dataclass
class FieldTally:
    valid: Counter[str] = field(default_factory=Counter)
    void: Counter[str] = field(default_factory=Counter)
    abstain: Counter[str] = field(default_factory=Counter)
    ballot_void: Counter[str] = field(default_factory=Counter)
    #: bucket -> option -> marks on valid blocks
    options: dict[str, Counter[str]] = field(default_factory=dict)
    #: bucket -> written name -> marked votes (recommendation 另推 lines on valid blocks)
    writein_names: dict[str, Counter[str]] = field(default_factory=dict)
    #: bucket -> marked 另推 boxes with an empty line on valid blocks
    unnamed_writeins: Counter[str] = field(default_factory=Counter)


@dataclass
class Tallies:
    #: category buckets in report order (not including ALL); empty when the form has none
    buckets: list[str]
    ballots: Counter[str] = field(default_factory=Counter)
    valid_ballots: Counter[str] = field(default_factory=Counter)
    invalid_ballots: Counter[str] = field(default_factory=Counter)
    abstain_ballots: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    fields: dict[str, FieldTally] = field(default_factory=dict)

    @property
    def all_buckets(self) -> list[str]:
        return [ALL, *self.buckets]

    def base_denominator(self, settings: Settings, fid: str, bucket: str) -> int:
        """Ballots returned, valid ballots, or this block's valid blocks, per the setting."""
        if settings.denominator == "attendees":
            return self.ballots[bucket]
        if settings.denominator == "valid_ballots":
            return self.valid_ballots[bucket]
        return self.fields[fid].valid[bucket]

    def block_counts(self, fid: str, bucket: str, denominator: int) -> dict[str, int]:
        ft = self.fields[fid]
        return {
            "ballots": self.ballots[bucket],
            "valid_ballots": self.valid_ballots[bucket],
            "valid": ft.valid[bucket],
            "void": ft.void[bucket],
            "abstain": ft.abstain[bucket],
            "ballot_void": ft.ballot_void[bucket],
            "denominator": denominator,
        }

    def block(self, settings: Settings, fid: str, bucket: str) -> BlockCounts:
        return BlockCounts(**self.block_counts(fid, bucket,
                                               self.base_denominator(settings, fid, bucket)))


def count(verdicts: list[BallotVerdict], field_ids: list[str], buckets: list[str]) -> Tallies:
    t = Tallies(buckets=buckets)
    for fid in field_ids:
        t.fields[fid] = FieldTally(options={b: Counter() for b in t.all_buckets},
                                   writein_names={b: Counter() for b in t.all_buckets})
    for v in verdicts:
        keys = [ALL] if v.bucket is None else [ALL, v.bucket]
        for k in keys:
            t.ballots[k] += 1
            {"valid": t.valid_ballots, "invalid": t.invalid_ballots,
             "abstain": t.abstain_ballots}[v.status][k] += 1
            if v.pending_review:
                t.pending[k] += 1
        for fid in field_ids:
            ft = t.fields[fid]
            if v.whole_void:
                for k in keys:
                    ft.ballot_void[k] += 1
                continue
            block = v.blocks[fid]
            for k in keys:
                getattr(ft, block.status)[k] += 1
            if block.status != "valid":
                continue
            names = v.writeins.get(fid, {})
            for k in keys:
                ft.options[k].update(block.marks)
                for name in names.values():
                    if name:
                        ft.writein_names[k][name] += 1
                    else:
                        ft.unnamed_writeins[k] += 1
    return t


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None
