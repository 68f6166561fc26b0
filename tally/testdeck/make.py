"""Make a meeting's test deck: plan every form, render the PDF, compute the expected figures.

`make_deck` reads the meeting (it must be in test mode) and returns the PDF (the forms' decks
one after another, each sheet a full copy of its form with a test serial) and the
`ExpectedDeck`; nothing is written. `record_deck`, once the caller has written both files,
adds the deck's serials to the meeting's printed set (when it records one, so the deck's
sheets are known sheets, not forgeries) and logs the print in the audit chain (who, when, how
many sheets, the expected figures' hash).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass

import pypdfium2 as pdfium
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import parse_spec
from forms.testdeck import DeckSheet, render_deck
from tally import audit
from tally.db import PrintedSerial, canonical_json, iso_utc, utc_now
from tally.meetings import MeetingError, meeting_facts, meeting_forms, meeting_settings
from tally.model import Ballot
from tally.rules import TallyInputError, compute
from tally.store import Store
from tally.testdeck.deckfile import ExpectedDeck, FormDeck
from tally.testdeck.expect import Figure, expected_ballots, figures
from tally.testdeck.plan import PlannedSheet, deck_size, plan_form
from tally.testmode import DECK_PRINT_ACTION, deck_serials, require_test_mode


@dataclass(frozen=True)
class MadeDeck:
    pdf: bytes
    deck: ExpectedDeck


def _deck_sheet(sheet: PlannedSheet) -> DeckSheet:
    names = {tuple(k.rsplit(".", 1)): v for k, v in sheet.writein_names.items()}
    return DeckSheet(sheet.serial, sheet.marks, [tuple(c) for c in sheet.cancelled],
                     names)  # type: ignore[arg-type]


def make_deck(store: Store, meeting_id: int, *, actor: str, start: int = 1,
              progress: Callable[[int], None] | None = None) -> MadeDeck:
    """The deck of every form of the meeting (see the module docstring); `start` is the number
    of its first test serial; `progress(n)` after each sheet rendered."""
    with store.session(readonly=True) as s:
        m = require_test_mode(s, meeting_id)
        name = m.name
        forms = meeting_forms(s, meeting_id)
        facts, settings = meeting_facts(s, meeting_id), meeting_settings(s, meeting_id)
    if not forms:
        raise MeetingError(f"meeting {name!r} has no form to print a deck of")
    docs: list[bytes] = []
    decks: list[FormDeck] = []
    expected: list[Figure] = []
    ballots: list[Ballot] = []
    specs = {}
    done = 0
    number = start
    for fid, f in forms.items():
        spec = parse_spec(f.spec_yaml, f"meeting form {fid}")
        compiled = compile_layout(spec)
        if layout_to_dict(compiled)["form"]["hash"] != f.layout_hash:
            raise MeetingError(f"form {fid!r}: this version of Scantally lays the form out "
                               "differently from the layout stored with the meeting; print "
                               "the deck with the version that set the meeting up")
        size = deck_size(compiled.fields)
        sheets = plan_form(compiled.fields, deck_serials(size, number))
        number += size

        def tick(_n: int) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done)

        docs.append(render_deck(compiled, f.layout, [_deck_sheet(x) for x in sheets], tick))
        form_ballots = expected_ballots(f.layout, sheets)
        expected += figures(spec, form_ballots)
        ballots += form_ballots
        specs[fid] = spec
        decks.append(FormDeck(form_id=fid, title=f.title, layout_hash=f.layout_hash,
                              sheets=sheets))
    try:
        result = compute(ballots, specs, facts, settings)
    except TallyInputError as exc:
        raise MeetingError(f"the deck of meeting {name!r} cannot be tallied: {exc}") from None
    deck = ExpectedDeck(meeting_id=meeting_id, meeting=name, generated_at=iso_utc(utc_now()) or "",
                        generated_by=actor, forms=decks, figures=expected,
                        result_sha256=result.sha256)
    return MadeDeck(_merge(docs), deck)


def _merge(docs: list[bytes]) -> bytes:
    """One PDF of several (the forms' decks one after another)."""
    if len(docs) == 1:
        return docs[0]
    merged = pdfium.PdfDocument.new()
    try:
        for data in docs:
            part = pdfium.PdfDocument(data)
            try:
                merged.import_pages(part)
            finally:
                part.close()
        buf = io.BytesIO()
        merged.save(buf)
        return buf.getvalue()
    finally:
        merged.close()


def deck_sha256(deck: ExpectedDeck) -> str:
    """The fingerprint of an expected-totals file's content (logged at print and at check)."""
    return hashlib.sha256(canonical_json(deck.model_dump(mode="json", by_alias=True))
                          .encode("utf-8")).hexdigest()


def record_deck(store: Store, meeting_id: int, deck: ExpectedDeck, *, actor: str) -> int:
    """Record a printed deck (see the module docstring); returns the serials added to the
    printed set (0 when the meeting records none)."""
    serials = [x.serial for f in deck.forms for x in f.sheets]

    def work(s: Session) -> int:
        m = require_test_mode(s, meeting_id)
        added = 0
        if m.serials_recorded:
            known = set(s.scalars(select(PrintedSerial.serial)
                                  .where(PrintedSerial.meeting_id == meeting_id)))
            fresh = sorted(set(serials) - known)
            s.add_all(PrintedSerial(meeting_id=meeting_id, serial=x) for x in fresh)
            added = len(fresh)
            s.flush()
        payload = {"kind": "meeting", "id": m.id, "record": audit.meeting_record(s, m),
                   "deck": {"sheets": len(serials), "first": serials[0], "last": serials[-1],
                            "forms": {f.form_id: len(f.sheets) for f in deck.forms},
                            "serials_added": added, "deck_sha256": deck_sha256(deck),
                            "expected_result_sha256": deck.result_sha256}}
        audit.append(s, meeting_id, DECK_PRINT_ACTION, payload, actor)
        return added

    return store.write(work)
