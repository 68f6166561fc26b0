"""An intake job as the console sees it (`Job`, `JobView`) and as the store keeps it.

`Job` is the live state of one job in this process (its outcomes, its stop switch); `view()` is
what the API and the console show; `progress()` is what is saved in the job's row
(`tally.db.IntakeJob`, via `intake.jobs`), and `Job.from_row` is a job read back from the store
(one that ran before a restart, or in another process).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from intake.jobs import JobFields
from intake.outcomes import Outcomes
from tally.db import IntakeJob, iso_utc

JobState = Literal["running", "done", "stopped", "failed"]
#: lines listed in a job's view (re-feed, refused)
MAX_LISTED = 200


class JobView(BaseModel):
    id: str
    meeting_id: int
    batch_id: int | None
    kind: Literal["upload", "device", "api"]
    label: str
    operator: str
    state: JobState
    started_at: float
    finished_at: float | None
    elapsed_s: float
    files_total: int | None
    files_done: int
    pages: int
    counts: dict[str, int]
    pages_per_minute: float | None
    refeed: list[str]
    refused: list[str]
    error: str
    #: what a restart did with the job ("taken up again after …", "marked failed at …")
    note: str = ""
    #: 1, +1 each time a restart took the job up again
    attempts: int = 1


@dataclass
class Job:
    id: str
    meeting_id: int
    kind: Literal["upload", "device", "api"]
    label: str
    operator: str
    files_total: int | None = None
    batch_id: int | None = None
    state: JobState = "running"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    files_done: int = 0
    outcomes: Outcomes = field(default_factory=Outcomes)
    error: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    last_event: float = 0.0
    note: str = ""
    attempts: int = 1

    @classmethod
    def from_row(cls, row: IntakeJob) -> Job:
        """A job of the store that this process does not run (before a restart, or ended)."""
        return cls(row.id, row.meeting_id, row.kind, row.label, row.operator,  # type: ignore[arg-type]
                   row.files_total, row.batch_id, row.state,  # type: ignore[arg-type]
                   _epoch(row.started_at), _epoch(row.finished_at) if row.finished_at else None,
                   row.files_done, Outcomes.restored(row.counts, row.refeed, row.refused),
                   error=row.error, note=row.note, attempts=row.attempts)

    def progress(self) -> JobFields:
        """What is saved in the job's row."""
        return {"state": self.state, "files_done": self.files_done,
                "counts": dict(self.outcomes.counts),
                "refeed": self.outcomes.refeed[-MAX_LISTED:],
                "refused": self.outcomes.refused[-MAX_LISTED:], "error": self.error,
                "note": self.note}

    def view(self) -> JobView:
        end = self.finished_at or time.time()
        elapsed = max(end - self.started_at, 1e-6)
        pages = self.outcomes.pages
        return JobView(
            id=self.id, meeting_id=self.meeting_id, batch_id=self.batch_id, kind=self.kind,
            label=self.label, operator=self.operator, state=self.state,
            started_at=self.started_at, finished_at=self.finished_at, elapsed_s=round(elapsed, 2),
            files_total=self.files_total, files_done=self.files_done, pages=pages,
            counts=dict(self.outcomes.counts),
            pages_per_minute=round(pages * 60 / elapsed, 1) if pages else None,
            refeed=self.outcomes.refeed[-MAX_LISTED:],
            refused=self.outcomes.refused[-MAX_LISTED:],
            error=self.error, note=self.note, attempts=self.attempts)


def _epoch(moment: dt.datetime) -> float:
    """A stored time (SQLite gives it back naive, in UTC) as seconds since the epoch."""
    text = iso_utc(moment)
    return dt.datetime.fromisoformat(text).timestamp() if text else time.time()


def utc_of(epoch_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)
