"""Figures entered by hand for stages without ballots (谈话推荐 counts, a 民意调查 …).

Each entry is one link of a hash chain of its own (`cadre_entries`: seq, prev_hash, hash over
the canonical JSON of what was entered, who entered it, when and why, as `tally.audit` hashes a
meeting's entries), so an entry edited, removed or slipped in afterwards is found by
`check_entries`. Entries are never edited: a later entry for the same person, stage, year and
meeting label supersedes the earlier one (both stay in the chain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.code import ID_PATTERN
from forms.text import TextError, clean_name
from tally import audit
from tally.cadre.model import Appearance
from tally.cadre.people import index_meetings
from tally.cadre.stages import HandValueError, Stage, check_hand_values, hand_figures
from tally.db import CadreEntry, CadrePerson, iso_utc, utc_now
from tally.store import Store

#: the chain's "meeting" in `audit.entry_hash` (meetings are ≥ 1, the account log is 0)
CHAIN_ID = -1
_ID_RE = re.compile(rf"^{ID_PATTERN}$")
MIN_YEAR, MAX_YEAR = 1950, 2100


class EntryError(ValueError):
    """A hand entry that cannot be stored; the message names the field and what to do."""


@dataclass(frozen=True)
class HandEntry:
    person_id: str
    stage: str
    year: int
    meeting_label: str
    values: dict[str, float]
    name: str = ""
    post: str = ""
    why: str = ""


def _text(value: str, what: str, limit: int) -> str:
    try:
        out = clean_name(value)
    except TextError as exc:
        raise EntryError(f"{what}: {exc}") from None
    if len(out) > limit:
        raise EntryError(f"{what}: at most {limit} characters")
    return out


def _payload(e: CadreEntry) -> dict[str, object]:
    return {"person_id": e.person_id, "name": e.name, "post": e.post, "stage": e.stage,
            "year": e.year, "meeting_label": e.meeting_label, "values": e.values, "why": e.why}


def enter(store: Store, entry: HandEntry, *, who: str) -> CadreEntry:
    """Check and append one hand entry to the chain (all or nothing)."""
    if not _ID_RE.match(entry.person_id):
        raise EntryError(f"person id {entry.person_id!r}: letters, digits, _ . - (at most 40), "
                         "as the forms' person_id")
    if not MIN_YEAR <= entry.year <= MAX_YEAR:
        raise EntryError(f"--year {entry.year}: give the year of the stage, e.g. 2026")
    label = _text(entry.meeting_label, "--meeting-label", 120)
    if not label:
        raise EntryError("--meeting-label: name the meeting or talk round, e.g. "
                         "'2026年换届谈话推荐'")
    try:
        values = check_hand_values(entry.stage, entry.values)
    except HandValueError as exc:
        raise EntryError(str(exc)) from None
    name, post = _text(entry.name, "--name", 60), _text(entry.post, "--post", 80)
    why = _text(entry.why, "--why", 500)
    actor = _text(who, "who", 80) or "operator"
    index_meetings(store)  # so a person on a stored ballot is known

    def work(s: Session) -> CadreEntry:
        last = s.scalars(select(CadreEntry).order_by(CadreEntry.seq.desc()).limit(1)).first()
        if not name and not _known(s, entry.person_id):
            raise EntryError(f"person {entry.person_id!r} is on no stored ballot and has no "
                             "hand entry yet: give --name (and --post) the first time")
        seq = last.seq + 1 if last else 1
        prev = last.hash if last else audit.GENESIS_HASH
        row = CadreEntry(seq=seq, person_id=entry.person_id, name=name, post=post,
                         stage=entry.stage, year=entry.year, meeting_label=label,
                         values=values, who=actor, why=why, at=iso_utc(utc_now()) or "",
                         prev_hash=prev, hash="")
        row.hash = audit.entry_hash(CHAIN_ID, seq, row.at, actor, "cadre.enter", _payload(row),
                                    prev)
        s.add(row)
        s.flush()
        return row

    return store.write(work)


def _known(s: Session, person_id: str) -> bool:
    return (s.scalars(select(CadrePerson.id).where(CadrePerson.person_key == person_id)
                      .limit(1)).first() is not None
            or s.scalars(select(CadreEntry.id).where(CadreEntry.person_id == person_id)
                         .limit(1)).first() is not None)


def entries_of(s: Session, person_id: str) -> list[CadreEntry]:
    """The person's current hand entries: the latest per (stage, year, meeting label)."""
    rows = s.scalars(select(CadreEntry).where(CadreEntry.person_id == person_id)
                     .order_by(CadreEntry.seq))
    latest: dict[tuple[str, int, str], CadreEntry] = {}
    for r in rows:
        latest[(r.stage, r.year, r.meeting_label)] = r
    return sorted(latest.values(), key=lambda r: (r.year, r.seq))


def appearance_of(e: CadreEntry) -> Appearance:
    stage: Stage = e.stage  # type: ignore[assignment]
    return Appearance(source="hand", stage=stage, year=e.year, meeting_label=e.meeting_label,
                      role="hand", person_id=e.person_id, name=e.name, post=e.post,
                      subject="手工录入", figures=hand_figures(stage, e.values),
                      entered_by=e.who, entered_at=e.at, why=e.why)


def check_entries(s: Session) -> list[audit.Problem]:
    """The hand-entry chain checked link by link: every hash recomputed, no gap in seq."""
    problems: list[audit.Problem] = []
    prev_hash, prev_seq = audit.GENESIS_HASH, 0
    for e in s.scalars(select(CadreEntry).order_by(CadreEntry.seq)):
        subject = f"cadre hand entry #{e.seq} ({e.person_id}, {e.stage} {e.year})"
        if e.seq != prev_seq + 1:
            problems.append(audit.Problem("audit", subject, "entries before it are missing: "
                                          "deleted from the database"))
        actual = audit.entry_hash(CHAIN_ID, e.seq, e.at, e.who, "cadre.enter", _payload(e),
                                  e.prev_hash)
        if actual != e.hash:
            problems.append(audit.Problem("audit", subject, "edited: does not match its hash"))
        elif e.prev_hash != prev_hash:
            problems.append(audit.Problem("audit", subject, "does not link to the one before: "
                                          "the chain was rewritten"))
        prev_hash, prev_seq = e.hash, e.seq
    return problems
