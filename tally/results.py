"""A meeting's figures: its stored ballots tallied per form by `tally.rules.compute`.

Nothing is decided here: the ballots come from `tally.ballots.load_ballots`, the figures from
`tally.rules.compute`, one form at a time (a meeting may hand out several forms together).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forms.load import parse_spec
from forms.spec import FormSpec
from tally import audit
from tally.ballots import load_ballots
from tally.db import Meeting, Page
from tally.ledger import unresolved_for, unresolved_pages, with_ledger
from tally.meetings import meeting_facts, meeting_forms, meeting_settings
from tally.model import Ballot, MeetingFacts, Settings
from tally.rules import TallyResult, compute
from tally.store import Store


@dataclass(frozen=True)
class FormResult:
    form_id: str
    spec: FormSpec
    result: TallyResult
    ballots: list[Ballot]


@dataclass(frozen=True)
class MeetingResults:
    meeting_id: int
    name: str
    unit: str
    date: str
    forms: list[FormResult]
    #: the newest page id the figures include (0: none), read in the same snapshot
    through_page_id: int
    #: the meeting's audit head when read (changes whenever anything is written)
    audit_seq: int
    pages: int
    facts: MeetingFacts
    #: unresolved pages of the ledger per form id (`tally.ledger.unresolved_pages`): while any
    #: remain, the figures are provisional (临时结果)
    unresolved: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _spec(yaml_text: str, form_id: str) -> FormSpec:
    return parse_spec(yaml_text, f"meeting form {form_id}")


def meeting_specs_cached(s: Session, meeting_id: int) -> dict[str, FormSpec]:
    """The meeting's specs as stored (parsed once per process: stored specs never change)."""
    return {fid: _spec(f.spec_yaml, fid) for fid, f in meeting_forms(s, meeting_id).items()}


def audit_seq(s: Session, meeting_id: int) -> int:
    head = audit.head(s, meeting_id)
    return head.seq if head else 0


@dataclass(frozen=True)
class MeetingSnapshot:
    """What every tally of a meeting reads besides its ballots, in the same transaction."""

    name: str
    unit: str
    date: str
    #: the newest page id (0: none), the meeting's audit head, and how many pages it has
    through_page_id: int
    audit_seq: int
    pages: int
    specs: dict[str, FormSpec]
    facts: MeetingFacts
    settings: Settings
    unresolved: dict[str, int] = field(default_factory=dict)


def meeting_snapshot(s: Session, meeting_id: int) -> MeetingSnapshot:
    """The meeting's header, counts, specs, facts and settings; LookupError if it is not there."""
    m = s.get(Meeting, meeting_id)
    if m is None:
        raise LookupError(f"no meeting #{meeting_id}")
    through = s.scalar(select(func.max(Page.id)).where(Page.meeting_id == meeting_id)) or 0
    pages = s.scalar(select(func.count()).select_from(Page)
                     .where(Page.meeting_id == meeting_id)) or 0
    return MeetingSnapshot(m.name, m.unit, str(m.date or ""), through,
                           audit_seq(s, meeting_id), pages,
                           meeting_specs_cached(s, meeting_id), meeting_facts(s, meeting_id),
                           meeting_settings(s, meeting_id), unresolved_pages(s, meeting_id))


def meeting_results(store: Store, meeting_id: int) -> MeetingResults:
    """Every form of the meeting tallied from one consistent read of the store."""
    with store.session(readonly=True) as s, s.begin():
        snap = meeting_snapshot(s, meeting_id)
        ballots = load_ballots(s, meeting_id)
    per_form: dict[str, list[Ballot]] = {fid: [] for fid in snap.specs}
    for b in ballots:
        per_form.setdefault(b.form_id, []).append(b)
    forms = [FormResult(fid, spec, compute(per_form[fid], spec, snap.facts, snap.settings),
                        per_form[fid])
             for fid, spec in snap.specs.items()]
    return results_of(meeting_id, snap, forms)


def results_of(meeting_id: int, snap: MeetingSnapshot,
               forms: list[FormResult]) -> MeetingResults:
    """The meeting's results: its forms' figures with what the snapshot read, provisional
    while the ledger has unresolved pages (`tally.ledger.with_ledger`)."""
    forms = [replace(f, result=with_ledger(f.result, unresolved_for(snap.unresolved,
                                                                     f.form_id)))
             for f in forms]
    return MeetingResults(meeting_id, snap.name, snap.unit, snap.date, forms,
                          snap.through_page_id, snap.audit_seq, snap.pages, snap.facts,
                          snap.unresolved)


def image_set_sha256(store: Store, meeting_id: int) -> str:
    """SHA-256 over the sorted SHA-256s of every stored page image of the meeting (one per
    line): the fingerprint of the image set printed on the report's cover."""
    with store.session(readonly=True) as s:
        digests = sorted(s.scalars(select(Page.sha256).where(Page.meeting_id == meeting_id)))
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()
