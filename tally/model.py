"""Plain data passed between the store (`tally.db`, `tally.ingest`) and the rules/reports.

The store assembles `Ballot`s from stored readings plus review decisions; the rules
(`tally.rules`) turn ballots + `MeetingFacts` + `Settings` into figures; the reports render
figures. Everything here is plain, immutable data, so any figure can be recomputed from the
stored readings and decisions alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omr.reading import Status

#: a page's status after reading and review
PageStatus = Status


@dataclass(frozen=True)
class BallotPage:
    page: int
    status: PageStatus
    #: options the engine or a reviewer says are marked, per field
    marks: dict[str, tuple[str, ...]]
    #: options still doubtful (no review decision yet), per field
    doubtful: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sheet_id: int | None = None  # the store's id of the stored page image


@dataclass(frozen=True)
class Ballot:
    """One returned sheet (all its pages), identified by its printed serial."""

    serial: str
    form_id: str
    #: voter category: from the sheet's category block, else from its batch; None if neither
    category: str | None
    pages: tuple[BallotPage, ...]
    #: a reviewer voided the whole ballot (e.g. signed, torn, not this meeting's paper)
    void: bool = False
    void_reason: str = ""
    #: write-in names typed at review from the image: field -> option (writeinK) -> name
    writeins: dict[str, dict[str, str]] = field(default_factory=dict)

    def marks(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for p in self.pages:
            out.update(p.marks)
        return out

    @property
    def pending_review(self) -> bool:
        return any(p.doubtful or p.status == "review" for p in self.pages)


class Settings(BaseModel):
    """How the figures are computed; printed on every report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: 得票率 / shares denominator: ballots collected (实到/收回), valid ballots, or the
    #: valid ballots of that block
    denominator: Literal["attendees", "valid_ballots", "block_valid"] = "attendees"
    #: does 不了解 stay in the denominator of evaluation/satisfaction shares
    unknown_in_denominator: bool = True
    #: weight per level id (e.g. excellent 100, competent 80, basic 60, incompetent 0);
    #: empty -> the form spec's level weights
    level_weights: dict[str, float] = Field(default_factory=dict)
    #: weight per voter category for the weighted score (e.g. leader 0.3, middle 0.4, staff 0.3);
    #: empty -> every ballot weighs the same
    category_weights: dict[str, float] = Field(default_factory=dict)
    #: warn when 不称职率 >= this
    incompetent_warn_rate: float = Field(default=1 / 3, ge=0, le=1)
    #: warn when 称职以上率 < this
    competent_or_better_warn_rate: float = Field(default=0.5, ge=0, le=1)
    #: warn when 不满意率 >= this
    dissatisfied_warn_rate: float = Field(default=1 / 3, ge=0, le=1)
    #: participation warning when 实到/应到 < this
    participation_warn_rate: float = Field(default=2 / 3, ge=0, le=1)
    sort: Literal["votes", "strokes"] = "votes"
    #: what leaders (民主测评 individual part) are ranked by:
    #: - "auto" (default): the category-weighted score when `category_weights` are set (a team
    #:   that weighs the categories expects the ranking to follow the weighted figure), else
    #:   称职以上率;
    #: - "competent_or_better_rate": 称职以上率, then 优秀率, whatever the weights;
    #: - "weighted_score": the weighted score (Σ share × level weight; the category-weighted
    #:   score when category weights are set), then 称职以上率 and 优秀率.
    #: The report prints the basis it used.
    rank_by: Literal["auto", "competent_or_better_rate", "weighted_score"] = "auto"


class MeetingFacts(BaseModel):
    """What the team records about the meeting itself (not read from sheets)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: 应到人数 per voter category id
    expected: dict[str, int] = Field(default_factory=dict)
    #: 实到人数 per category; empty -> taken as the ballots returned per category
    present: dict[str, int] = Field(default_factory=dict)
    #: sheets issued (发出)
    issued: int | None = None
    #: sheets issued (发出) per form id; a form not listed has `issued`
    issued_by_form: dict[str, int] = Field(default_factory=dict)

    def for_form(self, form_id: str) -> MeetingFacts:
        """The facts one form is tallied with: its own 发出 when the team recorded one."""
        if form_id not in self.issued_by_form:
            return self
        return self.model_copy(update={"issued": self.issued_by_form[form_id]})
