"""Pages as a source hands them over: encoded, not decoded (`EncodedPage`), and their decoding.

A source never decodes pixels: `plan_pages(name, data=... | path=...)` looks at a file's
structure only (a TIFF's directory chain, a PDF's page count, the header of a JPEG/PNG) and
yields one `EncodedPage` per page, lazily, one at a time: a 10,000-frame TIFF is never held as
a list of pages. `EncodedPage.decode()` decodes that one page (in the OMR worker process, once)
into a `scanner.images.Page`. A problem found before decoding (an empty or unknown file, a page
cut short, a file over the size limit) is the page's `error`, in words for the operator.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scanner.images import (
    _FIX,
    _PDFIUM_LOCK,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    Page,
    _dpi_of,
    _open_pillow,
    _render_pdf_page,
    _to_array,
    _too_big,
    _why,
    sniff_format,
)
from scanner.tiffcheck import check_tiff

__all__ = ["EncodedPage", "plan_pages"]

#: formats whose pages are decoded by Pillow (one frame each, TIFF: several)
RASTER_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "GIF", "WEBP")


@dataclass(frozen=True)
class EncodedPage:
    """One page of an encoded file: where its bytes are (in memory, or a file on disk), which
    page of the file it is, and what is known before decoding it."""

    #: "name#k" (k 1-based)
    source: str
    #: 0-based page within the file
    frame: int = 0
    data: bytes | None = None
    path: str | None = None
    #: the container format (`sniff_format`), None when unknown
    fmt: str | None = None
    #: the file holds exactly this one image: its bytes are what the store keeps
    whole: bool = True
    #: why this page cannot be decoded, when known before decoding
    error: str | None = None
    #: resolution the device scanned at, when the file does not say
    dpi: float | None = None
    pdf_dpi: float = 200
    max_pixels: int = MAX_PIXELS

    def read_bytes(self, limit_bytes: int = MAX_FILE_BYTES) -> bytes | None:
        """The file's bytes (kept as evidence for an undecodable page), None if unavailable
        or over `limit_bytes`."""
        if self.data is not None:
            return self.data or None
        if self.path is None:
            return None
        try:
            path = Path(self.path)
            if path.stat().st_size > limit_bytes:
                return None
            return path.read_bytes() or None
        except OSError:
            return None

    def decode(self) -> Page:
        """Decode this page (never raises for bad content; an OSError reading the file does)."""
        if self.error is not None:
            return Page(self.source, None, self.error, self.dpi)
        if self.fmt == "PDF":
            page = _decode_pdf_page(self)
        elif self.data is not None or not self.whole:
            page = _decode_raster_frame(self, self.data)
        else:  # the file is this one image: read it once, decode it from memory, keep its bytes
            page = _decode_raster_frame(self, Path(self.path or "").read_bytes())
        if page.dpi is None and self.dpi is not None:
            page.dpi = self.dpi
        return page


def plan_pages(name: str, *, data: bytes | None = None, path: str | Path | None = None,
               dpi: float | None = None, pdf_dpi: float = 200, max_pixels: int = MAX_PIXELS,
               max_file_bytes: int = MAX_FILE_BYTES) -> Iterator[EncodedPage]:
    """The pages of one file, from its structure only, labelled "name#k". Give `data` or
    `path`; an OSError reading `path` is raised at once (not on the first page)."""
    common = {"dpi": dpi, "pdf_dpi": pdf_dpi, "max_pixels": max_pixels}
    where = {"data": data} if data is not None else {"path": str(path)}
    if data is None:
        assert path is not None
        size_bytes = Path(path).stat().st_size
        if size_bytes > max_file_bytes:
            problem = (f"file is {size_bytes / 2**20:.0f} MiB, over the "
                       f"{max_file_bytes / 2**20:.0f} MiB limit for one scan; split it or scan "
                       "at a lower resolution")
            return iter([EncodedPage(f"{name}#1", error=problem, **where, **common)])
        with open(path, "rb") as fh:
            head = fh.read(1024)
    else:
        size_bytes, head = len(data), data[:1024]
    if not size_bytes:
        return iter([EncodedPage(f"{name}#1", error="file is empty (0 bytes); re-scan the sheet",
                                 **where, **common)])
    fmt = sniff_format(head)
    if fmt is None:
        problem = (f"not an image or PDF (content starts {head[:8]!r}); expected a JPEG, PNG, "
                   "TIFF or PDF file from the scanner")
        return iter([EncodedPage(f"{name}#1", error=problem, **where, **common)])
    if fmt == "PDF":
        return _plan_pdf(name, where, common)
    if fmt == "TIFF":
        return _plan_tiff(name, where, common)
    return iter([EncodedPage(f"{name}#1", fmt=fmt, **where, **common)])


def _plan_tiff(name: str, where: dict, common: dict) -> Iterator[EncodedPage]:
    fix = _FIX.get("TIFF", "re-scan the sheet")
    with _buffer(where) as buffer:
        structure = check_tiff(buffer)  # type: ignore[arg-type]
    n_frames = len(structure.pages)
    single = n_frames == 1 and structure.tail is None
    for index, problem in enumerate(structure.pages):
        what = "TIFF image" if single else f"TIFF page {index + 1}"
        error = f"{what} is incomplete: {problem}; {fix}" if problem else None
        yield EncodedPage(f"{name}#{index + 1}", index, fmt="TIFF", whole=single, error=error,
                          **where, **common)
    if structure.tail:
        what = (f"TIFF page {n_frames + 1} (and any after it) is missing" if n_frames
                else "TIFF file is damaged")
        yield EncodedPage(f"{name}#{n_frames + 1}", n_frames, fmt="TIFF", whole=False,
                          error=f"{what}: {structure.tail}; {fix}", **where, **common)


def _plan_pdf(name: str, where: dict, common: dict) -> Iterator[EncodedPage]:
    import pypdfium2 as pdfium

    fix = _FIX["PDF"]
    error, n_pages = None, 0
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(where.get("data") or where["path"])
            try:
                n_pages = len(doc)
            finally:
                doc.close()
        except pdfium.PdfiumError as exc:
            text = str(exc)
            error = ("PDF is password-protected; save an unprotected copy"
                     if "password" in text.lower() else f"PDF cannot be opened ({text}); {fix}")
        except Exception as exc:
            error = f"PDF cannot be opened ({_why(exc)}); {fix}"
    if error is None and n_pages == 0:
        error = f"PDF has no pages; {fix}"
    if error is not None:
        yield EncodedPage(f"{name}#1", fmt="PDF", whole=False, error=error, **where, **common)
        return
    for index in range(n_pages):
        yield EncodedPage(f"{name}#{index + 1}", index, fmt="PDF", whole=False, **where, **common)


@contextlib.contextmanager
def _buffer(where: dict) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes without reading them all into memory (a file on disk is mapped)."""
    if where.get("data") is not None:
        yield where["data"]
        return
    with open(where["path"], "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        yield m


def _decode_raster_frame(page: EncodedPage, data: bytes | None) -> Page:
    """Frame `page.frame` of `data`, or of the file at `page.path` when `data` is None."""
    fmt = page.fmt or "image"
    fix = _FIX.get(fmt, "re-scan the sheet")
    where = f"{fmt} image" if page.whole else f"{fmt} page {page.frame + 1}"
    with contextlib.ExitStack() as stack:
        # a file that cannot be opened at all raises OSError here: the caller's to report
        source = data if data is not None else stack.enter_context(open(page.path or "", "rb"))
        try:
            img = _open_pillow(source, fmt)
            if page.frame:
                img.seek(page.frame)
            width_px, height_px = img.size
        except Exception as exc:  # any parser failure is bad content
            return Page(page.source, None, f"{where} is damaged or incomplete ({_why(exc)}); "
                        f"{fix}")
        if too_big := _too_big(width_px, height_px, page.max_pixels):
            return Page(page.source, None, too_big if page.whole else f"{where}: {too_big}")
        try:
            image = _to_array(img)
        except Exception as exc:
            return Page(page.source, None, f"{where} is damaged or incomplete ({_why(exc)}); "
                        f"{fix}")
        return Page(page.source, image, None, _dpi_of(img), data if page.whole else None)


def _decode_pdf_page(page: EncodedPage) -> Page:
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(page.data if page.data is not None else page.path)
        except Exception as exc:
            return Page(page.source, None, f"PDF cannot be opened ({_why(exc)}); {_FIX['PDF']}")
        try:
            name = page.source.rsplit("#", 1)[0]
            return _render_pdf_page(doc, page.frame, name, page.pdf_dpi, page.max_pixels)
        finally:
            doc.close()
