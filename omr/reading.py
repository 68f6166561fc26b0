"""The result of reading one page: `Reading`, serialised as the reading JSON of ARCHITECTURE.md.

```json
{"source": "file.jpg#1", "form": "…", "page": 1, "serial": "…",
 "status": "ok|review|unreadable|unknown_form|blank", "reason": "…", "reason_code": "…",
 "marks": {"<field>": {"marked": ["<option>"], "doubtful": ["<option>"]}},
 "scores": {"<field>": {"<option>": 0.0}},
 "certainty": {"<field>": {"<option>": 1.0}},
 "thresholds": {"marginal_fill": 0.03, …}}
```
`form`, `page` and `serial` are null when the sheet code could not be read; `reason` is "" when
there is nothing to say; `reason_code` is the `ReasonCode` a program can branch on (null for an
`ok` page). `marks` and `scores` are empty unless the page was registered; then `certainty` says
per box how far it is from a threshold that would change its decision (0 on one, 1 far from
any) and `thresholds` records the decision thresholds and the page's ink levels in force, so a
later reading (a recount) can say what changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Status(StrEnum):
    """A page's status: the one status type of Scantally (readings, stored pages, ballots)."""

    OK = "ok"
    REVIEW = "review"
    UNREADABLE = "unreadable"
    UNKNOWN_FORM = "unknown_form"
    BLANK = "blank"


class ReasonCode(StrEnum):
    """Why a page is not plainly `ok`, for programs (the `reason` sentence is for people)."""

    DOUBTFUL_MARKS = "doubtful_marks"
    BLANK = "blank"
    UNKNOWN_FORM = "unknown_form"
    #: the engine could not register or read the page (its sentence says which step)
    NOT_READ = "not_read"
    NO_IMAGE = "no_image"
    DECODE_FAILED = "decode_failed"
    INTERNAL_ERROR = "internal_error"
    WORKER_CRASHED = "worker_crashed"
    CARD_TIMING = "card_timing"
    CARD_GRID = "card_grid"
    CARD_STRAY_MARKS = "card_stray_marks"
    CARD_CODE_UNREADABLE = "card_code_unreadable"
    #: a test-deck sheet fed to a meeting that went official (`tally.testmode`): never counted
    TEST_SHEET = "test_sheet"


STATUSES: tuple[Status, ...] = tuple(Status)
#: the statuses of a page refused as a sheet: nothing of it counts (re-feed it, or it is not ours)
REFUSED_STATUSES: tuple[Status, ...] = (Status.UNREADABLE, Status.UNKNOWN_FORM)
#: the code a reading made without one gets, by status
_DEFAULT_CODE = {Status.REVIEW: ReasonCode.DOUBTFUL_MARKS, Status.BLANK: ReasonCode.BLANK,
                 Status.UNKNOWN_FORM: ReasonCode.UNKNOWN_FORM,
                 Status.UNREADABLE: ReasonCode.NOT_READ}
SCORE_DIGITS = 3


@dataclass
class FieldMarks:
    """The options of one field the engine is sure are marked, and those it is not sure of."""

    marked: list[str] = field(default_factory=list)
    doubtful: list[str] = field(default_factory=list)


