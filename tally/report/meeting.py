"""A meeting's analysis report in one format (PDF, Excel, or CSV files in a ZIP).

The figures come from `tally.results.meeting_results` (stored readings + review decisions).
The report holds every form of the meeting (one PDF, one workbook, one ZIP); `form_id`
narrows it to one form, which is then reported alone, as a one-form meeting is. Used by
`scantally report` and the console.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Literal

from tally import anchors
from tally.db import Meeting
from tally.images import ImageError
from tally.ledger import Ledger, meeting_ledger
from tally.report.appendix import appendix_items
from tally.report.csv import render_csv, render_meeting_csv
from tally.report.meta import MeetingInfo
from tally.report.pdf import render_report
from tally.report.pdf_meeting import FormPart, render_meeting_report
from tally.report.xlsx import render_meeting_xlsx, render_xlsx
from tally.results import FormResult, MeetingResults, image_set_sha256, meeting_results
from tally.review.crops import render_crop
from tally.review.errors import ReviewError
from tally.store import Store
from tally.testmode import BANNER

ReportFormat = Literal["pdf", "xlsx", "csv"]


class ReportError(ValueError):
    """A report that cannot be made; the message says why."""


def pick_forms(results: MeetingResults, form_id: str | None) -> list[FormResult]:
    """Every form of the meeting, or the one named `form_id` (ReportError if none)."""
    forms = results.forms
    if not forms:
        raise ReportError(f"meeting #{results.meeting_id} has no form")
    if form_id is None:
        return list(forms)
    for f in forms:
        if f.form_id == form_id:
            return [f]
    raise ReportError(f"the meeting has no form {form_id!r}; its forms: "
                      f"{', '.join(f.form_id for f in forms)}")


#: the scale of the page images the ledger section shows (the whole page, 60 mm high at most)
LEDGER_CROP_PX_PER_MM = 2.5


def _ledger_with_crops(store: Store, meeting_id: int) -> tuple[Ledger, dict[int, bytes]]:
    """The meeting's ledger and an image of each page it lists (refused, dismissed, entered by
    hand or unresolved); a page whose image is missing or altered is listed without one."""
    with store.session(readonly=True) as s:
        ledger = meeting_ledger(s, meeting_id)
        crops: dict[int, bytes] = {}
        for p in ledger.pages:
            if p.state in ("refused", "dismissed", "manual") or p.unresolved:
                try:
                    crops[p.page_id] = render_crop(store, s, p.page_id, None,
                                                   px_per_mm=LEDGER_CROP_PX_PER_MM)
                except (ImageError, ReviewError):
                    continue
    return ledger, crops


def _in_test_mode(store: Store, meeting_id: int) -> bool:
    with store.session(readonly=True) as s:
        m = s.get(Meeting, meeting_id)
        return bool(m is not None and m.test_mode)


def meeting_report(store: Store, meeting_id: int, fmt: ReportFormat, *,
                   form_id: str | None = None, operator: str = "", station: str = "",
                   results: MeetingResults | None = None) -> tuple[str, bytes]:
    """(file name, content) of the report of the meeting: all its forms, or `form_id`."""
    results = results or meeting_results(store, meeting_id)
    chosen = pick_forms(results, form_id)
    single = len(chosen) == 1
    test_mode = _in_test_mode(store, meeting_id)
    stem = f"{results.name}-{chosen[0].form_id}-report" if single else f"{results.name}-report"
    if test_mode:  # the file name says it too, wherever the file goes
        stem = f"{BANNER}-{stem}"
    if fmt == "pdf":
        info = MeetingInfo(operator=operator, station=station,
                           image_set_sha256=image_set_sha256(store, meeting_id),
                           audit_anchor=anchors.report_line(store.data_dir, meeting_id),
                           audit_anchor_short=anchors.report_line(store.data_dir, meeting_id,
                                                                  short=True),
                           generated_at=dt.datetime.now(dt.UTC),
                           test_mode=test_mode)
        parts = [FormPart(f.result, appendix_items(store, meeting_id, f.form_id, f.spec,
                                                   f.result)) for f in chosen]
        # every report shows the ledger, so that no page fed leaves the count unseen; a report
        # narrowed to one form shows that form's pages (and those whose form is unknown)
        ledger, crops = _ledger_with_crops(store, meeting_id)
        if single:
            return f"{stem}.pdf", render_report(chosen[0].result, chosen[0].spec, info,
                                                appendix_items=parts[0].appendix_items,
                                                ledger=ledger.for_form(chosen[0].form_id),
                                                ledger_crops=crops)
        return f"{stem}.pdf", render_meeting_report(parts, info, meeting=results.name,
                                                    unit=results.unit, ledger=ledger,
                                                    ledger_crops=crops)
    if fmt == "xlsx":
        if single:
            f = chosen[0]
            return f"{stem}.xlsx", render_xlsx(f.result, f.spec, f.ballots,
                                               test_mode=test_mode)
        return f"{stem}.xlsx", render_meeting_xlsx([(f.result, f.spec, f.ballots)
                                                    for f in chosen], test_mode=test_mode)
    files = (render_csv(chosen[0].result, test_mode=test_mode) if single
             else render_meeting_csv([f.result for f in chosen], test_mode=test_mode))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text.encode("utf-8"))
    return f"{stem}.csv.zip", buf.getvalue()
