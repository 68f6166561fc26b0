"""The hall screen's figures: aggregates only, recomputed as sheets arrive and pushed to screens.

`hall_aggregate(results)` keeps from a meeting's `TallyResult`s only what the hall may see:
counts per candidate (printed names), per cadre and level, per satisfaction level, and the
reconciliation totals. Never a serial, a source file, an image, a write-in name or a reason.
People are labelled as everywhere else (`forms.people`): the name, with the 职务 beside a
namesake; `full` holds name and 职务 for the screen's hover text. A cadre rated on 德/能/勤/绩/廉
sub-rows is shown in people (sheets), not sub-row votes: `shares` are the mean over the sub-rows
and `people` the sheets behind them.

`HallFeeds` keeps one task per watched meeting: it waits for "sheet" / "decision" / "meeting"
events (or, every `poll_s`, a change of the meeting's audit head written by another process),
recomputes the aggregate at most every `min_interval_s` in a worker process (or thread) that
keeps the meeting's live tally (`tally.live`: only new or changed ballots are read and judged),
and publishes it as an "aggregate" event on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Literal

from pydantic import BaseModel

from intake.pool import end_with_owner
from server.events import EventBus
from tally.live import LiveResults
from tally.results import MeetingResults, audit_seq
from tally.rules import TallyResult
from tally.rules.result import ALL, PartResult
from tally.store import Store

log = logging.getLogger("scantally.hall")


class Bar(BaseModel):
    label: str
    value: int
    rate: float | None = None
    #: name and 职务 in full (the hover text of a label the screen has to shorten)
    full: str = ""


class PositionChart(BaseModel):
    title: str
    quota: int
    bars: list[Bar]
    valid: int
    void: int
    abstain: int


class StackRow(BaseModel):
    label: str
    post: str = ""
    #: marks per level (for a cadre with sub-rows: over all sub-rows, in sub-row votes)
    counts: list[int]
    #: share of each level (of the row's base; for sub-rows the mean over them): what is drawn
    shares: list[float | None] = []
    #: the sheets (people) behind the row: for sub-rows, sheets, not sheets × sub-rows
    people: int = 0
    #: 称职以上率 / 好评率 / 满意率 … (the part's first rate), for the label
    rate: float | None = None
    full: str = ""


class StackChart(BaseModel):
    title: str
    levels: list[str]
    rate_label: str
    rows: list[StackRow]
    #: sheets behind the chart (the most of its rows) and the sub-rows each cadre has (0: none)
    people: int = 0
    sub_rows: int = 0


class Donut(BaseModel):
    title: str
    slices: list[Bar]
    rate_label: str
    rate: float | None = None


class HallForm(BaseModel):
    id: str
    kind: Literal["recommendation", "evaluation", "satisfaction"]
    title: str
    returned: int
    valid: int
    invalid: int
    abstain: int
    provisional: bool
    positions: list[PositionChart] = []
    stacks: list[StackChart] = []
    donuts: list[Donut] = []


class HallAggregate(BaseModel):
    meeting_id: int
    name: str
    unit: str
    date: str
    #: sheets read and counted (收回), over the meeting's forms (the largest of them)
    read: int
    present: int | None
    expected: int | None
    issued: int | None
    vote_void: bool
    participation_low: bool
    forms: list[HallForm]
    #: 待处理: pages refused, entered and not confirmed or held, plus sheets awaiting review
    #: (a count only: the hall never shows which)
    pending: int = 0
    through_page_id: int
    computed_at: float


def _all_row(result: TallyResult):  # -> ReconRow | None
    return next((r for r in result.reconciliation.rows if r.bucket == ALL), None)


#: the rate shown beside each row: the first of these the part has
KEY_RATES = ("competent_or_better", "favourable", "satisfied", "agreed")


def _key_rate(part: PartResult) -> str:
    return next((k for k in KEY_RATES if k in part.rate_labels), next(iter(part.rate_labels), ""))


def _full(name: str, post: str) -> str:
    return f"{name}（{post}）" if post else name


def _stack(part: PartResult) -> StackChart:
    first_rate = _key_rate(part)
    rows = []
    for r in part.rows:
        st = r.stats.get(ALL)
        counts = [st.counts.get(lv.id, 0) if st else 0 for lv in part.levels]
        shares = [st.shares.get(lv.id) if st else None for lv in part.levels]
        # pooled sub-rows count every sheet once per sub-row
        people = (st.ballots // max(1, len(r.sub_rows))) if st else 0
        rows.append(StackRow(label=r.shown or r.label, post=r.post, counts=counts,
                             shares=shares, people=people, full=_full(r.label, r.post),
                             rate=st.rates.get(first_rate) if st else None))
    return StackChart(title=part.title, levels=[lv.label for lv in part.levels],
                      rate_label=part.rate_labels.get(first_rate, ""), rows=rows,
                      people=max((x.people for x in rows), default=0),
                      sub_rows=max((len(r.sub_rows) for r in part.rows), default=0))


def _donut(part: PartResult) -> list[Donut]:
    first_rate = _key_rate(part)
    out = []
    for r in part.rows:
        st = r.stats.get(ALL)
        slices = [Bar(label=lv.label, value=st.counts.get(lv.id, 0) if st else 0)
                  for lv in part.levels]
        out.append(Donut(title=r.label, slices=slices,
                         rate_label=part.rate_labels.get(first_rate, ""),
                         rate=st.rates.get(first_rate) if st else None))
    return out


def hall_form(form_id: str, result: TallyResult) -> HallForm:
    row = _all_row(result)
    form = HallForm(id=form_id, kind=result.form.kind, title=result.form.title,
                    returned=result.reconciliation.returned, valid=row.valid if row else 0,
                    invalid=row.invalid if row else 0, abstain=row.abstain if row else 0,
                    provisional=result.provisional)
    if result.recommendation:
        for p in result.recommendation.positions:
            block = p.blocks.get(ALL)
            form.positions.append(PositionChart(
                title=p.title, quota=p.quota,
                bars=[Bar(label=c.shown or c.name, value=c.votes.get(ALL, 0),
                          rate=c.rate.get(ALL), full=_full(c.name, c.post))
                      for c in p.candidates],
                valid=block.valid if block else 0, void=block.void if block else 0,
                abstain=block.abstain if block else 0))
    if result.evaluation:
        for part in (result.evaluation.individual, result.evaluation.team):
            if part is not None:
                form.stacks.append(_stack(part))
    if result.satisfaction:
        form.donuts.extend(_donut(result.satisfaction.overall))
        if result.satisfaction.items is not None:
            form.stacks.append(_stack(result.satisfaction.items))
    return form


def hall_aggregate(results: MeetingResults) -> HallAggregate:
    forms = [hall_form(f.form_id, f.result) for f in results.forms]
    rows = [r for f in results.forms if (r := _all_row(f.result)) is not None]
    facts = results.facts
    return HallAggregate(
        meeting_id=results.meeting_id, name=results.name, unit=results.unit, date=results.date,
        read=max((f.returned for f in forms), default=0),
        present=sum(facts.present.values()) if facts.present else None,
        expected=sum(facts.expected.values()) if facts.expected else None,
        issued=facts.issued,
        vote_void=any(f.result.reconciliation.vote_void for f in results.forms),
        participation_low=any(r.participation_low for r in rows), forms=forms,
        pending=sum(results.unresolved.values()) + sum(r.pending_review for r in rows),
        through_page_id=results.through_page_id, computed_at=time.time())


def compute_hall(live: LiveResults) -> tuple[HallAggregate, int]:
    """The hall aggregate and the audit head it reflects (blocking: run it in a thread)."""
    results = live.refresh()
    return hall_aggregate(results), results.audit_seq


_worker_live: dict[tuple[str, str | None, int], LiveResults] = {}


def compute_hall_in_worker(data_dir: str, db_url: str | None,
                           meeting_id: int) -> tuple[HallAggregate, int]:
    """`compute_hall` in a worker process, over the worker's own connection to the store (so
    recomputing never holds the server's GIL while sheets are being ingested); the worker keeps
    each meeting's live tally between calls, so only what changed is read and judged."""
    from tally.store import open_store

    key = (data_dir, db_url, meeting_id)
    live = _worker_live.get(key)
    if live is None:
        store = next((v.store for (d, u, _), v in _worker_live.items()
                      if (d, u) == (data_dir, db_url)), None)
        store = store or open_store(data_dir, db_url, migrate=False)
        live = _worker_live[key] = LiveResults(store, meeting_id)
    return compute_hall(live)


