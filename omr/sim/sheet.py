"""One form at one dpi (`load_form`), and one page of a planned sheet drawn onto it.

`load_form` lays a spec out and rasterises its pages once per process; `draw_page` inks a voter's
plan (marks in their style, cancellations, write-in names, a comment, stray marks) onto a fresh
copy of a page with its sheet's QR code, and says what is clearly marked and what is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from omr.sim import marks as mk
from omr.sim.effects import PageInfo
from omr.sim.strays import draw_strays, keepouts
from omr.sim.template import PageTemplate, render_templates
from omr.sim.voters import Mark, SheetPlan


@dataclass
class FormPage:
    """One page of a form at one dpi: its printed image and where everything is (mm)."""

    template: PageTemplate
    info: PageInfo
    boxes: dict[tuple[str, str], mk.Rect]
    writein_regions: dict[tuple[str, str], mk.Rect]
    comment: mk.Rect | None
    avoid: list[mk.Rect]


@dataclass
class FormContext:
    spec_path: Path
    form_id: str
    layout: dict
    pages: list[FormPage]
    categories: list[str]
    category_mode: str | None


@lru_cache(maxsize=8)
def load_form(spec_path: Path, dpi: int) -> FormContext:
    """Load, lay out and rasterise a spec once per process (SpecError/LayoutError if bad)."""
    spec = load_spec(spec_path)
    compiled = compile_layout(spec)
    layout = layout_to_dict(compiled)
    templates = render_templates(compiled, layout["form"]["hash"], dpi)
    w_mm, h_mm = layout["page_size_mm"]
    pages = []
    for doc, tpl in zip(layout["pages"], templates, strict=True):
        boxes = {(b["field"], b["option"]): tuple(b["rect_mm"]) for b in doc["boxes"]}
        writeins = {(r["field"], r["option"]): tuple(r["rect_mm"])
                    for r in doc["regions"] if r["kind"] == "writein"}
        comment = next((tuple(r["rect_mm"]) for r in doc["regions"] if r["kind"] == "comment"),
                       None)
        fids = tuple(tuple(f) for f in doc["fiducials_mm"])
        info = PageInfo(w_mm, h_mm, tpl.px_per_mm, dpi, tuple(boxes.values()), fids,
                        tuple(doc["code_mm"]))
        avoid = keepouts(list(boxes.values()), fids, tuple(doc["code_mm"]),
                         [tuple(r["rect_mm"]) for r in doc["regions"]])
        pages.append(FormPage(tpl, info, boxes, writeins, comment, avoid))
    cats = spec.categories
    return FormContext(spec_path, spec.id, layout, pages,
                       [c.id for c in cats.options] if cats else [],
                       cats.mode if cats else None)


def draw_mark(surface: mk.Surface, rect: mk.Rect, mark: Mark, pen: mk.Pen,
              rng: np.random.Generator) -> None:
    """Ink one planned mark into its box: the voter's style, or a cancellation."""
    style = mark.style
    if mark.cancelled and style == "solid":
        surface.ink(pen, fills=mk.solid(rect, rng), rng=rng)
        return
    if mark.cancelled:  # scribble / struck: the voter's own mark, then scribbled over
        surface.ink(pen, mk.tick(rect, rng), rng=rng)
        surface.ink(pen, mk.scribble(rect, rng), rng=rng, width_scale=0.8)
        return
    if style == "tick":
        surface.ink(pen, mk.tick(rect, rng, overshoot=rng.random() < 0.2), rng=rng)
    elif style == "cross":
        surface.ink(pen, mk.cross(rect, rng), rng=rng)
    elif style == "circle":
        surface.ink(pen, mk.circle(rect, rng), rng=rng)
    elif style == "solid":
        surface.ink(pen, fills=mk.solid(rect, rng), rng=rng)
    elif style == "partial":
        surface.ink(pen, fills=mk.partial(rect, rng)[0], rng=rng)
    else:
        raise ValueError(f"unknown mark style {style!r}")


def draw_page(fp: FormPage, serial: str, plan: SheetPlan, colour: bool, strays: int,
              rng: np.random.Generator) -> tuple[np.ndarray, dict, dict, int]:
    """The marked page (before degradation), its clear and cancelled marks, strays drawn."""
    image = fp.template.sheet(serial)
    if colour:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    surface = mk.Surface(image, fp.template.px_per_mm)
    marked: dict[str, list[str]] = {}
    cancelled: dict[str, list[str]] = {}
    for m in plan.marks:
        rect = fp.boxes.get((m.field, m.option))
        if rect is None:
            continue
        draw_mark(surface, rect, m, plan.pen, rng)
        (cancelled if m.cancelled else marked).setdefault(m.field, []).append(m.option)
    for fld, lines in plan.writeins.items():
        for option, name in lines.items():
            region = fp.writein_regions.get((fld, option))
            if region is not None and name:
                mk.handwrite(surface, name, region, plan.pen, rng)
    if plan.comment and fp.comment is not None:
        x, y, w, _ = fp.comment
        line = (x + 3, y + 3 + 8 * int(rng.integers(0, 3)), w - 6, 6.5)
        mk.handwrite(surface, plan.comment, line, plan.pen, rng, char_mm=5.0)
    drawn = draw_strays(surface, strays, (fp.info.width_mm, fp.info.height_mm),
                        list(fp.boxes.values()), fp.avoid, plan.pen, rng) if strays else 0
    return surface.image, marked, cancelled, drawn


def expect_of(marks: dict, cancelled: dict) -> str:
    """What a reader must say about a readable page: review, blank or ok."""
    if any(cancelled.values()):
        return "review"
    return "ok" if any(marks.values()) else "blank"
