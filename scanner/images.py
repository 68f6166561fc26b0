"""Decode image files (JPEG, PNG, TIFF incl. multi-page and CCITT G4, PDF) into pages.

`iter_pages(path)` and `iter_bytes(data, name)` turn one file into `Page`s, lazily: one per TIFF
frame or PDF page, one for a JPEG/PNG. Each page carries a uint8 numpy image - grey (H, W) or
colour RGB (H, W, 3) - and its dpi when the file says it, or, when it cannot be decoded, `image`
None and an `error` a person understands. Bad content never raises (empty, truncated, not an
image, a decompression bomb, a broken PDF); only a missing/unreadable path does.

Image dimensions are checked from the header before any pixel is decoded (`max_pixels`); a
TIFF of more than `MAX_TIFF_FRAMES` frames or a PDF of more than `MAX_PDF_PAGES` pages is one
page refused by its count.
PDF pages are rasterised with pypdfium2 at `pdf_dpi`; a page with no colour comes out grey.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from scanner.tiffcheck import TiffCheck, check_tiff

__all__ = ["MAX_FILE_BYTES", "MAX_PDF_PAGES", "MAX_PIXELS", "MAX_TIFF_FRAMES", "Page",
           "iter_bytes", "iter_pages", "sniff_format"]

#: the defaults of the caps every decoder applies (`scanner.pages.PageLimits`; the settings a
#: server or a CLI run takes are `intake.limits.IntakeLimits`)
MAX_PIXELS = 150_000_000
MAX_FILE_BYTES = 1024 * 1024 * 1024
#: a scanner's stack is a few hundred sheets: a file of more pages is refused by its count
MAX_PDF_PAGES = 1000
MAX_TIFF_FRAMES = 1000
_POINTS_PER_INCH = 72.0
_EXIF_ORIENTATION = 0x0112
#: pdfium is not thread-safe: every call into it goes through this lock
_PDFIUM_LOCK = threading.Lock()
_FIX = {
    "JPEG": "re-scan the sheet",
    "PDF": "re-export or re-scan the document",
}


@dataclass
class Page:
    """One page of an image file: decoded pixels, or the reason they could not be decoded."""

    #: "name.tiff#2" (1-based page number)
    source: str
    #: uint8, grey (H, W) or colour (H, W, 3) RGB; None when the page could not be decoded
    image: np.ndarray | None
    #: why the page could not be decoded, in words for the operator; None when it was
    error: str | None = None
    #: resolution from the file's metadata (PDF: the rasterising dpi); None when unknown
    dpi: float | None = None
    #: the encoded file when it holds exactly this one image (for a content-addressed store)
    data: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.image is not None


def sniff_format(data: bytes) -> str | None:
    """Name the container from its magic bytes: JPEG, PNG, TIFF, PDF, BMP, GIF, WEBP or None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if b"%PDF-" in data[:1024]:
        return "PDF"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def iter_pages(
    path: str | Path,
    *,
    pdf_dpi: float = 200,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Iterator[Page]:
    """Yield every page of the image/PDF file at `path`, labelled `name` (default: the path).

    Raises FileNotFoundError (or another OSError) at once when the file cannot be read at all;
    any problem with its content becomes a `Page` with `image` None and `error` set. Pages are
    decoded lazily, one at a time.
    """
    label = str(path) if name is None else name
    size_bytes = Path(path).stat().st_size
    if size_bytes > max_file_bytes:
        problem = (
            f"file is {size_bytes / 2**20:.0f} MiB, over the {max_file_bytes / 2**20:.0f} MiB "
            "limit for one scan (max_file_bytes); split it or scan at a lower resolution"
        )
        return iter([Page(f"{label}#1", None, problem)])
    return _iter_data(Path(path).read_bytes(), label, pdf_dpi, max_pixels)


def iter_bytes(
    data: bytes, name: str, *, pdf_dpi: float = 200, max_pixels: int = MAX_PIXELS
) -> Iterator[Page]:
    """Decode a file held in memory, lazily, page by page; same rules as `iter_pages`."""
    return _iter_data(bytes(data), name, pdf_dpi, max_pixels)


def _iter_data(data: bytes, name: str, pdf_dpi: float, max_pixels: int) -> Iterator[Page]:
    if not data:
        yield Page(f"{name}#1", None, "file is empty (0 bytes); re-scan the sheet")
        return
    fmt = sniff_format(data)
    if fmt is None:
        yield Page(
            f"{name}#1",
            None,
            f"not an image or PDF (content starts {data[:8]!r}); "
            "expected a JPEG, PNG, TIFF or PDF file from the scanner",
        )
    elif fmt == "PDF":
        yield from _iter_pdf(data, name, pdf_dpi, max_pixels)
    else:
        yield from _iter_raster(data, fmt, name, max_pixels)


@dataclass(frozen=True)
class PageLimits:
    """The caps a file's pages are planned and decoded under (each refusal names its field)."""

    #: pixels of one decoded page (a 300 dpi A3 sheet is 17 Mpx)
    max_pixels: int = MAX_PIXELS
    #: bytes of one scanned file read from disk
    max_file_bytes: int = MAX_FILE_BYTES
    #: pages of one PDF
    max_pdf_pages: int = MAX_PDF_PAGES
    #: frames (pages) of one TIFF
    max_tiff_frames: int = MAX_TIFF_FRAMES


def count_problem(name: str, fmt: str, pages: int, over: bool, limits: PageLimits) -> str | None:
    """Why a file of `pages` pages (`over`: more than that, the count stopped at the cap) is
    refused by its page count, or None."""
    setting, cap = (("max_pdf_pages", limits.max_pdf_pages) if fmt == "PDF"
                    else ("max_tiff_frames", limits.max_tiff_frames))
    if not over and pages <= cap:
        return None
    what = "pages" if fmt == "PDF" else "frames"
    count = f"more than {cap:,}" if over else f"{pages:,}"
    return (f"{name}: the {fmt} has {count} {what}, over the limit of {cap:,} per file "
            f"({setting}); nothing of it was read. A stack is scanned a few hundred sheets at a "
            f"time: split the file, or raise {setting} if such files are expected")


def _count_problem(name: str, fmt: str, pages: int, over: bool) -> str | None:
    if fmt not in ("TIFF", "PDF"):
        return None
    return count_problem(name, fmt, pages, over, PageLimits())


def _too_big(width_px: int, height_px: int, max_pixels: int) -> str | None:
    if width_px <= 0 or height_px <= 0:
        return f"image has impossible dimensions {width_px}x{height_px} px; re-scan the sheet"
    if width_px * height_px > max_pixels:
        return (
            f"image is {width_px}x{height_px} px, over the {max_pixels / 1e6:g} Mpx limit "
            "(max_pixels); scan at a lower resolution (200-300 dpi is enough for a ballot)"
        )
    return None


def _open_pillow(data: bytes | BinaryIO, fmt: str) -> Image.Image:
    """Parse the header only, with Pillow's plugin for the format we sniffed (never its whole
    plugin list: no EPS and the like), skipping Pillow's global decompression-bomb check: we
    apply our own `max_pixels`, with a clearer message, to every frame."""
    Image.init()
    factory, accept = Image.OPEN[fmt]
    fh = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    head = fh.read(16)
    fh.seek(0)
    if accept is not None and not accept(head):
        raise SyntaxError(f"not a valid {fmt} header")
    return factory(fh, "")


def _iter_raster(data: bytes, fmt: str, name: str, max_pixels: int) -> Iterator[Page]:
    fix = _FIX.get(fmt, "re-scan the sheet")
    # a JPEG may carry extra pictures (MPO thumbnails): only TIFF frames are pages
    structure = check_tiff(data, MAX_TIFF_FRAMES) if fmt == "TIFF" else TiffCheck(pages=[None])
    n_frames = len(structure.pages)
    if problem := _count_problem(name, fmt, n_frames, structure.over):
        yield Page(f"{name}#1", None, problem)
        return
    single = n_frames == 1 and structure.tail is None
    img: Image.Image | None = None
    for index, problem in enumerate(structure.pages):
        source = f"{name}#{index + 1}"
        where = f"{fmt} page {index + 1}" if not single else f"{fmt} image"
        if problem:
            yield Page(source, None, f"{where} is incomplete: {problem}; {fix}")
            continue
        try:
            if img is None:  # (re)open: after a failure Pillow's frame state may be stale
                img = _open_pillow(data, fmt)
            if index:
                img.seek(index)
            width_px, height_px = img.size
        except Exception as exc:  # any parser failure is bad content
            img = None
            yield Page(source, None, f"{where} is damaged or incomplete ({_why(exc)}); {fix}")
            continue
        if too_big := _too_big(width_px, height_px, max_pixels):
            yield Page(source, None, f"{where}: {too_big}" if not single else too_big)
            continue
        try:
            image = _to_array(img)
        except Exception as exc:
            img = None
            yield Page(source, None, f"{where} is damaged or incomplete ({_why(exc)}); {fix}")
            continue
        yield Page(source, image, None, _dpi_of(img), data if single else None)
    if structure.tail:
        where = (
            f"{fmt} page {n_frames + 1} (and any after it) is missing"
            if n_frames
            else f"{fmt} file is damaged"
        )
        yield Page(f"{name}#{n_frames + 1}", None, f"{where}: {structure.tail}; {fix}")


def _to_array(img: Image.Image) -> np.ndarray:
    """Decode the current frame to uint8 grey (H, W) or RGB (H, W, 3), upright per EXIF."""
    img.load()
    orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation in range(2, 9):
        img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode in ("1", "L"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if mode.startswith(("I", "F")):  # 16/32-bit grey, float
        return _to_uint8(np.asarray(img))
    if mode in ("LA", "RGBA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)  # transparent areas read as white paper
        img = flat.convert("L" if mode == "LA" else "RGB")
        return np.asarray(img, dtype=np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.integer):
        top = int(values.max()) if values.size else 0
        if top <= 255:
            return values.astype(np.uint8)
        shift = 8 if top <= 0xFFFF else max(0, top.bit_length() - 8)
        return (values.astype(np.int64) >> shift).clip(0, 255).astype(np.uint8)
    floats = np.nan_to_num(values.astype(np.float64))
    top = float(floats.max()) if floats.size else 0.0
    scale = 255.0 if top <= 1.0 else 255.0 / top
    return (floats * scale).clip(0, 255).round().astype(np.uint8)


def _dpi_of(img: Image.Image) -> float | None:
    dpi = img.info.get("dpi")
    try:
        x_dpi = float(dpi[0]) if isinstance(dpi, tuple | list) else float(dpi)
    except (TypeError, ValueError, IndexError):
        return None
    if not np.isfinite(x_dpi) or x_dpi <= 1:
        return None
    # PNG stores pixels per metre: 200 dpi comes back as 199.9996
    return float(round(x_dpi)) if abs(x_dpi - round(x_dpi)) < 0.01 else x_dpi


def _iter_pdf(data: bytes, name: str, pdf_dpi: float, max_pixels: int) -> Iterator[Page]:
    import pypdfium2 as pdfium

    fix = _FIX["PDF"]
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(data)
            n_pages = len(doc)
        except pdfium.PdfiumError as exc:
            text = str(exc)
            if "password" in text.lower():
                yield Page(f"{name}#1", None, "PDF is password-protected; save an unprotected copy")
            else:
                yield Page(f"{name}#1", None, f"PDF cannot be opened ({text}); {fix}")
            return
        except Exception as exc:
            yield Page(f"{name}#1", None, f"PDF cannot be opened ({_why(exc)}); {fix}")
            return
    try:
        if n_pages == 0:
            yield Page(f"{name}#1", None, f"PDF has no pages; {fix}")
            return
        if problem := _count_problem(name, "PDF", n_pages, False):
            yield Page(f"{name}#1", None, problem)
            return
        for index in range(n_pages):
            with _PDFIUM_LOCK:
                page = _render_pdf_page(doc, index, name, pdf_dpi, max_pixels)
            yield page  # yield outside the lock: the consumer may take its time
    finally:
        with _PDFIUM_LOCK:
            doc.close()


def _render_pdf_page(doc: object, index: int, name: str, pdf_dpi: float, max_pixels: int) -> Page:
    source = f"{name}#{index + 1}"
    where = f"PDF page {index + 1}"
    try:
        page = doc[index]  # type: ignore[index]
        try:
            width_pt, height_pt = page.get_size()
            if page.get_rotation() in (90, 270):
                width_pt, height_pt = height_pt, width_pt
            scale = pdf_dpi / _POINTS_PER_INCH
            width_px, height_px = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
            if width_px <= 0 or height_px <= 0:
                return Page(source, None, f"{where} has no area; {_FIX['PDF']}", float(pdf_dpi))
            if _too_big(width_px, height_px, max_pixels):
                problem = (
                    f"{where} would be {width_px}x{height_px} px at {pdf_dpi:g} dpi, over the "
                    f"{max_pixels / 1e6:g} Mpx limit (max_pixels); the page is far larger than "
                    "a ballot sheet or the dpi is too high"
                )
                return Page(source, None, problem, float(pdf_dpi))
            bitmap = page.render(scale=scale, rev_byteorder=True)
            try:
                rgb = np.array(bitmap.to_numpy()[:, :, :3], dtype=np.uint8)  # own the memory
            finally:
                bitmap.close()
        finally:
            page.close()
    except Exception as exc:
        return Page(source, None, f"{where} cannot be rendered ({_why(exc)}); {_FIX['PDF']}")
    red = rgb[:, :, 0]
    if np.array_equal(red, rgb[:, :, 1]) and np.array_equal(red, rgb[:, :, 2]):
        return Page(source, np.ascontiguousarray(red), None, float(pdf_dpi))
    return Page(source, rgb, None, float(pdf_dpi))


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG of a grey (H, W) or RGB (H, W, 3) uint8 page (a page that came as pixels,
    or one page of a multi-page file, as the store keeps it)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), "RGB" if image.ndim == 3 else "L").save(
        out, "PNG", compress_level=1)
    return out.getvalue()
