"""Shared helpers of the forms tests: the examples, the CLI, rendered pages and edge finding.

Geometry is measured on pdfium rasters: a pixel at `dpi` covers [i, i + 1) * 25.4 / dpi mm, so
a darkness profile across an edge crosses 0.5 where the printed edge is (to a fraction of a
pixel). Nothing here asserts; the tests do.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import yaml
import zxingcpp
from click.testing import Result
from typer.testing import CliRunner

from forms.layout import CompiledLayout, compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from forms.render import render_pdf, sequential_serials
from forms.spec import FormSpec
from server.cli.form import form_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
EXAMPLE_NAMES = [p.stem for p in EXAMPLES]
INVALID_DIR = Path(__file__).resolve().parent / "specs" / "invalid"
MM_PER_INCH = 25.4

Rect = tuple[float, float, float, float]


def run_form(*args: str | Path) -> Result:
    """`scantally form ARGS…` in-process; stdout and stderr captured separately."""
    return CliRunner().invoke(form_app, [str(a) for a in args])


def squash(text: str) -> str:
    """Text without any whitespace: rich wraps long error lines at the console width."""
    return "".join(text.split())


@lru_cache(maxsize=16)
def compiled(name: str, paper: str | None = None) -> tuple[FormSpec, CompiledLayout, dict]:
    """examples/<name>.yaml (optionally on other paper): spec, compiled layout, layout JSON."""
    spec = load_spec(ROOT / "examples" / f"{name}.yaml")
    if paper is not None:
        spec = spec.model_copy(update={"paper": paper})
    layout = compile_layout(spec)
    return spec, layout, layout_to_dict(layout)


@lru_cache(maxsize=16)
def one_copy_pdf(name: str, paper: str | None = None) -> bytes:
    """One copy (serial 000001) of every page of an example."""
    _, layout, doc = compiled(name, paper)
    return render_pdf(layout, doc["form"]["hash"], sequential_serials(1))


def raster(pdf: bytes, index: int, dpi: int) -> np.ndarray:
    """Page `index` (0-based) of a PDF as grey uint8, white paper = 255."""
    document = pdfium.PdfDocument(pdf)
    try:
        bitmap = document[index].render(scale=dpi / 72.0, grayscale=True)
        return np.array(bitmap.to_numpy(), dtype=np.uint8).squeeze()
    finally:
        document.close()


def page_texts(pdf: bytes) -> list[str]:
    """The extractable text of every page."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def text_box_mm(pdf: bytes, index: int, needle: str) -> Rect | None:
    """Where `needle` is printed on page `index`: [x, y, w, h] in mm from the top-left."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[index]
        height_pt = page.get_height()
        textpage = page.get_textpage()
        found = textpage.search(needle).get_next()
        if found is None:
            return None
        start, count = found
        boxes = [textpage.get_charbox(i) for i in range(start, start + count)]
        left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
        bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
        k = MM_PER_INCH / 72.0
        return (left * k, (height_pt - top) * k, (right - left) * k, (top - bottom) * k)
    finally:
        document.close()


class _PlainDateLoader(yaml.SafeLoader):
    """YAML as an editor validating against the JSON Schema sees it: dates stay strings."""


_PlainDateLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_data(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_PlainDateLoader)


# --- edge finding -------------------------------------------------------------------------


def px_per_mm(dpi: int) -> float:
    return dpi / MM_PER_INCH


def _profile(img: np.ndarray, dpi: int, along_x: bool, band_mm: tuple[float, float],
             window_mm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Darkness (0 white .. 1 black) across a window, averaged over a band; pixel centres (mm)."""
    k = px_per_mm(dpi)
    b0 = round(band_mm[0] * k)
    b1 = max(round(band_mm[1] * k), b0 + 1)
    w0, w1 = math.floor(window_mm[0] * k), math.ceil(window_mm[1] * k)
    block = img[b0:b1, w0:w1] if along_x else img[w0:w1, b0:b1].T
    darkness = 1.0 - block.astype(np.float64).mean(axis=0) / 255.0
    centres = (np.arange(w0, w0 + darkness.size) + 0.5) / k
    return centres, darkness


def _crossings(centres: np.ndarray, darkness: np.ndarray, rising: bool) -> list[float]:
    """Where the profile crosses half darkness, going up (`rising`) or down, in mm."""
    out: list[float] = []
    for i in range(darkness.size - 1):
        a, b = darkness[i], darkness[i + 1]
        if (a < 0.5 <= b) if rising else (a >= 0.5 > b):
            out.append(float(centres[i] + (0.5 - a) / (b - a) * (centres[i + 1] - centres[i])))
    return out


def _side(rect: Rect, side: str) -> tuple[bool, float, tuple[float, float]]:
    """(along x?, expected edge, band across which the profile is averaged) of a rect side."""
    x, y, w, h = rect
    if side in ("left", "right"):
        return True, x if side == "left" else x + w, (y + 0.25 * h, y + 0.75 * h)
    return False, y if side == "top" else y + h, (x + 0.25 * w, x + 0.75 * w)


SIDES = ("left", "top", "right", "bottom")


def box_border(img: np.ndarray, dpi: int, rect: Rect, side: str,
               search_mm: float = 0.8) -> tuple[float, float] | None:
    """The printed border of a hollow box near `rect`'s `side`: (inner edge mm, thickness mm).

    `rect` is the box's inside: the border is dark outside it and white inside. None when no
    dark-to-white edge is within `search_mm` of where `rect` says.
    """
    along_x, expected, band = _side(rect, side)
    centres, dark = _profile(img, dpi, along_x, band, (expected - search_mm, expected + search_mm))
    # walking in +x/+y: the inside of the box is after a left/top edge, before a right/bottom one
    inward = side in ("left", "top")
    inner = _crossings(centres, dark, rising=not inward)
    outer = _crossings(centres, dark, rising=inward)
    if not inner:
        return None
    edge = min(inner, key=lambda v: abs(v - expected))
    beyond = [v for v in outer if (v < edge if inward else v > edge)]
    if not beyond:
        return edge, math.inf
    out_edge = max(beyond) if inward else min(beyond)
    return edge, abs(edge - out_edge)