@dataclass
class Reading:
    """What one scanned page says: status, sheet code, and per field the marked options.

    `page_to_image` (3x3, page millimetres -> image pixels) and `registration_error_mm` describe
    how the page was registered; they are kept for annotation and diagnostics, not serialised.
    """

    source: str
    status: Status
    reason: str = ""
    form: str | None = None
    page: int | None = None
    serial: str | None = None
    marks: dict[str, FieldMarks] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    page_to_image: np.ndarray | None = field(default=None, repr=False, compare=False)
    registration_error_mm: float | None = field(default=None, compare=False)
    #: write-in lines ("<field>.<option>") holding handwriting while their box is not marked:
    #: no vote, but a person looks (`omr.writein`); serialised only when not empty
    writein_ink: list[str] = field(default_factory=list)
    #: per box, how sure its decision is (0..1, `omr.decide.BoxCall.certainty`)
    certainty: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the thresholds and ink levels this page was decided with (names as in `omr.decide`)
    thresholds: dict[str, float] = field(default_factory=dict)
    reason_code: ReasonCode | None = None
    #: a foreign form's sheet (no printed serial): its voter's ink, coarse enough to survive a
    #: re-scan (`omr.fingerprint`), so a sheet fed twice can be caught; serialised when set
    fingerprint: str | None = None

    @property
    def least_certain(self) -> float:
        """The lowest certainty of any box (1.0 for a page with none): the review order."""
        return min((v for opts in self.certainty.values() for v in opts.values()), default=1.0)

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        if self.reason_code is None:
            self.reason_code = _DEFAULT_CODE.get(self.status)

    def to_dict(self) -> dict[str, Any]:
        """The reading JSON object (plain dict, JSON-ready)."""
        return {
            "source": self.source,
            "form": self.form,
            "page": self.page,
            "serial": self.serial,
            "status": str(self.status),
            "reason": self.reason,
            "reason_code": None if self.reason_code is None else str(self.reason_code),
            "marks": {
                f: {"marked": list(m.marked), "doubtful": list(m.doubtful)}
                for f, m in self.marks.items()
            },
            "scores": {
                f: {o: round(float(s), SCORE_DIGITS) for o, s in opts.items()}
                for f, opts in self.scores.items()
            },
        } | ({"writein_ink": list(self.writein_ink)} if self.writein_ink else {}) | ({
            "certainty": {f: {o: round(float(c), SCORE_DIGITS) for o, c in opts.items()}
                          for f, opts in self.certainty.items()},
            "thresholds": dict(self.thresholds),
        } if self.certainty else {}) | (
            {"fingerprint": self.fingerprint} if self.fingerprint is not None else {})

    def to_json(self) -> str:
        """The reading as one JSON line (UTF-8 text, no newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Reading:
        """Parse a reading JSON object (as written by `to_dict`); ValueError when malformed."""
        status = doc.get("status")
        if status not in STATUSES:
            raise ValueError(f"reading has unknown status {status!r}")
        try:
            marks = {
                f: FieldMarks(list(m["marked"]), list(m["doubtful"]))
                for f, m in doc.get("marks", {}).items()
            }
            scores = {
                f: {o: float(s) for o, s in opts.items()}
                for f, opts in doc.get("scores", {}).items()
            }
            return cls(
                source=str(doc["source"]), status=status, reason=str(doc.get("reason") or ""),
                form=doc.get("form"), page=doc.get("page"), serial=doc.get("serial"),
                marks=marks, scores=scores,
                writein_ink=[str(r) for r in doc.get("writein_ink") or []],
                certainty={f: {o: float(c) for o, c in opts.items()}
                           for f, opts in (doc.get("certainty") or {}).items()},
                thresholds={str(k): float(v) for k, v in (doc.get("thresholds") or {}).items()},
                reason_code=ReasonCode(doc["reason_code"]) if doc.get("reason_code") else None,
                fingerprint=doc.get("fingerprint"),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"malformed reading: {exc}") from exc

    @property
    def read(self) -> bool:
        """True when the page was registered and its boxes measured (ok, review or blank)."""
        return self.status in (Status.OK, Status.REVIEW, Status.BLANK)


def failed(
    source: str,
    status: Status,
    reason: str,
    *,
    form: str | None = None,
    page: int | None = None,
    serial: str | None = None,
    code: ReasonCode | None = None,
) -> Reading:
    """A reading of a page that could not be read: no marks, no scores, a reason (and its
    code; by default the status's)."""
    return Reading(source=source, status=status, reason=reason, form=form, page=page,
                   serial=serial, reason_code=code)
