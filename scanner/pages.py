"""Pages as a source hands them over: encoded, not decoded (`EncodedPage`), and their decoding.

A source never decodes pixels: `plan_pages(name, data=... | path=...)` looks at a file's
structure only (a TIFF's directory chain, a PDF's page count, the header of a JPEG/PNG) and
yields one `EncodedPage` per page, lazily, one at a time: a multi-page file is never held as a
list of decoded pages. `EncodedPage.decode()` decodes that one page (in the OMR worker process,
once) into a `scanner.images.Page`; a TIFF page is opened at its own directory, never by
walking the pages before it. A problem found before decoding (an empty or unknown file, a page
cut short, a file over a cap of `PageLimits`) is the page's `error`, in words for the operator,
naming the file and the setting to raise: a file over `max_tiff_frames` / `max_pdf_pages` is one
refused page, found by counting its pages (a 10,000-frame TIFF is not walked past the cap).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scanner.images import (
    _FIX,
    _PDFIUM_LOCK,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    Page,
    PageLimits,
    _dpi_of,
    _open_pillow,
    _render_pdf_page,
    _to_array,
    _too_big,
    _why,
    count_problem,
    sniff_format,
)
from scanner.tiffcheck import check_tiff

__all__ = ["EncodedPage", "PageLimits", "count_problem", "file_count_problem", "plan_pages"]

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
    #: TIFF: where this page's directory (IFD) starts, so it is opened without walking the rest
    ifd_offset: int | None = None

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


def file_count_problem(name: str, path: str | Path, limits: PageLimits) -> str | None:
    """Why the PDF or TIFF at `path` is refused by its page count (`count_problem`), or None
    (any other file, or one whose structure is broken: that is its pages' to say)."""
    with open(path, "rb") as fh:
        fmt = sniff_format(fh.read(1024))
    if fmt == "TIFF":
        with _buffer({"path": str(path)}) as buffer:
            structure = check_tiff(buffer, limits.max_tiff_frames)  # type: ignore[arg-type]
        return count_problem(name, fmt, len(structure.pages), structure.over, limits)
    if fmt == "PDF":
        n_pages = _pdf_page_count(str(path))
        return None if n_pages is None else count_problem(name, fmt, n_pages, False, limits)
    return None


def _pdf_page_count(source: str | bytes) -> int | None:
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(source)
        except Exception:  # a broken PDF: its one page says why, when it is read
            return None
        try:
            return len(doc)
        finally:
            doc.close()


def plan_pages(name: str, *, data: bytes | None = None, path: str | Path | None = None,
               dpi: float | None = None, pdf_dpi: float = 200, max_pixels: int | None = None,
               max_file_bytes: int | None = None, limits: PageLimits | None = None
               ) -> Iterator[EncodedPage]:
    """The pages of one file, from its structure only, labelled "name#k", under `limits`
    (`max_pixels`, `max_file_bytes`: the same caps given alone). Give `data` or `path`; an
    OSError reading `path` is raised at once (not on the first page)."""
    limits = limits or PageLimits()
    if max_pixels is not None or max_file_bytes is not None:
        limits = dataclasses.replace(limits, max_pixels=max_pixels or limits.max_pixels,
                                     max_file_bytes=max_file_bytes or limits.max_file_bytes)
    common = {"dpi": dpi, "pdf_dpi": pdf_dpi, "max_pixels": limits.max_pixels}
    where = {"data": data} if data is not None else {"path": str(path)}
    if data is None:
        assert path is not None
        size_bytes = Path(path).stat().st_size
        max_file_bytes = limits.max_file_bytes
        if size_bytes > max_file_bytes:
            problem = (f"file is {size_bytes / 2**20:.0f} MiB, over the "
                       f"{max_file_bytes / 2**20:.0f} MiB limit for one scan (max_file_bytes); "
                       "split it or scan at a lower resolution")
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
        return _plan_pdf(name, where, common, limits)
    if fmt == "TIFF":
        return _plan_tiff(name, where, common, limits)
    return iter([EncodedPage(f"{name}#1", fmt=fmt, **where, **common)])


def _plan_tiff(name: str, where: dict, common: dict, limits: PageLimits
               ) -> Iterator[EncodedPage]:
    fix = _FIX.get("TIFF", "re-scan the sheet")
    with _buffer(where) as buffer:
        structure = check_tiff(buffer, limits.max_tiff_frames)  # type: ignore[arg-type]
    n_frames = len(structure.pages)
    if too_many := count_problem(name, "TIFF", n_frames, structure.over, limits):
        yield EncodedPage(f"{name}#1", fmt="TIFF", whole=False, error=too_many, **where,
                          **common)
        return
    single = n_frames == 1 and structure.tail is None
    for index, problem in enumerate(structure.pages):
        what = "TIFF image" if single else f"TIFF page {index + 1}"
        error = f"{what} is incomplete: {problem}; {fix}" if problem else None
        yield EncodedPage(f"{name}#{index + 1}", index, fmt="TIFF", whole=single, error=error,
                          ifd_offset=structure.offsets[index], **where, **common)
    if structure.tail:
        what = (f"TIFF page {n_frames + 1} (and any after it) is missing" if n_frames
                else "TIFF file is damaged")
        yield EncodedPage(f"{name}#{n_frames + 1}", n_frames, fmt="TIFF", whole=False,
                          error=f"{what}: {structure.tail}; {fix}", **where, **common)


def _plan_pdf(name: str, where: dict, common: dict, limits: PageLimits
              ) -> Iterator[EncodedPage]:
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
    if error is None:
        error = count_problem(name, "PDF", n_pages, False, limits)
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
            if page.frame and page.ifd_offset is not None:  # straight to its directory
                img = _open_pillow(_FromDirectory(_as_file(source), page.ifd_offset), fmt)
            else:
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


def _as_file(source: bytes | BinaryIO) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes | bytearray) else source


class _FromDirectory:
    """A TIFF file read as if its first directory (IFD) were the one at `ifd_offset`: Pillow
    opens page k at once instead of walking the k directories before it (a 1,000-frame file
    would cost 500,000 directory reads). Only the header's first-directory pointer differs; every
    other byte stays where it is, so strip offsets and libtiff's own reads (by file descriptor,
    or of the whole buffer, at the directory's real offset) are unchanged."""

    def __init__(self, base: BinaryIO, ifd_offset: int) -> None:
        self._base = base
        base.seek(0)
        head = base.read(16)
        base.seek(0)
        order = "<" if head[:2] == b"II" else ">"
        big = head[2:4] in (b"+\x00", b"\x00+")
        self._head = (head[:8] + struct.pack(order + "Q", ifd_offset) if big
                      else head[:4] + struct.pack(order + "I", ifd_offset))
        if hasattr(base, "getvalue"):  # libtiff decodes an in-memory file whole
            self.getvalue = base.getvalue

    def read(self, n: int = -1) -> bytes:
        at = self._base.tell()
        data = self._base.read(n)
        if at < len(self._head):
            k = min(len(self._head) - at, len(data))
            data = self._head[at:at + k] + data[k:]
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._base.seek(offset, whence)

    def tell(self) -> int:
        return self._base.tell()

    def fileno(self) -> int:
        return self._base.fileno()


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
