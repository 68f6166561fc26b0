"""The tally result: pydantic models; `TallyResult.model_dump()` is `scantally tally --json`.

Conventions:
- figures are given per *bucket*: `"_all"` (every ballot) and each voter category id; ballots
  without a category go to `"_none"` (未标明类别) when the form has categories;
- rates and shares are fractions in [0, 1] (None when their denominator is 0);
- `denominator` is the count the rates of that block/row were divided by (see `Settings`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tally.model import Settings

RESULT_SCHEMA = "scantally.tally/1"
ALL = "_all"
UNMARKED = "_none"
ALL_LABEL = "全体"
UNMARKED_LABEL = "未标明类别"


class TallyInputError(ValueError):
    """Ballots that cannot be tallied against this form (another form, unknown field/option)."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormInfo(_M):
    id: str
    kind: Literal["recommendation", "evaluation", "satisfaction"]
    title: str
    unit: str
    meeting: str
    date: dt.date


class Bucket(_M):
    """A column of every figure table: all ballots, or one voter category."""

    id: str
    label: str
    #: the category weight used for the category-weighted score (None: not weighted)
    weight: float | None = None


class LevelInfo(_M):
    id: str
    label: str
    #: the weight used in the weighted score (Settings.level_weights, else the spec's)
    weight: float | None


class BlockCounts(_M):
    """How one block (position) or row fared on the ballots of one bucket.

    `valid + void + abstain + ballot_void == ballots`.
    """

    ballots: int = Field(description="ballots returned (收回) in the bucket")
    valid_ballots: int = Field(description="valid ballots (有效票) in the bucket")
    valid: int = Field(description="blocks with 1..quota marks (rows: exactly one mark)")
    void: int = Field(description="blocks over the quota (rows: two or more marks): 无效")
    abstain: int = Field(description="blocks with no mark: 弃权")
    ballot_void: int = Field(description="ballots voided as a whole (not in the counts above)")
    denominator: int = Field(description="the denominator of this block's rates")


class CandidateResult(_M):
    id: str
    name: str
    profile: str = ""
    #: 职务 (spec `post`)
    post: str = ""
    #: the name shown where space is short: the name, or "name（职务）" beside a namesake
    #: (`forms.people`)
    shown: str = ""
    votes: dict[str, int]
    rate: dict[str, float | None]
    #: rank within the position by votes (1 = most; equal votes share a rank)
    rank: dict[str, int]


class WriteinResult(_M):
    """A name written on 另推 lines (typed at review), with its marked votes."""

    name: str
    votes: dict[str, int]
    rate: dict[str, float | None]
    #: the id of a listed candidate of this position with the same name, if any
    same_as_candidate: str | None = None


class PositionResult(_M):
    id: str
    field: str
    title: str
    quota: int
    blocks: dict[str, BlockCounts]
    candidates: list[CandidateResult]
    writeins: list[WriteinResult]
    #: marked 另推 boxes whose line is empty (count toward the quota, vote for nobody)
    unnamed_writein_marks: dict[str, int]


class RecommendationResult(_M):
    positions: list[PositionResult]


class RowStats(BlockCounts):
    counts: dict[str, int]
    shares: dict[str, float | None]
    rates: dict[str, float | None]
    score: float | None


class RowResult(_M):
    """A rated row (team dimension, leader, leader sub-row, question, item) or a leader's total.

    A leader with sub-rows (德/能/勤/绩/廉) has `field` None and pooled `stats`: the counts and
    denominators of the sub-rows added up, so its shares are the mean over the sub-rows.
    """

    id: str
    field: str | None
    label: str
    person_id: str | None = None
    post: str = ""
    #: a person's row: the name shown where space is short ("name（职务）" beside a namesake);
    #: other rows: their label
    shown: str = ""
    stats: dict[str, RowStats]
    #: Σ_c w_c·score_c / Σ_c w_c over the categories with a weight and a score (None: no weights)
    category_weighted_score: float | None = None
    rank: int | None = None
    sub_rows: list[RowResult] = Field(default_factory=list)


class PartResult(_M):
    id: Literal["team", "individual", "overall", "items"]
    title: str
    levels: list[LevelInfo]
    #: rate key -> its Chinese name (e.g. competent_or_better -> 称职以上率)
    rate_labels: dict[str, str]
    rows: list[RowResult]
    #: what the rows' ranks follow, in words ("称职以上率，相同时按优秀率"); "" when unranked
    ranked_by: str = ""


class EvaluationResult(_M):
    team: PartResult | None = None
    individual: PartResult | None = None


class SatisfactionResult(_M):
    overall: PartResult
    items: PartResult | None = None


