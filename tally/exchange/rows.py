"""Bundle rows back to store rows: the same values under the ids the caller gives (the
station's, in the scratch check of `tally.exchange.verify`; new ones, None, at import)."""

from __future__ import annotations

from pathlib import Path

from tally.db import Batch, Decision, Page
from tally.exchange.bundle import BatchRow, DecisionRow, PageRow, when


def batch_model(b: BatchRow, meeting_id: int, batch_id: int | None, where: Path) -> Batch:
    return Batch(id=batch_id, meeting_id=meeting_id, station=b.station, device=b.device,
                 operator=b.operator, category=b.category,
                 started_at=when(b.started_at, f"{where}: batch #{b.id}"),
                 ended_at=when(b.ended_at, f"{where}: batch #{b.id}"))


def page_model(p: PageRow, meeting_id: int, page_id: int | None, batch_id: int,
               duplicate_of: int | None, where: Path) -> Page:
    return Page(id=page_id, meeting_id=meeting_id, batch_id=batch_id, sha256=p.sha256,
                image_bytes=p.image_bytes, source=p.source, form_id=p.form_id,
                page_no=p.page_no, serial=p.serial, status=p.status, reason=p.reason,
                reading=p.reading, page_to_image=p.page_to_image, state=p.state,
                count_key=p.count_key, duplicate_of=duplicate_of,
                ingested_at=when(p.ingested_at, f"{where}: page #{p.id}"))


def decision_model(d: DecisionRow, meeting_id: int, decision_id: int | None, page_id: int,
                   where: Path) -> Decision:
    return Decision(id=decision_id, meeting_id=meeting_id, page_id=page_id, field=d.field,
                    option=d.option, kind=d.kind, text=d.text, before=d.before, after=d.after,
                    who=d.who, why=d.why, at=when(d.at, f"{where}: decision #{d.id}"))
