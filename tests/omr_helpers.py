"""Test helpers for omr: render a form page, draw voters' marks in its boxes, scan it badly.

Small and deterministic on purpose (the full simulator is `omr.sim`): a page is rendered from a
spec with `forms.render` and rasterised with pdfium; marks are drawn with OpenCV in the boxes'
`rect_mm` converted to pixels; `scan` applies a similarity transform (rotation, scale, shift),
blur, noise and JPEG. `make_fixtures()` writes the fixture images of tests/fixtures/omr/ with
their expected readings (regenerate them with `.venv/bin/python -m tests.omr_helpers`).
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from forms.render import render_pdf
from omr.layout import FormLayout

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "omr"
MM_PER_INCH = 25.4
BLACK_PEN = 25
BLUE_PEN_GREY = 60  # a blue ballpoint seen by a grey scanner
PENCIL = 135


@lru_cache(maxsize=8)
def layout(spec_name: str) -> dict:
    """The layout JSON of examples/<spec_name>.yaml."""
    return layout_to_dict(compile_layout(load_spec(EXAMPLES / f"{spec_name}.yaml")))


def grid_layout(partial: dict) -> FormLayout:
    """A typed layout from a sketch that gives only pages of boxes (a reader-grid test's
    layout): each page gets placeholder corner marks and code, each field its options in box
    order, the form a made-up identity; then parsed like any layout (a bad cell is refused
    there, by the model)."""
    pages = [{"fiducials_mm": [[0.0, 0.0, 5.0, 5.0]] * 4, "code_mm": [0.0, 0.0, 10.0, 10.0], **p}
             for p in partial["pages"]]
    fields: dict[str, dict] = {}
    for p in pages:
        for b in p.get("boxes", []):
            f = fields.setdefault(b["field"], {"id": b["field"], "label": b["field"],
                                               "page": p["page"], "min": 0, "max": 1,
                                               "options": []})
            f["options"].append(b["option"])
    doc = {"schema": partial.get("schema", "scantally.layout/1"),
           "form": {"id": "grid-test", "kind": "evaluation", "title": "grid", "hash": "0" * 64},
           "page_size_mm": partial.get("page_size_mm", [210.0, 297.0]),
           "pages": pages, "fields": list(fields.values())}
    return FormLayout.parse(doc)


@lru_cache(maxsize=16)
def _blank_page(spec_name: str, serial: str, page: int, dpi: int) -> np.ndarray:
    compiled = compile_layout(load_spec(EXAMPLES / f"{spec_name}.yaml"))
    doc = layout_to_dict(compiled)
    pdf = pdfium.PdfDocument(render_pdf(compiled, doc["form"]["hash"], [serial]))
    try:
        bitmap = pdf[page - 1].render(scale=dpi / 72.0, grayscale=True)
        return np.array(bitmap.to_pil().convert("L"))
    finally:
        pdf.close()


def blank_sheet(spec_name: str, serial: str = "000001", page: int = 1, dpi: int = 200
                ) -> np.ndarray:
    """A freshly printed page (grey uint8) of examples/<spec_name>.yaml."""
    return _blank_page(spec_name, serial, page, dpi).copy()


def box_rect(doc: dict, field: str, option: str, page: int = 1) -> list[float]:
    for box in doc["pages"][page - 1]["boxes"]:
        if box["field"] == field and box["option"] == option:
            return box["rect_mm"]
    raise KeyError((field, option))


def draw_mark(
    image: np.ndarray, rect_mm: list[float], kind: str, *, dpi: int = 200, ink: int = BLACK_PEN,
    pen_mm: float = 0.5, size: float = 1.0, seed: int = 0,
) -> None:
    """Draw a voter's mark (tick, cross, circle, fill, scribble, dot) in a box, in place."""
    rng = np.random.default_rng(seed)
    k = dpi / MM_PER_INCH
    x, y, w, h = rect_mm
    cx, cy = x + w / 2, y + h / 2

    def pt(u: float, v: float) -> tuple[int, int]:  # box-relative -1..1, scaled by size
        jx, jy = rng.normal(0, 0.03, 2)
        return (round((cx + (u + jx) * size * w / 2) * k * 16),
                round((cy + (v + jy) * size * h / 2) * k * 16))

    thick = max(1, round(pen_mm * k))
    line = {"color": int(ink), "thickness": thick, "lineType": cv2.LINE_AA, "shift": 4}
    if kind == "tick":
        pts = np.array([pt(-0.7, 0.05), pt(-0.2, 0.7), pt(0.75, -0.75)], np.int32)
        cv2.polylines(image, [pts], False, **line)
    elif kind == "cross":
        cv2.line(image, pt(-0.7, -0.7), pt(0.7, 0.7), **line)
        cv2.line(image, pt(0.7, -0.7), pt(-0.7, 0.7), **line)
    elif kind == "circle":
        c = pt(0, 0)
        axes = (round(w / 2 * 0.7 * size * k * 16), round(h / 2 * 0.7 * size * k * 16))
        cv2.ellipse(image, c, axes, 0, 0, 360, **line)
    elif kind == "fill":
        a, b = pt(-0.95, -0.95), pt(0.95, 0.95)
        cv2.rectangle(image, a, b, int(ink), -1, cv2.LINE_AA, 4)
    elif kind == "scribble":  # a tick scribbled over: dense zigzag
        draw_mark(image, rect_mm, "tick", dpi=dpi, ink=ink, pen_mm=pen_mm, seed=seed)
        us = np.linspace(-0.85, 0.85, 9)
        pts = np.array([pt(u, -0.8 if i % 2 else 0.8) for i, u in enumerate(us)], np.int32)
        cv2.polylines(image, [pts], False, **line)
    elif kind == "dot":
        cv2.circle(image, pt(0, 0), round(0.3 * k * 16), int(ink), -1, cv2.LINE_AA, 4)
    else:
        raise ValueError(kind)


