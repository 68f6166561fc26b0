"""One cadre across meetings, stages and years: the person index, each meeting's figures
(cached, `tally.cadre.figures`) and the hand entries, joined on the person key."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from tally.cadre.entries import appearance_of, entries_of
from tally.cadre.figures import figures_of_meetings
from tally.cadre.model import Appearance, CadreView
from tally.cadre.people import index_meetings, is_local, rows_of
from tally.cadre.stages import STAGES
from tally.db import CadreMeeting
from tally.store import Store


class CadreNotFound(LookupError):
    """No such person in the store; the message says how to find one."""


def cadre_view(store: Store, key: str) -> CadreView:
    """Everything the store knows of one person (`key`: a person id, or a local key)."""
    index_meetings(store)
    with store.session(readonly=True) as s:
        rows = rows_of(s, key)
        hand = [] if is_local(key) else entries_of(s, key)
    if not rows and not hand:
        raise CadreNotFound(f"no person {key!r} in this store: see `scantally cadre list "
                            "--search NAME` (and check --data / --db)")
    wanted = {(r.meeting_id, r.form_id, r.role, r.local_id) for r in rows}
    figures = figures_of_meetings(store, {r.meeting_id for r in rows})
    apps: list[Appearance] = []
    for mid in sorted(figures):
        apps += [a for a in figures[mid].appearances
                 if (a.meeting_id, a.form_id, a.role, a.local_id) in wanted]
    apps += [appearance_of(e) for e in hand]
    order = {s: k for k, s in enumerate(STAGES)}
    apps.sort(key=lambda a: (a.year, a.date, order[a.stage], a.meeting_label, a.subject))
    named = [a for a in apps if a.name]
    latest = named[-1] if named else None
    name = latest.name if latest else key
    post = latest.post if latest else ""
    listed = sorted({f"{a.name}（{a.post}）" if a.post else a.name for a in named}
                    - {f"{name}（{post}）" if post else name})
    return CadreView(key=key, person_id=None if is_local(key) else key, name=name, post=post,
                     local_only=is_local(key), also_listed_as=listed, appearances=apps,
                     years=sorted({a.year for a in apps}),
                     stages=[s for s in STAGES if any(a.stage == s for a in apps)])


def refresh_all(store: Store, progress: Callable[[int, int], None] | None = None) -> int:
    """Index every meeting and bring every meeting's cached figures up to date, one meeting
    at a time (`progress(done, total)` after each); returns how many meetings there are."""
    index_meetings(store)
    with store.session(readonly=True) as s:
        ids = list(s.scalars(select(CadreMeeting.meeting_id).order_by(CadreMeeting.meeting_id)))
    for done, mid in enumerate(ids, 1):
        figures_of_meetings(store, [mid])
        if progress:
            progress(done, len(ids))
    return len(ids)
