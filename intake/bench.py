"""`scantally bench intake`: N simulated sheets through the eSCL simulator and the intake pipeline.

The simulator (`scanner.escl_sim.EsclSimulator`) runs in its own process on 127.0.0.1, as a
network scanner would, serving grey 200 dpi JPEGs of `omr.sim.corpus.generate` sheets at a feeder
pace (sheets/min; 0 = as fast as it can serve). This process runs the pipeline
(`intake.pipeline.IntakePipeline`) into a fresh temporary store, and samples the resident memory of
itself and its OMR workers (not the simulator's, which holds the whole stack in memory).
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from intake.pipeline import IntakeOptions, IntakePipeline, IntakeStats
from scanner.escl import EsclSource
from tally.ingest import close_batch, open_batch
from tally.meetings import FormText, create_meeting
from tally.store import open_store

SPEC = Path(__file__).resolve().parents[1] / "examples" / "evaluation.yaml"
SEED = 20261122
DPI = 200
JPEG_QUALITY = 85


@dataclass(frozen=True)
class BenchResult:
    sheets: int
    pace_per_min: float
    workers: int
    delivered: int
    stats: IntakeStats
    peak_rss_mib: float
    worker_rss_mib: float
    corpus_s: float
    ended: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_corpus(folder: Path, sheets: int, workers: int,
                progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """`sheets` simulated sheets of the evaluation form as grey JPEGs in `folder` (kept and
    reused when it already holds at least that many)."""
    from PIL import Image

    from omr.sim.corpus import generate

    files = sorted(folder.glob("sheet-*.jpg"))
    if len(files) >= sheets and (folder / ".grey").exists():
        return files[:sheets]
    generate(SPEC, folder, sheets, SEED, dpi=DPI, fmt="jpg", profile="mixed", workers=workers,
             progress=progress)
    files = sorted(folder.glob("sheet-*.jpg"))[:sheets]
    for path in files:  # a grey scanner's JPEGs
        with Image.open(path) as im:
            grey = im.convert("L")
        grey.save(path, "JPEG", quality=JPEG_QUALITY, dpi=(DPI, DPI))
    (folder / ".grey").touch()
    return files


def _serve(files: list[str], pace_per_min: float, conn: Connection) -> None:
    """The simulator process: load the stack, serve it, report what was delivered on 'stop'."""
    from scanner.escl_sim import EsclSimulator

    pages = [Path(f).read_bytes() for f in files]
    with EsclSimulator(pages, sheets_per_min=pace_per_min or None) as sim:
        conn.send(sim.uri)
        conn.recv()
        conn.send(len(sim.delivered))


class _Rss:
    """Peak resident memory of this process plus its children, except one (the simulator)."""

    def __init__(self, exclude_pid: int, every_s: float = 0.2) -> None:
        import psutil

        self._me, self._exclude = psutil.Process(), exclude_pid
        self.peak_mib = self.peak_workers_mib = 0.0
        self._stop = threading.Event()
        self._every_s = every_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(self._every_s):
            main = workers = 0
            for p in [self._me, *self._me.children(recursive=True)]:
                if p.pid == self._exclude:
                    continue
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                if p.pid == self._me.pid:
                    main = rss
                else:
                    workers += rss
            self.peak_mib = max(self.peak_mib, (main + workers) / 2**20)
            self.peak_workers_mib = max(self.peak_workers_mib, workers / 2**20)

    def __enter__(self) -> _Rss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_intake(sheets: int = 1000, pace_per_min: float = 100.0, workers: int = 2,
                 queue_size: int | None = None, corpus: Path | None = None,
                 on_corpus: Callable[[int, int], None] | None = None,
                 progress: Callable[[IntakeStats], None] | None = None) -> BenchResult:
    """Run the benchmark (see the module docstring); `corpus` keeps the simulated sheets."""
    tmp = Path(tempfile.mkdtemp(prefix="scantally-intake-bench-"))
    folder = corpus or tmp / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        files = make_corpus(folder, sheets, workers, on_corpus)
        corpus_s = time.perf_counter() - started
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        sim = context.Process(target=_serve, args=([str(f) for f in files], pace_per_min, theirs),
                              daemon=True, name="escl-simulator")
        sim.start()
        try:
            uri = ours.recv()
            store = open_store(tmp / "data")
            meeting = create_meeting(store, name="bench", forms=[FormText.read(SPEC)],
                                     actor="bench")
            batch = open_batch(store, meeting.id, station="bench", device=uri, operator="bench")
            options = IntakeOptions(workers=workers, queue_size=queue_size)
            with (_Rss(exclude_pid=sim.pid or -1) as rss, EsclSource(uri) as source,
                  IntakePipeline(store, batch, source, options=options,
                                 progress=progress) as pipeline):
                pipeline.warm_up()
                result = pipeline.run()
            close_batch(store, batch)
            store.close()
            ours.send("stop")
            delivered = int(ours.recv())
        finally:
            sim.join(timeout=10)
            if sim.is_alive():
                sim.terminate()
        return BenchResult(sheets, pace_per_min, workers, delivered, result.stats,
                           round(rss.peak_mib, 1), round(rss.peak_workers_mib, 1),
                           round(corpus_s, 1), result.ended)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
