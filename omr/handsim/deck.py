"""A deck: N sheets of one form, marked and scanned, written as image files plus truth.json.

`truth.json` is a JSON list in the field-report format: per image {"image": file name,
"form": "forms/<spec file>" (a copy of the spec, relative to the deck folder), "boxes":
{field: {option: clear|empty|cancel|faint}}, "model": "handsim"}, and "refuse": "<cause>" only
when a correct reader cannot read the sheet. `deck.json` beside it records, per image, the pens,
the voter's style, every scan setting and the voter ink found per box (diagnostics only).
The same (spec, sheets, seed, profile) gives the same files, whatever the number of workers.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from PIL import Image

from omr.handsim.blank import BlankFactory, Form, load_form
from omr.handsim.encode import encode
from omr.handsim.placement import cut_corners, lost
from omr.handsim.scanner import (
    MM_PER_INCH,
    ScanSettings,
    draw_settings,
    is_colour,
    page_to_scan,
    scan,
)
from omr.handsim.sheet import mark_sheet
from omr.handsim.voters import plan_sheet

MODEL = "handsim"
TRUTH_FILE = "truth.json"
DECK_FILE = "deck.json"
CHUNK = 8


@dataclass(frozen=True)
class DeckJob:
    spec_path: str
    profile: str
    seed: int
    serial_start: int


def image_name(index: int, page: int, pages: int, suffix: str) -> str:
    return f"hand-{index + 1:05d}" + (f"-p{page}" if pages > 1 else "") + suffix


def sheet_serial(job: DeckJob, index: int) -> str:
    return f"{job.serial_start + index:06d}"


_factory: BlankFactory | None = None


def _factory_for(job: DeckJob) -> BlankFactory:
    global _factory  # one per worker process: the static pages are rasterised once
    if _factory is None or str(_factory.form.spec_path) != job.spec_path:
        _factory = BlankFactory(load_form(job.spec_path))
    return _factory


def make_sheet(job: DeckJob, index: int, form_name: str) -> list[dict]:
    """Every page of sheet `index`: [{"entry": truth entry, "diag": ..., "data": bytes}]."""
    factory = _factory_for(job)
    form = factory.form
    serial = sheet_serial(job, index)
    pages = form.layout["pages"]
    out = []
    for page in pages:
        p = page["page"]
        # the form's id is in the seed: decks of two forms with one seed get other voters
        # and other scanners, not the same ones sheet by sheet
        rng = np.random.default_rng([job.seed, zlib.crc32(form.layout["form"]["id"].encode()),
                                     index, p])
        settings = draw_settings(rng, job.profile, form.page_size_mm)
        paper = factory.sheet(serial, p, settings.dpi)
        fields = [f for f in form.layout["fields"] if f["page"] == p]
        plan = plan_sheet(form.layout, p, rng)
        marked = mark_sheet(paper, page, fields, plan, settings.dpi, rng,
                            colour=is_colour(settings))
        if settings.corner_cut:
            cut_corners(settings, page, paper.shape[:2], rng)
        blank_rng = copy.deepcopy(rng)  # the same scan of the unmarked sheet, for `_survival`
        image, m = scan(marked.rgb, settings, rng)
        if image.dtype == bool and settings.kind not in DENSITY_KINDS:
            blank, _ = scan(paper, settings, blank_rng)
            _survival(image, blank, m, page, marked, settings.dpi)
        data, suffix = encode(image, settings.kind, settings.dpi, settings.jpeg_quality)
        name = image_name(index, p, len(pages), suffix)
        entry: dict = {"image": name, "form": form_name, "boxes": marked.truth, "model": MODEL}
        cause = lost(settings, page, paper.shape[:2]) or _code_unreadable(
            image, settings, page, paper.shape[:2])
        if cause:
            entry["refuse"] = cause
        diag = {"image": name, "serial": serial, "page": p, "style": plan.style,
                "pens": plan.pens, "scan": settings.to_dict(), "notes": marked.notes,
                "ink_in_box": {f"{f}/{o}": round(v, 4) for (f, o), v in marked.ink_in_box.items()}}
        out.append({"entry": entry, "diag": diag, "data": data})
    return out


#: a vote of which a bitonal scan kept less than this (mm^2 of black pixels inside its box
#: that the blank sheet's scan does not have) is gone from the image: faint on it
SURVIVING_MM2 = 0.5
#: the box's inside, less this border (mm), is where the survival is measured
SURVIVAL_INSET_MM = 0.35
#: bitonal kinds that keep a grey as a density of dots (no mark is erased, only thinned)
DENSITY_KINDS = ("tiff-dither",)


def _survival(image: np.ndarray, blank: np.ndarray, m: np.ndarray, page: dict, marked,
              dpi: int) -> None:
    """Truth follows the pixels: a clear mark that the scan's threshold erased (all but a few
    specks of it, SURVIVING_MM2) is only a faint mark on this image: a person must look at
    the paper. `blank` is the same scan of the unmarked sheet (same noise, same dust)."""
    k = dpi / MM_PER_INCH
    added = image & ~blank
    for box in page["boxes"]:
        label = marked.truth.get(box["field"], {}).get(box["option"])
        if label != "clear":
            continue
        x, y, w, h = box["rect_mm"]
        i = SURVIVAL_INSET_MM
        corners = np.array([[x + i, y + i], [x + w - i, y + i], [x + w - i, y + h - i],
                            [x + i, y + h - i]])
        pts = corners * k @ m[:, :2].T + m[:, 2]
        x0, y0 = np.maximum(0, np.floor(pts.min(axis=0)).astype(int))
        x1, y1 = np.maximum(0, np.ceil(pts.max(axis=0)).astype(int))
        region = added[y0:y1, x0:x1]
        # the inset box itself, not its bounding rectangle: on a skewed scan that rectangle's
        # corners reach into the printed border, whose edge a threshold shifts by a pixel
        # where a mark changed the grey round it - pixels that are no mark of the voter's
        inside = np.zeros(region.shape, np.uint8)
        cv2.fillPoly(inside, [np.round(pts - (x0, y0)).astype(np.int32)], 1)
        if float(region[inside.astype(bool)].sum()) / k ** 2 < SURVIVING_MM2:
            marked.truth[box["field"]][box["option"]] = "faint"
            marked.notes.append(f"{box['field']}/{box['option']}: clear mark erased by the "
                                "bitonal threshold; faint on this image")


def _decoded_area(image: np.ndarray, kind: str, quality: int,
                  box: tuple[int, int, int, int]) -> np.ndarray:
    """Grey pixels of `box` as a reader decodes them from the file, without decoding all of
    it: a lossless file holds the array itself; a JPEG's blocks are coded one by one, so the
    box grown to whole 16-pixel blocks and coded alone at the same quality decodes the same."""
    x0, y0, x1, y1 = box
    if image.dtype == bool:
        return np.where(image[y0:y1, x0:x1], 0, 255).astype(np.uint8)
    if not kind.startswith("jpeg"):
        part = image[y0:y1, x0:x1]
        return part if part.ndim == 2 else cv2.cvtColor(part, cv2.COLOR_RGB2GRAY)
    bx0, by0 = x0 - x0 % 16, y0 - y0 % 16
    bx1, by1 = x1 + (-x1) % 16, y1 + (-y1) % 16  # past the image's end: as the file pads it
    part = np.ascontiguousarray(image[by0:by1, bx0:bx1])
    buf = io.BytesIO()
    Image.fromarray(part).save(buf, "JPEG", quality=quality)
    with Image.open(buf) as im:
        grey = np.asarray(im.convert("L"))
    return grey[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]


def _code_unreadable(image: np.ndarray, s: ScanSettings, page: dict,
                     page_px: tuple[int, int]) -> str | None:
    """"QR code unreadable" when a stock decoder (zxing-cpp) cannot read the code area of
    the file, as it is or smoothed (a dither) or enlarged: a stand-in for "no reader can"."""
    k = s.dpi / MM_PER_INCH
    kind, quality = s.kind, s.jpeg_quality
    m, (H, W) = page_to_scan(s, page_px)
    x, y, w, h = page["code_mm"]
    pts = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]) * k @ m[:, :2].T + m[:, 2]
    pad = 6 * k
    x0, y0 = int(max(0, pts[:, 0].min() - pad)), int(max(0, pts[:, 1].min() - pad))
    x1, y1 = int(min(W, pts[:, 0].max() + pad)), int(min(H, pts[:, 1].max() + pad))
    crop = _decoded_area(image, kind, quality, (x0, y0, x1, y1))
    big = cv2.resize(crop, (crop.shape[1] * 2, crop.shape[0] * 2),
                     interpolation=cv2.INTER_CUBIC)
    for img in (crop, big, cv2.GaussianBlur(crop, (0, 0), 1.0),
                cv2.GaussianBlur(big, (0, 0), 2.0), cv2.medianBlur(crop, 3)):
        for hit in zxingcpp.read_barcodes(img):
            if hit.text.startswith("ST1|"):
                return None
    return "QR code unreadable"


def _chunk(job: DeckJob, indices: list[int], form_name: str) -> list[list[dict]]:
    factory = _factory_for(job)
    serials = [sheet_serial(job, i) for i in indices]
    factory.prepare(serials)
    try:
        return [make_sheet(job, i, form_name) for i in indices]
    finally:
        factory.forget(serials)


def _results(job: DeckJob, sheets: int, form_name: str, workers: int
             ) -> Iterator[list[dict]]:
    chunks = [list(range(s, min(sheets, s + CHUNK))) for s in range(0, sheets, CHUNK)]
    if workers <= 1:
        for c in chunks:
            yield from _chunk(job, c, form_name)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_chunk, [job] * len(chunks), chunks, [form_name] * len(chunks)):
            yield from result


def generate(spec_path: str | Path, out_dir: str | Path, sheets: int, seed: int = 0, *,
             profile: str = "mixed", serial_start: int = 1, workers: int = 1,
             progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Write a deck of `sheets` sheets to `out_dir`; returns the truth list (also written)."""
    spec_path = Path(spec_path)
    form: Form = load_form(spec_path)  # fails here, not in a worker, on a bad spec
    draw_settings(np.random.default_rng(0), profile)  # and on a bad profile
    out = Path(out_dir)
    (out / "forms").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(spec_path, out / "forms" / spec_path.name)
    form_name = f"forms/{spec_path.name}"
    job = DeckJob(str(spec_path), profile, seed, serial_start)
    truth: list[dict] = []
    diags: list[dict] = []
    for done, pages in enumerate(_results(job, sheets, form_name, workers), 1):
        for item in pages:
            (out / item["entry"]["image"]).write_bytes(item["data"])
            truth.append(item["entry"])
            diags.append(item["diag"])
        if progress:
            progress(done, sheets)
    (out / TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                  encoding="utf-8")
    doc = {"model": MODEL, "spec": form_name, "form": form.layout["form"], "seed": seed,
           "profile": profile, "sheets": sheets, "pages": diags}
    (out / DECK_FILE).write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth
