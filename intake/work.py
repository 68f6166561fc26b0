"""What a worker does with one page: decode it once, read it with `omr`, say what to store.

`read_work(page, settings) -> PageRead` never raises for bad content: a page that cannot be
decoded is an `unreadable` reading with the decoder's reason (and the file's bytes kept as
evidence), an engine error is that page's `unreadable` reading. The image to store is the
file's own bytes when the file is this one image, else a lossless PNG of the decoded page (a
page of a multi-page TIFF or PDF). `settings` reach a worker process once, at its start
(`init_worker`), never with each page.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omr.decide import Thresholds
from omr.engine import read_page
from omr.layout import Layouts
from omr.reading import Reading, ReasonCode, Status, failed
from scanner.images import Page, encode_png
from scanner.pages import EncodedPage

#: an undecodable file this large is not kept as evidence
MAX_EVIDENCE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ReadSettings:
    """What the workers need besides the page: layouts by form id, thresholds, options."""

    #: typed once at the edge (`omr.layout.parse_layouts`); a worker never validates again
    layouts: Layouts
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: return the image to store with each reading (False: recount and benchmarks)
    keep_image: bool = True
    #: write each page drawn with its reading here (PNG), when set
    annotate_dir: str | None = None


@dataclass(frozen=True)
class PageRead:
    """A worker's answer: the reading, the image to store (or None), and the seconds spent."""

    reading: Reading
    image: bytes | None
    seconds: float


def read_work(page: EncodedPage, settings: ReadSettings) -> PageRead:
    """Decode `page` and read it; see the module docstring."""
    start = time.perf_counter()
    try:
        decoded = page.decode()
    except OSError as exc:
        reading = failed(page.source, Status.UNREADABLE, f"cannot open the file: "
                         f"{type(exc).__name__}: {exc}", code=ReasonCode.DECODE_FAILED)
        return PageRead(reading, None, time.perf_counter() - start)
    if decoded.image is None:
        no_image = page.error is None and page.data is None and page.path is None
        reading = failed(page.source, Status.UNREADABLE, decoded.error or "cannot be decoded",
                         code=ReasonCode.NO_IMAGE if no_image else ReasonCode.DECODE_FAILED)
        evidence = page.read_bytes(MAX_EVIDENCE_BYTES) if settings.keep_image else None
        return PageRead(reading, evidence, time.perf_counter() - start)
    reading = read_decoded(decoded, settings)
    image = None
    if settings.keep_image:
        image = decoded.data if decoded.data is not None else encode_png(decoded.image)
    if settings.annotate_dir is not None:
        _annotate(decoded, reading, settings)
    return PageRead(reading, image, time.perf_counter() - start)


def read_decoded(decoded: Page, settings: ReadSettings) -> Reading:
    """`omr.engine.read_page` on a decoded page; an engine error stays this page's."""
    assert decoded.image is not None
    try:
        return read_page(decoded.image, settings.layouts, source=decoded.source,
                         dpi=decoded.dpi, thresholds=settings.thresholds)
    except Exception as exc:
        return failed(decoded.source, Status.UNREADABLE, f"internal error: {type(exc).__name__}: "
                      f"{exc}; report it", code=ReasonCode.INTERNAL_ERROR)


def time_work(page: EncodedPage, settings: ReadSettings, decode_only: bool) -> PageRead:
    """`scantally bench omr`: decode only, or decode and read; the image is not kept."""
    start = time.perf_counter()
    decoded = page.decode()
    if decoded.image is None:
        reading = failed(page.source, Status.UNREADABLE, decoded.error or "cannot be decoded",
                         code=ReasonCode.DECODE_FAILED)
    elif decode_only:
        reading = failed(page.source, Status.BLANK, "decoded only")
    else:
        reading = read_decoded(decoded, settings)
    return PageRead(reading, None, time.perf_counter() - start)


def annotation_name(source: str) -> str:
    """File name of a page's annotated image: readable, and unique per source."""
    name, _, page = source.rpartition("#")
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{Path(name).stem}-{digest}-p{page or 1}.png"


def _annotate(page: Page, reading: Reading, settings: ReadSettings) -> None:
    import cv2

    from omr.annotate import annotate  # drawing only when asked

    assert settings.annotate_dir is not None and page.image is not None
    ok, png = cv2.imencode(".png", annotate(page.image, reading, settings.layouts))
    if not ok:
        return
    folder = Path(settings.annotate_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / annotation_name(page.source)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(png.tobytes())
    tmp.replace(target)


def read_with(page: EncodedPage, settings: ReadSettings,
              read: Callable[[np.ndarray, Layouts, str, float | None], Reading]
              ) -> PageRead:
    """`read_work` with another reader instead of the engine (recount against a changed
    engine, in tests): `read(image, layouts, source, dpi) -> Reading`, run in the caller."""
    start = time.perf_counter()
    decoded = page.decode()
    if decoded.image is None:
        reading = failed(page.source, Status.UNREADABLE, decoded.error or "cannot be decoded",
                         code=ReasonCode.DECODE_FAILED)
    else:
        reading = read(decoded.image, settings.layouts, decoded.source, decoded.dpi)
    return PageRead(reading, None, time.perf_counter() - start)
