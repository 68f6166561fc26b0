"""Manual entry: the marks of a sheet that cannot be re-scanned, keyed by hand from its image.

As VotingWorks' manual tallies, it takes two people: one operator keys the marks of a stored
page that could not be counted as read (`enter`: form, serial, page and every mark, from the
page's image), and a second, different login checks them against the image and confirms them
(`confirm`). Only a confirmed entry counts (`tally.ballots.manual_pages`); a newer entry of the
same page needs a new confirmation; if the sheet is re-fed and read after all, the scan counts
and the entry does not. Both steps are decisions on the page (kinds `enter` and `confirm`),
never edited, each with who, when and why and its audit entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.code import SERIAL_PATTERN
from forms.text import TextError, clean_name, clean_text
from tally import audit
from tally.ballots import (
    ManualEntry,
    decisions_by_page,
    is_writein,
    manual_entries,
    sheet_state,
)
from tally.db import Decision, Page
from tally.formstore import meeting_layouts, meeting_specs
from tally.meetings import printed_serial_forms, printed_serials
from tally.review.decisions import MAX_WRITEIN_CHARS
from tally.review.errors import ReviewError
from tally.review.labels import option_label
from tally.store import Store
from tally.testmode import is_test_mode, is_test_serial

_SERIAL_RE = re.compile(rf"^{SERIAL_PATTERN}$")
#: page states whose marks may be keyed by hand (a page refused by a meeting rule may not:
#: keying it would count what the rule refused)
ENTERABLE_STATES = ("uncounted",)


@dataclass(frozen=True)
class HandMarks:
    """What the operator keyed from a page's image."""

    form_id: str
    serial: str
    page_no: int
    #: field -> the options marked on the paper (as many as the voter marked: the rules judge)
    marks: Mapping[str, list[str]]
    #: field -> write-in option -> the name written on its line
    writeins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryField:
    """One field of a page as the entry form shows it: its options with their printed labels."""

    id: str
    label: str
    options: list[tuple[str, str]]
    max_marks: int


@dataclass(frozen=True)
class EntryForm:
    """Everything the entry page needs for one stored page: what was read, the forms and pages
    it may be, the fields of the chosen one, and the entry (if any) awaiting confirmation."""

    page_id: int
    source: str
    read_form: str | None
    read_serial: str | None
    read_page: int | None
    reason: str
    forms: list[tuple[str, str, int]]
    form_id: str | None
    page_no: int | None
    fields: list[EntryField]
    entry: ManualEntry | None


def entry_form(session: Session, meeting_id: int, page_id: int, *, form_id: str | None = None,
               page_no: int | None = None) -> EntryForm:
    """The entry form of a stored page: its own form and page when the code was read, else the
    ones asked for (`form_id`, `page_no`), else the meeting's first form, page 1."""
    row = _page(session, meeting_id, page_id)
    layouts = meeting_layouts(session, meeting_id)
    specs = meeting_specs(session, meeting_id)
    forms = [(fid, specs[fid].title, len(lay.pages)) for fid, lay in layouts.items()]
    chosen = row.form_id if row.form_id in layouts else (form_id if form_id in layouts
                                                         else next(iter(layouts), None))
    page = row.page_no if row.form_id in layouts and row.page_no else (page_no or 1)
    fields: list[EntryField] = []
    if chosen is not None:
        spec = specs[chosen]
        for f in layouts[chosen].fields:
            if f.page == page:
                fields.append(EntryField(f.id, f.label,
                                         [(o, option_label(spec, f.id, o)) for o in f.options],
                                         f.max))
    entry = manual_entries({row.id: decisions_by_page(session, meeting_id).get(row.id, [])}
                           ).get(row.id)
    return EntryForm(row.id, row.source, row.form_id, row.serial, row.page_no, row.reason,
                     forms, chosen, page, fields, entry)


def _page(s: Session, meeting_id: int, page_id: int) -> Page:
    row = s.get(Page, page_id)
    if row is None or row.meeting_id != meeting_id:
        raise ReviewError("no page #{page} in this meeting; see `scantally ledger MEETING` for "
                          "the refused pages",
                          page=page_id)
    return row


def _clean(who: str, why: str) -> tuple[str, str]:
    try:
        who, why = clean_name(who), clean_text(why).strip()
    except TextError as exc:
        raise ReviewError("the entry's text {problem}",
                          problem=str(exc)) from None
    if not who:
        raise ReviewError("say who keys the marks (--operator NAME, or log in): every entry "
                          "is signed")
    if not why:
        raise ReviewError("a manual entry needs a reason (--why \"…\"): why can the sheet not "
                          "be re-scanned?")
    return who, why


