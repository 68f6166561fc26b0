"""`recount`: re-read every stored image of a meeting through the intake pool and compare.

Every image is checked against its SHA-256 first; the intact ones are re-read by the current
engine in the one worker pool (`intake.pool`, each image decoded once, in a worker); a card
reader's stored picture is read again through its form's reader grid (`omr.card`). Each
difference from the stored reading is listed (`tally.recount.compare_readings`); nothing is
written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.pool import ReaderPool
from intake.work import ReadSettings
from omr.card import bitmap_from_picture, card_form, card_identity, read_card
from omr.layout import Layouts
from omr.reading import Reading
from scanner.pages import EncodedPage, plan_pages
from tally.audit import Problem
from tally.db import Page
from tally.recount import Difference, RecountReport, compare_readings
from tally.references import reading_layouts
from tally.store import Store

#: (image, layouts by form id, source, dpi) -> a Reading: another engine, for tests
ReadPage = Callable[[np.ndarray, Layouts, str, float | None], Reading]


def recount(store: Store, session: Session, meeting_id: int, *,
            read_page: ReadPage | None = None, workers: int = 2,
            progress: Callable[[int, int], None] | None = None) -> RecountReport:
    """Re-read every stored page of the meeting and compare (see the module docstring);
    `read_page`, when given, reads instead of the engine."""
    layouts = reading_layouts(store, session, meeting_id)
    rows = session.scalars(select(Page).where(Page.meeting_id == meeting_id)
                           .order_by(Page.id)).all()
    report = RecountReport(pages=len(rows))
    intact = []
    for row in rows:
        trouble = store.images.check(row.sha256)
        if trouble:
            report.problems.append(Problem("image", f"page #{row.id} ({row.source})", trouble))
        else:
            intact.append(row)
    for n, (row, now) in enumerate(_reread(store, intact, layouts, read_page, workers), 1):
        if now is None:
            report.problems.append(Problem("image", f"page #{row.id} ({row.source})",
                                           "the stored image cannot be decoded"))
        else:
            report.differences.extend(Difference(row.id, row.source, what, a, b)
                                      for what, a, b in compare_readings(row.reading,
                                                                          now.to_dict()))
        if progress:
            progress(n, len(intact))
    return report


def _reread(store: Store, rows: list[Page], layouts: Layouts,
            read_page: ReadPage | None, workers: int
            ) -> Iterator[tuple[Page, Reading | None]]:
    images: list[Page] = []
    for row in rows:
        data = store.images.get(row.sha256)
        identity = card_identity(data)
        if identity is None:
            images.append(row)
        else:  # a card reader's sheet: its stored bitmap, read through the form's grid again
            yield row, _reread_card(data, identity, layouts, row)
    if not images:
        return
    settings = ReadSettings(layouts, keep_image=False)
    if read_page is not None:
        task_args: tuple[ReadPage, ...] = (read_page,)
        from intake.work import read_with

        task = read_with
        workers = 1  # a function of the caller's: run it here
    else:
        from intake.work import read_work

        task, task_args = read_work, ()
    with ReaderPool(settings, workers) as pool:
        for row, read in zip(images, pool.map(_first_pages(store, images), task, *task_args),
                             strict=True):
            decoded = read.reading.reason_code != "decode_failed"
            yield row, read.reading if decoded else None


def _first_pages(store: Store, rows: list[Page]) -> Iterator[EncodedPage]:
    """A stored image is one page (the store keeps one image per page), labelled as stored."""
    for row in rows:
        page = next(plan_pages(row.source or row.sha256, data=store.images.get(row.sha256)))
        yield replace(page, source=row.source or row.sha256)


def _reread_card(data: bytes, identity: dict[str, str], layouts: Layouts,
                 row: Page) -> Reading | None:
    try:
        form_id, page = card_form(layouts, identity["form"])
        bitmap = bitmap_from_picture(data)
    except ValueError:
        return None
    return read_card(bitmap, layouts[form_id], page, source=row.source,
                     serial=identity["serial"])
