"""Start the pipeline: `scan` one stack into a new batch; `read_files` for readings only.

`scan(store, meeting_id, source, ...)` is what `scantally ingest`, `scantally scan` and the
console's upload and device jobs all call: it opens a batch, runs `IntakePipeline` over the
source, and closes the batch. `read_files(paths, layouts)` reads files through the same pool
without a store (`scantally read`, tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from intake.pipeline import IntakeOptions, IntakePipeline, IntakeStats, PageDone, StackResult
from intake.pool import ReaderPool
from intake.work import ReadSettings
from omr.card import card_form
from omr.decide import Thresholds
from omr.reading import Reading
from scanner.images import MAX_PIXELS
from scanner.pages import EncodedPage, plan_pages
from scanner.source import SheetSource
from tally.ingest import BatchContext, IngestResult, close_batch, open_batch
from tally.references import reading_layouts
from tally.store import Store


def scan(store: Store, meeting_id: int, source: SheetSource, *, station: str = "",
         operator: str = "", category: str | None = None, device: str | None = None,
         options: IntakeOptions | None = None,
         ingest: Callable[[BatchContext, Reading, bytes | None], IngestResult] | None = None,
         on_page: Callable[[PageDone], None] | None = None,
         progress: Callable[[IntakeStats], None] | None = None,
         stop: threading.Event | None = None,
         on_start: Callable[[IntakePipeline], None] | None = None,
         batch: BatchContext | None = None) -> tuple[BatchContext, StackResult]:
    """Open a batch (unless given one: then it stays open), take one stack from `source`
    through the pipeline, close the batch.

    Raises MeetingError (bad category) or ValueError (no card-reader form) before any batch is
    opened; `on_start(pipeline)` lets the caller keep a handle (to `stop()` it)."""
    with store.session(readonly=True) as s:
        layouts = reading_layouts(store, s, meeting_id)
    options = options or IntakeOptions()
    if source.kind == "cards":
        card_form(layouts, options.card_form)
    given = batch is not None
    opened = batch or open_batch(store, meeting_id, station=station,
                                 device=(device if device is not None else str(source.uri))[:120],
                                 operator=operator, category=category)
    try:
        with IntakePipeline(
                store, opened, source, options=options, layouts=layouts,
                ingest=(lambda r, image: ingest(opened, r, image)) if ingest else None,
                on_page=on_page, progress=progress, stop=stop) as pipeline:
            if on_start is not None:
                on_start(pipeline)
            return opened, pipeline.run()
    finally:
        if not given:  # a batch given is the caller's to close
            close_batch(store, opened)


def read_files(paths: Iterable[str | Path], layouts: dict[str, dict], workers: int | None = None,
               *, thresholds: Thresholds | None = None, pdf_dpi: float = 200,
               max_pixels: int = MAX_PIXELS, keep_image: bool = True,
               annotate_dir: str | Path | None = None,
               progress: Callable[[int], None] | None = None
               ) -> Iterator[tuple[Reading, bytes | None]]:
    """(reading, image to store) for every page of every file, through the pool, in input
    order; `progress(n)` after the n-th file. A file that cannot be opened is one unreadable
    page."""
    settings = ReadSettings(layouts, thresholds or Thresholds(), keep_image,
                            str(annotate_dir) if annotate_dir is not None else None)
    last: list[bool] = []  # per page handed over: is it its file's last?

    def pages() -> Iterator[EncodedPage]:
        for path in paths:
            try:
                planned = plan_pages(str(path), path=path, pdf_dpi=pdf_dpi,
                                     max_pixels=max_pixels)
                page = next(planned)
            except OSError as exc:
                last.append(True)
                yield EncodedPage(f"{path}#1", error=f"cannot open the file: "
                                  f"{type(exc).__name__}: {exc}")
                continue
            for following in planned:
                last.append(False)
                yield page
                page = following
            last.append(True)
            yield page

    files = 0
    with ReaderPool(settings, workers) as pool:
        for k, read in enumerate(pool.map(pages())):
            yield read.reading, read.image
            if last[k]:
                files += 1
                if progress is not None:
                    progress(files)
