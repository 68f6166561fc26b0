"""The hash-chained audit log, one chain per meeting, and the check that every row matches it.

Each entry stores the hash of the previous entry and its own hash: SHA-256 over the canonical
JSON of (meeting, seq, at, actor, action, payload, prev_hash). An entry is written in the same
transaction as the row it records, and its payload carries that row's full record
(`RECORDS`): a meeting, a batch, a page (its reading by hash) or a review decision. So:
- an edited entry no longer matches its hash; a deleted one leaves a gap in `seq`; a rewritten
  one breaks the link to its successor (`check_chain`);
- an edited, inserted or deleted meeting/batch/page/decision row no longer matches the last
  record the chain holds for it (`check_records`). Rows Scantally itself removes (the test
  data cleared when a meeting goes official) are named in the payload of the entry that
  removes them (`REMOVED_KEY`), so their absence is logged, not a deletion.
What a chain cannot show alone is a cut of its newest entries together with their rows: print
the head (`head`) on every report and keep it, as the team keeps the signed tally sheet.
Appending is safe between stations: `uq_audit_seq` lets one writer take a seq, the other gets
an IntegrityError and retries its whole transaction (`tally.store.Store.write`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tally.db import (
    AuditEntry,
    Batch,
    Decision,
    Meeting,
    MeetingForm,
    Page,
    PrintedSerial,
    canonical_json,
    iso_utc,
    utc_now,
)

GENESIS_HASH = "0" * 64
#: an entry's payload key listing rows Scantally removed in that step: {"page": [ids], …}
REMOVED_KEY = "removed"


@dataclass(frozen=True)
class Problem:
    """Something `verify` found: what kind, which thing, and what it means / what to do."""

    kind: str  # "audit" | "record" | "image"
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


def entry_hash(meeting_id: int, seq: int, at: str, actor: str, action: str,
               payload: dict[str, Any], prev_hash: str) -> str:
    body = {"meeting": meeting_id, "seq": seq, "at": at, "actor": actor, "action": action,
            "payload": payload, "prev": prev_hash}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def head(session: Session, meeting_id: int) -> AuditEntry | None:
    """The newest entry of a meeting's chain."""
    return session.scalars(
        select(AuditEntry).where(AuditEntry.meeting_id == meeting_id)
        .order_by(AuditEntry.seq.desc()).limit(1)
    ).first()


def append(session: Session, meeting_id: int, action: str, payload: dict[str, Any],
           actor: str) -> AuditEntry:
    """Add an entry after the current head (flushed, so a clash surfaces here)."""
    last = head(session, meeting_id)
    seq = last.seq + 1 if last else 1
    prev = last.hash if last else GENESIS_HASH
    at = iso_utc(utc_now()) or ""
    entry = AuditEntry(meeting_id=meeting_id, seq=seq, at=at, actor=actor[:80], action=action,
                       payload=payload, prev_hash=prev,
                       hash=entry_hash(meeting_id, seq, at, actor[:80], action, payload, prev))
    session.add(entry)
    session.flush()
    return entry


def record(session: Session, kind: str, row: Any, actor: str, action: str) -> AuditEntry:
    """Append the full record of `row` (a `RECORDS` kind) to its meeting's chain."""
    make = RECORDS[kind][1]
    payload = {"kind": kind, "id": row.id, "record": make(session, row)}
    return append(session, row.meeting_id if kind != "meeting" else row.id, action, payload,
                  actor)


# -- the records the chain holds, one function per table --------------------------------------

def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def meeting_record(session: Session, m: Meeting) -> dict[str, Any]:
    forms = session.scalars(
        select(MeetingForm).where(MeetingForm.meeting_id == m.id).order_by(MeetingForm.form_id)
    ).all()
    # a serial tied to a form is hashed with it ("serial form"); one recorded for any form alone
    serials = sorted(s if f is None else f"{s} {f}" for s, f in session.execute(
        select(PrintedSerial.serial, PrintedSerial.form_id)
        .where(PrintedSerial.meeting_id == m.id)))
    per_form = {"issued_by_form": m.issued_by_form} if m.issued_by_form else {}
    record = {**per_form,
        "name": m.name, "unit": m.unit, "date": m.date.isoformat() if m.date else None,
        "expected": m.expected, "present": m.present, "issued": m.issued,
        "settings": m.settings, "created_at": iso_utc(m.created_at),
        "serials_recorded": m.serials_recorded,
        "serials": {"count": len(serials), "sha256": _sha("\n".join(serials))},
        "forms": [{"form_id": f.form_id, "kind": f.kind, "title": f.title,
                   "layout_hash": f.layout_hash, "spec_sha256": _sha(f.spec_yaml),
                   "layout_sha256": _sha(canonical_json(f.layout))} for f in forms],
    }
    if m.test_mode:  # only while in test mode: the records of official meetings stay as they were
        record["test_mode"] = True
    return record


