"""A meeting's forms as the store keeps them: the rows, their specs, their typed layouts.

The read side of `tally.meetings` (which creates and changes meetings), below it so that what
only reads a meeting's forms (`tally.references`, review, ingest) need not import the module
that makes them. The layout JSON column is parsed here, once: everything above reads the
`omr.layout.FormLayout` by attribute.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.load import parse_spec
from forms.spec import FormSpec
from omr.layout import FormLayout
from tally.db import MeetingForm

__all__ = ["meeting_forms", "meeting_layouts", "meeting_specs"]


def meeting_forms(session: Session, meeting_id: int) -> dict[str, MeetingForm]:
    rows = session.scalars(select(MeetingForm).where(MeetingForm.meeting_id == meeting_id)
                           .order_by(MeetingForm.id))
    return {f.form_id: f for f in rows}


def meeting_specs(session: Session, meeting_id: int) -> dict[str, FormSpec]:
    """The meeting's form specs as stored (form id -> spec)."""
    return {fid: parse_spec(f.spec_yaml, f"meeting form {fid}")
            for fid, f in meeting_forms(session, meeting_id).items()}


def meeting_layouts(session: Session, meeting_id: int) -> dict[str, FormLayout]:
    """The meeting's layouts as stored (form id -> typed layout): the layout JSON column is
    parsed here, once, at the store's edge; review, manual entry, reports and the readers
    (`tally.references.reading_layouts`) read the typed value by attribute."""
    return {fid: FormLayout.parse(f.layout)
            for fid, f in meeting_forms(session, meeting_id).items()}
