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
    t = new_tallies(field_ids, buckets)
    for v in verdicts:
        add_verdict(t, v, field_ids)
    return t


def new_tallies(field_ids: list[str], buckets: list[str]) -> Tallies:
    """Empty tallies for `field_ids` over ALL and `buckets`."""
    t = Tallies(buckets=buckets)
    for fid in field_ids:
        t.fields[fid] = FieldTally(options={b: Counter() for b in t.all_buckets},
                                   writein_names={b: Counter() for b in t.all_buckets})
    return t


def _bump(counter: Counter[str], key: str, n: int) -> None:
    """`counter[key] += n`, dropping the key when it falls to zero, so that tallies taken back
    (`add_verdict(..., sign=-1)`) equal tallies never counted."""
    value = counter[key] + n
    if value:
        counter[key] = value
    else:
        del counter[key]


def add_verdict(t: Tallies, v: BallotVerdict, field_ids: list[str], sign: int = 1) -> None:
    """Count one ballot's verdict into `t` (`sign=-1` takes it back out, for a live tally whose
    ballot changed). Its bucket must be one of `t.buckets` (or None without categories)."""
    keys = [ALL] if v.bucket is None else [ALL, v.bucket]
    by_status = {"valid": t.valid_ballots, "invalid": t.invalid_ballots,
                 "abstain": t.abstain_ballots}[v.status]
    for k in keys:
        _bump(t.ballots, k, sign)
        _bump(by_status, k, sign)
        if v.pending_review:
            _bump(t.pending, k, sign)
    for fid in field_ids:
        ft = t.fields[fid]
        if v.whole_void:
            for k in keys:
                _bump(ft.ballot_void, k, sign)
            continue
        block = v.blocks[fid]
        status_counter: Counter[str] = getattr(ft, block.status)
        for k in keys:
            _bump(status_counter, k, sign)
        if block.status != "valid":
            continue
        names = v.writeins.get(fid, {})
        for k in keys:
            options = ft.options[k]
            for m in block.marks:
                _bump(options, m, sign)
            for name in names.values():
                if name:
                    _bump(ft.writein_names[k], name, sign)
                else:
                    _bump(ft.unnamed_writeins, k, sign)


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None