def batch_record(_session: Session, b: Batch) -> dict[str, Any]:
    return {"station": b.station, "device": b.device, "operator": b.operator,
            "category": b.category, "started_at": iso_utc(b.started_at),
            "ended_at": iso_utc(b.ended_at)}


def page_record(_session: Session, p: Page) -> dict[str, Any]:
    return {"batch": p.batch_id, "sha256": p.sha256, "image_bytes": p.image_bytes,
            "source": p.source, "form": p.form_id, "page": p.page_no, "serial": p.serial,
            "status": p.status, "reason": p.reason,
            "reading_sha256": _sha(canonical_json(p.reading)),
            "page_to_image": p.page_to_image, "state": p.state,
            "count_key": p.count_key, "duplicate_of": p.duplicate_of,
            "ingested_at": iso_utc(p.ingested_at),
            **({"refusal": p.refusal} if p.refusal else {})}


def decision_record(_session: Session, d: Decision) -> dict[str, Any]:
    return {"page": d.page_id, "field": d.field, "option": d.option, "kind": d.kind,
            "text": d.text, "before": d.before, "after": d.after, "who": d.who, "why": d.why,
            "at": iso_utc(d.at)}


RECORDS: dict[str, tuple[type, Callable[[Session, Any], dict[str, Any]]]] = {
    "meeting": (Meeting, meeting_record),
    "batch": (Batch, batch_record),
    "page": (Page, page_record),
    "decision": (Decision, decision_record),
}


# -- checking ---------------------------------------------------------------------------------

def _describe(e: AuditEntry) -> str:
    return f"audit entry #{e.seq} ({e.action}, {e.at})"


def check_chain(entries: Iterable[AuditEntry]) -> list[Problem]:
    """Walk a chain in seq order: every hash recomputed, every link and seq checked."""
    problems: list[Problem] = []
    prev_hash, prev_seq = GENESIS_HASH, 0
    for e in entries:
        if e.seq != prev_seq + 1:
            missing = (f"#{prev_seq + 1}" if e.seq == prev_seq + 2
                       else f"#{prev_seq + 1}-#{e.seq - 1}")
            problems.append(Problem("audit", f"audit entries {missing}",
                                    "missing: deleted from the log"))
        actual = entry_hash(e.meeting_id, e.seq, e.at, e.actor, e.action, e.payload, e.prev_hash)
        if actual != e.hash:
            problems.append(Problem("audit", _describe(e),
                                    "its content does not match its hash: the entry was edited"))
        elif e.prev_hash != prev_hash and e.seq == prev_seq + 1:
            problems.append(Problem(
                "audit", _describe(e),
                f"does not link to entry #{prev_seq}: entry #{prev_seq} was replaced or the "
                "chain was rewritten from there"))
        prev_hash, prev_seq = e.hash, e.seq
    return problems


def check_records(session: Session, meeting_id: int,
                  entries: Iterable[AuditEntry]) -> list[Problem]:
    """Compare every meeting/batch/page/decision row with the last record the chain holds."""
    last: dict[tuple[str, int], dict[str, Any]] = {}
    for e in entries:
        p = e.payload
        if not isinstance(p, dict):
            continue
        # rows Scantally removed in this logged step (the test data cleared when a meeting
        # goes official: `tally.testmode`): gone from the database by design, not deleted
        for kind, ids in (p.get(REMOVED_KEY) or {}).items():
            for row_id in ids:
                last.pop((kind, row_id), None)
        if p.get("kind") in RECORDS:
            last[(p["kind"], p["id"])] = p["record"]
    problems: list[Problem] = []
    for kind, (model, make) in RECORDS.items():
        where = model.id == meeting_id if model is Meeting else model.meeting_id == meeting_id
        rows = {r.id: r for r in session.scalars(select(model).where(where))}
        logged = {i for (k, i) in last if k == kind}
        for row_id, row in rows.items():
            subject = f"{kind} #{row_id}" + (f" ({row.source})" if kind == "page" else "")
            if row_id not in logged:
                problems.append(Problem("record", subject,
                                        "is not in the audit log: added outside Scantally"))
                continue
            now, then = make(session, row), last[(kind, row_id)]
            changed = sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))
            if changed:
                detail = ", ".join(f"{k} {then.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])
                problems.append(Problem("record", subject,
                                        f"differs from its audit record ({detail}): edited "
                                        "outside Scantally"))
        for row_id in sorted(logged - set(rows)):
            problems.append(Problem("record", f"{kind} #{row_id}",
                                    "is in the audit log but gone from the database: deleted"))
    return problems


def check_meeting(session: Session, meeting_id: int) -> list[Problem]:
    """The whole database-side check of a meeting: its chain, then every row against it."""
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.meeting_id == meeting_id).order_by(AuditEntry.seq)
    ).all()
    if not entries:
        return [Problem("audit", f"meeting #{meeting_id}",
                        "has no audit log at all: its log was deleted")]
    return check_chain(entries) + check_records(session, meeting_id, entries)
