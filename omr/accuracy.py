"""Compare readings with a simulated corpus's ground truth (`omr.sim.truth`): the accuracy report.

Per box position of every page the truth says is readable: a clear mark read empty, or an empty
box read marked, is a misread; a clear mark in `doubtful` (or on a page refused as unreadable)
went to review; a cancelled mark must be doubtful. Pages the truth calls unreadable or of an
unknown form must be refused, with a reason. A write-in line with a name written and its box
left empty must be listed in the reading's `writein_ink`; a line listed without a name is noted.
Pure: truth and readings in, counts out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omr.layout import FormLayout
from omr.reading import REFUSED_STATUSES, Reading

if TYPE_CHECKING:  # the simulator is test tooling: its types only, no import at run time
    from omr.sim.truth import PageTruth, Truth


@dataclass
class AccuracyReport:
    """Counts over a corpus; `examples` keeps a few of each kind of error for a person."""

    sheets: int = 0
    pages: int = 0
    positions: int = 0
    clear_marks: int = 0
    empty_boxes: int = 0
    cancelled: int = 0
    #: a clear mark read as empty
    missed: int = 0
    #: an empty box read as marked
    phantom: int = 0
    #: a clear mark sent to review (doubtful, or its page refused though it was readable)
    clear_to_review: int = 0
    #: an empty box sent to review (doubtful)
    empty_to_review: int = 0
    cancelled_caught: int = 0
    #: a cancelled mark read as marked or as empty
    cancelled_missed: int = 0
    #: pages the truth calls unreadable / unknown form, and how many were refused with a reason
    refused_expected: int = 0
    refused_with_reason: int = 0
    #: readable pages that were refused (status unreadable / unknown_form)
    false_refusals: int = 0
    #: write-in lines with a name and no mark; of them, listed in `writein_ink`
    name_only: int = 0
    name_only_found: int = 0
    #: write-in lines listed in `writein_ink` with no name written (a stray mark, a smudge)
    writein_ink_extra: int = 0
    #: page statuses: (expected, got) -> count
    statuses: Counter = field(default_factory=Counter)
    #: refusal reasons given, by the truth's cause
    reasons: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def misreads(self) -> int:
        return self.missed + self.phantom

    @property
    def clear_review_rate(self) -> float:
        return self.clear_to_review / self.clear_marks if self.clear_marks else 0.0

    def note(self, kind: str, text: str, keep: int = 12) -> None:
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < keep:
            bucket.append(text)


def compare(truth: Truth, readings: dict[tuple[str, int], Reading], layout: FormLayout
            ) -> AccuracyReport:
    """Score `readings` (keyed by (file name, page index in the file), as `Truth.by_source`)
    against `truth`; `layout` is the corpus form's layout (for the box positions)."""
    report = AccuracyReport(sheets=len(truth.sheets))
    boxes_by_page = {n: p.boxes for n, p in layout.pages.items()}
    page_of = {f.id: f.page for f in layout.fields}
    for sheet, page in truth.pages():
        report.pages += 1
        reading = readings.get(page.path_and_index)
        got = reading.status if reading else "missing"
        report.statuses[(page.expect, got)] += 1
        if page.expect in REFUSED_STATUSES:
            _refusal(report, page, reading)
            continue
        boxes = boxes_by_page.get(page.page, [])
        refused = reading is None or not reading.read
        if refused:
            report.false_refusals += 1
            report.note("false_refusal", f"{page.file}: {got}: "
                                         f"{reading.reason if reading else 'no reading'}")
        for box in boxes:
            _position(report, page, reading, box.field, box.option, refused)
        if not refused:
            _writeins(report, page, reading, {
                f"{fld}.{option}" for fld, lines in sheet.writeins.items()
                if page_of.get(fld) == page.page for option, name in lines.items()
                if name and option not in page.marks.get(fld, [])
                and option not in page.cancelled.get(fld, [])})
    return report


def _writeins(report: AccuracyReport, page: PageTruth, reading: Reading | None,
              expected: set[str]) -> None:
    listed = set(reading.writein_ink) if reading is not None else set()
    report.name_only += len(expected)
    report.name_only_found += len(expected & listed)
    for line in sorted(expected - listed):
        report.note("name_only_missed", f"{page.file} {line}")
    extra = listed - expected
    report.writein_ink_extra += len(extra)
    for line in sorted(extra):
        report.note("writein_ink_extra", f"{page.file} {line}")


def _refusal(report: AccuracyReport, page: PageTruth, reading: Reading | None) -> None:
    report.refused_expected += 1
    cause = page.reason or page.expect
    if reading is not None and reading.status in REFUSED_STATUSES \
            and reading.reason.strip():
        report.refused_with_reason += 1
        report.reasons.setdefault(cause, Counter())[_reason_kind(reading.reason)] += 1
    else:
        got = reading.status if reading else "missing"
        report.note("not_refused", f"{page.file}: expected {page.expect} ({cause}), got {got}")


def _reason_kind(reason: str) -> str:
    """The reason without its numbers, to group similar ones."""
    return reason.split(";")[0].split("(")[0].strip()


def _position(report: AccuracyReport, page: PageTruth, reading: Reading | None, fld: str,
              option: str, refused: bool) -> None:
    report.positions += 1
    clear = option in page.marks.get(fld, [])
    cancelled = option in page.cancelled.get(fld, [])
    marks = reading.marks.get(fld) if reading is not None and not refused else None
    is_marked = marks is not None and option in marks.marked
    is_doubtful = marks is not None and option in marks.doubtful
    where = f"{page.file} {fld}/{option}"
    score = reading.scores.get(fld, {}).get(option) if reading is not None else None
    if cancelled:
        report.cancelled += 1
        if is_doubtful or refused:
            report.cancelled_caught += 1
        else:
            report.cancelled_missed += 1
            report.note("cancelled_missed", f"{where} read {'marked' if is_marked else 'empty'}"
                                            f" (score {score})")
    elif clear:
        report.clear_marks += 1
        if refused or is_doubtful:
            report.clear_to_review += 1
            if not refused:
                report.note("clear_to_review", f"{where} (score {score})")
        elif not is_marked:
            report.missed += 1
            report.note("missed", f"{where} (score {score})")
    else:
        report.empty_boxes += 1
        if is_marked:
            report.phantom += 1
            report.note("phantom", f"{where} (score {score})")
        elif is_doubtful:
            report.empty_to_review += 1
            report.note("empty_to_review", f"{where} (score {score})")
