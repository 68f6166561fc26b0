"""The sheet ledger of a meeting: every page fed, in exactly one state a person can see.

States (`LedgerState`), each page in one of them, so that fed = the sum of the states, for the
meeting, per form and per batch:
- `counted`: the page counts (still `unresolved` while a review item on it is open);
- `duplicate`: another image of a sheet page that counts (a re-feed after a jam, or a refused
  page whose sheet was re-fed and read since);
- `refused`: not counted, awaiting a person: unreadable (re-scan it, key it by hand or dismiss
  it), refused by a rule of the meeting at ingest, or a serial never printed (accept/dismiss);
  always `unresolved`, with its reason code and sentence and the page's image;
- `dismissed`: a person took it out of the count, with who and why;
- `manual`: keyed by hand from its image (`tally.manual`); `unresolved` until a second login
  confirms it;
- `blank`: a page with no sheet code and no ink (the back of a sheet, a separator).
The figures are provisional (临时结果) while any page is unresolved: `with_ledger` marks a
`TallyResult` so, and `unresolved_pages` gives the count without the review queue (the light
read every tally and the hall make); `meeting_ledger` is the whole ledger, with pages waiting
in the review queue. Nothing here writes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from tally.ballots import ManualEntry, decisions_by_page, manual_entries, sheet_state
from tally.db import Batch, Decision, Page
from tally.meetings import MeetingError, meeting_forms, printed_serials
from tally.readings import reason_codes
from tally.review.queue import review_queue
from tally.rules.compute import result_sha256
from tally.rules.result import N_, Notice, TallyResult

LedgerState = Literal["counted", "duplicate", "refused", "dismissed", "manual", "blank"]
STATES: tuple[LedgerState, ...] = ("counted", "duplicate", "refused", "dismissed", "manual",
                                   "blank")
STATE_LABELS: dict[str, str] = {"counted": "已计入", "duplicate": "重复", "refused": "拒收待处理",
                                "dismissed": "已排除", "manual": "手工录入", "blank": "空白页"}
#: the key of pages whose form could not be read
NO_FORM = ""
PENDING_CODE = "pages_unresolved"


@dataclass(frozen=True)
class LedgerPage:
    """One page fed and where it stands."""

    page_id: int
    batch_id: int
    source: str
    form_id: str | None
    page_no: int | None
    serial: str | None
    state: LedgerState
    #: a person must still act on it (re-scan, enter, confirm, accept, review)
    unresolved: bool
    #: why it is in this state, for programs (a reading's reason code, an ingest refusal,
    #: "unknown_serial", "refed", "awaiting_confirmation", "review_pending", …)
    code: str = ""
    #: the same in words
    reason: str = ""
    #: who dismissed, entered (and confirmed) it, and why
    who: str = ""
    why: str = ""


@dataclass(frozen=True)
class LedgerRow:
    """The states of the pages of one form or one batch."""

    key: str
    label: str
    fed: int
    states: dict[str, int]
    unresolved: int

    @property
    def balanced(self) -> bool:
        return self.fed == sum(self.states.values())


@dataclass(frozen=True)
class Ledger:
    meeting_id: int
    fed: int
    states: dict[str, int]
    unresolved: int
    by_form: list[LedgerRow]
    by_batch: list[LedgerRow]
    pages: list[LedgerPage]

    @property
    def balanced(self) -> bool:
        return self.fed == sum(self.states.values()) and all(
            r.balanced for r in [*self.by_form, *self.by_batch])

    @property
    def provisional(self) -> bool:
        return self.unresolved > 0

    def open_pages(self) -> list[LedgerPage]:
        return [p for p in self.pages if p.unresolved]

    def refused_serials(self) -> set[str]:
        """Serials read on pages refused and not resolved: sheets that came back (they are
        not 未收回) but do not count yet."""
        return {p.serial for p in self.pages if p.state == "refused" and p.serial}

    def for_form(self, form_id: str) -> Ledger:
        """The ledger of one form's pages and of the pages whose form could not be read (they
        may be its), summed per form and per batch as the whole ledger is: what a report
        narrowed to that form shows."""
        pages = [p for p in self.pages if (p.form_id or NO_FORM) in (form_id, NO_FORM)]
        form_labels = {r.key: r.label for r in self.by_form if r.key in (form_id, NO_FORM)
                       and (r.key == form_id or r.fed)}
        batches = {str(p.batch_id) for p in pages}
        batch_labels = {r.key: r.label for r in self.by_batch if r.key in batches}
        counts = Counter(p.state for p in pages)
        return Ledger(self.meeting_id, len(pages), {st: counts.get(st, 0) for st in STATES},
                      sum(p.unresolved for p in pages),
                      _rows(pages, lambda p: p.form_id or NO_FORM, form_labels),
                      _rows(pages, lambda p: str(p.batch_id), batch_labels), pages)

    def to_json(self) -> dict[str, Any]:
        def row(r: LedgerRow) -> dict[str, Any]:
            return {**asdict(r), "balanced": r.balanced}

        return {"meeting": self.meeting_id, "fed": self.fed, "states": self.states,
                "unresolved": self.unresolved, "balanced": self.balanced,
                "provisional": self.provisional, "by_form": [row(r) for r in self.by_form],
                "by_batch": [row(r) for r in self.by_batch],
                "pages": [asdict(p) for p in self.pages if p.state != "counted" or p.unresolved]}


# -- page states --------------------------------------------------------------------------------

def _last_sheet_decision(ds: list[Decision], kind: str) -> Decision | None:
    return next((d for d in sorted(ds, key=lambda d: -d.id)
                 if d.field is None and d.kind == kind), None)


def _page_states(s: Session, meeting_id: int, open_review: set[int]) -> list[LedgerPage]:
    # the readings are read only for the few pages not counted (their reason code)
    rows = list(s.scalars(select(Page).options(defer(Page.reading), defer(Page.page_to_image))
                          .where(Page.meeting_id == meeting_id).order_by(Page.id)))
    codes = reason_codes(s, meeting_id, [r.id for r in rows if r.state in ("uncounted", "refused")])
    decisions = decisions_by_page(s, meeting_id)
    entries = manual_entries(decisions)
    printed = printed_serials(s, meeting_id)
    counted_at = {(r.form_id, r.serial, r.page_no): r.id for r in rows if r.state == "counted"}
    ballot_decisions: dict[tuple[str | None, str | None], list[Decision]] = defaultdict(list)
    for r in rows:
        if r.state == "counted":
            ballot_decisions[(r.form_id, r.serial)].extend(decisions.get(r.id, []))
    return [_state(r, decisions.get(r.id, []), entries.get(r.id), ballot_decisions, printed,
                   counted_at, r.id in open_review, codes.get(r.id, r.status)) for r in rows]


def _state(r: Page, ds: list[Decision], entry: ManualEntry | None,
           ballot_decisions: dict[tuple[str | None, str | None], list[Decision]],
           printed: set[str] | None, counted_at: dict[tuple[str | None, str | None, int | None],
                                                       int],
           review_open: bool, uncounted_code: str) -> LedgerPage:
    def page(state: LedgerState, unresolved: bool, code: str, reason: str, who: str = "",
             why: str = "") -> LedgerPage:
        return LedgerPage(r.id, r.batch_id, r.source, r.form_id if entry is None else
                          entry.form_id, r.page_no if entry is None else entry.page_no,
                          r.serial if entry is None else entry.serial, state, unresolved,
                          code, reason, who, why)

    if r.state == "duplicate":
        return page("duplicate", False, "duplicate", f"the same sheet page as page "
                    f"#{r.duplicate_of}: counted once")
    if r.state == "counted":
        sheet_ds = ballot_decisions[(r.form_id, r.serial)]
        sheet = sheet_state(sheet_ds)
        if sheet.accepted is False:
            d = _last_sheet_decision(sheet_ds, "dismiss")
            return page("dismissed", False, "dismissed", "taken out of the count",
                        d.who if d else "", d.why if d else "")
        if printed is not None and r.serial not in printed and sheet.accepted is not True:
            return page("refused", True, "unknown_serial", f"serial {r.serial} was not printed "
                        "for this meeting: accept it to count it, or dismiss it")
        return page("counted", review_open, "review_pending" if review_open else "",
                    "waiting in the review queue" if review_open else "")
    if r.status == "blank" and r.state == "uncounted" and entry is None:
        return page("blank", False, "blank", r.reason or "a blank page (no sheet code)")
    sheet = sheet_state(ds)
    if sheet.accepted is False:
        d = _last_sheet_decision(ds, "dismiss")
        return page("dismissed", False, "dismissed", r.reason or r.status,
                    d.who if d else "", d.why if d else "")
    key = (entry.form_id, entry.serial, entry.page_no) if entry else (r.form_id, r.serial,
                                                                       r.page_no)
    if key[1] is not None and key in counted_at:
        return page("duplicate", False, "refed", f"re-fed and read as page #{counted_at[key]}")
    if entry is not None:
        if entry.confirmed:
            return page("manual", False, "confirmed", "entered by hand and confirmed",
                        f"{entry.entered_by} / {entry.confirmed_by}", entry.why)
        return page("manual", True, "awaiting_confirmation", "entered by hand: a second "
                    "login must confirm it against the image", entry.entered_by, entry.why)
    return page("refused", True, uncounted_code, r.reason or r.status)


# -- the ledger ----------------------------------------------------------------------------------

def _rows(pages: list[LedgerPage], key_of: Callable[[LedgerPage], str],
          labels: dict[str, str]) -> list[LedgerRow]:
    groups: dict[str, list[LedgerPage]] = {k: [] for k in labels}
    for p in pages:
        groups.setdefault(key_of(p), []).append(p)
    out = []
    for key, ps in groups.items():
        counts = Counter(p.state for p in ps)
        out.append(LedgerRow(key, labels.get(key, key or "未识别表单"), len(ps),
                             {st: counts.get(st, 0) for st in STATES},
                             sum(p.unresolved for p in ps)))
    return out


def meeting_ledger(session: Session, meeting_id: int) -> Ledger:
    """The whole ledger, with the pages waiting in the review queue as unresolved."""
    open_review = {i.page_id for i in review_queue(session, meeting_id)}
    return _ledger(session, meeting_id, open_review)


def _ledger(s: Session, meeting_id: int, open_review: set[int]) -> Ledger:
    pages = _page_states(s, meeting_id, open_review)
    forms = {fid: f.title for fid, f in meeting_forms(s, meeting_id).items()}
    if not forms and not pages:
        raise MeetingError("no meeting #{meeting}", meeting=meeting_id)
    batches = {b.id: b for b in s.scalars(select(Batch).where(Batch.meeting_id == meeting_id)
                                          .order_by(Batch.id))}
    batch_labels = {str(b.id): "批次 #" + str(b.id) + "".join(
        f" · {x}" for x in (b.station, b.operator, b.category) if x) for b in batches.values()}
    by_form = _rows(pages, lambda p: p.form_id or NO_FORM, forms)
    by_batch = _rows(pages, lambda p: str(p.batch_id), batch_labels)
    counts = Counter(p.state for p in pages)
    return Ledger(meeting_id, len(pages), {st: counts.get(st, 0) for st in STATES},
                  sum(p.unresolved for p in pages), by_form, by_batch, pages)


def unresolved_pages(session: Session, meeting_id: int) -> dict[str, int]:
    """Unresolved pages per form id (`NO_FORM`: the form could not be read) without the review
    queue: refused, entered and not confirmed, serials never printed not yet accepted. Pages
    waiting in the review queue make a result provisional through its ballots already."""
    out: dict[str, int] = {}
    for p in _page_states(session, meeting_id, set()):
        if p.unresolved:
            out[p.form_id or NO_FORM] = out.get(p.form_id or NO_FORM, 0) + 1
    return out


def unresolved_for(unresolved: dict[str, int], form_id: str) -> int:
    """A form's unresolved pages: its own and those whose form is not known (they may be its)."""
    return unresolved.get(form_id, 0) + unresolved.get(NO_FORM, 0)


