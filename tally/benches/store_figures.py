"""The figures `scantally bench store` prints, measured on a built bench store
(`tally.benches.store_build`): one meeting's tally + report in the big store and alone (the same
meeting, runs alternating; the best run of each, as the one least disturbed by other load on
the machine, and the median CPU time), a cadre's comprehensive view, the person index build,
the store's size and the index the meeting's page read uses. Wall-clock (`time.perf_counter`)
and this process's CPU time.

The cadre view is measured three ways: cold (nothing cached: the view tallies each of the
cadre's meetings), then the way a department store is used: every one of the cadre's meetings
is refreshed as `scantally import` does after writing a bundle (`tally.cadre.warm`; its mean
cost per meeting is printed, it is part of each import), and the view is taken once right
after (the department's first look) and then again (median of `rounds`)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select, text, update

from tally.cadre.people import index_meetings
from tally.cadre.view import cadre_view
from tally.cadre.warm import warm_meeting
from tally.db import CadreMeeting, CadrePerson
from tally.report.meeting import meeting_report
from tally.results import meeting_results
from tally.store import Store


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float


@dataclass(frozen=True)
class StoreFigures:
    sheets: int
    meetings: int
    build_s: float
    meeting_sheets: int
    meeting_big: Timing
    meeting_alone: Timing
    index_s: float
    cadre: str
    cadre_appearances: int
    cadre_cold: Timing
    #: `warm_meeting` (what an import runs after its commit), mean per meeting of the cadre
    import_refresh: Timing
    #: the first view after the cadre's meetings were imported (refreshed)
    cadre_imported: Timing
    cadre_warm: Timing
    store_bytes: int
    page_index: str

    @property
    def ratio(self) -> float:
        return self.meeting_big.wall_s / self.meeting_alone.wall_s

    @property
    def cpu_ratio(self) -> float:
        return self.meeting_big.cpu_s / max(self.meeting_alone.cpu_s, 1e-9)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "cpu_ratio": self.cpu_ratio}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)


def timed(work: Callable[[], object]) -> Timing:
    c0, t0 = time.process_time(), time.perf_counter()
    work()
    return Timing(time.perf_counter() - t0, time.process_time() - c0)


def median(runs: list[Timing]) -> Timing:
    return Timing(statistics.median(r.wall_s for r in runs),
                  statistics.median(r.cpu_s for r in runs))


def best(runs: list[Timing]) -> Timing:
    """The fastest wall time (the run least disturbed by other load) and the median CPU."""
    return Timing(min(r.wall_s for r in runs), statistics.median(r.cpu_s for r in runs))


def tally_and_report(store: Store, meeting_id: int) -> bytes:
    """What `scantally report` does for the meeting: tally it, render its PDF."""
    results = meeting_results(store, meeting_id)
    return meeting_report(store, meeting_id, "pdf", results=results)[1]


def compare_meeting(big: Store, big_id: int, alone: Store, alone_id: int,
                    rounds: int = 5) -> tuple[Timing, Timing]:
    """Tally + report time of the same meeting in both stores (`best` of `rounds`), runs
    alternating so that load from elsewhere falls on both alike."""
    assert tally_and_report(big, big_id) and tally_and_report(alone, alone_id)  # warm caches
    in_big, by_itself = [], []
    for _ in range(rounds):
        in_big.append(timed(lambda: tally_and_report(big, big_id)))
        by_itself.append(timed(lambda: tally_and_report(alone, alone_id)))
    return best(in_big), best(by_itself)


def busiest_cadre(store: Store) -> tuple[str, int]:
    with store.session(readonly=True) as s:
        row = s.execute(select(CadrePerson.person_key, func.count().label("n"))
                        .where(CadrePerson.person_id.is_not(None))
                        .group_by(CadrePerson.person_key)
                        .order_by(func.count().desc(), CadrePerson.person_key).limit(1)).first()
    if row is None:
        raise LookupError("no person with a person id in the store")
    return str(row[0]), int(row[1])


def page_index(store: Store, meeting_id: int) -> str:
    """The index PostgreSQL reads a meeting's counted pages by (as `load_ballots` asks)."""
    with store.session(readonly=True) as s:
        plan = s.scalar(text("EXPLAIN (FORMAT JSON) SELECT * FROM pages WHERE meeting_id = :m "
                             "AND state = 'counted' ORDER BY id"), {"m": meeting_id})
    doc = plan if isinstance(plan, list) else json.loads(plan)
    names: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            names.append(f"{node['Node Type']} on {node['Index Name']}")
        elif node.get("Node Type") == "Seq Scan":
            names.append(f"Seq Scan on {node.get('Relation Name')}")
        for child in node.get("Plans", []):
            walk(child)

    walk(doc[0]["Plan"])
    return "; ".join(names) or "?"


@dataclass(frozen=True)
class CadreFigures:
    index_s: float
    cadre: str
    appearances: int
    cold: Timing
    import_refresh: Timing
    imported: Timing
    warm: Timing


def cadre_figures(store: Store, rounds: int = 3) -> CadreFigures:
    """The person index build and the busiest cadre's view: cold, then after their meetings
    were refreshed as an import refreshes them (see the module docstring)."""
    t0 = time.perf_counter()
    index_meetings(store)
    index_s = time.perf_counter() - t0
    key, n = busiest_cadre(store)
    with store.session(readonly=True) as s:
        ids = sorted(set(s.scalars(select(CadrePerson.meeting_id)
                                   .where(CadrePerson.person_key == key))))
    cold = timed(lambda: cadre_view(store, key))
    with store.transaction() as s:  # forget what the cold view cached: the imports compute it
        s.execute(update(CadreMeeting).where(CadreMeeting.meeting_id.in_(ids))
                  .values(figures=None))
    refreshes = [timed(lambda mid=mid: warm_meeting(store, mid)) for mid in ids]
    refresh = Timing(statistics.mean(r.wall_s for r in refreshes),
                     statistics.mean(r.cpu_s for r in refreshes))
    imported = timed(lambda: cadre_view(store, key))
    warm = median([timed(lambda: cadre_view(store, key)) for _ in range(rounds)])
    return CadreFigures(index_s, key, n, cold, refresh, imported, warm)
