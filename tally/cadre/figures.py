"""A meeting's figures per person, cut from the meeting's own tally and cached.

The tally is `tally.results.meeting_results`, the one the meeting's reports print (same
ballots, rules, settings and result hash); nothing is recomputed here but the cut: a
candidate's 得票数 / 得票率 / rank, a leader's rates (优秀率, 称职以上率 …) and scores, an item's
认同率, for all ballots and per voter category. The cut is cached in `cadre_meetings`, valid
while the meeting's audit head is unchanged (every page, decision and settings change moves it)
and the code's `FIGURES_VERSION` is the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tally.cadre.model import Appearance, CategoryFigures, Figures, MeetingFigures
from tally.cadre.people import listed_people
from tally.cadre.stages import STAGE_OF_ROLE
from tally.db import AuditEntry, CadreMeeting
from tally.results import FormResult, MeetingResults, meeting_results
from tally.rules.result import ALL, PartResult, RowStats
from tally.store import Store

#: bump when what is cut from a result changes: cached figures are then recomputed
FIGURES_VERSION = 1


def audit_heads(s: Session, meeting_ids: Iterable[int]) -> dict[int, int]:
    """The audit head (seq) of each meeting, in one query."""
    ids = list(meeting_ids)
    if not ids:
        return {}
    rows = s.execute(select(AuditEntry.meeting_id, func.max(AuditEntry.seq))
                     .where(AuditEntry.meeting_id.in_(ids)).group_by(AuditEntry.meeting_id))
    return {mid: seq for mid, seq in rows}


def figures_of_meetings(store: Store, meeting_ids: Iterable[int]) -> dict[int, MeetingFigures]:
    """Each meeting's figures: from the cache when still valid, else tallied and cached."""
    ids = sorted(set(meeting_ids))
    with store.session(readonly=True) as s:
        heads = audit_heads(s, ids)
        cached = {c.meeting_id: c for c in s.scalars(
            select(CadreMeeting).where(CadreMeeting.meeting_id.in_(ids)))} if ids else {}
    out: dict[int, MeetingFigures] = {}
    for mid in ids:
        c = cached.get(mid)
        if (c is not None and c.figures is not None and c.audit_seq == heads.get(mid, 0)
                and c.figures_version == FIGURES_VERSION):
            out[mid] = MeetingFigures.model_validate(c.figures)
        else:
            out[mid] = refresh_meeting(store, mid)
    return out


def refresh_meeting(store: Store, meeting_id: int) -> MeetingFigures:
    """Tally the meeting (as its report does), cut it per person, and cache the cut."""
    return cache_results(store, meeting_results(store, meeting_id))


def cache_results(store: Store, results: MeetingResults) -> MeetingFigures:
    """Cut results already computed (by a report, an import) per person and cache the cut,
    stamped with the audit head the results were read at (stale as soon as it moves)."""
    figures = meeting_figures(results)

    def work(s: Session) -> None:
        row = s.get(CadreMeeting, results.meeting_id)
        if row is None:
            row = CadreMeeting(meeting_id=results.meeting_id)
            s.add(row)
        row.audit_seq = figures.audit_seq
        row.figures_version = FIGURES_VERSION
        row.figures = figures.model_dump(mode="json")

    store.write(work)
    return figures


def meeting_figures(results: MeetingResults) -> MeetingFigures:
    """Everyone's figures at the meeting, from its results."""
    apps: list[Appearance] = []
    for form in results.forms:
        apps += form_appearances(results, form)
    return MeetingFigures(meeting_id=results.meeting_id, audit_seq=results.audit_seq,
                          appearances=apps)


def form_appearances(results: MeetingResults, form: FormResult) -> list[Appearance]:
    r, spec = form.result, form.spec
    year = r.form.date.year
    if results.date:
        year = int(results.date[:4])
    pids = {(item.role, item.person.id): item.person.person_id for item in listed_people(spec)}
    base = {"source": "ballots", "year": year, "meeting_id": results.meeting_id,
            "meeting_label": results.name, "date": results.date or r.form.date.isoformat(),
            "form_id": form.form_id, "result_sha256": r.sha256, "provisional": r.provisional}
    labels = {b.id: b.label for b in r.buckets}
    out: list[Appearance] = []
    if r.recommendation:
        for pos in r.recommendation.positions:
            for c in pos.candidates:
                figs = {b: _candidate(c.votes[b], c.rate[b], c.rank[b], pos.blocks[b].denominator)
                        for b in c.votes}
                out.append(Appearance(
                    **base, stage=STAGE_OF_ROLE["candidate"], role="candidate", local_id=c.id,
                    person_id=pids.get(("candidate", c.id)), name=c.name, post=c.profile,
                    subject=f"{pos.title}（限推 {pos.quota} 人）", figures=figs[ALL],
                    categories=_cats(figs, labels)))
    if r.evaluation and r.evaluation.individual:
        out += _rows(r.evaluation.individual, "leader", base, pids, labels)
    if r.satisfaction and r.satisfaction.items:
        out += _rows(r.satisfaction.items, "item", base, pids, labels)
    return out


def _candidate(votes: int, rate: float | None, rank: int, denominator: int) -> Figures:
    return {"votes": float(votes), "rate": rate, "rank": float(rank),
            "denominator": float(denominator)}


def _stats(st: RowStats) -> Figures:
    figs: Figures = dict(st.rates)
    figs["score"] = st.score
    figs["denominator"] = float(st.denominator)
    return figs


def _rows(part: PartResult, role: str, base: dict[str, object],
          pids: dict[tuple[str, str], str | None], labels: dict[str, str]) -> list[Appearance]:
    out = []
    for row in part.rows:
        figs = {b: _stats(st) for b, st in row.stats.items()}
        top = dict(figs[ALL])
        if row.category_weighted_score is not None:
            top["category_weighted_score"] = row.category_weighted_score
        if row.rank is not None:
            top["rank"] = float(row.rank)
        local = row.person_id or row.id
        out.append(Appearance(
            **base, stage=STAGE_OF_ROLE[role], role=role, local_id=local,  # type: ignore[arg-type]
            person_id=pids.get((role, local)), name=row.label, post=row.post,
            subject=part.title, figures=top, categories=_cats(figs, labels)))
    return out


def _cats(figs: dict[str, Figures], labels: dict[str, str]) -> list[CategoryFigures]:
    return [CategoryFigures(bucket=b, label=labels.get(b, b), figures=f)
            for b, f in figs.items() if b != ALL]

