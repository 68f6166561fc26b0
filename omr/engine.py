"""`read_page`: one scanned page (numpy image) + the loaded layouts -> a `Reading`.

Code -> form -> registration -> box sampling -> voter ink level -> line removal -> fill ->
decision. Every early exit is a reading with a status and a reason for the operator; nothing is
read by guessing. Pure: no files, no globals; call it from any process.
"""

from __future__ import annotations

from dataclasses import asdict

import cv2
import numpy as np

from forms.code import parse_payload
from omr.aligned import note_aligned_lines
from omr.assemble import LINES_ONLY_LIGHT_FILL, LINES_ONLY_MAX_FILL, assemble_reading
from omr.code import find_code
from omr.decide import Thresholds, decide
from omr.layout import FormLayout, Layouts, PageGeometry
from omr.lines import clear_lines
from omr.reading import Reading, failed
from omr.refine import RefineError, refine_on_borders
from omr.register import (
    Registration,
    RegistrationError,
    RegistrationLimits,
    apply,
    register,
)
from omr.score import (
    BoxSamples,
    ScoreSettings,
    box_fill,
    ink_levels,
    sample_boxes,
)
from omr.writein import writein_ink

MM_PER_INCH = 25.4
#: a page smaller than this (pixels on its short side) cannot hold a readable sheet
MIN_SIDE_PX = 200
#: blank duplex back: share of the page (at 1/4 size, thin lines removed) that may be dark,
#: and share that must be paper (within BLANK_PAPER_SPREAD grey levels of the paper's level)
BLANK_BACK_DARK_SHARE = 0.0005
BLANK_PAPER_SHARE = 0.85
BLANK_PAPER_SPREAD = 20
#: a box whose strongest ink (95th percentile) reaches this holds ink, for the voter's level
INK_PEAK_MIN = 0.1
#: the voter's ink level is taken as at least this (the ink floor of omr.score rules below it)
INK_LEVEL_MIN = 0.3
#: streaks and folds are looked for at no lower a darkness than this share of the voter's ink
#: level (a paler line crossing an empty box is thin: doubtful at most, never a vote)
LINE_LEVEL_SHARE = 0.5
#: fewest boxes with a visible border needed to measure the registration error on them
MIN_BORDER_BOXES = 4
#: share of the boxes not filled whose border must be found near its expected place
MIN_BORDER_SHARE = 0.5


def read_page(
    image: np.ndarray,
    layouts: Layouts,
    *,
    source: str,
    dpi: float | None = None,
    thresholds: Thresholds = Thresholds(),
    limits: RegistrationLimits = RegistrationLimits(),
    settings: ScoreSettings = ScoreSettings(),
) -> Reading:
    """Read one page.

    `image`: uint8 grey (H, W) or colour (H, W, 3) RGB; `layouts`: typed layouts
    (`omr.layout`) keyed by form id; `source`: label for the reading ("scan.tiff#2"); `dpi`:
    resolution when known (only a speed hint: geometry comes from the page itself).
    """
    grey = as_grey(image)
    if grey is None or min(grey.shape) < MIN_SIDE_PX:
        shape = "x".join(str(s) for s in np.shape(image))
        return failed(source, "unreadable", f"image is {shape} px: too small or not a page "
                                            "image; re-scan the sheet")
    foreign = [f for f, lay in layouts.items() if lay.pages and next(iter(
        lay.pages.values())).doc.registration is not None]
    if foreign and len(foreign) == len(layouts):  # forms without our marks: `omr.foreign`
        from omr.foreign import read_foreign
        return read_foreign(grey, layouts, source=source, dpi=dpi, thresholds=thresholds,
                            settings=settings)
    hit = find_code(grey, px_per_mm=dpi / MM_PER_INCH if dpi else None)
    if hit is None and foreign:
        from omr.foreign import read_foreign
        return read_foreign(grey, layouts, source=source, dpi=dpi, thresholds=thresholds,
                            settings=settings)
    if hit is None:
        if looks_blank(grey):
            return failed(source, "blank", "blank back")
        return failed(source, "unreadable", "QR code unreadable (none found, or damaged); "
                                            "check the sheet is one of ours and re-scan it")
    code = parse_payload(hit.text)
    if code is None:
        shown = hit.text if len(hit.text) <= 40 else hit.text[:37] + "..."
        return failed(source, "unknown_form", f"the QR code reads {shown!r}, which is not a "
                                              "Scantally sheet code")
    who = {"form": code.form_id, "page": code.page, "serial": code.serial}
    layout = layouts.get(code.form_id)
    if layout is None:
        known = ", ".join(sorted(layouts)) or "none"
        return failed(source, "unknown_form", f"sheet of form {code.form_id!r}, which is not "
                                              f"loaded (loaded: {known}); add its --form", **who)
    if not layout.hash.startswith(code.layout_hash):
        return failed(source, "unknown_form",
                      f"sheet printed from another version of form {code.form_id!r} (layout "
                      f"{code.layout_hash}, loaded {layout.hash[:12]}); load the "
                      "spec it was printed from", **who)
    pages = layout.pages
    page_layout = pages.get(code.page)
    if page_layout is None:
        return failed(source, "unknown_form", f"the code says page {code.page}, but form "
                                              f"{code.form_id!r} has {len(pages)} page(s)", **who)
    try:
        reg = register(grey, page_layout.doc, hit, limits)
    except RegistrationError as exc:
        return failed(source, "unreadable", str(exc), **who)
    rects = page_layout.rects_mm
    if reg.partial and len(rects):
        try:
            reg = refine_on_borders(grey, rects, reg, settings)
        except RefineError as exc:
            return failed(source, "unreadable", f"{_anchors_lost(reg)}, and {exc}; re-scan "
                                                "the sheet straight and whole", **who)
    off = off_scan(grey.shape, reg.page_to_image, rects)
    if off:
        return failed(source, "unreadable",
                      f"{off} box(es) lie off the scan (the page is partly outside the "
                      "scanned area); re-scan the sheet whole", **who)
    return _read_boxes(grey, layout, page_layout, reg, source, who, thresholds, limits,
                       settings)


def _read_boxes(grey: np.ndarray, layout: FormLayout, page_layout: PageGeometry,
                reg: Registration,
                source: str, who: dict, thresholds: Thresholds, limits: RegistrationLimits,
                settings: ScoreSettings) -> Reading:
    boxes = page_layout.boxes
    if not boxes:
        return Reading(source, "blank", "page has no boxes", **who, page_to_image=reg.page_to_image)
    rects = page_layout.rects_mm
    samples = sample_boxes(grey, reg.page_to_image, rects, reg.black_level, settings)
    if not borders_found(samples):
        return failed(source, "unreadable",
                      "the printed boxes are not where the corner marks put them (sheet warped, "
                      "or printed at another size); re-scan it flat", **who)
    error_mm = registration_error_mm(samples)
    if error_mm is not None and error_mm > limits.max_error_mm:
        return failed(source, "unreadable",
                      f"registration error {error_mm:.2f} mm over the "
                      f"{limits.max_error_mm:g} mm limit (the printed boxes are "
                      "not where the corner marks put them: sheet warped, or another print "
                      "size); re-scan it flat", **who)
    levels = ink_levels(voter_ink_level(samples), samples.noise, settings)
    ink = box_fill(samples, levels, settings)
    # only a box whose ink could be lines alone needs them removed: above that, it holds a mark
    # whatever crosses it. A line crosses many boxes, most of them lightly inked by it alone:
    # the boxes that two lines may have inked further are only searched once a line was found
    light = (ink.visible >= thresholds.marginal_fill) & (ink.fill < LINES_ONLY_LIGHT_FILL)
    # lines are looked for in what is surely ink of this voter's sheet, or half their own level
    line_level = max(levels.mark, LINE_LEVEL_SHARE * levels.voter)
    found = clear_lines(samples, np.nonzero(light)[0], grey, reg.page_to_image, rects,
                        line_level, settings) if light.any() else 0
    if found:
        heavier = (ink.fill >= LINES_ONLY_LIGHT_FILL) & (ink.fill < LINES_ONLY_MAX_FILL)
        if heavier.any():
            clear_lines(samples, np.nonzero(heavier)[0], grey, reg.page_to_image, rects,
                        line_level, settings)
        ink = box_fill(samples, levels, settings)
    note_aligned_lines(ink, samples, rects, thresholds.marginal_fill, settings,
                       reg.page_to_image)
    ink.solid_scan = not samples.bitonal
    calls = decide(ink, list(page_layout.box_fields), thresholds)
    # write-in lines with a name but no mark (a marked or doubtful box is reviewed anyway)
    called = {(b.field, b.option) for b, c in zip(boxes, calls, strict=True)
              if c.decision != "empty"}
    lines = [r for r in page_layout.regions if r.kind == "writein"
             and (r.field, r.option) not in called]
    names = writein_ink(grey, reg.page_to_image, lines, reg.black_level, levels.mark)
    reading = assemble_reading(layout, page_layout, boxes, ink.fill, calls, reg.page_to_image,
                               error_mm, source, who)
    reading.thresholds = {**asdict(thresholds), **{f"ink_{k}": v for k, v in
                                                   levels.as_dict().items()}}
    if names:
        reading.writein_ink = names
        if reading.status == "blank":
            reading.status, reading.reason = "ok", ""
    return reading


