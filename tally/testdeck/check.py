"""Check a read deck: the machine's figures (the meeting's stored ballots) against the expected.

`check_deck(store, meeting_id, deck, actor)`:
1. refuses a file that is not this meeting's deck (another meeting, another printing of a
   form) or whose figures do not follow from its own sheets (edited by hand);
2. counts the stored ballots of each form (`tally.ballots.load_ballots`, as `scantally tally`
   does) into the same figures (`tally.testdeck.expect.figures`) and compares them one by one;
3. compares the whole result too: the sha256 of `tally.rules.compute` over the stored ballots
   with that over the deck's expected ballots, with the meeting's facts and settings;
4. logs the check in the audit chain (who, when, how many figures, which differ, both hashes).
The `DeckCheck` it returns is what the signed-off page (`tally.testdeck.signoff`) prints.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from forms.load import parse_spec
from tally import audit, keys
from tally.ballots import load_ballots
from tally.db import iso_utc, utc_now
from tally.meetings import MeetingError, meeting_facts, meeting_forms, meeting_settings
from tally.model import Ballot
from tally.rules import TallyInputError, compute
from tally.store import Store
from tally.testdeck.deckfile import ExpectedDeck
from tally.testdeck.expect import Figure, FigureName, expected_ballots, figures
from tally.testdeck.make import deck_sha256
from tally.testmode import DECK_CHECK_ACTION, require_test_mode

#: mismatched figure keys logged in the audit entry, at most
LOGGED_MISMATCHES = 50


class FigureCheck(FigureName):
    """One figure: what the deck says the machine must count, and what it counted."""

    expected: int
    counted: int

    @property
    def ok(self) -> bool:
        return self.expected == self.counted


class FormSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    form_id: str
    title: str
    layout_hash: str
    sheets: int
    #: deck sheets per purpose (coverage, overmark_all, …)
    purposes: dict[str, int]
    #: ballots the machine counted for the form
    counted_ballots: int


class DeckCheck(BaseModel):
    """The outcome of a deck check, as logged and printed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meeting_id: int
    meeting: str
    unit: str
    checked_at: str
    checked_by: str
    forms: list[FormSummary]
    figures: list[FigureCheck]
    expected_sha256: str
    counted_sha256: str
    deck_sha256: str
    first_serial: str
    last_serial: str
    #: the station key's id (None: the station has no key, `scantally keys new`)
    key_id: str | None
    audit_seq: int

    @property
    def mismatches(self) -> list[FigureCheck]:
        return [f for f in self.figures if not f.ok]

    @property
    def result_ok(self) -> bool:
        return self.expected_sha256 == self.counted_sha256

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.result_ok


def _by_key(figs: list[Figure]) -> dict[str, Figure]:
    return {f.key: f for f in figs}


def check_deck(store: Store, meeting_id: int, deck: ExpectedDeck, *, actor: str) -> DeckCheck:
    """Compare the meeting's count with the deck's (see the module docstring)."""
    with store.session(readonly=True) as s, s.begin():
        m = require_test_mode(s, meeting_id)
        name, unit = m.name, m.unit
        forms = meeting_forms(s, meeting_id)
        facts, settings = meeting_facts(s, meeting_id), meeting_settings(s, meeting_id)
        stored = load_ballots(s, meeting_id)
    if deck.meeting_id != meeting_id or deck.meeting != name:
        raise MeetingError(f"the expected-totals file is the deck of meeting {deck.meeting!r} "
                           f"(#{deck.meeting_id}), not of {name!r} (#{meeting_id}); give this "
                           "meeting's file")
    decks = {f.form_id: f for f in deck.forms}
    if set(decks) != set(forms):
        raise MeetingError(f"the deck covers forms {', '.join(sorted(decks))}, the meeting has "
                           f"{', '.join(sorted(forms))}; print a new deck for this meeting")
    specs = {fid: parse_spec(f.spec_yaml, f"meeting form {fid}") for fid, f in forms.items()}
    planned: list[Ballot] = []
    recomputed: list[Figure] = []
    for fid, f in forms.items():
        if decks[fid].layout_hash != f.layout_hash:
            raise MeetingError(f"form {fid!r}: the deck was printed from layout "
                               f"{decks[fid].layout_hash[:12]}, the meeting has "
                               f"{f.layout_hash[:12]}; print a new deck for this meeting")
        form_ballots = expected_ballots(f.layout, decks[fid].sheets)
        planned += form_ballots
        recomputed += figures(specs[fid], form_ballots)
    given = _by_key(deck.figures)
    for fig in recomputed:
        if given.get(fig.key) is None or given[fig.key].value != fig.value:
            raise MeetingError(f"the expected-totals file says {fig.label} ({fig.bucket_label}, "
                               f"form {fig.form_id}) is "
                               f"{given[fig.key].value if fig.key in given else 'missing'}, but "
                               f"its own sheets give {fig.value}: the file was edited; use the "
                               "file `scantally testdeck` wrote")
    counted: list[Figure] = []
    for fid, spec in specs.items():
        try:
            counted += figures(spec, [b for b in stored if b.form_id == fid])
        except TallyInputError as exc:
            raise MeetingError(f"meeting {name!r} cannot be tallied: {exc}") from None
    try:
        expected_sha = compute(planned, specs, facts, settings).sha256
        counted_sha = compute(stored, specs, facts, settings).sha256
    except TallyInputError as exc:
        raise MeetingError(f"meeting {name!r} cannot be tallied: {exc}") from None
    have = _by_key(counted)
    checks = [FigureCheck(form_id=e.form_id, item=e.item, bucket=e.bucket, label=e.label,
                          bucket_label=e.bucket_label, expected=e.value,
                          counted=have[e.key].value if e.key in have else 0)
              for e in recomputed]
    serials = [x.serial for f in deck.forms for x in f.sheets]
    public = keys.station_public(store.data_dir)
    summaries = [FormSummary(form_id=fid, title=forms[fid].title,
                             layout_hash=forms[fid].layout_hash, sheets=len(decks[fid].sheets),
                             purposes=dict(Counter(x.purpose for x in decks[fid].sheets)),
                             counted_ballots=sum(1 for b in stored if b.form_id == fid))
                 for fid in forms]
    bad = [c.key for c in checks if not c.ok]
    digest = deck_sha256(deck)

    def work(s: Session) -> tuple[int, str]:
        payload = {"ok": not bad and expected_sha == counted_sha, "figures": len(checks),
                   "mismatches": len(bad), "mismatched": bad[:LOGGED_MISMATCHES],
                   "result_sha256": counted_sha, "expected_sha256": expected_sha,
                   "deck_sha256": digest, "sheets": len(serials)}
        e = audit.append(s, meeting_id, DECK_CHECK_ACTION, payload, actor)
        return e.seq, e.at

    seq, at = store.write(work)
    return DeckCheck(meeting_id=meeting_id, meeting=name, unit=unit, checked_at=at or
                     (iso_utc(utc_now()) or ""), checked_by=actor, forms=summaries,
                     figures=checks, expected_sha256=expected_sha, counted_sha256=counted_sha,
                     deck_sha256=digest, first_serial=serials[0], last_serial=serials[-1],
                     key_id=public.id if public else None, audit_seq=seq)
