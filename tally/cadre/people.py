"""The person index: who each stored meeting's forms list, and under which key.

A meeting's specs never change once stored, so each meeting is indexed once (`index_meetings`,
run lazily before every look-up): one `CadrePerson` row per candidate, leader and item. The
`person_key` is the spec's `person_id` when given, so the same cadre is joined across meetings
and years; without it the key is `~<meeting>~<id>`, which joins the person's rows within that
meeting (an evaluation and a satisfaction form of one meeting) and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from forms.spec import FormSpec, Person
from tally.cadre.model import CadreSummary
from tally.cadre.stages import STAGE_OF_ROLE, STAGES
from tally.db import CadreEntry, CadreMeeting, CadrePerson, Meeting
from tally.results import meeting_specs_cached
from tally.store import Store

LOCAL_MARK = "~"


def local_key(meeting_id: int, local_id: str) -> str:
    return f"{LOCAL_MARK}{meeting_id}{LOCAL_MARK}{local_id}"


def is_local(key: str) -> bool:
    return key.startswith(LOCAL_MARK)


@dataclass(frozen=True)
class Listed:
    """One person as one form lists them."""

    role: str
    person: Person
    post: str


def listed_people(spec: FormSpec) -> Iterator[Listed]:
    """Every candidate, leader and item of a spec, in the spec's order."""
    if spec.recommendation:
        for pos in spec.recommendation.positions:
            for c in pos.candidates:
                yield Listed("candidate", c, c.profile)
    if spec.evaluation and spec.evaluation.individual:
        for leader in spec.evaluation.individual.leaders:
            yield Listed("leader", leader, leader.post)
    if spec.satisfaction:
        for item in spec.satisfaction.items:
            yield Listed("item", item, item.post)


def index_meetings(store: Store) -> int:
    """Index every meeting not indexed yet; returns how many were."""
    with store.session(readonly=True) as s:
        todo = list(s.scalars(select(Meeting.id).where(
            Meeting.id.not_in(select(CadreMeeting.meeting_id))).order_by(Meeting.id)))
    for mid in todo:
        store.write(lambda s, mid=mid: _index_one(s, mid))
    return len(todo)


def index_meeting(store: Store, meeting_id: int) -> None:
    """Index one meeting now (a no-op when it is indexed already)."""
    store.write(lambda s: _index_one(s, meeting_id))


def _index_one(s: Session, meeting_id: int) -> None:
    if s.get(CadreMeeting, meeting_id) is not None:  # another reader indexed it first
        return
    m = s.get(Meeting, meeting_id)
    if m is None:
        return
    specs = meeting_specs_cached(s, meeting_id)
    seen: set[tuple[str, str, str]] = set()
    for form_id, spec in specs.items():
        when = m.date or spec.header.date or dt.date.today()
        for item in listed_people(spec):
            p = item.person
            if (form_id, item.role, p.id) in seen:  # one candidate in two positions: one row
                continue
            seen.add((form_id, item.role, p.id))
            s.add(CadrePerson(meeting_id=meeting_id, form_id=form_id, role=item.role,
                              local_id=p.id, person_id=p.person_id,
                              person_key=p.person_id or local_key(meeting_id, p.id),
                              name=p.name, post=item.post[:80],
                              stage=STAGE_OF_ROLE[item.role], year=when.year))
    s.add(CadreMeeting(meeting_id=meeting_id))
    s.flush()


def rows_of(s: Session, key: str) -> list[CadrePerson]:
    return list(s.scalars(select(CadrePerson).where(CadrePerson.person_key == key)
                          .order_by(CadrePerson.year, CadrePerson.meeting_id, CadrePerson.id)))


def search(store: Store, query: str = "", *, limit: int = 200) -> list[CadreSummary]:
    """People whose name or person id contains `query` (all when empty), most meetings first."""
    index_meetings(store)
    q = query.strip()
    with store.session(readonly=True) as s:
        keys_q = select(CadrePerson.person_key).distinct()
        if q:
            like = f"%{q}%"
            keys_q = keys_q.where(or_(CadrePerson.name.like(like),
                                      CadrePerson.person_key.like(like)))
        keys = list(s.scalars(keys_q.limit(limit * 4)))
        rows = list(s.scalars(select(CadrePerson).where(CadrePerson.person_key.in_(keys))
                              .order_by(CadrePerson.year, CadrePerson.meeting_id))) if keys else []
        hand = entry_people(s, q)
    by_key: dict[str, list[CadrePerson]] = {}
    for r in rows:
        by_key.setdefault(r.person_key, []).append(r)
    out = [CadreSummary(key=k, person_id=rs[-1].person_id, name=rs[-1].name, post=rs[-1].post,
                        meetings=len({r.meeting_id for r in rs}),
                        years=sorted({r.year for r in rs}),
                        stages=[st for st in STAGES if any(r.stage == st for r in rs)])
           for k, rs in by_key.items()]
    listed = set(by_key)
    out += [h for h in hand if h.key not in listed]
    out.sort(key=lambda c: (-c.meetings, c.name, c.key))
    return out[:limit]


def entry_people(s: Session, query: str) -> list[CadreSummary]:
    """People known only from hand entries (on no stored ballot), matching `query`."""
    stmt = select(CadreEntry.person_id, func.max(CadreEntry.name), func.max(CadreEntry.post),
                  func.count()).group_by(CadreEntry.person_id)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(or_(CadreEntry.name.like(like), CadreEntry.person_id.like(like)))
    return [CadreSummary(key=pid, person_id=pid, name=name or pid, post=post or "", meetings=n,
                         years=[], stages=[]) for pid, name, post, n in s.execute(stmt)]
