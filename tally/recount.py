"""Recount and verify: is the stored count still what the images and the log say?

- `recount` re-reads every stored image with the current engine (`omr.batch` / `omr.engine`;
  a card reader's stored bitmap through its form's reader grid) and lists each difference from
  the stored reading (status, sheet code, marked and doubtful options per field). It writes
  nothing: a difference is for a person to look at.
- `verify` checks every image file against its SHA-256 and walks the meeting's audit chain,
  comparing every meeting, batch, page, decision and display-token row with its logged record
  (`tally.audit.check_meeting`), the account log with every user and login session
  (`tally.accounts.check_accounts`), and both chains against the signed anchors outside the
  database (`tally.anchors.check`: a cut or re-hashed chain, deleted rows). Any edit is found
  and named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scanner.images import decode_bytes
from tally import accounts, anchors, audit
from tally.audit import Problem
from tally.db import AuditEntry, Page
from tally.ingest import as_reading_dict
from tally.intake_read import bitmap_from_png, card_form, card_identity, card_reading
from tally.meetings import meeting_layouts
from tally.store import Store

#: (image, layouts by form id, source, dpi) -> a Reading (or its JSON dict)
ReadPage = Callable[[np.ndarray, dict[str, dict[str, Any]], str, float | None], Any]


@dataclass(frozen=True)
class Difference:
    page_id: int
    source: str
    what: str
    stored: str
    now: str


@dataclass
class RecountReport:
    pages: int = 0
    differences: list[Difference] = field(default_factory=list)
    #: images that could not be re-read (missing, changed, undecodable)
    problems: list[Problem] = field(default_factory=list)


def _marks(reading: dict[str, Any], key: str) -> dict[str, list[str]]:
    return {f: sorted(m.get(key) or []) for f, m in (reading.get("marks") or {}).items()}


def compare_readings(stored: dict[str, Any], now: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What differs between two readings of one page: (what, stored, now) triples; where the
    result differs, the thresholds and ink levels that differ too (each reading records the
    ones it was decided with), so the difference can be explained."""
    out = _result_differences(stored, now)
    if out:
        a, b = stored.get("thresholds") or {}, now.get("thresholds") or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append((f"threshold {key}", str(a.get(key, "not recorded")),
                            str(b.get(key, "not recorded"))))
    return out


def _result_differences(stored: dict[str, Any], now: dict[str, Any]
                        ) -> list[tuple[str, str, str]]:
    out = []
    for key in ("status", "form", "page", "serial"):
        if stored.get(key) != now.get(key):
            out.append((key, str(stored.get(key)), str(now.get(key))))
    for key in ("marked", "doubtful"):
        a, b = _marks(stored, key), _marks(now, key)
        for f in sorted(set(a) | set(b)):
            if a.get(f, []) != b.get(f, []):
                out.append((f"{f} {key}", ",".join(a.get(f, [])) or "-",
                            ",".join(b.get(f, [])) or "-"))
    return out


def recount(store: Store, session: Session, meeting_id: int, *,
            read_page: ReadPage | None = None, workers: int = 2,
            progress: Callable[[int, int], None] | None = None) -> RecountReport:
    """Re-read every stored page of the meeting and compare (see the module docstring).

    Every image is checked against its SHA-256 first; the intact ones are re-read by the
    current engine in `workers` processes (`omr.batch.read_paths`), or one by one with
    `read_page` when given."""
    layouts = meeting_layouts(session, meeting_id)
    rows = session.scalars(select(Page).where(Page.meeting_id == meeting_id)
                           .order_by(Page.id)).all()
    report = RecountReport(pages=len(rows))
    intact = []
    for row in rows:
        trouble = store.images.check(row.sha256)
        if trouble:
            report.problems.append(Problem("image", f"page #{row.id} ({row.source})", trouble))
        else:
            intact.append(row)
    for n, (row, now) in enumerate(_reread(store, intact, layouts, read_page, workers), 1):
        if now is None:
            report.problems.append(Problem("image", f"page #{row.id} ({row.source})",
                                           "the stored image cannot be decoded"))
        else:
            report.differences.extend(Difference(row.id, row.source, what, a, b)
                                      for what, a, b in compare_readings(row.reading, now))
        if progress:
            progress(n, len(intact))
    return report


