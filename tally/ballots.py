"""Ballots from the store: stored readings plus review decisions -> `tally.model.Ballot`s.

Nothing here writes. The same stored rows and decisions always give the same ballots, so every
figure can be recomputed. Which pages count:
- pages ingested as `counted` (one per form, serial and page; duplicates never count);
- grouped into one ballot per (form, serial), pages in page order;
- a ballot whose serial was not printed for the meeting (when the printed set is recorded) is
  left out until a reviewer accepts it; a dismissed ballot is left out for good.
- a page that could not be counted as read (unreadable, refused) whose marks an operator keyed
  from its image (`enter`) and a second, different login confirmed (`confirm`): it counts as
  a page of its sheet, unless that sheet page was re-fed and counted since (`tally.manual`).
Decisions apply in the order they were made, the latest winning: on a mark (`marked`,
`empty`, `cancel` — a 涂改作废 box: no vote, `writein` with the name typed from the image) or
on the whole ballot (`void` / `unvoid`, `accept` / `dismiss`, made on any of its pages).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tally.db import Batch, Decision, Page
from tally.meetings import printed_serials
from tally.model import Ballot, BallotPage, PageStatus
from tally.readings import StoredPage, StoredReading, counted_pages

WRITEIN_PREFIX = "writein"
CATEGORY_FIELD = "category"


def is_writein(option: str) -> bool:
    """A write-in option (`writeinK` on recommendation fields; its line is `<field>.<option>`)."""
    return option.startswith(WRITEIN_PREFIX) and option[len(WRITEIN_PREFIX):].isdigit()


@dataclass
class SheetState:
    """Decisions on a whole ballot (any of its pages), latest winning."""

    void: bool = False
    void_reason: str = ""
    #: None: not decided; True: accepted (counts although its serial is unknown); False: dismissed
    accepted: bool | None = None

    def to_json(self) -> dict[str, bool | str | None]:
        """As a review item's state and a decision's before/after (the JSON written once)."""
        return {"void": self.void, "void_reason": self.void_reason, "accepted": self.accepted}


@dataclass
class PageView:
    """One stored page as the decisions leave it."""

    row: Page
    #: what the page's reading says (before any decision)
    reading: StoredReading
    marks: dict[str, tuple[str, ...]]
    doubtful: dict[str, tuple[str, ...]]
    #: field -> option -> name typed at review
    writeins: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (field, option) pairs a reviewer decided
    decided: set[tuple[str, str]] = field(default_factory=set)
    #: (field, option) pairs a reviewer called a cancellation (涂改作废): not a vote
    cancelled: set[tuple[str, str]] = field(default_factory=set)

    @property
    def unnamed_writeins(self) -> list[tuple[str, str]]:
        """Marked write-in options with no name typed yet."""
        return [(f, o) for f, opts in self.marks.items() for o in opts
                if is_writein(o) and o not in self.writeins.get(f, {})]

    def status(self, sheet: SheetState) -> PageStatus:
        """`review` while anything is left to decide, else the reading's status (a reviewed
        `review` page becomes `ok`)."""
        reading_status = self.row.status
        if reading_status != "review":
            return "review" if self.unnamed_writeins else reading_status  # type: ignore[return-value]
        had_doubtful = self.reading.has_doubtful
        open_items = any(self.doubtful.values()) or bool(self.unnamed_writeins)
        if open_items or not (had_doubtful or sheet.accepted):
            return "review"
        return "ok"


def _without(options: tuple[str, ...], option: str) -> tuple[str, ...]:
    i = options.index(option)
    return options[:i] + options[i + 1:]


def page_view(page: StoredPage, decisions: list[Decision]) -> PageView:
    """Apply a page's mark decisions (in id order) to its reading."""
    reading = page.reading
    view = PageView(page.row, reading, dict(reading.marked), dict(reading.doubtful))
    for d in sorted(decisions, key=lambda d: d.id):
        if d.field is None or d.option is None:
            continue
        f, o = d.field, d.option
        marked, unsure = view.marks.get(f, ()), view.doubtful.get(f, ())
        if o in unsure:
            unsure = _without(unsure, o)
        if d.kind in ("marked", "writein") and o not in marked:
            marked = (*marked, o)
        if d.kind in ("empty", "cancel") and o in marked:
            marked = _without(marked, o)
        view.marks[f], view.doubtful[f] = marked, unsure
        if d.kind == "writein":
            view.writeins.setdefault(f, {})[o] = d.text
        elif d.kind in ("empty", "cancel"):
            view.writeins.get(f, {}).pop(o, None)
        if d.kind == "cancel":
            view.cancelled.add((f, o))
        else:
            view.cancelled.discard((f, o))
        view.decided.add((f, o))
    return view


@dataclass(frozen=True)
class ManualEntry:
    """The marks of a page keyed by hand from its image (the latest `enter` decision on it),
    and the second login that confirmed them (None: not confirmed yet, it does not count)."""

    page_id: int
    entry_id: int
    form_id: str
    serial: str
    page_no: int
    #: field -> options marked
    marks: dict[str, list[str]]
    #: field -> write-in option -> name
    writeins: dict[str, dict[str, str]]
    entered_by: str
    why: str
    confirmed_by: str | None = None
    confirm_id: int | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_by is not None


def manual_entries(decisions: dict[int, list[Decision]]) -> dict[int, ManualEntry]:
    """Each page's latest manual entry with its confirmation (a confirm names the entry it
    checked; a newer entry needs a new confirmation)."""
    out: dict[int, ManualEntry] = {}
    for page_id, ds in decisions.items():
        for d in sorted(ds, key=lambda d: d.id):
            if d.field is not None:
                continue
            if d.kind == "enter":
                a = d.after
                out[page_id] = ManualEntry(
                    page_id, d.id, str(a["form"]), str(a["serial"]), int(a["page"]),
                    {f: list(o) for f, o in a["marks"].items()},
                    {f: dict(n) for f, n in a.get("writeins", {}).items()}, d.who, d.why)
            elif d.kind == "confirm" and page_id in out and \
                    d.before.get("entry") == out[page_id].entry_id:
                e = out[page_id]
                out[page_id] = ManualEntry(e.page_id, e.entry_id, e.form_id, e.serial, e.page_no,
                                           e.marks, e.writeins, e.entered_by, e.why, d.who, d.id)
    return out


def manual_page(row: Page, entry: ManualEntry) -> StoredPage:
    """A page as its confirmed manual entry reads it: the stored page's image and batch, the
    entry's form, serial, page and marks (a transient row, never added to a session)."""
    return StoredPage(
        Page(id=row.id, meeting_id=row.meeting_id, batch_id=row.batch_id, sha256=row.sha256,
             image_bytes=row.image_bytes, source=row.source, form_id=entry.form_id,
             page_no=entry.page_no, serial=entry.serial, status="ok",
             reason="entered by hand", page_to_image=row.page_to_image, state="manual",
             count_key=None, duplicate_of=None, refusal=None),
        StoredReading({f: tuple(o) for f, o in entry.marks.items()},
                      {f: () for f in entry.marks}))


def manual_pages(session: Session, meeting_id: int, decisions: dict[int, list[Decision]],
                 counted_keys: set[tuple[str | None, str | None, int | None]]
                 ) -> list[StoredPage]:
    """The confirmed manual entries of the meeting as pages, except those whose sheet page was
    counted from a scan (a re-feed wins over a hand entry)."""
    entries = {k: e for k, e in manual_entries(decisions).items() if e.confirmed}
    if not entries:
        return []
    rows = session.scalars(select(Page).where(Page.meeting_id == meeting_id,
                                              Page.id.in_(list(entries)))).all()
    out = []
    for row in rows:
        e = entries[row.id]
        if (e.form_id, e.serial, e.page_no) not in counted_keys:
            out.append(manual_page(row, e))
    return sorted(out, key=lambda p: p.row.id)


def sheet_state(decisions: list[Decision]) -> SheetState:
    state = SheetState()
    for d in sorted(decisions, key=lambda d: d.id):
        if d.field is not None:
            continue
        if d.kind == "void":
            state.void, state.void_reason = True, d.why
        elif d.kind == "unvoid":
            state.void, state.void_reason = False, ""
        elif d.kind == "accept":
            state.accepted = True
        elif d.kind == "dismiss":
            state.accepted = False
    return state


def decisions_by_page(session: Session, meeting_id: int) -> dict[int, list[Decision]]:
    out: dict[int, list[Decision]] = defaultdict(list)
    for d in session.scalars(select(Decision).where(Decision.meeting_id == meeting_id)
                             .order_by(Decision.id)):
        out[d.page_id].append(d)
    return out


@dataclass
class StoredBallot:
    """A ballot as the store sees it: its pages (views), sheet decisions and flags."""

    form_id: str
    serial: str
    pages: list[PageView]
    sheet: SheetState
    #: its serial is not in the recorded printed set
    unknown_serial: bool
    category: str | None

    @property
    def counts(self) -> bool:
        if self.sheet.accepted is False:
            return False
        return not self.unknown_serial or self.sheet.accepted is True

    def to_ballot(self) -> Ballot:
        writeins: dict[str, dict[str, str]] = {}
        for v in self.pages:
            for f, names in v.writeins.items():
                writeins.setdefault(f, {}).update(names)
        pages = tuple(
            BallotPage(page=v.row.page_no or 0, status=v.status(self.sheet),
                       marks=dict(v.marks),
                       doubtful={f: o for f, o in v.doubtful.items() if o},
                       sheet_id=v.row.id)
            for v in self.pages)
        return Ballot(serial=self.serial, form_id=self.form_id, category=self.category,
                      pages=pages, void=self.sheet.void, void_reason=self.sheet.void_reason,
                      writeins=writeins)


def stored_ballots(session: Session, meeting_id: int) -> list[StoredBallot]:
    """Every ballot with a counted page, counting or not (held, dismissed), in ingest order."""
    rows = counted_pages(session, meeting_id)
    batches = {b.id: b.category for b in session.scalars(
        select(Batch).where(Batch.meeting_id == meeting_id))}
    decisions = decisions_by_page(session, meeting_id)
    counted = {(p.row.form_id, p.row.serial, p.row.page_no) for p in rows}
    rows = sorted(rows + manual_pages(session, meeting_id, decisions, counted),
                  key=lambda p: p.row.id)
    printed = printed_serials(session, meeting_id)
    groups: dict[tuple[str, str], list[StoredPage]] = {}
    for p in rows:
        groups.setdefault((p.row.form_id or "", p.row.serial or ""), []).append(p)
    return [stored_ballot(form_id, serial, pages, decisions, printed, batches)
            for (form_id, serial), pages in groups.items()]


def stored_ballot(form_id: str, serial: str, pages: list[StoredPage],
                  decisions: dict[int, list[Decision]], printed: set[str] | None,
                  batch_category: dict[int, str | None]) -> StoredBallot:
    """One ballot from its counted pages, the decisions by page id, the printed serial set (None:
    not recorded) and the batches' categories."""
    pages = sorted(pages, key=lambda p: p.row.page_no or 0)
    entries = manual_entries({p.row.id: decisions.get(p.row.id, []) for p in pages
                              if p.row.state == "manual"})
    views = [page_view(p, decisions.get(p.row.id, [])) for p in pages]
    for v in views:  # the names of a hand entry's write-ins were typed with it
        e = entries.get(v.row.id)
        if e is not None:
            v.writeins = {f: dict(n) for f, n in e.writeins.items()}
            v.decided |= {(f, o) for f, n in e.writeins.items() for o in n}
    sheet = sheet_state([d for p in pages for d in decisions.get(p.row.id, [])])
    return StoredBallot(form_id, serial, views, sheet,
                        printed is not None and serial not in printed,
                        _category(views, batch_category))


def _category(views: list[PageView], batch_category: dict[int, str | None]) -> str | None:
    for v in views:
        chosen = v.marks.get(CATEGORY_FIELD)
        if chosen is not None and len(chosen) == 1 and not v.doubtful.get(CATEGORY_FIELD):
            return chosen[0]
    for v in views:
        if batch_category.get(v.row.batch_id):
            return batch_category[v.row.batch_id]
    return None


def load_ballots(session: Session, meeting_id: int) -> list[Ballot]:
    """The meeting's ballots for the rules (`tally.rules`): one per returned sheet that counts,
    reviewed marks and write-in names applied, in ingest order."""
    return [b.to_ballot() for b in stored_ballots(session, meeting_id) if b.counts]
