"""A stored page's reading as the tally reads it: the `reading` JSON column parsed once, here.

The column keeps the reading JSON as ingest wrote it (`omr.reading.Reading.to_dict`): the audit
chain hashes it, a bundle carries it, so the row keeps it as it is. What reads what a reading
*says* reads a typed value parsed here, at the store's edge, and never digs into the JSON:
- `StoredReading`, what the ballots (`tally.ballots`) and the review queue read of every
  counted page: the marked and doubtful options per field, shaped as `tally.model.BallotPage`
  holds them (so the marks go from the JSON to a ballot without another copy), the write-in
  lines holding unmarked ink, the reason code. `counted_pages` and `stored_pages` read a
  meeting's pages with it straight from the column's text, without keeping the decoded JSON
  (scores and certainties of every box: most of its size) on thousands of rows at once;
- the whole `omr.reading.Reading` (`full_readings`), for the few pages whose boxes a person is
  shown with their scores and certainties.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, select, type_coerce
from sqlalchemy.orm import Session, defer

from omr.reading import Reading
from tally.db import Page

__all__ = ["StoredPage", "StoredReading", "counted_pages", "full_readings", "reason_codes",
           "stored_pages"]

#: page ids per IN (...) query
_CHUNK = 500
#: the reading column as the text stored, not decoded by the column type
_READING_TEXT = type_coerce(Page.reading, Text)


@dataclass(frozen=True, slots=True)
class StoredReading:
    """What a stored reading says that the tally and review read (see the module docstring)."""

    #: options the engine is sure are marked, per field (every field the reading lists)
    marked: dict[str, tuple[str, ...]]
    #: options it is not sure of, per field (the same fields; empty when none)
    doubtful: dict[str, tuple[str, ...]]
    #: write-in lines ("<field>.<option>") with ink while their box is not marked
    writein_ink: tuple[str, ...] = ()
    #: the `omr.reading.ReasonCode` value (None for an `ok` page)
    reason_code: str | None = None

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> StoredReading:
        """The reading JSON object as stored (a missing key reads as empty)."""
        marks: Mapping[str, Mapping[str, Any]] = doc.get("marks") or {}
        return cls({f: tuple(m.get("marked") or ()) for f, m in marks.items()},
                   {f: tuple(m.get("doubtful") or ()) for f, m in marks.items()},
                   tuple(str(r) for r in doc.get("writein_ink") or ()),
                   doc.get("reason_code") or None)

    @property
    def has_doubtful(self) -> bool:
        return any(self.doubtful.values())


@dataclass(frozen=True, slots=True)
class StoredPage:
    """A page row and its reading, parsed once. The row's `reading` (and `page_to_image`) were
    not loaded with it: read the reading here."""

    row: Page
    reading: StoredReading

    @classmethod
    def of(cls, row: Page) -> StoredPage:
        """A row loaded whole (its reading decoded by the column type)."""
        return cls(row, StoredReading.parse(row.reading))


def _stored(session: Session, query: Select[tuple[Page, str]]) -> list[StoredPage]:
    rows = session.execute(query.options(defer(Page.reading), defer(Page.page_to_image)))
    return [StoredPage(row, StoredReading.parse(json.loads(text))) for row, text in rows]


def counted_pages(session: Session, meeting_id: int) -> list[StoredPage]:
    """The meeting's counted pages, in id order (the tally's read)."""
    return _stored(session, select(Page, _READING_TEXT)
                   .where(Page.meeting_id == meeting_id, Page.state == "counted")
                   .order_by(Page.id))


def stored_pages(session: Session, page_ids: Collection[int]) -> dict[int, StoredPage]:
    """These pages by id (those that exist)."""
    ids = list(page_ids)
    out: dict[int, StoredPage] = {}
    for k in range(0, len(ids), _CHUNK):
        for p in _stored(session, select(Page, _READING_TEXT)
                         .where(Page.id.in_(ids[k:k + _CHUNK]))):
            out[p.row.id] = p
    return out


def full_readings(session: Session, page_ids: Collection[int]) -> dict[int, Reading]:
    """The whole reading of these pages (scores, certainties…) by page id; ValueError for a
    stored reading that is not one (`Reading.from_dict`)."""
    ids = list(page_ids)
    out: dict[int, Reading] = {}
    for k in range(0, len(ids), _CHUNK):
        for page_id, text in session.execute(select(Page.id, _READING_TEXT)
                                             .where(Page.id.in_(ids[k:k + _CHUNK]))):
            out[page_id] = Reading.from_dict(json.loads(text))
    return out


def reason_codes(session: Session, meeting_id: int, page_ids: Collection[int]) -> dict[int, str]:
    """Each of these pages' reason code (those of the meeting): its refusal at ingest, else its
    reading's code, else its status (what `tally.reasons` words a page by when its sentence
    has no known shape)."""
    ids = list(page_ids)
    out: dict[int, str] = {}
    for k in range(0, len(ids), _CHUNK):
        for page_id, refusal, text, status in session.execute(
                select(Page.id, Page.refusal, _READING_TEXT, Page.status)
                .where(Page.meeting_id == meeting_id, Page.id.in_(ids[k:k + _CHUNK]))):
            out[page_id] = refusal or StoredReading.parse(json.loads(text)).reason_code or status
    return out