def scan(
    page: np.ndarray, *, angle_deg: float = 0.0, scale: float = 1.0,
    shift_mm: tuple[float, float] = (0.0, 0.0), turns: int = 0, blur_px: float = 0.0,
    noise: float = 0.0, jpeg_quality: int | None = None, dpi: int = 200, seed: int = 0,
    bed_margin_mm: float = 10.0,
) -> np.ndarray:
    """Scan a page: rotate by `angle_deg` about its centre, scale, shift, turn by 90°·turns,
    blur (Gaussian sigma px), add Gaussian noise (sigma in grey levels), JPEG-compress. The
    scanner bed is the page plus `bed_margin_mm` on every side."""
    h, w = page.shape
    pad = round(bed_margin_mm * dpi / MM_PER_INCH)
    m = scan_matrix(page.shape, angle_deg=angle_deg, scale=scale, shift_mm=shift_mm, dpi=dpi,
                    bed_margin_mm=bed_margin_mm)
    out = cv2.warpAffine(page, m, (w + 2 * pad, h + 2 * pad), flags=cv2.INTER_LINEAR,
                         borderValue=255)
    if turns % 4:
        out = np.ascontiguousarray(np.rot90(out, turns % 4))
    if blur_px:
        out = cv2.GaussianBlur(out, (0, 0), blur_px)
    if noise:
        rng = np.random.default_rng(seed)
        out = np.clip(out + rng.normal(0, noise, out.shape), 0, 255).astype(np.uint8)
    if jpeg_quality:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        assert ok
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def scan_matrix(shape: tuple[int, ...], *, angle_deg: float = 0.0, scale: float = 1.0,
                shift_mm: tuple[float, float] = (0.0, 0.0), dpi: int = 200,
                bed_margin_mm: float = 10.0) -> np.ndarray:
    """The 2x3 page px -> scan px matrix `scan` applies before any 90° turn."""
    h, w = shape[:2]
    k = dpi / MM_PER_INCH
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale)
    m[:, 2] += np.array(shift_mm) * k + round(bed_margin_mm * k)
    return m