def _anchors_lost(reg: Registration) -> str:
    """Which anchors failed, for the operator."""
    missing = reg.missing
    if len(missing) == len(reg.fiducials_px):
        return "no corner marks found"
    return (f"only {len(reg.fiducials_px) - len(missing)} of {len(reg.fiducials_px)} corner "
            f"marks found (missing: {', '.join(missing)})")


#: a box this close to the scan's edge (mm, the ring of paper its reading needs) is off it
OFF_SCAN_MARGIN_MM = 1.0


def off_scan(shape: tuple[int, ...], page_to_image: np.ndarray, rects_mm: np.ndarray) -> int:
    """How many boxes (with `OFF_SCAN_MARGIN_MM` of paper round them) are not wholly inside an
    image of `shape`: a box off the scan cannot be read, and is never read as empty."""
    if not len(rects_mm):
        return 0
    m = OFF_SCAN_MARGIN_MM
    x0, y0 = rects_mm[:, 0] - m, rects_mm[:, 1] - m
    x1, y1 = rects_mm[:, 0] + rects_mm[:, 2] + m, rects_mm[:, 1] + rects_mm[:, 3] + m
    corners = np.stack([np.column_stack(c) for c in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))],
                       1).reshape(-1, 2)
    px = apply(page_to_image, corners).reshape(-1, 4, 2)
    h, w = shape[:2]
    inside = ((px[..., 0] >= 0) & (px[..., 0] <= w - 1) & (px[..., 1] >= 0)
              & (px[..., 1] <= h - 1)).all(1)
    return int((~inside).sum())


def registration_error_mm(samples: BoxSamples) -> float | None:
    """The page's registration error, measured on the printed borders of the boxes not filled
    (a fill's edge can pass for a border): the third-worst of them, so one or two boxes
    misjudged (a stroke along a border) do not reject the page. None when too few are seen."""
    usable = samples.border_measured & np.isfinite(samples.border_error_mm)
    seen = samples.border_error_mm[usable]
    if len(seen) < MIN_BORDER_BOXES:
        return None
    return float(np.sort(seen)[-3])


def borders_found(samples: BoxSamples) -> bool:
    """Is the printed border visible near its expected place in most boxes not filled? (A page
    registered far off shows no border near the expected place at all.)"""
    usable = samples.border_measured
    if usable.sum() < MIN_BORDER_BOXES:
        return True  # too few boxes to judge; the error check still applies
    return float(np.isfinite(samples.border_error_mm[usable]).mean()) >= MIN_BORDER_SHARE


def voter_ink_level(samples: BoxSamples) -> float:
    """Darkness of this voter's ink (0..1): the median strongest-ink level of the boxes that
    clearly hold ink (a light pencil under a blurred scan peaks near 0.2); 1 (printed black)
    when no box does."""
    clear = samples.peak >= max(INK_PEAK_MIN, 6.0 * samples.noise)
    if not clear.any():
        return 1.0
    return float(np.clip(np.median(samples.peak[clear]), INK_LEVEL_MIN, 1.0))


def as_grey(image: np.ndarray) -> np.ndarray | None:
    """uint8 grey (luma) from grey or RGB(A); None for anything else. Luma, not the darkest
    channel: that one turns JPEG colour noise into ink; coloured pens stay well visible."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3):
        return None
    if a.ndim == 2:
        return a
    if a.shape[2] == 1:
        return np.ascontiguousarray(a[:, :, 0])
    if a.shape[2] == 3:
        return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    if a.shape[2] == 4:
        return cv2.cvtColor(a, cv2.COLOR_RGBA2GRAY)
    return None


def looks_blank(grey: np.ndarray) -> bool:
    """A blank page (a duplex back): at 1/4 size nearly all of it within a few grey levels of
    the paper, and with lines thinner than ~1.5 mm removed, almost nothing darker."""
    small = cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    paper = float(np.percentile(small[::2, ::2], 90))
    near_paper = float((np.abs(small.astype(np.int16) - paper) < BLANK_PAPER_SPREAD).mean())
    if near_paper < BLANK_PAPER_SHARE:
        return False  # texture, noise, a photo: not an empty page
    dark = (small < paper - 80).astype(np.uint8)
    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return float(dark.mean()) < BLANK_BACK_DARK_SHARE
