"""`scantally bench store`: building a department PostgreSQL store of synthetic readings.

`build(store, plan)` makes `plan.meetings` meetings (evaluation and recommendation forms whose
people come from one pool of cadres with stable person ids, dated over five years) through the
real `create_meeting` and `open_batch`, then bulk-loads each meeting's sheets with COPY: one
page row per sheet with a reading the rules can tally (`tally.report.synthetic` ballots), its
audit entry chained as `tally.ingest` chains it, no image (the image columns name a synthetic
digest). Meeting k is the same whatever the store, so `build(store, plan, only=k)` puts
exactly that meeting in a store of its own, to compare its tally and report there and alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import yaml
from sqlalchemy import func, select, text

from forms.spec import FormSpec
from tally import audit
from tally.benches.store_plan import FIRST_YEAR, YEARS, Plan, meeting_spec
from tally.db import Meeting, Page, canonical_json, iso_utc
from tally.ingest import open_batch
from tally.meetings import FormText, create_meeting
from tally.model import Ballot
from tally.report.synthetic import synthetic_ballots
from tally.rules.compute import layout_fields
from tally.store import Store

PAGE_COLUMNS = ("id", "meeting_id", "batch_id", "sha256", "image_bytes", "source", "form_id",
                "page_no", "serial", "status", "reason", "reading", "page_to_image", "state",
                "count_key", "duplicate_of", "ingested_at")
AUDIT_COLUMNS = ("id", "meeting_id", "seq", "at", "actor", "action", "payload", "prev_hash",
                 "hash")
ACTOR = "bench"
#: the synthetic size recorded for a page image that is not stored (a 150 dpi PNG)
IMAGE_BYTES = 180_000


class BenchError(ValueError):
    """The bench cannot run on this store; the message says why and what to do."""


@dataclass
class BuildStats:
    meetings: int = 0
    sheets: int = 0
    seconds: float = 0.0
    meeting_ids: dict[int, int] = field(default_factory=dict)


def _reading(spec: FormSpec, ballot: Ballot, page: int, fields: dict[int, list[str]],
             rng: random.Random) -> dict[str, Any]:
    marks_of = next(p.marks for p in ballot.pages if p.page == page)
    marks: dict[str, Any] = {}
    scores: dict[str, dict[str, float]] = {}
    for fid in fields[page]:
        chosen = [o for o in (marks_of.get(fid) or ()) if not o.startswith("writein")]
        if fid == "category":
            chosen = [ballot.category] if ballot.category else []
        marks[fid] = {"marked": chosen, "doubtful": []}
        scores[fid] = {o: round(0.9 + rng.random() * 0.09, 2) for o in chosen}
    return {"source": f"bench/{ballot.serial}.png#{page}", "form": spec.id, "page": page,
            "serial": ballot.serial, "status": "ok", "reason": "", "marks": marks,
            "scores": scores}


def meeting_rows(plan: Plan, k: int, spec: FormSpec, meeting_id: int, batch_id: int,
                 first_page_id: int, first_audit_id: int, first_seq: int, prev_hash: str,
                 ) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(page row, audit row) for every sheet page of meeting k, chained from `prev_hash`."""
    rng = random.Random(plan.seed * 7_919 + k)
    fields: dict[int, list[str]] = {}
    for f in layout_fields(spec):
        fields.setdefault(f.page, []).append(f.id)
    ballots = synthetic_ballots(spec, plan.sheets_of(k), seed=plan.seed * 31 + k)
    at0 = dt.datetime(FIRST_YEAR + k % YEARS, 1 + k % 12, 1 + k % 28, 9, tzinfo=dt.UTC)
    page_id, audit_id, seq, prev = first_page_id, first_audit_id, first_seq, prev_hash
    for n, b in enumerate(ballots):
        for page in sorted(fields):
            reading = _reading(spec, b, page, fields, rng)
            digest = hashlib.sha256(f"{plan.seed}/{k}/{b.serial}/{page}".encode()).hexdigest()
            when = at0 + dt.timedelta(milliseconds=600 * n)
            row = SimpleNamespace(
                id=page_id, batch_id=batch_id, sha256=digest, image_bytes=IMAGE_BYTES,
                source=reading["source"], form_id=spec.id, page_no=page, serial=b.serial,
                status="ok", reason="", reading=reading, page_to_image=None, state="counted",
                count_key=f"{spec.id}|{b.serial}|{page}", duplicate_of=None, refusal=None,
                ingested_at=when)
            payload = {"kind": "page", "id": page_id, "record": audit.page_record(None, row)}  # type: ignore[arg-type]
            at = iso_utc(when) or ""
            h = audit.entry_hash(meeting_id, seq, at, ACTOR, "page.ingest", payload, prev)
            yield ((page_id, meeting_id, batch_id, digest, IMAGE_BYTES, row.source, spec.id,
                    page, b.serial, "ok", "", canonical_json(reading), None, "counted",
                    row.count_key, None, when),
                   (audit_id, meeting_id, seq, at, ACTOR, "page.ingest", canonical_json(payload),
                    prev, h))
            page_id, audit_id, seq, prev = page_id + 1, audit_id + 1, seq + 1, h