class _Feed:
    def __init__(self, feeds: HallFeeds, meeting_id: int) -> None:
        self.feeds = feeds
        self.meeting_id = meeting_id
        self.latest: HallAggregate | None = None
        self.seen_seq = -1
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        agg, seq = await self.feeds.compute(self.meeting_id)
        self.latest, self.seen_seq = agg, seq
        self.ready.set()
        self.feeds.bus.publish(self.meeting_id, "aggregate", agg.model_dump(mode="json"))

    async def run(self) -> None:
        bus, interval = self.feeds.bus, self.feeds.min_interval_s
        async with bus.subscribe(self.meeting_id) as sub:
            dirty = True
            while True:
                if dirty:
                    began = time.perf_counter()
                    try:
                        await self.refresh()
                    except LookupError:
                        self.ready.set()
                        return
                    except Exception:  # keep serving the last figures; try again on next event
                        log.exception("hall aggregate of meeting %s failed", self.meeting_id)
                        self.ready.set()
                    dirty = False
                    # leave the cores to ingest at least as long as recomputing took
                    await asyncio.sleep(max(interval, (time.perf_counter() - began)
                                            * self.feeds.idle_ratio))
                ev = await sub.get(timeout=self.feeds.poll_s)
                while ev is not None:
                    if ev.kind in ("sheet", "decision", "meeting"):
                        dirty = True
                    ev = sub.queue.get_nowait() if not sub.queue.empty() else None
                if not dirty:
                    seq = await asyncio.to_thread(self._head)
                    dirty = seq != self.seen_seq

    def _head(self) -> int:
        with self.feeds.store.session(readonly=True) as s:
            return audit_seq(s, self.meeting_id)


