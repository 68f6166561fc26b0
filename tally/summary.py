"""Where a meeting stands, in one dict (`meeting show`, the console): built on the meeting,
its ballots and its review queue, so it sits above all three (`tally.meetings` imports none)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tally import audit
from tally.ballots import stored_ballots
from tally.db import Batch, Meeting, Page
from tally.ledger import meeting_ledger
from tally.meetings import MeetingError, meeting_forms, printed_serial_forms, printed_serials
from tally.review.queue import review_queue


def meeting_summary(session: Session, meeting_id: int) -> dict[str, Any]:
    """Where a meeting stands (for `meeting show` and the console): forms, facts, settings,
    printed serials (and how many came back), pages by state/status, ballots counted and
    held, open review items, the audit head."""
    m = session.get(Meeting, meeting_id)
    if m is None:
        raise MeetingError(f"no meeting #{meeting_id}")
    pages: dict[str, int] = {}
    for state, status, n in session.execute(
            select(Page.state, Page.status, func.count()).where(Page.meeting_id == meeting_id)
            .group_by(Page.state, Page.status).order_by(Page.state, Page.status)):
        pages[f"{state}/{status}"] = n
    ballots = stored_ballots(session, meeting_id)
    head = audit.head(session, meeting_id)
    printed = printed_serials(session, meeting_id)
    returned = {b.serial for b in ballots if b.counts}
    by_form: dict[str, dict[str, int]] = {}
    for serial, form_id in sorted(printed_serial_forms(session, meeting_id).items()):
        row = by_form.setdefault(form_id or "", {"printed": 0, "unreturned": 0})
        row["printed"] += 1
        row["unreturned"] += serial not in returned
    ledger = meeting_ledger(session, meeting_id)
    return {
        "id": m.id, "name": m.name, "unit": m.unit, "date": str(m.date or ""),
        "forms": [{"id": f.form_id, "kind": f.kind, "title": f.title,
                   "layout_hash": f.layout_hash}
                  for f in meeting_forms(session, meeting_id).values()],
        "expected": m.expected, "present": m.present, "issued": m.issued,
        "printed_serials": len(printed) if printed is not None else None,
        #: printed serials no counted sheet carries: sheets not returned (or not fed yet)
        "printed_unreturned": len(printed - returned) if printed is not None else None,
        #: printed serials per form ("": recorded for any form) and how many did not come back
        "printed_by_form": by_form if any(by_form) else {},
        "issued_by_form": m.issued_by_form or {},
        "settings": m.settings,
        "batches": session.scalar(select(func.count()).select_from(Batch)
                                  .where(Batch.meeting_id == meeting_id)),
        "pages": pages,
        "ballots_counted": sum(b.counts for b in ballots),
        "ballots_held": sum(not b.counts for b in ballots),
        "review_open": len(review_queue(session, meeting_id)),
        "ledger": {"fed": ledger.fed, "states": ledger.states, "unresolved": ledger.unresolved,
                   "balanced": ledger.balanced},
        "audit_head": {"seq": head.seq, "hash": head.hash} if head else None,
    }
