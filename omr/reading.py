"""The result of reading one page: `Reading`, serialised as the reading JSON of ARCHITECTURE.md.

```json
{"source": "file.jpg#1", "form": "…", "page": 1, "serial": "…",
 "status": "ok|review|unreadable|unknown_form|blank", "reason": "…",
 "marks": {"<field>": {"marked": ["<option>"], "doubtful": ["<option>"]}},
 "scores": {"<field>": {"<option>": 0.0}}}
```
`form`, `page` and `serial` are null when the sheet code could not be read; `reason` is "" when
there is nothing to say. `marks` and `scores` are empty unless the page was registered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Status = Literal["ok", "review", "unreadable", "unknown_form", "blank"]
STATUSES: tuple[Status, ...] = ("ok", "review", "unreadable", "unknown_form", "blank")
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
    #: a foreign form's sheet (no printed serial): its voter's ink, coarse enough to survive a
    #: re-scan (`omr.fingerprint`), so a sheet fed twice can be caught; serialised when set
    fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The reading JSON object (plain dict, JSON-ready)."""
        return {
            "source": self.source,
            "form": self.form,
            "page": self.page,
            "serial": self.serial,
            "status": self.status,
            "reason": self.reason,
            "marks": {
                f: {"marked": list(m.marked), "doubtful": list(m.doubtful)}
                for f, m in self.marks.items()
            },
            "scores": {
                f: {o: round(float(s), SCORE_DIGITS) for o, s in opts.items()}
                for f, opts in self.scores.items()
            },
        } | ({"writein_ink": list(self.writein_ink)} if self.writein_ink else {}) | (
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
                fingerprint=doc.get("fingerprint"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed reading: {exc}") from exc

    @property
    def read(self) -> bool:
        """True when the page was registered and its boxes measured (ok, review or blank)."""
        return self.status in ("ok", "review", "blank")


def failed(
    source: str,
    status: Status,
    reason: str,
    *,
    form: str | None = None,
    page: int | None = None,
    serial: str | None = None,
) -> Reading:
    """A reading of a page that could not be read: no marks, no scores, a reason."""
    return Reading(source=source, status=status, reason=reason, form=form, page=page,
                   serial=serial)
