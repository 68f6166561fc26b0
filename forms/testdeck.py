"""A test deck (L&A): the form printed with its marks pre-printed, as a printer would ink them.

`render_deck(compiled, layout, sheets)` prints one copy of the form per `DeckSheet` through
`forms.render.render_pdf` (the same static page, QR code and serial as a real sheet) and
paints, over each page, every box the sheet's plan marks as a solid filled rectangle, a little
inside the printed border (a filled box, the mark every reader reads as marked). A *cancelled*
mark is printed the way a voter scribbles one out: the box filled and the ink running past its
border on every side; the forms have no cancellation box of their own, so the reader must send
it to review (DOMAIN.md: a corrected mark is doubtful), never count it. A 另推 line the plan
fills in gets its name printed on the line, as a voter writes one.

What to mark on which sheet, and what the machine must count, is decided in `tally.testdeck`;
this module only paints. Page coordinates are the layout's: millimetres, origin top-left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from forms.fonts import FONT_NAME
from forms.layout import CompiledLayout
from forms.plan import PagePlan
from forms.render import render_pdf

#: a pre-printed mark stays this far inside the box's printed border
FILL_INSET_MM = 0.5
#: a cancelled mark runs this far past the box's border on every side
CANCEL_BLEED_MM = 1.6
WRITEIN_TEXT_PT = 9.0


@dataclass(frozen=True)
class DeckSheet:
    """What one deck sheet carries: its serial, and per field the options printed marked."""

    serial: str
    #: field id -> options printed as solid marks
    marks: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: (field id, option) printed as a cancelled mark (filled and scribbled past the border)
    cancelled: Sequence[tuple[str, str]] = ()
    #: (field id, write-in option) -> the name printed on that 另推 line
    writein_names: Mapping[tuple[str, str], str] = field(default_factory=dict)


def _boxes(layout: Mapping[str, Any]) -> dict[int, dict[tuple[str, str], list[float]]]:
    """page -> (field, option) -> rect_mm [x, y, w, h] of the layout JSON."""
    return {p["page"]: {(b["field"], b["option"]): list(b["rect_mm"]) for b in p["boxes"]}
            for p in layout["pages"]}


def _lines(layout: Mapping[str, Any]) -> dict[int, dict[tuple[str, str], list[float]]]:
    """page -> (field, option) -> rect_mm of the 另推 line of that write-in box."""
    return {p["page"]: {(r["field"], r["option"]): list(r["rect_mm"])
                        for r in p.get("regions", []) if r.get("kind") == "writein"}
            for p in layout["pages"]}


def _solid(c: Canvas, plan: PagePlan, rect: Sequence[float], grow_mm: float) -> None:
    x, y, w, h = rect
    x, y, w, h = x - grow_mm, y - grow_mm, w + 2 * grow_mm, h + 2 * grow_mm
    c.rect(x * mm, (plan.height_mm - y - h) * mm, w * mm, h * mm, stroke=0, fill=1)


def overlay_for(layout: Mapping[str, Any],
                sheets: Sequence[DeckSheet]) -> Callable[[Canvas, PagePlan, str], None]:
    """The `render_pdf` overlay that paints each sheet's marks (looked up by serial)."""
    by_serial = {s.serial: s for s in sheets}
    boxes, lines = _boxes(layout), _lines(layout)

    def paint(c: Canvas, plan: PagePlan, serial: str) -> None:
        sheet = by_serial[serial]
        here = boxes.get(plan.page, {})
        c.saveState()
        c.setFillGray(0)
        for fid, options in sheet.marks.items():
            for option in options:
                rect = here.get((fid, option))
                if rect is not None:
                    _solid(c, plan, rect, -FILL_INSET_MM)
        for fid, option in sheet.cancelled:
            rect = here.get((fid, option))
            if rect is not None:
                _solid(c, plan, rect, CANCEL_BLEED_MM)
        for (fid, option), name in sheet.writein_names.items():
            line = lines.get(plan.page, {}).get((fid, option))
            if line is not None and name:
                x, y, _, h = line
                c.setFont(FONT_NAME, WRITEIN_TEXT_PT)
                c.drawString((x + 2.0) * mm, (plan.height_mm - y - h + 1.0) * mm, name)
        c.restoreState()

    return paint


def render_deck(compiled: CompiledLayout, layout: Mapping[str, Any],
                sheets: Sequence[DeckSheet],
                progress: Callable[[int], None] | None = None) -> bytes:
    """The deck as PDF bytes: every sheet in order, each a full copy of the form (its own
    serial in its QR code) with its marks pre-printed. `layout` is `compiled`'s layout JSON."""
    known = {(b["field"], b["option"]) for p in layout["pages"] for b in p["boxes"]}
    for s in sheets:
        wanted = [(f, o) for f, opts in s.marks.items() for o in opts] + list(s.cancelled)
        missing = [f"{f}={o}" for f, o in wanted if (f, o) not in known]
        if missing:
            raise ValueError(f"deck sheet {s.serial}: no box {missing[0]} on form "
                             f"{compiled.spec.id!r}")
    return render_pdf(compiled, layout["form"]["hash"], [s.serial for s in sheets], progress,
                      overlay=overlay_for(layout, sheets))