def _counted_as(s: Session, meeting_id: int, form_id: str, serial: str,
                page_no: int) -> Page | None:
    return s.scalars(select(Page).where(
        Page.meeting_id == meeting_id, Page.state == "counted", Page.form_id == form_id,
        Page.serial == serial, Page.page_no == page_no)).first()


def _check_marks(s: Session, meeting_id: int, row: Page,
                 hand: HandMarks) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    layout = meeting_layouts(s, meeting_id).get(hand.form_id)
    if layout is None:
        raise ReviewError("{form!r} is not a form of this meeting",
                          form=hand.form_id)
    if row.form_id is not None and row.form_id != hand.form_id:
        raise ReviewError("page #{page}'s code says form {read_form!r}; enter it as that form",
                          page=row.id, read_form=row.form_id)
    if not 1 <= hand.page_no <= len(layout.pages):
        raise ReviewError("form {form!r} has pages 1-{pages}, not {page_no}",
                          form=hand.form_id, pages=len(layout.pages), page_no=hand.page_no)
    if row.page_no is not None and row.form_id is not None and row.page_no != hand.page_no:
        raise ReviewError("page #{page}'s code says page {read_page_no}; enter that page",
                          page=row.id, read_page_no=row.page_no)
    serial = hand.serial.strip()
    if not _SERIAL_RE.match(serial):
        raise ReviewError("serial {serial!r} is not a sheet serial (letters and digits, at "
                          "most 16): type the serial printed on the sheet",
                          serial=serial)
    if row.serial is not None and row.serial != serial:
        raise ReviewError("page #{page}'s code reads serial {read_serial}; the entry must "
                          "carry the same serial",
                          page=row.id, read_serial=row.serial)
    if is_test_serial(serial) and not is_test_mode(s, meeting_id):
        raise ReviewError("serial {serial} is a test-deck serial and this meeting is "
                          "official: a test sheet never counts here, not even keyed by hand "
                          "- dismiss the page", serial=serial)
    printed = printed_serials(s, meeting_id)
    if printed is not None:
        owner = printed_serial_forms(s, meeting_id)
        if serial not in printed:
            raise ReviewError("serial {serial} was not printed for this meeting; a sheet that "
                              "was never printed cannot be entered — dismiss the page",
                              serial=serial)
        if owner.get(serial) not in (None, hand.form_id):
            raise ReviewError("serial {serial} was printed on form {printed_form!r}, not "
                              "{form!r}",
                              serial=serial, printed_form=owner[serial], form=hand.form_id)
    fields = {f.id: f for f in layout.fields if f.page == hand.page_no}
    marks: dict[str, list[str]] = {}
    writeins: dict[str, dict[str, str]] = {}
    for f, options in hand.marks.items():
        if f not in fields:
            raise ReviewError("form {form} page {page_no} has no field {field!r}",
                              form=hand.form_id, page_no=hand.page_no, field=f)
        bad = sorted(set(options) - set(fields[f].options))
        if bad:
            raise ReviewError("field {field!r} has no option {option!r}",
                              field=f, option=bad[0])
        if options:
            marks[f] = sorted(set(options), key=fields[f].options.index)
    for f, names in hand.writeins.items():
        for o, name in names.items():
            try:
                name = clean_name(name)
            except TextError as exc:
                raise ReviewError("the write-in name of {field}:{option} {problem}",
                                  field=f, option=o, problem=str(exc)) from None
            if name and o in marks.get(f, []):
                if len(name) > MAX_WRITEIN_CHARS:
                    raise ReviewError("the write-in name of {field}:{option} is longer than "
                                      "{most} characters",
                                      field=f, option=o, most=MAX_WRITEIN_CHARS)
                writeins.setdefault(f, {})[o] = name
    for f, options in marks.items():
        for o in options:
            if is_writein(o) and o not in writeins.get(f, {}):
                raise ReviewError("{field}:{option} is marked: type the name written on its "
                                  "line (or leave the box unmarked when the line is empty)",
                                  field=f, option=o)
    return marks, writeins


def _record(s: Session, d: Decision, action: str) -> Decision:
    """Store a decision with its audit entry (in the caller's transaction)."""
    s.add(d)
    s.flush()
    audit.record(s, "decision", d, d.who, action)
    return d