def _reread(store: Store, rows: list[Page], layouts: dict[str, dict[str, Any]],
            read_page: ReadPage | None, workers: int
            ) -> Iterator[tuple[Page, dict[str, Any] | None]]:
    images = []
    for row in rows:
        data = store.images.get(row.sha256)
        identity = card_identity(data)
        if identity is None:
            images.append(row)
        else:  # a card reader's sheet: its stored bitmap, read through the form's grid again
            yield row, _reread_card(data, identity, layouts, row)
    yield from _reread_images(store, images, layouts, read_page, workers)


def _reread_card(data: bytes, identity: dict[str, str], layouts: dict[str, dict[str, Any]],
                 row: Page) -> dict[str, Any] | None:
    try:
        form_id, page = card_form(layouts, identity["form"])
        bitmap = bitmap_from_png(data)
    except ValueError:
        return None
    reading = card_reading(bitmap, layouts[form_id], page, source=row.source,
                           serial=identity["serial"])
    return as_reading_dict(reading)[0]


def _reread_images(store: Store, rows: list[Page], layouts: dict[str, dict[str, Any]],
                   read_page: ReadPage | None, workers: int
                   ) -> Iterator[tuple[Page, dict[str, Any] | None]]:
    if not rows:
        return
    if read_page is None:
        try:
            from omr.batch import read_paths
        except ImportError as exc:
            raise RuntimeError(f"the OMR engine (omr.batch) is not available: {exc}") from None
        row_by_path = {str(store.images.path(r.sha256)): r for r in rows}
        seen: set[str] = set()
        for reading, _ in read_paths(list(row_by_path), layouts, workers, keep_data=False):
            doc, _ = as_reading_dict(reading)
            path = str(doc.get("source", "")).rsplit("#", 1)[0]
            if path in row_by_path and path not in seen:  # one page per stored image
                seen.add(path)
                yield row_by_path[path], doc
        return
    for row in rows:
        decoded = decode_bytes(store.images.get(row.sha256), row.source or row.sha256)
        if not decoded or decoded[0].image is None:
            yield row, None
            continue
        now, _ = as_reading_dict(read_page(decoded[0].image, layouts, row.source,
                                           decoded[0].dpi))
        yield row, now


@dataclass
class VerifyReport:
    problems: list[Problem]
    pages: int
    images: int
    audit_entries: int
    #: the newest audit entry: keep (print) it to detect a cut of the newest entries later
    head_seq: int | None
    head_hash: str | None
    #: the newest anchor of the data folder (`tally.anchors`), None when there is none
    anchor: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store, session: Session, meeting_id: int, *,
           check_images: bool = True) -> VerifyReport:
    """Check the meeting's images and audit chain, its display tokens, the account log with
    the users and sessions it decides, and all of it against the signed anchors; every
    problem named (see the docstring)."""
    problems = audit.check_meeting(session, meeting_id)
    problems += accounts.check_display_tokens(session, meeting_id)
    problems += accounts.check_accounts(session)
    anchor_problems, newest = anchors.check(session, store.data_dir, meeting_id)
    problems += anchor_problems
    rows = session.scalars(select(Page).where(Page.meeting_id == meeting_id)
                           .order_by(Page.id)).all()
    seen: set[str] = set()
    if check_images:
        for row in rows:
            if row.sha256 in seen:
                continue
            seen.add(row.sha256)
            trouble = store.images.check(row.sha256)
            if trouble:
                problems.append(Problem("image", f"page #{row.id} ({row.source})", trouble))
    head = audit.head(session, meeting_id)
    entries = session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.meeting_id == meeting_id)) or 0
    return VerifyReport(problems, len(rows), len(seen), entries,
                        head.seq if head else None, head.hash if head else None, newest)