def _next_ids(store: Store) -> tuple[int, int]:
    with store.session(readonly=True) as s:
        pages = s.scalar(text("SELECT coalesce(max(id), 0) FROM pages")) or 0
        entries = s.scalar(text("SELECT coalesce(max(id), 0) FROM audit_log")) or 0
    return int(pages) + 1, int(entries) + 1


def add_meeting(store: Store, plan: Plan, k: int) -> tuple[int, int]:
    """Meeting k with its sheets; returns (meeting id, sheets)."""
    doc = meeting_spec(plan, k)
    spec_yaml = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    m = create_meeting(store, name=f"bench-{k:04d}", actor=ACTOR,
                       forms=[FormText(spec_yaml, f"bench-{k:04d}.yaml")])
    batch = open_batch(store, m.id, station="bench", operator=ACTOR)
    with store.session(readonly=True) as s:
        head = audit.head(s, m.id)
        assert head is not None
    spec = FormSpec.model_validate(doc)
    page_id, audit_id = _next_ids(store)
    rows = meeting_rows(plan, k, spec, m.id, batch.batch_id, page_id, audit_id, head.seq + 1,
                        head.hash)
    raw = store.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        pages: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        for p, e in rows:
            pages.append(p)
            entries.append(e)
        with conn.cursor() as cur:
            with cur.copy(f"COPY pages ({', '.join(PAGE_COLUMNS)}) FROM STDIN") as copy:
                for p in pages:
                    copy.write_row(p)
            with cur.copy(f"COPY audit_log ({', '.join(AUDIT_COLUMNS)}) FROM STDIN") as copy:
                for e in entries:
                    copy.write_row(e)
            for table in ("pages", "audit_log"):  # ids given: the sequences continue after
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        conn.commit()
    finally:
        raw.close()
    return m.id, plan.sheets_of(k)


def existing_bench(store: Store, plan: Plan) -> BuildStats:
    """The meetings of a bench store built before with the same plan (`--reuse`); its person
    index and cached figures (derived data) are cleared, so they are measured from scratch."""
    if store.dialect != "postgresql":
        raise BenchError(f"--pg must be a PostgreSQL URL (got {store.url})")
    with store.session(readonly=True) as s:
        ids = {name: mid for mid, name in s.execute(select(Meeting.id, Meeting.name))}
        sheets = s.scalar(select(func.count()).select_from(Page)) or 0
    wanted = {f"bench-{k:04d}": k for k in range(plan.meetings)}
    if set(ids) != set(wanted) or sheets != plan.sheets:
        raise BenchError(f"{store.url} holds {len(ids)} meetings and {sheets:,} sheets, not a "
                         f"bench store of {plan.meetings} meetings and {plan.sheets:,} sheets; "
                         "drop --reuse to build one in an empty database")
    with store.transaction() as s:
        s.execute(text("DELETE FROM cadre_people"))
        s.execute(text("DELETE FROM cadre_meetings"))
    return BuildStats(meetings=len(ids), sheets=sheets,
                      meeting_ids={wanted[n]: mid for n, mid in ids.items()})


def vacuum(store: Store) -> None:
    """VACUUM ANALYZE, as autovacuum would after a bulk load (visibility map, statistics)."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))


def check_empty(store: Store) -> None:
    if store.dialect != "postgresql":
        raise BenchError(f"--pg must be a PostgreSQL URL (got {store.url})")
    with store.session(readonly=True) as s:
        n = s.scalar(select(func.count()).select_from(Meeting)) or 0
    if n:
        raise BenchError(f"{store.url} already holds {n} meetings: give an empty database "
                         "(e.g. `createdb bench_store`), the bench fills it")


def build(store: Store, plan: Plan, only: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> BuildStats:
    """Fill an empty PostgreSQL store with the plan's meetings (or only meeting `only`)."""
    import time

    check_empty(store)
    ks = [only] if only is not None else list(range(plan.meetings))
    stats = BuildStats()
    t0 = time.perf_counter()
    for k in ks:
        mid, n = add_meeting(store, plan, k)
        stats.meeting_ids[k] = mid
        stats.meetings += 1
        stats.sheets += n
        if progress:
            progress(stats.meetings, stats.sheets)
    vacuum(store)
    stats.seconds = time.perf_counter() - t0
    return stats


def store_bytes(store: Store) -> int:
    """The bytes of every table and index in the store's schema (search_path)."""
    with store.session(readonly=True) as s:
        return int(s.scalar(text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'")) or 0)