def enter(store: Store, meeting_id: int, page_id: int, hand: HandMarks, *, who: str,
          why: str) -> Decision:
    """Record the marks keyed from a page's image (they count once another login confirms)."""
    who, why = _clean(who, why)

    def work(s: Session) -> Decision:
        row = _page(s, meeting_id, page_id)
        if row.state not in ENTERABLE_STATES:
            what = {"counted": "it was read and counts: review its marks instead",
                    "duplicate": f"it is a duplicate of page #{row.duplicate_of}",
                    "refused": f"ingest refused it ({row.reason}); dismiss it instead"}
            raise ReviewError("page #{page} cannot be entered by hand: {state}",
                              page=row.id, state=what.get(row.state, row.state))
        ds = list(s.scalars(select(Decision).where(Decision.page_id == row.id)))
        if sheet_state(ds).accepted is False:
            raise ReviewError("page #{page} was dismissed; it cannot be entered",
                              page=row.id)
        marks, writeins = _check_marks(s, meeting_id, row, hand)
        serial = hand.serial.strip()
        counted = _counted_as(s, meeting_id, hand.form_id, serial, hand.page_no)
        if counted is not None:
            raise ReviewError("sheet {serial} page {page_no} was re-fed and counted as page "
                              "#{counted}; nothing to enter",
                              serial=serial, page_no=hand.page_no, counted=counted.id)
        others = manual_entries(decisions_by_page(s, meeting_id))
        clash = next((e for k, e in others.items() if k != row.id and (
            e.form_id, e.serial, e.page_no) == (hand.form_id, serial, hand.page_no)), None)
        if clash is not None:
            raise ReviewError("sheet {serial} page {page_no} is already entered by hand from "
                              "page #{other}",
                              serial=serial, page_no=hand.page_no, other=clash.page_id)
        previous = others.get(row.id)
        d = Decision(meeting_id=meeting_id, page_id=row.id, field=None, option=None,
                     kind="enter", text="",
                     before={"state": row.state, "status": row.status,
                             "entry": previous.entry_id if previous else None},
                     after={"form": hand.form_id, "serial": serial, "page": hand.page_no,
                            "marks": marks, "writeins": writeins},
                     who=who, why=why)
        return _record(s, d, "manual.enter")

    return store.write(work)


def confirm(store: Store, meeting_id: int, page_id: int, *, who: str, why: str) -> Decision:
    """A second, different login confirms the page's latest entry: from now on it counts."""
    who, why = _clean(who, why)

    def work(s: Session) -> Decision:
        row = _page(s, meeting_id, page_id)
        entry = manual_entries({row.id: list(s.scalars(
            select(Decision).where(Decision.page_id == row.id)))}).get(row.id)
        if entry is None:
            raise ReviewError("page #{page} has no manual entry to confirm; enter its marks "
                              "first (`scantally review enter`)",
                              page=row.id)
        if entry.confirmed:
            raise ReviewError("the entry of page #{page} was already confirmed by {by}",
                              page=row.id, by=entry.confirmed_by)
        if who.casefold() == entry.entered_by.casefold():
            raise ReviewError("{who} keyed this entry; a second, different login must check it "
                              "against the image and confirm it",
                              who=who)
        counted = _counted_as(s, meeting_id, entry.form_id, entry.serial, entry.page_no)
        if counted is not None:
            raise ReviewError("sheet {serial} page {page_no} was re-fed and counted as page "
                              "#{counted} since; the entry is not needed",
                              serial=entry.serial, page_no=entry.page_no, counted=counted.id)
        d = Decision(meeting_id=meeting_id, page_id=row.id, field=None, option=None,
                     kind="confirm", text="",
                     before={"entry": entry.entry_id, "entered_by": entry.entered_by},
                     after={"confirmed": True, "form": entry.form_id, "serial": entry.serial,
                            "page": entry.page_no, "marks": entry.marks},
                     who=who, why=why)
        return _record(s, d, "manual.confirm")

    return store.write(work)


def marks_from_form(values: Mapping[str, Sequence[object]]) -> tuple[dict[str, list[str]],
                                                                  dict[str, dict[str, str]]]:
    """The marks of an entry form's fields (each key with every value posted for it, as
    `FormData.getlist` gives them): `mark:<field>` -> option(s), `name:<field>:<opt>` -> a
    write-in name (what the console page posts)."""
    marks: dict[str, list[str]] = {}
    names: dict[str, dict[str, str]] = {}
    for key, items in values.items():
        if not items:
            continue
        if key.startswith("mark:"):
            marks.setdefault(key[5:], []).extend(str(v) for v in items if v)
        elif key.startswith("name:"):
            f, _, o = key[5:].rpartition(":")
            if f and str(items[0]).strip():
                names.setdefault(f, {})[o] = str(items[0]).strip()
    return marks, names
