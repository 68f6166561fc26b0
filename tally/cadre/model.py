"""The per-cadre view as typed values: `CadreView` is `scantally cadre show --json`.

Figures are keyed by the names in `tally.cadre.stages.FIGURE_LABELS`; rates are fractions in
[0, 1] (None when their denominator is 0), as in `tally.rules.result`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tally.cadre.stages import Stage

Figures = dict[str, float | None]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryFigures(_M):
    """One voter category's figures for the person at one meeting."""

    bucket: str
    label: str
    figures: Figures


class Appearance(_M):
    """The person at one meeting and stage: the figures of all ballots and per category."""

    source: Literal["ballots", "hand"]
    stage: Stage
    year: int
    #: the store's meeting (None for a hand entry)
    meeting_id: int | None = None
    meeting_label: str
    date: str = ""
    form_id: str = ""
    #: candidate | leader | item | hand
    role: str
    #: the person's id in that form (local to the form)
    local_id: str = ""
    person_id: str | None = None
    name: str
    post: str = ""
    #: what the figures are about: the position, or the part of the form
    subject: str = ""
    figures: Figures
    categories: list[CategoryFigures] = Field(default_factory=list)
    #: the meeting's result hash (per form), from the same tally the meeting's report prints
    result_sha256: str = ""
    provisional: bool = False
    #: hand entries: who entered them, when, why
    entered_by: str = ""
    entered_at: str = ""
    why: str = ""


class MeetingFigures(_M):
    """Everyone's figures at one meeting (the cache row of `cadre_meetings`)."""

    meeting_id: int
    audit_seq: int
    appearances: list[Appearance]


class CadreSummary(_M):
    """A line of the cadre list."""

    key: str
    person_id: str | None
    name: str
    post: str
    meetings: int
    years: list[int]
    stages: list[str]


class CadreView(_M):
    key: str
    person_id: str | None
    name: str
    post: str
    #: True for a person without a person_id: only the one meeting is shown
    local_only: bool
    #: other names/posts the person was listed with
    also_listed_as: list[str] = Field(default_factory=list)
    appearances: list[Appearance]
    years: list[int]
    stages: list[Stage]