def draw_line(image: np.ndarray, p0_mm: tuple[float, float], p1_mm: tuple[float, float], *,
              width_mm: float, grey: int, dpi: int = 200) -> None:
    """A straight line across the page (a fold or a scanner streak), in place."""
    k = dpi / MM_PER_INCH
    a = (round(p0_mm[0] * k * 16), round(p0_mm[1] * k * 16))
    b = (round(p1_mm[0] * k * 16), round(p1_mm[1] * k * 16))
    cv2.line(image, a, b, int(grey), max(1, round(width_mm * k)), cv2.LINE_AA, 4)


def crumpled(sheet: np.ndarray, code_mm: list[float], dpi: int = 200) -> np.ndarray:
    """A sheet crumpled in waves of 2.5 mm (no one map puts its box borders where they are),
    its code kept flat so that it still decodes."""
    h, w = sheet.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    k = dpi / MM_PER_INCH
    dx = (2.5 * k * np.sin(yy / (20 * k) * 2 * np.pi)).astype(np.float32)
    dy = (2.5 * k * np.sin(xx / (25 * k) * 2 * np.pi)).astype(np.float32)
    warped = cv2.remap(sheet, xx + dx, yy + dy, cv2.INTER_LINEAR, borderValue=255)
    x, y, s, _ = code_mm
    box = slice(round((y - 3) * k), round((y + s + 3) * k)), slice(round((x - 3) * k),
                                                                   round((x + s + 3) * k))
    warped[box] = sheet[box]
    return warped


def expected_marks(doc: dict, votes: dict[str, list[str]], page: int = 1,
                   doubtful: dict[str, list[str]] | None = None) -> dict:
    """The `marks` of a reading: every field of the page, with `votes` marked."""
    doubtful = doubtful or {}
    return {
        f["id"]: {"marked": sorted(votes.get(f["id"], []), key=f["options"].index),
                  "doubtful": sorted(doubtful.get(f["id"], []), key=f["options"].index)}
        for f in doc["fields"] if f["page"] == page
    }


# ---------------------------------------------------------------- fixtures (tests/fixtures/omr)

#: fixture files: the pencil voter as a grey JPEG (pencil needs grey), the others as the
#: bitonal CCITT G4 TIFFs many sheet-fed scanners write - small enough to keep in the repository
FIXTURE_DPI = {"pencil": 150}
DEFAULT_FIXTURE_DPI = 200
FIXTURE_JPEG_QUALITY = 40
BITONAL_LEVEL = 160


def fixture_file(name: str) -> str:
    return f"{name}.jpg" if name == "pencil" else f"{name}.tif"


def _votes_eval(seed: int) -> dict[str, list[str]]:
    """One option for most rows of the evaluation sheet, a few rows left empty."""
    doc = layout("evaluation")
    rng = np.random.default_rng(seed)
    out = {}
    for f in doc["fields"]:
        if rng.random() < 0.85:
            out[f["id"]] = [f["options"][int(rng.integers(len(f["options"])))]]
    return out


def _marked_sheet(votes: dict[str, list[str]], *, serial: str, dpi: int, kind: str = "tick",
                  ink: int = BLACK_PEN, pen_mm: float = 0.5, seed: int = 0) -> np.ndarray:
    doc = layout("evaluation")
    img = blank_sheet("evaluation", serial, dpi=dpi)
    for i, (field, options) in enumerate(sorted(votes.items())):
        for option in options:
            draw_mark(img, box_rect(doc, field, option), kind, dpi=dpi, ink=ink, pen_mm=pen_mm,
                      seed=seed * 1000 + i)
    return img


