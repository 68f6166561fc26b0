"""A sheet fed twice, when nothing printed on it says which sheet it is (a foreign form).

Our own sheets carry a printed serial: a second image of one is caught by its count key
(`tally.ingest`). A foreign form has none - its serial is made from the file and page it came
from, so a re-scan of the same paper gets another serial and other file bytes. What stays is
the voter's ink: the reading's fingerprint (`omr.fingerprint`). At ingest, a counted page of a
foreign form is looked up (`same_sheet_page`) among the pages of the same form and page already
counted in the meeting; one within `omr.fingerprint.SAME_SHEET_MAX_DISTANCE` makes the new page a
`duplicate` of it, never counted. `note_fingerprint` keeps the fingerprint of every page counted
(table `sheet_fingerprints`, migration 0009_foreign).

What this cannot do: tell a forged sheet. With no printed serials there is no list of the
sheets handed out, so an extra sheet filled in by anyone counts like any other;
the figures of a foreign form carry the warning `no_printed_serials` saying so
(`tally.rules.compute`), in the reports' reconciliation and warnings.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from omr.fingerprint import distance
from omr.fingerprint import same_sheet as same_ink
from omr.reading import Reading
from tally.db import Base, Page


class SheetFingerprint(Base):
    """The ink fingerprint of a counted page of a foreign form (`omr.fingerprint`)."""

    __tablename__ = "sheet_fingerprints"
    __table_args__ = (Index("ix_sheet_fingerprints_form", "meeting_id", "form_id", "page_no"),)

    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    form_id: Mapped[str] = mapped_column(String(40))
    page_no: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(Text)


def same_sheet_page(s: Session, meeting_id: int, reading: Reading) -> Page | None:
    """The counted page of this meeting that is the same sheet as `reading` (its fingerprint
    within tolerance; the nearest), or None; None also for a reading with no fingerprint (our
    own sheets, a blank one)."""
    fp = reading.fingerprint
    if not fp or not reading.form or not reading.page:
        return None
    rows = s.execute(select(SheetFingerprint.page_id, SheetFingerprint.fingerprint).where(
        SheetFingerprint.meeting_id == meeting_id, SheetFingerprint.form_id == reading.form,
        SheetFingerprint.page_no == reading.page)).all()
    near = [(distance(fp, other), page_id) for page_id, other in rows if same_ink(fp, other)]
    return s.get(Page, min(near)[1]) if near else None


def note_fingerprint(s: Session, page: Page, reading: Reading) -> None:
    """Keep the fingerprint of a page just counted (in the ingest's transaction)."""
    if reading.fingerprint and page.state == "counted" and page.form_id and page.page_no:
        s.add(SheetFingerprint(page_id=page.id, meeting_id=page.meeting_id, form_id=page.form_id,
                               page_no=page.page_no, fingerprint=reading.fingerprint))

