"""Recount and verify: is the stored count still what the images and the log say?

- `compare_readings` lists what differs between a stored reading and a new one (status, sheet
  code, marked and doubtful options per field), for `intake.recount`, which re-reads every
  stored image through the intake pool. A difference is for a person to look at.
- `verify` checks every image file against its SHA-256 and walks the meeting's audit chain,
  comparing every meeting, batch, page, decision and display-token row with its logged record
  (`tally.audit.check_meeting`), the account log with every user and login session
  (`tally.accounts.check_accounts`), and both chains against the signed anchors outside the
  database (`tally.anchors.check`: a cut or re-hashed chain, deleted rows), the store's
  hand-entry chain of 综合分析 (`tally.cadre.entries.check_entries`) and, for an imported
  meeting, the signed record kept of its bundle (`tally.exchange.kept`). Any edit is found and
  named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tally import accounts, anchors, audit
from tally.audit import Problem
from tally.cadre.entries import check_entries
from tally.db import AuditEntry, Page
from tally.exchange.kept import check_kept_import
from tally.store import Store


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
    problems += check_entries(session)  # store-wide, as the account log
    problems += check_kept_import(session, meeting_id)
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