def fixture_cases() -> dict[str, tuple[np.ndarray, dict]]:
    """name -> (scanned grey image, expected reading dict) for every fixture (before the file
    encoding of `make_fixtures`: bitonal for all but the pencil voter)."""
    doc = layout("evaluation")
    form = doc["form"]["id"]
    cases: dict[str, tuple[np.ndarray, dict]] = {}

    def expect(name: str, serial: str, votes: dict) -> dict:
        return {"source": f"{fixture_file(name)}#1", "form": form, "page": 1, "serial": serial,
                "status": "ok", "marks": expected_marks(doc, votes)}

    dpi = DEFAULT_FIXTURE_DPI
    votes = _votes_eval(1)
    img = _marked_sheet(votes, serial="000101", kind="cross", seed=1, dpi=dpi)
    cases["photocopy97"] = (scan(img, scale=0.97, angle_deg=-2.5, shift_mm=(4, -6), blur_px=0.7,
                                 noise=2, dpi=dpi, seed=1),
                            expect("photocopy97", "000101", votes))
    votes = _votes_eval(2)
    img = _marked_sheet(votes, serial="000102", seed=2, dpi=dpi)
    # a crease right across leader row 5, through its boxes
    y = box_rect(doc, "leader.P310228", "excellent")[1] + 2.5
    draw_line(img, (0, y - 1.5), (210, y + 1.0), width_mm=0.4, grey=90, dpi=dpi)
    cases["fold"] = (scan(img, angle_deg=1.2, blur_px=0.6, noise=2, dpi=dpi, seed=2),
                     expect("fold", "000102", votes))
    votes = _votes_eval(3)
    img = _marked_sheet(votes, serial="000103", kind="circle", seed=3, dpi=dpi)
    page = scan(img, angle_deg=0.6, blur_px=0.6, noise=2, dpi=dpi, seed=3)
    # a scanner streak (image columns) through the "competent" column of the leaders' boxes
    rect = box_rect(doc, "leader.P310228", "competent")
    centre_px = np.array([rect[0] + rect[2] * 0.4, rect[1] + rect[3] / 2]) * dpi / MM_PER_INCH
    x = round((scan_matrix(img.shape, angle_deg=0.6, dpi=dpi) @ [*centre_px, 1.0])[0])
    page[:, x:x + 2] = 40
    cases["streak"] = (page, expect("streak", "000103", votes))
    votes = _votes_eval(4)
    pencil_dpi = FIXTURE_DPI["pencil"]
    img = _marked_sheet(votes, serial="000104", ink=PENCIL, pen_mm=0.4, seed=4, dpi=pencil_dpi)
    cases["pencil"] = (scan(img, angle_deg=-0.8, blur_px=0.7, noise=2, dpi=pencil_dpi, seed=4),
                       expect("pencil", "000104", votes))
    votes = _votes_eval(5)
    img = _marked_sheet(votes, serial="000105", ink=BLUE_PEN_GREY, seed=5, dpi=dpi)
    cases["upside_down"] = (scan(img, angle_deg=0.7, turns=2, blur_px=0.6, noise=2, dpi=dpi,
                                 seed=5),
                            expect("upside_down", "000105", votes))
    return cases


def encode_jpeg(image: np.ndarray, dpi: int, quality: int = FIXTURE_JPEG_QUALITY) -> bytes:
    """A grey page as a JPEG with its resolution recorded, as a scanner writes it."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality, optimize=True, dpi=(dpi, dpi))
    return buf.getvalue()


def encode_g4(image: np.ndarray, dpi: int, level: int = BITONAL_LEVEL) -> bytes:
    """A grey page thresholded to black and white, as a CCITT G4 TIFF."""
    buf = io.BytesIO()
    Image.fromarray(image > level).convert("1").save(buf, "TIFF", compression="group4",
                                                      dpi=(dpi, dpi))
    return buf.getvalue()


def make_fixtures(folder: Path = FIXTURES) -> None:
    """Write every fixture image (see `fixture_file`) and <name>.json (expected reading)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (image, expected) in fixture_cases().items():
        dpi = FIXTURE_DPI.get(name, DEFAULT_FIXTURE_DPI)
        data = encode_jpeg(image, dpi) if name == "pencil" else encode_g4(image, dpi)
        (folder / fixture_file(name)).write_bytes(data)
        (folder / f"{name}.json").write_text(
            json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    make_fixtures()
    print(f"wrote fixtures to {FIXTURES}")
