"""Test mode (测试模式) and going official: a meeting's test phase, and its end.

A meeting made by `scantally meeting new` starts in test mode: the team prints a test deck
(`tally.testdeck`), reads it like any stack and checks the machine's count against the deck's
expected one (logic and accuracy testing, L&A). Reports, the console and the hall screen say
测试模式 meanwhile. `go_official` ends the test phase, in one transaction:
- every page, reading, review decision (write-in names included) and batch of the meeting is
  removed, with the test-range serials from its printed set; the images no other page uses are
  deleted from the image store after the commit;
- one audit entry `meeting.official` records who and when, what was cleared (the removed row
  ids under `tally.audit.REMOVED_KEY`, so `verify` knows those rows are gone by design), the
  last deck check, and the meeting's new record; the audit chain itself is never cut, and an
  anchor is written right after (the row counts drop by design).
From then on a sheet with a test serial never counts: ingest stores it uncounted, refused with
reason code `test_sheet` (`tally.ingest`), so the meeting's ledger shows it.

Test serials are "TD0" and four digits (TD00001 …): never a real meeting's token (random
letters and digits without 0 or 1: `forms.render.random_serials`) nor a sequential serial (all
digits), and short enough for a card reader's printed code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forms.code import MAX_TEST_SERIAL, TEST_SERIAL_DIGITS, TEST_SERIAL_PREFIX, is_test_serial
from tally import audit
from tally.db import AuditEntry, Batch, Decision, Meeting, Page, PrintedSerial, iso_utc
from tally.fingerprints import SheetFingerprint
from tally.meetings import MeetingError
from tally.store import Store

#: the audit action of a deck check (`tally.testdeck.check`) and of going official
DECK_CHECK_ACTION = "testdeck.check"
DECK_PRINT_ACTION = "testdeck.print"
OFFICIAL_ACTION = "meeting.official"
#: the banner every report page, the console and the hall screen show in test mode
BANNER = "测试模式"
BANNER_LINE = "测试模式 · 测试数据，不计入正式结果"


def deck_serials(count: int, start: int = 1) -> list[str]:
    """`count` test serials from number `start`: TD00001, TD00002, …"""
    if count < 0 or start < 1 or start + count - 1 > MAX_TEST_SERIAL:
        raise MeetingError(f"test serials run from 1 to {MAX_TEST_SERIAL}: {count} from "
                           f"{start} do not fit; choose a lower --start")
    return [f"{TEST_SERIAL_PREFIX}{n:0{TEST_SERIAL_DIGITS}d}" for n in range(start, start + count)]


def is_test_mode(session: Session, meeting_id: int) -> bool:
    m = session.get(Meeting, meeting_id)
    if m is None:
        raise MeetingError(f"no meeting #{meeting_id}")
    return bool(m.test_mode)


def require_test_mode(s: Session, meeting_id: int) -> Meeting:
    """The meeting, which must be in test mode (MeetingError otherwise)."""
    m = s.get(Meeting, meeting_id)
    if m is None:
        raise MeetingError(f"no meeting #{meeting_id}")
    if not m.test_mode:
        raise MeetingError(f"meeting {m.name!r} is official: its test phase is over and test "
                           "sheets are refused there; a test deck is for a meeting in test "
                           "mode (`scantally meeting new` makes one)")
    return m


def last_deck_check(session: Session, meeting_id: int) -> dict[str, Any] | None:
    """The newest deck check logged for the meeting (its payload, with `at` and `actor`)."""
    e = session.scalars(select(AuditEntry).where(AuditEntry.meeting_id == meeting_id,
                                                 AuditEntry.action == DECK_CHECK_ACTION)
                        .order_by(AuditEntry.seq.desc()).limit(1)).first()
    if e is None:
        return None
    return {**e.payload, "at": e.at, "actor": e.actor, "seq": e.seq}


@dataclass(frozen=True)
class OfficialReport:
    """What going official cleared, and the audit entry that says so."""

    meeting_id: int
    name: str
    pages: int
    decisions: int
    writeins: int
    batches: int
    test_serials: int
    images_deleted: int
    #: the last deck check before going official (None: no deck was checked)
    deck_check: dict[str, Any] | None
    audit_seq: int
    at: str


def go_official(store: Store, meeting_id: int, *, actor: str, why: str = "",
                force: bool = False) -> OfficialReport:
    """End the meeting's test mode, clearing its test data (see the module docstring).

    Refused (MeetingError) when the meeting is official already, or when one of its batches is
    still open (a stack being fed: finish it first; `force` when that station crashed)."""

    def work(s: Session) -> tuple[OfficialReport, set[str]]:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise MeetingError(f"no meeting #{meeting_id}")
        if not m.test_mode:
            raise MeetingError(f"meeting {m.name!r} is official already (it went official, or "
                               "was made before test mode existed); nothing to clear")
        batches = list(s.scalars(select(Batch).where(Batch.meeting_id == meeting_id)
                                 .order_by(Batch.id)))
        still_open = [b for b in batches if b.ended_at is None]
        if still_open and not force:
            b = still_open[0]
            raise MeetingError(
                f"batch #{b.id} of meeting {m.name!r} (station {b.station or '-'}, operator "
                f"{b.operator or '-'}, opened {iso_utc(b.started_at)}) is still being fed; "
                "finish that stack first, or pass --force if its station crashed")
        pages = list(s.execute(select(Page.id, Page.sha256).where(Page.meeting_id == meeting_id)
                               .order_by(Page.id)))
        decisions = list(s.execute(select(Decision.id, Decision.kind)
                                   .where(Decision.meeting_id == meeting_id)
                                   .order_by(Decision.id)))
        serials = sorted(x for x in s.scalars(select(PrintedSerial.serial)
                                              .where(PrintedSerial.meeting_id == meeting_id))
                         if is_test_serial(x))
        check = last_deck_check(s, meeting_id)
        s.execute(delete(Decision).where(Decision.meeting_id == meeting_id))
        # the ink of the test pages (foreign forms): an official sheet is no duplicate of one
        s.execute(delete(SheetFingerprint).where(SheetFingerprint.meeting_id == meeting_id))
        s.execute(delete(Page).where(Page.meeting_id == meeting_id))
        s.execute(delete(Batch).where(Batch.meeting_id == meeting_id))
        if serials:
            s.execute(delete(PrintedSerial).where(PrintedSerial.meeting_id == meeting_id,
                                                  PrintedSerial.serial.in_(serials)))
        m.test_mode = False
        s.flush()
        s.expire(m)
        cleared = {"pages": len(pages), "decisions": len(decisions),
                   "writeins": sum(1 for _, kind in decisions if kind == "writein"),
                   "batches": len(batches), "test_serials": len(serials),
                   "images": len({sha for _, sha in pages})}
        payload = {"kind": "meeting", "id": m.id, "record": audit.meeting_record(s, m),
                   audit.REMOVED_KEY: {"page": [i for i, _ in pages],
                                       "decision": [i for i, _ in decisions],
                                       "batch": [b.id for b in batches]},
                   "cleared": cleared, "why": why,
                   "deck_check": None if check is None else {
                       k: check.get(k) for k in ("seq", "at", "actor", "ok", "mismatches",
                                                 "figures", "result_sha256")}}
        entry = audit.append(s, m.id, OFFICIAL_ACTION, payload, actor)
        report = OfficialReport(m.id, m.name, len(pages), len(decisions), cleared["writeins"],
                                len(batches), len(serials), 0, payload["deck_check"],
                                entry.seq, entry.at)
        return report, {sha for _, sha in pages}

    report, digests = store.write(work)
    deleted = _delete_unused_images(store, digests)
    return OfficialReport(**{**report.__dict__, "images_deleted": deleted})


def _delete_unused_images(store: Store, digests: set[str]) -> int:
    """Delete the image files of `digests` no page of any meeting still names (another meeting
    may hold the same image). A crash before this leaves orphans, which `gc` collects."""
    deleted = 0
    wanted = sorted(digests)
    for k in range(0, len(wanted), 500):
        chunk = wanted[k:k + 500]
        with store.session(readonly=True) as s:
            used = set(s.scalars(select(Page.sha256).where(Page.sha256.in_(chunk))))
        for digest in chunk:
            if digest in used:
                continue
            path = store.images.path(digest)
            if path.exists():
                path.unlink()
                deleted += 1
    return deleted


def refused_test_pages(session: Session, meeting_id: int) -> int:
    """How many test sheets were fed (and refused) since the meeting went official."""
    return session.scalar(select(func.count()).select_from(Page).where(
        Page.meeting_id == meeting_id, Page.state == "uncounted",
        Page.reason.like(f"{REFUSAL_TAG}%"))) or 0


#: the start of the stored reason of a test sheet refused in an official meeting
REFUSAL_TAG = "test_sheet:"


def refusal_reason(serial: str, meeting_name: str) -> str:
    """The reason stored (and shown) for a test sheet fed to an official meeting."""
    return (f"{REFUSAL_TAG} sheet {serial} is a test-deck sheet (测试票); meeting "
            f"{meeting_name!r} is official, so it never counts — take it out of the stack")