class HallFeeds:
    """One aggregate feed per watched meeting (started on first use, in the server's loop)."""

    def __init__(self, store: Store, bus: EventBus, *, min_interval_s: float = 0.2,
                 poll_s: float = 2.0, workers: int = 0, idle_ratio: float = 0.0) -> None:
        self.store = store
        self.bus = bus
        self.min_interval_s = min_interval_s
        self.poll_s = poll_s
        self.workers = workers
        self.idle_ratio = idle_ratio
        self._pool: ProcessPoolExecutor | None = None
        self._feeds: dict[int, _Feed] = {}
        #: live tallies when computing in threads (workers=0); a worker process keeps its own
        self._live: dict[int, LiveResults] = {}

    async def compute(self, meeting_id: int) -> tuple[HallAggregate, int]:
        """In a worker process when `workers` > 0 (the default of `scantally serve`), else in a
        thread; a broken worker is replaced, and the thread used meanwhile."""
        if self.workers > 0:
            if self._pool is None:
                # a worker ends with the server, however the server ends (a pool shut down
                # without waiting leaves its workers behind when the server exits at once)
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=end_with_owner, initargs=(os.getpid(),))
            url = self.store.engine.url.render_as_string(hide_password=False)
            db_url = None if self.store.dialect == "sqlite" else url
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    self._pool, compute_hall_in_worker, str(self.store.data_dir), db_url,
                    meeting_id)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        live = self._live.get(meeting_id)
        if live is None:
            live = self._live[meeting_id] = LiveResults(self.store, meeting_id)
        return await asyncio.to_thread(compute_hall, live)

    def ensure(self, meeting_id: int) -> _Feed:
        feed = self._feeds.get(meeting_id)
        if feed is None or feed.task is None or feed.task.done():
            feed = feed or _Feed(self, meeting_id)
            feed.task = asyncio.get_running_loop().create_task(feed.run())
            self._feeds[meeting_id] = feed
        return feed

    async def current(self, meeting_id: int, timeout_s: float = 30.0) -> HallAggregate:
        feed = self.ensure(meeting_id)
        if feed.latest is None:
            await asyncio.wait_for(feed.ready.wait(), timeout_s)
        if feed.latest is None:
            raise RuntimeError(f"the figures of meeting #{meeting_id} cannot be computed; "
                               "see the server log")
        return feed.latest

    async def close(self) -> None:
        for feed in self._feeds.values():
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feed.task
        self._feeds.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