class ReconRow(_M):
    bucket: str
    label: str
    expected: int | None = Field(description="应到")
    present: int = Field(description="实到 (MeetingFacts.present, else the ballots returned)")
    returned: int = Field(description="收回")
    valid: int = Field(description="有效: not voided and at least one valid marked block")
    invalid: int = Field(description="无效: voided, or no valid block and at least one void one")
    abstain: int = Field(description="弃权: not voided and no mark at all")
    pending_review: int
    participation: float | None = Field(description="实到 / 应到")
    participation_low: bool


class Reconciliation(_M):
    issued: int | None = Field(description="发出")
    returned: int
    not_returned: int | None
    #: more sheets returned than issued: the vote is void and must be held again
    vote_void: bool
    rows: list[ReconRow]


def N_(message: str) -> str:
    """Mark a message template for extraction into the server's catalogues (babel.cfg)."""
    return message


class Notice(_M):
    severity: Literal["alarm", "warning"]
    code: str
    message: str
    #: `message` as a template (a message id of the server's catalogues, `str.format` style)
    #: and its parameters, so the server can show it in the reader's language; left out of
    #: the result's JSON and sha256 (`message` stays the record)
    template: str | None = Field(default=None, exclude=True)
    params: dict[str, str | int | float] = Field(default_factory=dict, exclude=True)
    part: str | None = None
    row: str | None = None
    subject: str | None = None
    #: the cadre or row a figure warning is about (its sub-row aside): what the summary groups by
    about: str | None = None
    bucket: str | None = None
    value: float | None = None
    threshold: float | None = None
    #: the count the rate was computed over (its denominator): a rate of 1 ballot is no trend
    n: int | None = None


class WarningRule(_M):
    """The warnings of one rule about one subject, aggregated (`tally.rules.warnsummary`)."""

    code: str
    severity: Literal["alarm", "warning"]
    #: the rule in words: "不称职率达到预警线 33.3%"
    rule: str
    count: int
    #: where it fired: "全体·德", "中层正职" … (bucket, and sub-row when there is one)
    scopes: list[str]
    #: the most extreme value among them and the smallest and largest n behind them
    worst: float | None = None
    threshold: float | None = None
    n_min: int | None = None
    n_max: int | None = None
    #: the words of a rule that is not a figure warning (reconciliation, review) as the
    #: notice's template and parameters, for the reader's language; left out of the JSON and
    #: sha256 as `Notice.template` is (`rule` stays the record)
    template: str | None = Field(default=None, exclude=True)
    params: dict[str, str | int | float] = Field(default_factory=dict, exclude=True)


class WarningLine(_M):
    """One line of the warning summary: a cadre (or row, or the meeting) and its warnings."""

    part: str | None = None
    subject: str
    count: int
    #: ballots behind the subject's figures for all voters (the n of its 全体 rates), if known
    n: int | None = None
    rules: list[WarningRule]
    #: the line as printed: "张伟（副局长）：预警 12 条（n=36）：不称职率达到预警线 8 条，…"
    message: str


class SheetNote(_M):
    """A sheet for the audit appendix: voided, or with something a person must look at."""

    serial: str
    #: void: the whole sheet counts as 无效; void_block: one block (position, row) over its
    #: quota is void on this sheet, the others count; review: a person must look at it
    kind: Literal["void", "void_block", "review"]
    code: str
    reason: str
    field: str | None = None


class TallyResult(_M):
    schema_: Literal["scantally.tally/1"] = Field(default=RESULT_SCHEMA, alias="schema")
    form: FormInfo
    settings: Settings
    buckets: list[Bucket]
    reconciliation: Reconciliation
    recommendation: RecommendationResult | None = None
    evaluation: EvaluationResult | None = None
    satisfaction: SatisfactionResult | None = None
    alarms: list[Notice]
    warnings: list[Notice]
    #: the alarms and warnings aggregated: one line per cadre/row, one entry per rule
    warning_summary: list[WarningLine] = Field(default_factory=list)
    sheets: list[SheetNote]
    #: some ballots still carry doubtful marks awaiting review: the figures may change
    provisional: bool
    #: sha256 of the canonical JSON of everything above (see `compute.result_sha256`)
    sha256: str = ""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True,
        serialize_by_alias=True,
    )

    def bucket_label(self, bucket: str) -> str:
        for b in self.buckets:
            if b.id == bucket:
                return b.label
        return bucket


class MeetingResult(_M):
    """The results of a meeting that handed out several forms, one per form (by form id)."""

    schema_: Literal["scantally.meeting-tally/1"] = Field(default="scantally.meeting-tally/1",
                                                          alias="schema")
    forms: list[TallyResult]
    #: sha256 of the canonical JSON of `forms` (see `compute.result_sha256`)
    sha256: str = ""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True,
        serialize_by_alias=True,
    )
