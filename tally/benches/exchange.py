"""The exchange benchmark: a station's meeting of N simulated sheets exported and imported.

The station's meeting is built first (not timed): every sheet drawn by the simulator
(`omr.sim.corpus.render_page`, the example evaluation form, its own serial and marks, grey
200 dpi JPEG as a scanner sends it), ingested with the reading of the marks it was drawn with
(the OMR engine is not what is measured here), one sheet voided at review. Then timed:
`export_meeting` (with or without images), `import_bundle` into a fresh department store
(SQLite, or a fresh schema of the PostgreSQL given), and `verify` there; the result hashes of
the two stores are compared. Wall-clock `time.perf_counter` seconds.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2

from omr.layout import FormLayout
from omr.sim.corpus import EXAMPLES_DIR, render_page
from tally import keys
from tally.ballots import load_ballots
from tally.exchange.export import export_meeting
from tally.exchange.importer import import_bundle
from tally.formstore import meeting_layouts
from tally.ingest import close_batch, ingest_json, open_batch
from tally.meetings import (
    FormText,
    create_meeting,
    meeting_facts,
    meeting_settings,
    meeting_specs,
)
from tally.recount import verify
from tally.review.decisions import decide
from tally.rules import compute
from tally.store import Store, open_store

Progress = Callable[[str, int, int], None]
SPEC = EXAMPLES_DIR / "evaluation.yaml"
TARGET_IMPORT_S = 60.0


@dataclass(frozen=True)
class ExchangeBench:
    sheets: int
    images: bool
    backend: str
    build_s: float
    export_s: float
    bundle_mib: float
    import_s: float
    verify_s: float
    hashes_equal: bool
    verify_ok: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        verdict = "PASS" if self.import_s <= TARGET_IMPORT_S else "FAIL"
        return "\n".join([
            f"exchange of {self.sheets} simulated sheets "
            f"({'with' if self.images else 'without'} images), department store {self.backend}",
            f"  station built (not timed)  {self.build_s:8.1f} s",
            f"  export                     {self.export_s:8.1f} s  bundle "
            f"{self.bundle_mib:.1f} MiB",
            f"  import (all checks + write){self.import_s:8.1f} s  target ≤ "
            f"{TARGET_IMPORT_S:.0f} s -> {verdict}",
            f"  verify at the department   {self.verify_s:8.1f} s  "
            f"{'ok' if self.verify_ok else 'PROBLEMS'}",
            f"  result hashes equal        {'yes' if self.hashes_equal else 'NO'}",
        ])


def result_hash(store: Store, meeting_id: int) -> str:
    with store.session(readonly=True) as s:
        result = compute(load_ballots(s, meeting_id), meeting_specs(s, meeting_id),
                         meeting_facts(s, meeting_id), meeting_settings(s, meeting_id))
    return result.sha256


def _reading(layout: FormLayout, n: int, rng: random.Random
             ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    fields = [f for f in layout.fields if f.page == 1]
    marks = {f.id: [rng.choice(f.options)] for f in fields}
    doc = {"source": f"bench/sheet-{n:05d}.jpg", "form": layout.id, "page": 1,
           "serial": f"B{n:06d}", "status": "ok", "reason": "",
           "marks": {f: {"marked": opts, "doubtful": []} for f, opts in marks.items()},
           "scores": {}}
    return doc, marks


def build_station(data_dir: Path, sheets: int, progress: Progress | None = None
                  ) -> tuple[Store, int]:
    """A station store with its key and one meeting of `sheets` simulated sheets."""
    keys.new_key(data_dir)
    store = open_store(data_dir)
    m = create_meeting(store, name="bench-exchange", forms=[FormText.read(SPEC)], actor="bench")
    with store.session(readonly=True) as s:
        layout = next(iter(meeting_layouts(s, m.id).values()))
    batch = open_batch(store, m.id, station="bench", operator="bench")
    rng = random.Random(7)
    first = None
    for n in range(1, sheets + 1):
        doc, marks = _reading(layout, n, rng)
        page = render_page(SPEC, marks, serial=doc["serial"], seed=n)
        if page.mm_to_px is not None:
            doc["page_to_image"] = page.mm_to_px.tolist()
        image = page.image if page.image.ndim == 2 else cv2.cvtColor(page.image,
                                                                     cv2.COLOR_RGB2GRAY)
        ok, enc = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        r = ingest_json(store, batch, doc, enc.tobytes())
        if r.outcome != "ok":
            raise RuntimeError(f"bench sheet {n} was not counted: {r.outcome} {r.message}")
        first = first or r.page_id
        if progress:
            progress("simulating sheets", n, sheets)
    close_batch(store, batch)
    decide(store, m.id, str(first), "void", who="bench", why="a torn sheet")
    return store, m.id


@contextmanager
def _department(root: Path, db_url: str | None) -> Iterator[Store]:
    if not db_url:
        store = open_store(root / "department")
        try:
            yield store
        finally:
            store.close()
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in db_url else "?"
    store = open_store(root / "department", f"{db_url}{sep}options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench_exchange(sheets: int = 2000, *, images: bool = True, db_url: str | None = None,
                   work_dir: Path | None = None,
                   progress: Progress | None = None) -> ExchangeBench:
    with tempfile.TemporaryDirectory(prefix="scantally-bench-exchange-",
                                     dir=work_dir) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        station, mid = build_station(root / "station", sheets, progress)
        build_s = time.perf_counter() - t0
        with station:
            want = result_hash(station, mid)
            t1 = time.perf_counter()
            r = export_meeting(station, mid, root / "bundle.stb", images=images, who="bench",
                               progress=progress)
            export_s = time.perf_counter() - t1
            pub = station.data_dir / keys.PUBLIC_FILENAME
        with _department(root, db_url) as dept:
            keys.trust(dept.data_dir, keys.load_public(pub), who="bench")
            t2 = time.perf_counter()
            got = import_bundle(dept, r.path, who="bench", progress=progress)
            import_s = time.perf_counter() - t2
            t3 = time.perf_counter()
            with dept.session(readonly=True) as s:
                report = verify(dept, s, got.meeting_id, check_images=images)
            verify_s = time.perf_counter() - t3
            equal = result_hash(dept, got.meeting_id) == want
            backend = dept.dialect
    return ExchangeBench(sheets, images, backend, build_s, export_s, r.bytes / 2**20,
                         import_s, verify_s, equal, report.ok)
