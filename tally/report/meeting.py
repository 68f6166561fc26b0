"""A meeting's analysis report in one format (PDF, Excel, or CSV files in a ZIP).

The figures come from `tally.results.meeting_results` (stored readings + review decisions);
this only picks the form and calls the renderers. Used by `scantally report` and the console.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Literal

from tally import anchors
from tally.db import Meeting
from tally.report.csv import render_csv
from tally.report.meta import MeetingInfo
from tally.report.pdf import render_report
from tally.report.xlsx import render_xlsx
from tally.results import FormResult, MeetingResults, image_set_sha256, meeting_results
from tally.store import Store

ReportFormat = Literal["pdf", "xlsx", "csv"]


class ReportError(ValueError):
    """A report that cannot be made; the message says why."""


def pick_form(results: MeetingResults, form_id: str | None) -> FormResult:
    forms = results.forms
    if not forms:
        raise ReportError(f"meeting #{results.meeting_id} has no form")
    if form_id is None:
        return forms[0]
    for f in forms:
        if f.form_id == form_id:
            return f
    raise ReportError(f"the meeting has no form {form_id!r}; its forms: "
                      f"{', '.join(f.form_id for f in forms)}")


def _in_test_mode(store: Store, meeting_id: int) -> bool:
    with store.session(readonly=True) as s:
        m = s.get(Meeting, meeting_id)
        return bool(m is not None and m.test_mode)


def meeting_report(store: Store, meeting_id: int, fmt: ReportFormat, *,
                   form_id: str | None = None, operator: str = "", station: str = "",
                   results: MeetingResults | None = None) -> tuple[str, bytes]:
    """(file name, content) of the report of one form of the meeting (default: its first)."""
    results = results or meeting_results(store, meeting_id)
    chosen = pick_form(results, form_id)
    stem = f"{results.name}-{chosen.form_id}-report"
    if fmt == "pdf":
        info = MeetingInfo(operator=operator, station=station,
                           image_set_sha256=image_set_sha256(store, meeting_id),
                           audit_anchor=anchors.report_line(store.data_dir, meeting_id),
                           audit_anchor_short=anchors.report_line(store.data_dir, meeting_id,
                                                                  short=True),
                           generated_at=dt.datetime.now(dt.UTC),
                           test_mode=_in_test_mode(store, meeting_id))
        return f"{stem}.pdf", render_report(chosen.result, chosen.spec, info)
    if fmt == "xlsx":
        return f"{stem}.xlsx", render_xlsx(chosen.result, chosen.spec, chosen.ballots)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in render_csv(chosen.result).items():
            zf.writestr(name, text.encode("utf-8"))
    return f"{stem}.csv.zip", buf.getvalue()
