"""omr.sim marks: what the truth calls marked is visibly dark in the un-degraded image, what it
calls empty is white, every style and pen makes a clear mark, and strays never enter a box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omr.sim.corpus import generate, load_form, render_page
from omr.sim.voters import Rates

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DPI = 150
DARK_LEVEL = 205  # a pixel darker than this is ink (pencil at 40 % darkness is ~175)
INSET_MM = 0.6  # keep the printed border out of the box measurement


def _box_ink(image: np.ndarray, mm_to_px: np.ndarray, rect_mm) -> tuple[float, float]:
    """(dark fraction, mean level) inside a box's inner rectangle, for an unrotated page."""
    x, y, w, h = rect_mm
    p0 = mm_to_px @ [x + INSET_MM, y + INSET_MM, 1.0]
    p1 = mm_to_px @ [x + w - INSET_MM, y + h - INSET_MM, 1.0]
    x0, y0 = int(np.ceil(p0[0] / p0[2])), int(np.ceil(p0[1] / p0[2]))
    x1, y1 = int(p1[0] / p1[2]), int(p1[1] / p1[2])
    patch = image[y0:y1, x0:x1]
    return float((patch < DARK_LEVEL).mean()), float(patch.mean())


@pytest.mark.parametrize("name", ["recommendation", "evaluation"])
def test_truth_matches_the_undegraded_images(tmp_path: Path, name: str) -> None:
    spec = EXAMPLES / f"{name}.yaml"
    rates = Rates(cancel_sheet=0.6, stray_page=0.9, writein=0.6, blank_sheet=0.1)
    truth = generate(spec, tmp_path, 10, seed=3, dpi=DPI, fmt="png", degrade=False,
                     rates=rates)
    ctx = load_form(spec.resolve(), DPI)
    seen = {"marked": 0, "cancelled": 0, "empty": 0, "stray": 0}
    for _, page in truth.pages():
        assert page.degradations == []
        image = np.asarray(Image.open(truth.image_path(page)).convert("L"))
        h = np.asarray(page.mm_to_px)
        seen["stray"] += page.stray
        for (fld, option), rect in ctx.pages[page.page - 1].boxes.items():
            dark, mean = _box_ink(image, h, rect)
            where = f"{page.file} {fld}/{option}"
            if option in page.marks.get(fld, []):
                assert dark > 0.03, f"{where}: marked but only {dark:.1%} ink"
                seen["marked"] += 1
            elif option in page.cancelled.get(fld, []):
                assert dark > 0.25, f"{where}: cancelled but only {dark:.1%} ink"
                seen["cancelled"] += 1
            else:
                assert dark < 0.003 and mean > 250, f"{where}: empty but {dark:.1%} ink"
                seen["empty"] += 1
    assert seen["marked"] > 30 and seen["cancelled"] > 0 and seen["stray"] > 0
    assert {p.expect for _, p in truth.pages()} >= {"ok", "review"}


@pytest.mark.parametrize("pen", ["black", "blue", "red", "pencil"])
def test_every_style_with_every_pen_is_a_clear_mark(pen: str) -> None:
    spec = EXAMPLES / "evaluation.yaml"
    ctx = load_form(spec.resolve(), DPI)
    boxes = ctx.pages[0].boxes
    for style, least in (("tick", 0.04), ("cross", 0.04), ("circle", 0.04),
                         ("solid", 0.85), ("partial", 0.38)):
        marks = {"leader.P310012": ["excellent"], "leader.P310031": ["basic"],
                 "team.politics": ["good"]}
        page = render_page(spec, marks, style=style, pen=pen, dpi=DPI, seed=len(style))
        for fld, opts in marks.items():
            dark, _ = _box_ink(page.image, page.mm_to_px, boxes[(fld, opts[0])])
            assert dark > least, f"{style} in {pen}: {dark:.1%} ink"
        dark, mean = _box_ink(page.image, page.mm_to_px, boxes[("leader.P310012", "basic")])
        assert dark < 0.003 and mean > 250


def test_pencil_is_light_and_ink_is_dark() -> None:
    spec = EXAMPLES / "evaluation.yaml"
    rect = load_form(spec.resolve(), DPI).pages[0].boxes[("team.politics", "good")]
    levels = {}
    for pen in ("black", "pencil"):
        page = render_page(spec, {"team.politics": ["good"]}, style="solid", pen=pen, dpi=DPI)
        x, y, w, h = (np.asarray(rect) * DPI / 25.4).astype(int)
        levels[pen] = float(np.median(page.image[y + 3:y + h - 3, x + 3:x + w - 3]))
    assert levels["black"] < 60
    assert 255 * 0.35 < levels["pencil"] < 255 * 0.7  # 40-60 % darkness


def test_strays_stay_out_of_every_box() -> None:
    spec = EXAMPLES / "recommendation.yaml"
    ctx = load_form(spec.resolve(), DPI)
    marks = {"pos.director": ["P310012"], "pos.chief": ["P310131"]}
    total = 0
    for seed in range(4):
        clean = render_page(spec, marks, dpi=DPI, seed=seed)
        dirty = render_page(spec, marks, dpi=DPI, seed=seed, strays=4)
        total += dirty.stray
        changed = clean.image != dirty.image
        assert changed.any() == (dirty.stray > 0)
        for rect in ctx.pages[0].boxes.values():
            x, y, w, h = rect
            x0, y0 = int((x - 1.0) * DPI / 25.4), int((y - 1.0) * DPI / 25.4)
            x1, y1 = int((x + w + 1.0) * DPI / 25.4), int((y + h + 1.0) * DPI / 25.4)
            assert not changed[y0:y1, x0:x1].any(), f"a stray entered the box at {rect}"
    assert total >= 8
