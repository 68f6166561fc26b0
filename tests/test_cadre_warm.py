"""A report computes the meeting's results anyway: it leaves the per-person cut cached
(current with the audit head), so a cadre's view reads it instead of tallying again; a later
change makes the cache stale and the view re-tallies, agreeing with a fresh tally."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tally import audit
from tally.cadre.figures import figures_of_meetings, meeting_figures
from tally.cadre.model import MeetingFigures
from tally.db import CadreMeeting, CadrePerson
from tally.ingest import close_batch, ingest_json, open_batch
from tally.results import meeting_results
from tally.store import Store, open_store
from tests.tally_helpers import cli, layout_of, new_meeting, reading, tiny_image

REC = layout_of("recommendation")


def _feed(store: Store, mid: int, serials: list[str], salt: str) -> None:
    batch = open_batch(store, mid, operator="tester")
    for n, x in enumerate(serials):
        doc = reading(REC, x, marked={"pos.director": ["P310012"], "category": ["leader"]})
        ingest_json(store, batch, doc, tiny_image(n, salt))
    close_batch(store, batch)


def _cached(store: Store, mid: int) -> tuple[int, MeetingFigures] | None:
    with store.session(readonly=True) as s:
        row = s.get(CadreMeeting, mid)
        if row is None or row.figures is None:
            return None
        return row.audit_seq, MeetingFigures.model_validate(row.figures)


def test_a_report_leaves_the_cadre_figures_cached_and_current(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        mid = new_meeting(store, "推荐")
        _feed(store, mid, ["A2B3C4", "D5E6F7", "G8H9J2"], "a")
        assert _cached(store, mid) is None
    r = cli("report", "推荐", "-o", str(tmp_path / "r.pdf"), data=data)
    assert r.returncode == 0, r.stderr
    with open_store(data) as store:
        got = _cached(store, mid)
        assert got is not None
        seq, cached = got
        with store.session(readonly=True) as s:
            assert seq == audit.head(s, mid).seq  # type: ignore[union-attr]
            people = s.scalars(select(CadrePerson).where(CadrePerson.meeting_id == mid)).all()
        assert people  # indexed too
        assert cached == meeting_figures(meeting_results(store, mid))
        director = next(a for a in cached.appearances if a.local_id == "P310012")
        assert director.figures["votes"] == 3.0
        # one more sheet: the cache is stale, the view tallies again and agrees with a tally
        _feed(store, mid, ["K3L4M5"], "b")
        again = figures_of_meetings(store, [mid])[mid]
        assert again.audit_seq > seq
        assert next(a for a in again.appearances if a.local_id == "P310012"
                    ).figures["votes"] == 4.0
        assert again == meeting_figures(meeting_results(store, mid))