def with_ledger(result: TallyResult, unresolved: int) -> TallyResult:
    """`result` marked provisional (临时结果) with a warning when pages are unresolved; the
    result's sha256 follows."""
    if unresolved <= 0:
        return result
    template = N_("{n} 页待处理（拒收待重扫、手工录入待确认或编号未认可），以上为临时结果")
    notice = Notice(severity="warning", code=PENDING_CODE, value=unresolved,
                    message=template.format(n=unresolved), template=template,
                    params={"n": unresolved})
    body = result.model_copy(update={"provisional": True,
                                     "warnings": [*result.warnings, notice]})
    return body.model_copy(update={"sha256": result_sha256(body.model_dump(mode="json"))})


@dataclass(frozen=True)
class SheetFound:
    """A sheet looked up by its serial: every page fed with it (read, or entered by hand) with
    its ledger state, and every decision on those pages, oldest first."""

    serial: str
    pages: list[LedgerPage]
    decisions: list[Decision]


def find_sheet(session: Session, meeting_id: int, serial: str) -> SheetFound:
    """Every page of a serial (any form) and the decisions on them; MeetingError if none."""
    serial = serial.strip()
    pages = [p for p in meeting_ledger(session, meeting_id).pages if p.serial == serial]
    if not pages:
        raise MeetingError("no page with serial {serial!r} in this meeting; a page whose "
                           "serial could not be read is listed by `scantally ledger MEETING`",
                           serial=serial)
    ids = [p.page_id for p in pages]
    decisions = list(session.scalars(select(Decision).where(
        Decision.meeting_id == meeting_id, Decision.page_id.in_(ids)).order_by(Decision.id)))
    return SheetFound(serial, pages, decisions)