def solid_edge(img: np.ndarray, dpi: int, rect: Rect, side: str,
               search_mm: float = 0.8) -> float | None:
    """The printed edge of a filled rectangle (fiducial, timing mark) near `rect`'s `side`."""
    along_x, expected, band = _side(rect, side)
    centres, dark = _profile(img, dpi, along_x, band, (expected - search_mm, expected + search_mm))
    found = _crossings(centres, dark, rising=side in ("left", "top"))
    return min(found, key=lambda v: abs(v - expected)) if found else None


def mean_darkness(img: np.ndarray, dpi: int, rect: Rect, inset_mm: float = 0.0) -> float:
    """Mean darkness (0 white .. 1 black) inside `rect` shrunk by `inset_mm` on every side."""
    k = px_per_mm(dpi)
    x, y, w, h = rect
    x0, y0 = math.ceil((x + inset_mm) * k), math.ceil((y + inset_mm) * k)
    x1, y1 = math.floor((x + w - inset_mm) * k), math.floor((y + h - inset_mm) * k)
    return float(1.0 - img[y0:y1, x0:x1].astype(np.float64).mean() / 255.0)


def dark_bbox_mm(img: np.ndarray, dpi: int, rect: Rect, threshold: float = 0.5) -> Rect | None:
    """Bounding box [x, y, w, h] (mm, pixel edges) of the dark pixels inside `rect`."""
    k = px_per_mm(dpi)
    x, y, w, h = rect
    x0, y0 = math.floor(x * k), math.floor(y * k)
    block = img[y0:math.ceil((y + h) * k), x0:math.ceil((x + w) * k)]
    dark = block < 255 * (1.0 - threshold)
    if not dark.any():
        return None
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    return ((x0 + cols[0]) / k, (y0 + rows[0]) / k, (cols[-1] + 1 - cols[0]) / k,
            (rows[-1] + 1 - rows[0]) / k)


# --- the whole check of a printed page against its layout -------------------------------

TOLERANCE_MM = 0.3
QR_QUIET_MODULES = 2  # modules of white inside code_mm around the symbol


def qr_modules(img: np.ndarray) -> int | None:
    """Modules per side of the QR code zxing-cpp finds on a page (from its version)."""
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    if len(found) != 1:
        return None
    return 17 + 4 * int(found[0].extra["Version"])


def geometry_problems(img: np.ndarray, dpi: int, page: dict) -> list[str]:
    """Every way the raster of one page differs from its layout JSON page by > 0.3 mm."""
    problems: list[str] = []

    def off(what: str, measured: float | None, expected: float) -> None:
        if measured is None:
            problems.append(f"{what}: no printed edge near {expected:.2f} mm")
        elif abs(measured - expected) > TOLERANCE_MM:
            problems.append(f"{what}: printed at {measured:.2f} mm, layout says {expected:.2f}")

    for box in page["boxes"]:
        rect = tuple(box["rect_mm"])
        name = f"box {box['field']}/{box['option']}"
        for side in SIDES:
            found = box_border(img, dpi, rect, side)
            off(f"{name} {side}", None if found is None else found[0], _side(rect, side)[1])
            if found is not None and not 0.2 <= found[1] <= 0.6:
                problems.append(f"{name} {side}: border {found[1]:.2f} mm thick, not 0.35")
        if mean_darkness(img, dpi, rect, inset_mm=0.3) > 0.02:
            problems.append(f"{name}: something is printed inside the box")
    for i, fid in enumerate(page["fiducials_mm"]):
        for side in SIDES:
            off(f"fiducial {i} {side}", solid_edge(img, dpi, tuple(fid), side),
                _side(tuple(fid), side)[1])
        if mean_darkness(img, dpi, tuple(fid), inset_mm=0.3) < 0.97:
            problems.append(f"fiducial {i} is not solid black")
    for i, mark in enumerate(page.get("timing_mm", [])):
        for side in SIDES:
            off(f"timing mark {i} {side}", solid_edge(img, dpi, tuple(mark), side),
                _side(tuple(mark), side)[1])
        if mean_darkness(img, dpi, tuple(mark), inset_mm=0.2) < 0.95:
            problems.append(f"timing mark {i} is not printed solid")
    # the QR symbol fills code_mm less its 2-module quiet zone, and nothing else is printed
    # within 0.8 mm around code_mm (1 mm kept clear; the serial line sits just beyond)
    x, y, size, _ = page["code_mm"]
    modules = qr_modules(img)
    if modules is None:
        problems.append("no single QR code decodes on the page")
        return problems
    quiet = QR_QUIET_MODULES * size / (modules + 2 * QR_QUIET_MODULES)
    seen = dark_bbox_mm(img, dpi, (x - 0.8, y - 0.8, size + 1.6, size + 1.6))
    expected = (x + quiet, y + quiet, size - 2 * quiet, size - 2 * quiet)
    if seen is None:
        problems.append("nothing printed at code_mm")
    else:
        for label, a, b in zip(("left", "top", "right", "bottom"),
                               (seen[0], seen[1], seen[0] + seen[2], seen[1] + seen[3]),
                               (expected[0], expected[1], expected[0] + expected[2],
                                expected[1] + expected[3]), strict=True):
            off(f"QR symbol {label}", a, b)
    return problems
