"""Live figures: a meeting's `MeetingResults`, kept up to date as sheets and decisions arrive.

The hall screen of a meeting of thousands must not re-read, re-judge and re-count every stored
sheet whenever one more arrives. `LiveResults.refresh()` reads, in one consistent snapshot of
the store, only the light columns of the meeting's counted pages and its decisions. A ballot is
rebuilt (its pages' readings read, decisions applied, `judge`d) only when its fingerprint
changed: its pages, the decisions on them, its standing against the printed serials, its
batches' categories. Its old verdict is taken out of the running tallies and the new one put in
(`tally.rules.tallies.add_verdict`); the figures then come from `tally.rules.compute.result_of`
like every other tally. The result equals `tally.results.meeting_results` of the same snapshot,
down to its sha256: the tests check that after every step of a meeting.

Nothing here writes to the store. One `LiveResults` serves one meeting and is not shared
between threads (the hall feed refreshes it from one task).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.layout import FieldInfo
from forms.spec import FormSpec
from tally.ballots import manual_pages, stored_ballot
from tally.db import Batch, Decision, Page
from tally.meetings import printed_serials
from tally.model import Ballot
from tally.readings import StoredPage, stored_pages
from tally.results import FormResult, MeetingResults, meeting_snapshot, results_of
from tally.rules.compute import form_fields, result_of, verdict_buckets
from tally.rules.tallies import Tallies, add_verdict, count
from tally.rules.validity import BallotVerdict, judge
from tally.store import Store

#: what a ballot is built from: page ids, decision ids, unknown serial, batch categories
Fingerprint = tuple[tuple[int, ...], tuple[int, ...], bool, tuple[str | None, ...]]


@dataclass
class _Entry:
    fingerprint: Fingerprint
    #: None when the ballot does not count (its serial was not printed, or it was dismissed)
    ballot: Ballot | None
    verdict: BallotVerdict | None


@dataclass
class _Form:
    spec: FormSpec
    fields: dict[str, FieldInfo]
    tallies: Tallies | None = None
    #: serial -> entry, for every ballot (counting or not) of this form
    entries: dict[str, _Entry] = field(default_factory=dict)


@dataclass(frozen=True)
class _LightPage:
    id: int
    form_id: str
    serial: str
    batch_id: int


class LiveResults:
    """`meeting_results(store, meeting_id)`, recomputed incrementally by `refresh()`."""

    def __init__(self, store: Store, meeting_id: int) -> None:
        self.store = store
        self.meeting_id = meeting_id
        self._forms: dict[str, _Form] = {}
        self._lock = threading.Lock()
        #: ballots rebuilt by the last refresh (for the tests and the bench)
        self.last_rebuilt = 0
        #: the confirmed hand entries read by the last refresh, as pages (`tally.manual`)
        self._manual: dict[int, StoredPage] = {}

    def refresh(self) -> MeetingResults:
        """The meeting's figures now. Raises LookupError for a meeting that does not exist and
        whatever `judge` raises for a ballot the rules refuse (the state is then dropped, and
        the next refresh starts afresh)."""
        with self._lock:
            try:
                return self._refresh()
            except BaseException:
                self._forms.clear()
                raise

    def _refresh(self) -> MeetingResults:
        with self.store.session(readonly=True) as s, s.begin():
            snap = meeting_snapshot(s, self.meeting_id)
            self._sync_forms(snap.specs)
            self._update(s)
        forms: list[FormResult] = []
        for fid, f in self._forms.items():
            verdicts = [e.verdict for e in f.entries.values() if e.verdict is not None]
            buckets = verdict_buckets(f.spec, verdicts)
            if f.tallies is None or f.tallies.buckets != buckets:
                f.tallies = count(verdicts, list(f.fields), buckets)
            ballots = [e.ballot for e in f.entries.values() if e.ballot is not None]
            forms.append(FormResult(fid, f.spec, result_of(f.spec, verdicts, f.tallies,
                                                           snap.facts, snap.settings), ballots))
        return results_of(self.meeting_id, snap, forms)

    def _sync_forms(self, specs: dict[str, FormSpec]) -> None:
        """One `_Form` per form of the meeting, in the meeting's order (a changed spec starts
        its form afresh)."""
        forms: dict[str, _Form] = {}
        for fid, spec in specs.items():
            old = self._forms.get(fid)
            forms[fid] = old if old is not None and old.spec is spec else _Form(
                spec, form_fields(spec))
        self._forms = forms

    def _update(self, s: Session) -> None:
        mid = self.meeting_id
        light = [_LightPage(*row) for row in s.execute(
            select(Page.id, Page.form_id, Page.serial, Page.batch_id)
            .where(Page.meeting_id == mid, Page.state == "counted").order_by(Page.id))]
        batch_category = {b_id: cat for b_id, cat in s.execute(
            select(Batch.id, Batch.category).where(Batch.meeting_id == mid))}
        decisions: dict[int, list[Decision]] = defaultdict(list)
        for d in s.scalars(select(Decision).where(Decision.meeting_id == mid)
                           .order_by(Decision.id)):
            decisions[d.page_id].append(d)
        printed = printed_serials(s, mid)
        self._manual = {}
        if any(d.kind == "confirm" for ds in decisions.values() for d in ds):  # hand entries
            keys = {(f, sr, n) for f, sr, n in s.execute(
                select(Page.form_id, Page.serial, Page.page_no)
                .where(Page.meeting_id == mid, Page.state == "counted"))}
            self._manual = {p.row.id: p for p in manual_pages(s, mid, decisions, keys)}
            light = sorted(light + [_LightPage(p.row.id, p.row.form_id or "", p.row.serial or "",
                                               p.row.batch_id)
                                    for p in self._manual.values()], key=lambda p: p.id)

        groups: dict[tuple[str, str], list[_LightPage]] = {}
        for p in light:
            groups.setdefault((p.form_id or "", p.serial or ""), []).append(p)
        fingerprints: dict[tuple[str, str], Fingerprint] = {}
        stale: list[tuple[str, str]] = []
        for key, group in groups.items():
            form = self._forms.get(key[0])
            if form is None:  # a form the meeting does not hand out: not in any figure
                continue
            fp = _fingerprint(key[1], group, decisions, printed, batch_category)
            fingerprints[key] = fp
            entry = form.entries.get(key[1])
            if entry is None or entry.fingerprint != fp:
                stale.append(key)

        rebuilt = self._rebuild(s, stale, groups, fingerprints, decisions, printed,
                                batch_category)
        for (fid, serial), entry in rebuilt.items():
            form = self._forms[fid]
            self._move(form, form.entries.get(serial), entry)
            form.entries[serial] = entry
        for fid, form in self._forms.items():  # ballots whose pages stopped counting
            for serial in [sr for sr in form.entries if (fid, sr) not in fingerprints]:
                self._move(form, form.entries.pop(serial), None)
            # keep ingest order (the first page id of each ballot), as `meeting_results` does
            form.entries = {sr: form.entries[sr] for (f, sr) in groups if f == fid}
        self.last_rebuilt = len(rebuilt)

    def _rebuild(self, s: Session, stale: list[tuple[str, str]],
                 groups: dict[tuple[str, str], list[_LightPage]],
                 fingerprints: dict[tuple[str, str], Fingerprint],
                 decisions: dict[int, list[Decision]], printed: set[str] | None,
                 batch_category: dict[int, str | None]) -> dict[tuple[str, str], _Entry]:
        """Entries for the `stale` ballots, built from their pages' stored readings."""
        ids = [p.id for key in stale for p in groups[key]]
        rows = stored_pages(s, [i for i in ids if i not in self._manual])
        rows.update({i: self._manual[i] for i in ids if i in self._manual})
        out: dict[tuple[str, str], _Entry] = {}
        for key in stale:
            fid, serial = key
            form = self._forms[fid]
            sb = stored_ballot(fid, serial, [rows[p.id] for p in groups[key]], decisions,
                               printed, batch_category)
            ballot = sb.to_ballot() if sb.counts else None
            verdict = None if ballot is None else judge(
                ballot, fid, form.fields, form.spec.categories is not None)
            out[key] = _Entry(fingerprints[key], ballot, verdict)
        return out

    @staticmethod
    def _move(form: _Form, old: _Entry | None, new: _Entry | None) -> None:
        """Take `old`'s verdict out of the running tallies and put `new`'s in. A verdict in a
        bucket the tallies do not have drops them: they are counted afresh."""
        t = form.tallies
        if t is None:
            return
        field_ids = list(form.fields)
        for entry, sign in ((old, -1), (new, 1)):
            v = entry.verdict if entry is not None else None
            if v is None:
                continue
            if v.bucket is not None and v.bucket not in t.buckets:
                form.tallies = None
                return
            add_verdict(t, v, field_ids, sign)


def _fingerprint(serial: str, group: list[_LightPage], decisions: dict[int, list[Decision]],
                 printed: set[str] | None,
                 batch_category: dict[int, str | None]) -> Fingerprint:
    return (tuple(p.id for p in group),
            tuple(d.id for p in group for d in decisions.get(p.id, ())),
            printed is not None and serial not in printed,
            tuple(batch_category.get(p.batch_id) for p in group))
