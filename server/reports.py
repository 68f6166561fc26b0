"""Downloads: the analysis report (PDF, Excel, CSV) of a meeting's form, and its ballots PDF.

Thin wrappers: the report comes from `tally.report.meeting`, the ballots from `forms.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.render import random_serials, render_pdf, sequential_serials
from tally.meetings import meeting_forms, update_meeting
from tally.report.meeting import ReportError, ReportFormat, meeting_report
from tally.results import meeting_specs_cached
from tally.store import Store

MEDIA = {"pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "application/zip"}
MAX_COPIES = 5000

__all__ = ["MAX_COPIES", "Download", "ReportError", "ballots_pdf", "report"]


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    content: bytes

    def disposition(self) -> str:
        ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                             for c in self.filename)
        return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(self.filename)}"


def report(store: Store, meeting_id: int, fmt: ReportFormat, *, form_id: str | None = None,
           operator: str = "", station: str = "") -> Download:
    name, content = meeting_report(store, meeting_id, fmt, form_id=form_id, operator=operator,
                                   station=station)
    return Download(name, MEDIA[fmt], content)


def ballots_pdf(store: Store, meeting_id: int, form_id: str, copies: int, *, actor: str,
                test_deck: bool = False) -> Download:
    """`copies` sheets of a meeting's form. Real sheets get random serials that are recorded
    as the meeting's printed set (audit-logged); a test deck gets 000001… and records nothing."""
    if not 1 <= copies <= MAX_COPIES:
        raise ReportError(f"copies must be 1-{MAX_COPIES}")
    with store.session(readonly=True) as s:
        forms = meeting_forms(s, meeting_id)
        specs = meeting_specs_cached(s, meeting_id)
    if form_id not in forms:
        raise ReportError(f"the meeting has no form {form_id!r}")
    compiled = compile_layout(specs[form_id])
    doc = layout_to_dict(compiled)
    if doc["form"]["hash"] != forms[form_id].layout_hash:
        raise ReportError("this version of Scantally lays the form out differently from when the "
                          "meeting was created; printed sheets would not match the stored "
                          "layout — print with the version that created the meeting")
    serials = sequential_serials(copies) if test_deck else random_serials(copies)
    content = render_pdf(compiled, doc["form"]["hash"], serials)
    if not test_deck:
        update_meeting(store, meeting_id, actor=actor, add_serials=serials)
    kind = "test-deck" if test_deck else "ballots"
    return Download(f"{form_id}-{kind}-{copies}.pdf", "application/pdf", content)
