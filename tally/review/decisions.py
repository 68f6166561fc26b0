"""Deciding an item (`decide`): one new decision row, signed, with the state before and after
and its audit entry, in one transaction; and reading them back (`history`, `writein_names`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.text import TextError, clean_name, clean_text
from tally import audit
from tally.ballots import SheetState, is_writein, manual_entries, page_view, sheet_state
from tally.db import DECISION_KINDS, Decision, Page
from tally.formstore import meeting_layouts
from tally.readings import StoredPage
from tally.review.errors import ReviewError
from tally.review.items import (
    MANUAL_DECISIONS,
    MARK_DECISIONS,
    NEEDS_REASON,
    SHEET_DECISIONS,
    ItemState,
    MarkState,
    Target,
    parse_item_id,
)
from tally.store import Store

#: the id of the not-yet-stored decision when computing its "after" (sorts after every real one)
_PROBE_ID = 2**62
MAX_WRITEIN_CHARS = 40


def decide(store: Store, meeting_id: int, item_id: str, kind: str, *, who: str, why: str = "",
           text: str = "") -> Decision:
    """Record one decision (see `tally.review`) with its before/after state and its audit
    entry; ReviewError when it does not fit the item."""
    target = parse_item_id(item_id)
    try:  # the edge for the CLI too: no NUL, NFC; a write-in without invisible characters
        who, why, text = clean_name(who), clean_text(why).strip(), clean_name(text)
    except TextError as exc:
        raise ReviewError("the decision's text {problem}", problem=str(exc)) from None
    if kind not in DECISION_KINDS or kind in MANUAL_DECISIONS:
        usable = [k for k in DECISION_KINDS if k not in MANUAL_DECISIONS]
        if kind in MANUAL_DECISIONS:
            raise ReviewError("unknown decision {kind!r}; use one of {kinds} (a manual entry "
                              "is made with `scantally review enter`)",
                              kind=kind, kinds=", ".join(usable))
        raise ReviewError("unknown decision {kind!r}; use one of {kinds}",
                          kind=kind, kinds=", ".join(usable))
    if not who:
        raise ReviewError("say who decides (--who NAME): every decision is signed")
    if kind in NEEDS_REASON and not why:
        raise ReviewError("a '{kind}' decision needs a reason (--why \"…\")", kind=kind)

    def work(s: Session) -> Decision:
        row = s.get(Page, target.page_id)
        if row is None or row.meeting_id != meeting_id:
            raise ReviewError("no page #{page} in this meeting; see `scantally review "
                              "--meeting M` for the items", page=target.page_id)
        if row.state == "duplicate":
            raise ReviewError("page #{page} is a duplicate of page #{first} and never "
                              "counts; decide on page #{first} instead",
                              page=row.id, first=row.duplicate_of)
        before: ItemState
        after: ItemState
        if target.field is None:
            before, after = _decide_sheet(s, row, kind, why)
        else:
            before, after = _decide_mark(s, row, target, kind, text)
            if not why and kind != "writein" and before.marked != after.marked:
                raise ReviewError("a '{kind}' decision changes whether {field}:{option} "
                                  "counts, so it needs a reason (原因（必填）, --why \"…\")",
                                  kind=kind, field=target.field, option=target.option)
        d = Decision(meeting_id=meeting_id, page_id=row.id, field=target.field,
                     option=target.option, kind=kind, text=text if kind == "writein" else "",
                     before=before.to_json(), after=after.to_json(), who=who, why=why)
        s.add(d)
        s.flush()
        audit.record(s, "decision", d, who, "review.decide")
        return d

    return store.write(work)


def _ballot_pages(s: Session, row: Page) -> list[Page]:
    if row.state != "counted":
        return [row]
    return list(s.scalars(select(Page).where(
        Page.meeting_id == row.meeting_id, Page.state == "counted",
        Page.form_id == row.form_id, Page.serial == row.serial)))


def _decide_sheet(s: Session, row: Page, kind: str,
                  why: str) -> tuple[SheetState, SheetState]:
    if kind in MARK_DECISIONS:
        raise ReviewError("'{kind}' is a decision on one box: give an item id like "
                          "'{page}:<field>:<option>'", kind=kind, page=row.id)
    if row.state in ("uncounted", "refused") and kind != "dismiss":
        entry = manual_entries({row.id: list(s.scalars(
            select(Decision).where(Decision.page_id == row.id)))}).get(row.id)
        if not (kind in ("void", "unvoid") and entry is not None and entry.confirmed):
            why_not = row.reason or row.status
            raise ReviewError("page #{page} could not be counted as read ({why_not}): "
                              "re-feed the sheet, enter its marks by hand, or dismiss the page",
                              page=row.id, why_not=why_not)
    pages = _ballot_pages(s, row)
    decisions = [d for p in pages for d in s.scalars(select(Decision)
                                                      .where(Decision.page_id == p.id))]
    before = sheet_state(decisions)
    probe = Decision(id=_PROBE_ID, page_id=row.id, field=None, option=None, kind=kind, why=why)
    after = sheet_state([*decisions, probe])
    return before, after


def _decide_mark(s: Session, row: Page, target: Target, kind: str,
                 text: str) -> tuple[MarkState, MarkState]:
    if kind in SHEET_DECISIONS:
        raise ReviewError("'{kind}' is a decision on a whole sheet: give the item id "
                          "'{page}' (or '{page}:sheet')", kind=kind, page=row.id)
    if row.state != "counted":
        raise ReviewError("page #{page} does not count ({reason}); its marks cannot be "
                          "decided — re-feed the sheet", page=row.id,
                          reason=row.reason or row.status)
    f, o = target.field or "", target.option or ""
    layout = meeting_layouts(s, row.meeting_id).get(row.form_id or "")
    field_doc = next((x for x in layout.fields if x.id == f), None) if layout else None
    if field_doc is None or field_doc.page != row.page_no or o not in field_doc.options:
        raise ReviewError("form {form} page {page_no} has no box {field}:{option}",
                          form=row.form_id, page_no=row.page_no, field=f, option=o)
    if kind == "writein":
        if not is_writein(o):
            raise ReviewError("{option!r} is not a write-in line; use --mark or --empty", option=o)
        if not text or len(text) > MAX_WRITEIN_CHARS:
            raise ReviewError("type the write-in name as written on the line (1-{most} "
                              "characters), or decide --empty", most=MAX_WRITEIN_CHARS)
    decisions = list(s.scalars(select(Decision).where(Decision.page_id == row.id)))
    page = StoredPage.of(row)
    before = MarkState.of(page_view(page, decisions), f, o)
    probe = Decision(id=_PROBE_ID, page_id=row.id, field=f, option=o, kind=kind, text=text)
    after = MarkState.of(page_view(page, [*decisions, probe]), f, o)
    return before, after


def history(session: Session, meeting_id: int, page_id: int | None = None) -> list[Decision]:
    """The decisions of a meeting (or of one page), oldest first."""
    q = select(Decision).where(Decision.meeting_id == meeting_id)
    if page_id is not None:
        q = q.where(Decision.page_id == page_id)
    return list(session.scalars(q.order_by(Decision.id)))


def writein_names(session: Session, meeting_id: int) -> list[str]:
    """The write-in names already typed in a meeting, most used first (for the review page's
    suggestions): one name typed the same way twice is one vote for one person."""
    counts: dict[str, int] = {}
    q = select(Decision.text).where(Decision.meeting_id == meeting_id,
                                    Decision.kind == "writein", Decision.text != "")
    for text in session.scalars(q):
        counts[text] = counts.get(text, 0) + 1
    return sorted(counts, key=lambda t: (-counts[t], t))
