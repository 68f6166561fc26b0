"""Reading a page of a foreign form (a form Scantally did not print): no QR code, no corner marks.

`read_foreign` is what `omr.engine.read_page` calls when the loaded layouts register by a
reference image: the page is matched against every loaded reference (ORB + RANSAC, `reference`)
- the best match names the form, none is `unknown_form` - then fitted on the reference's anchor
patches within +-1 mm; a residual beyond tolerance refuses the page with the reason.

The boxes are then read by the engine's own scoring and decision code (`score`, `decide`),
through the same page mm -> image px homography, on the page with the blank's printing lifted
away (the reference, mapped onto the page and thickened by `PRINT_MARGIN_MM`, marks what was
printed: there the page is taken as paper, so printed borders, letters in bubbles and □
characters are never counted as ink). An ellipse is measured on the rectangle inscribed in it.

No code means no printed serial: the serial is made from the source and page, and the reading
carries a fingerprint of the voter's ink (`omr.fingerprint`) so a sheet fed twice can be caught.

The reference pixels are prepared at the edge (`attach_references`: each reference page of the
typed layout, `omr.layout.PageGeometry`, gains its in-memory `reference`, marker image and
print masks); everything here is pure.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import cv2
import numpy as np

from forms.layout_json import BoxDoc
from omr.assemble import LINES_ONLY_LIGHT_FILL, LINES_ONLY_MAX_FILL, assemble_reading
from omr.decide import Thresholds, decide
from omr.fingerprint import fingerprint
from omr.layout import FormLayout, Layouts, PageGeometry
from omr.lines import clear_lines
from omr.reading import Reading, failed
from omr.reference import (
    ReferenceError,
    ReferenceLimits,
    ReferenceMatch,
    ReferenceModel,
    find_markers,
    find_page_quad,
    match_reference,
    page_features,
    percentile_u8,
    prepare_reference,
    refine,
)
from omr.score import (
    BoxSamples,
    PatchGroup,
    ScoreSettings,
    box_fill,
    ink_levels,
    ink_threshold,
    sample_boxes,
)
from omr.target_fit import local_offsets

#: the engine's rules for small marks and circles round a border, off on foreign forms
PRINT_IN_TARGETS = {"circled_sides": 5, "small_mark_fill": 2.0,
                    "slash_length_share": float("inf")}


#: a box's printing (what the blank shows around it: its border) is seen on the page when this
#: share of its printed pixels is darker than PRINT_SEEN_DARKNESS; judged on boxes with at
#: least PRINT_MIN_PX printed patch pixels, on pages with at least PRINT_MIN_BOXES such boxes;
#: more than PRINT_MISSING_MAX_SHARE of them unseen, the page is refused
PRINT_SEEN_DARKNESS = 0.2
PRINT_SEEN_SHARE = 0.5
PRINT_MIN_PX = 20
PRINT_MIN_BOXES = 4
PRINT_MISSING_MAX_SHARE = 0.1
#: nearly all of them unseen: the page is another form set in the same house style
NOT_THIS_FORM_MISSING_SHARE = 0.8
#: fewer of the reference's patches than this share found on the page: it is another form
NOT_THIS_FORM_ANCHOR_SHARE = 0.25
#: printed matter of the blank is widened by this before it is lifted from the page
#: (registration error, blur)
PRINT_MARGIN_MM = 0.35
#: an ellipse is measured on this share of its bounding box's sides, centred (0.707: inscribed)
ELLIPSE_SIDE_SHARE = 0.75
#: an imported answer sheet (its reference does not show the bubbles, `targets_shown`) is made
#: for shading, and its bubbles carry printed letters that are taken away only in part: a
#: bubble is marked when shaded over much of it; the whole inside is measured (the outline is
#: taken away with what its alike bubbles show), and a filled bubble is never a cancellation
SHADED_THRESHOLDS = {"marginal_fill": 0.05, "definite_fill": 0.12, "covered_cell_fill": 1.01,
                     "heavy_ratio": 1e9}
#: fewest bubbles of unknown print whose median fill is taken as the print's own
UNKNOWN_MIN_BOXES = 3
SHADED_MARGIN_MM = 0.25
SHADED_ELLIPSE_SHARE = 0.8
#: a box whose strongest ink reaches this holds ink, for the voter's level
INK_PEAK_MIN = 0.1
INK_LEVEL_MIN = 0.3


def is_foreign(layout: FormLayout) -> bool:
    """Does this layout register by a reference image (a foreign form)?"""
    return layout.foreign


def attach_references(layout: FormLayout, references: dict[int, np.ndarray],
                      limits: ReferenceLimits = ReferenceLimits(),
                      markers: dict[int, np.ndarray] | None = None) -> FormLayout:
    """A copy of `layout` whose reference pages carry their prepared `ReferenceModel`
    (in memory only: never serialise it). `references`: page number -> uint8 grey image of the
    blank, at the dpi its layout says; `markers`: page number -> the corner marker's image,
    for a page whose registration names markers."""
    pages: dict[int, PageGeometry] = {}
    for number, page in layout.pages.items():
        reg = page.doc.registration
        if reg is not None and reg.kind == "reference" and number in references:
            model = prepare_reference(references[number], float(reg.dpi), page.rects_mm,
                                      limits)
            marker = markers[number] if reg.markers and markers and number in markers else None
            # the reference's print in every box, for the default settings
            settings, _, rects = reading_geometry(page, ScoreSettings(), Thresholds())
            page = replace(page, reference=model, marker_image=marker,
                           print_masks=(settings, print_masks(model, rects, settings)))
        pages[number] = page
    return layout.with_pages(pages)


def sheet_serial(source: str, page: int) -> str:
    """The serial of a foreign sheet (16 hex digits), from where its page came: the file and
    the place in it of the sheet's first page. A source "scan.tiff#5" read as page 2 of the
    form is the sheet whose page 1 is scan.tiff#4: the pages of one sheet of a form of several
    pages are joined by their order in one file (a duplex scan of the stack, a PDF, a TIFF),
    page 1 first. A single file per page gives each page its own sheet."""
    name, sep, index = source.rpartition("#")
    if not sep or not index.isdigit():
        name, index = source, "1"
    return hashlib.sha256(f"{name}|{int(index) - page + 1}".encode()).hexdigest()[:16]


def read_foreign(
    grey: np.ndarray, layouts: Layouts, *, source: str, dpi: float | None = None,
    thresholds: Thresholds = Thresholds(), settings: ScoreSettings = ScoreSettings(),
    limits: ReferenceLimits = ReferenceLimits(),
) -> Reading:
    """Read one page (`grey` uint8) against the foreign layouts among `layouts`."""
    candidates = [(lay, p) for lay in layouts.values() if lay.foreign
                  for p in lay.pages.values() if p.reference is not None]
    if not candidates:
        return failed(source, "unknown_form", "no foreign form with its reference image is "
                                              "loaded; load the form's layout and reference")
    quad = find_page_quad(grey)
    want_edges = any(p.doc.registration is not None and p.doc.registration.page_edges
                     for _, p in candidates)
    if want_edges and quad is None and _dark_border(grey):
        return failed(source, "unreadable", "the sheet's edges are not found on the dark "
                                            "background (a corner folded or cut off); re-scan")
    matches = _by_markers(grey, candidates)
    if not any(m for m, _, _ in matches):
        matches = _matches(grey, candidates, dpi, quad, limits, fine=False)
    if not any(m for m, _, _ in matches):  # small print, a low-resolution scan: look closer
        matches = _matches(grey, candidates, dpi, quad, limits, fine=True)
    found = sorted((x for x in matches if x[0] is not None), key=lambda x: -x[0].inliers)
    if not found:
        names = ", ".join(sorted({lay.id for lay, _ in candidates}))
        return failed(source, "unknown_form", f"the page matches none of the loaded foreign "
                                              f"forms ({names}); load its form, or check it is "
                                              "a ballot")
    match, layout, page_layout = found[0]
    who = {"form": layout.id, "page": page_layout.number,
           "serial": sheet_serial(source, page_layout.number)}
    if len(found) > 1 and found[1][0].inliers >= limits.ambiguous_share * match.inliers:
        other = found[1][1].id
        return failed(source, "unknown_form",
                      f"the page matches both {who['form']!r} page {who['page']} and "
                      f"{other!r} page {found[1][2].number} about as well; load only the "
                      "forms of this stack", **who)
    try:
        reg = refine(page_layout.reference, grey, match, limits)
    except ReferenceError as exc:
        if exc.anchors_found < NOT_THIS_FORM_ANCHOR_SHARE * len(page_layout.reference.anchors_px):
            # another form: the best match is named in the reason, never claimed as its form
            # (a reading naming a form is a sheet of that form, `tally.ingest.check_reading`)
            return failed(source, "unknown_form",
                          f"the page does not hold the printing of {who['form']!r} (best "
                          f"match): {exc}")
        return failed(source, "unreadable", str(exc), **who)
    return read_boxes(grey, layout, page_layout, reg.page_to_image, reg.residual_mm, who,
                      source, thresholds, settings)


def _matches(grey: np.ndarray, candidates: list[tuple[FormLayout, PageGeometry]],
             dpi: float | None,
             quad: np.ndarray | None, limits: ReferenceLimits, fine: bool) -> list:
    """(match or None, layout, page) for every candidate reference page."""
    features: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for lay, page in candidates:
        model: ReferenceModel = page.reference
        if model.page_size_mm not in features:  # found once per page size
            features[model.page_size_mm] = page_features(grey, model.page_size_mm, dpi, limits,
                                                         quad, fine)
        points, descriptors = features[model.page_size_mm]
        out.append((match_reference(model, points, descriptors, limits, fine), lay, page))
    return out


#: a page placed by its four corner markers counts as this many matched features
MARKER_INLIERS = 1000


def _by_markers(grey: np.ndarray, candidates: list[tuple[FormLayout, PageGeometry]]) -> list:
    """(match or None, layout, page) for the candidates with printed corner markers: the
    homography from the markers' page positions to their centres found on the page."""
    out = []
    for lay, page in candidates:
        marker = page.marker_image
        reg = page.doc.registration.markers if page.doc.registration is not None else None
        if marker is None or not reg:
            continue
        centres = find_markers(grey, marker, float(reg.width_share))
        match = None
        if centres is not None:
            h = cv2.getPerspectiveTransform(np.float32(reg.centres_mm), np.float32(centres))
            match = ReferenceMatch(h / h[2, 2], MARKER_INLIERS)
        out.append((match, lay, page))
    return out


def _dark_border(grey: np.ndarray) -> bool:
    frame = np.concatenate([grey[:8].ravel(), grey[-8:].ravel()])
    return float(np.median(frame)) < percentile_u8(grey, 90) - 40


#: a target whose inside the reference shows in broad ink over this share is marked on it (a
#: reference that is a filled sheet), not printed; a bubble's bold printed digit - its counters
#: closed at the sampling resolution - reaches about 0.8
MARKED_REFERENCE_SHARE = 0.88


def print_masks(model: ReferenceModel, rects_mm: np.ndarray, settings: ScoreSettings
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per patch group of `omr.score.sample_boxes` (same rects, same settings): where the
    reference is printed, and that widened by `PRINT_MARGIN_MM` - except in a target the
    reference shows mostly dark in broad ink (marked on it, not printed: kept; a printed
    letter or digit filling a bubble is thin strokes, and lifted). Page-independent: prepared
    once (`attach_references`)."""
    ppm = model.work_px_per_mm
    printed = sample_boxes(model.printed, np.diag([ppm, ppm, 1.0]), rects_mm, 0.0, settings)
    grow = max(1, round(PRINT_MARGIN_MM * settings.sample_px_per_mm))
    kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    stroke = max(3, round(GLYPH_STROKE_MM * settings.sample_px_per_mm) | 1)
    broad_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (stroke, stroke))
    out = []
    for p in printed.groups:
        ink = p.dark > 0.3
        lifted = ink.copy()
        broad = np.stack([cv2.morphologyEx(m.view(np.uint8), cv2.MORPH_OPEN, broad_kernel) > 0
                          for m in ink]) if len(ink) else ink
        lifted[broad[:, p.inner[0], p.inner[1]].mean((1, 2)) > MARKED_REFERENCE_SHARE] = False
        wide = np.stack([cv2.dilate(m.view(np.uint8), kernel) > 0 for m in lifted])
        # inside a target its printed glyph is widened by a pixel only: the paper between its
        # strokes is where a shading over it shows
        near = np.stack([cv2.dilate(m.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
                         for m in lifted])
        wide[:, p.inner[0], p.inner[1]] = near[:, p.inner[0], p.inner[1]]
        out.append((ink, wide))
    return out


def reading_geometry(page_layout: PageGeometry, settings: ScoreSettings, thresholds: Thresholds
                     ) -> tuple[ScoreSettings, Thresholds, np.ndarray]:
    """The settings, thresholds and measured rectangles a foreign page is read with (an
    imported answer sheet is read for shading: `SHADED_THRESHOLDS`)."""
    share = ELLIPSE_SIDE_SHARE
    reg = page_layout.doc.registration
    if reg is not None and not reg.targets_shown:
        settings = replace(settings, margin_mm=SHADED_MARGIN_MM)
        thresholds = replace(thresholds, **SHADED_THRESHOLDS)
        share = SHADED_ELLIPSE_SHARE
    return settings, thresholds, measured_rects(page_layout, settings.margin_mm, share)


def lift_print(samples: BoxSamples, model: ReferenceModel, rects_mm: np.ndarray,
               options: list[str], settings: ScoreSettings, targets_shown: bool = True,
               prepared: list[tuple[np.ndarray, np.ndarray]] | None = None
               ) -> tuple[BoxSamples, np.ndarray, np.ndarray]:
    """The box samples with the blank's printed matter (widened by `PRINT_MARGIN_MM`) taken as
    paper; peak ink and paper noise measured again on what is left.

    Printed matter is what the reference shows in a box (unless it shows the box mostly
    dark: a mark on the reference), and what most boxes of the same option and size show (a
    bubble's printed letter, where the reference does not show the targets: `_printed_alike`). When
    the reference does not show the targets, a box with too few alike is taken to hold a
    printed glyph in its thin dark strokes (`_thin_strokes`): such sheets are made for shading,
    and a thin tick in such a box is not seen. Also returns, per box, whether what is printed
    in it is known (always, when the reference shows the targets), and the share of the
    blank's printing in and around it that the page shows (NaN: too little printed there)."""
    masks = print_masks(model, rects_mm, settings) if prepared is None else prepared
    groups, spread = [], []
    peak = samples.peak.copy()
    known_all = np.ones(len(peak), bool)
    seen = np.full(len(peak), np.nan)
    for g, (printed, widened) in zip(samples.groups, masks, strict=True):
        # is the blank's printing around each box (its border) on the page?
        counts = printed.reshape(len(printed), -1).sum(1)
        shows = (g.dark > PRINT_SEEN_DARKNESS) & printed
        seen[g.index] = np.where(counts >= PRINT_MIN_PX, shows.reshape(len(printed), -1).sum(1)
                                 / np.maximum(counts, 1), np.nan)
        if not targets_shown:  # what alike boxes show is printed (only needed here)
            alike, known = _printed_alike(g, options)
            known_all[g.index] = known
        ink = widened.copy()
        if not targets_shown:  # nothing known of what is printed in a lone box: its glyph
            for j in np.nonzero(~known)[0]:
                ink[j] |= cv2.dilate(_thin_strokes(g.dark[j], settings).view(np.uint8),
                                     np.ones((3, 3), np.uint8)) > 0
        dark = np.where(ink, 0.0, g.dark).astype(np.float32)
        if not targets_shown:
            # what alike boxes all show is taken away; where it is a glyph, the page's strokes
            # are thinned by a pixel first (registration), so only broad ink - a shading -
            # stays. Not on a form whose reference shows its boxes: that lift is exact, and a
            # pen tick must keep its width
            glyph = alike.reshape(len(alike), -1).max(1) > ALIKE_GLYPH_DARKNESS
            for j in np.nonzero(glyph)[0]:
                dark[j] = cv2.erode(dark[j], np.ones((3, 3), np.uint8))
            dark = np.clip(dark - alike, 0.0, 1.0)
        flat = dark[:, g.inner[0], g.inner[1]][:, ::3, ::3].reshape(len(g.index), -1)
        k = int(0.95 * (flat.shape[1] - 1))
        peak[g.index] = np.partition(flat, k, axis=1)[:, k]
        spread.append(dark[:, g.inner[0], g.inner[1]][:, ::2, ::2].reshape(len(g.index), -1)
                      .std(1))
        groups.append(PatchGroup(g.index, g.size_mm, dark, g.inner))
    noise = float(np.percentile(np.concatenate(spread), 25)) if spread else samples.noise
    return BoxSamples(groups, samples.border_error_mm, samples.border_offset_mm,
                      samples.border_measured, peak,
                      max(noise, 0.01)), known_all, seen


#: fewest boxes of one option and size whose median shows what is printed in them
ALIKE_MIN_BOXES = 4
#: darkness taken away beyond what the alike boxes show (their paper's noise)
ALIKE_MARGIN = 0.05
#: alike boxes showing ink this dark share a printed glyph
ALIKE_GLYPH_DARKNESS = 0.3


def _printed_alike(g: PatchGroup, options: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n, hp, wp) float32: per box of the group, the darkness the median of the boxes with its
    option label shows (printed in every such box; a voter marks only a few of them), widened
    plus `ALIKE_MARGIN`; and per box whether it had enough alike to tell."""
    out = np.zeros(g.dark.shape, np.float32)
    known = np.zeros(len(g.index), bool)
    labels = np.array([options[i] for i in g.index])
    for label in np.unique(labels):
        same = np.nonzero(labels == label)[0]
        if len(same) >= ALIKE_MIN_BOXES:
            out[same] = np.median(g.dark[same], axis=0) + ALIKE_MARGIN
            known[same] = True
    return out, known


#: printed strokes are at most this wide; a shaded area is wider
GLYPH_STROKE_MM = 0.7
GLYPH_DARKNESS = 0.5


def _thin_strokes(dark: np.ndarray, settings: ScoreSettings) -> np.ndarray:
    """Dark pixels of thin strokes (a printed letter): dark, and gone after an opening as wide
    as `GLYPH_STROKE_MM`."""
    ink = (dark > GLYPH_DARKNESS).astype(np.uint8)
    k = max(3, round(GLYPH_STROKE_MM * settings.sample_px_per_mm) | 1)
    wide = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                           (k, k)))
    return (ink > 0) & (wide == 0)


def measured_rects(page: PageGeometry, margin_mm: float, share: float = ELLIPSE_SIDE_SHARE
                   ) -> np.ndarray:
    """(N, 4) page mm rectangles to sample: an ellipse's box is cut so that its measured area
    (the rectangle shrunk by `margin_mm`) is the rectangle nearly inscribed in it."""
    rects = page.rects_mm.copy()
    for i, b in enumerate(page.boxes):
        if b.shape == "ellipse":
            x, y, w, h = rects[i]
            s = share
            mw, mh = min(w * s + 2 * margin_mm, w), min(h * s + 2 * margin_mm, h)
            rects[i] = (x + (w - mw) / 2, y + (h - mh) / 2, mw, mh)
    # learned sizes vary by a fraction of a millimetre: boxes of one size share their patch
    # geometry in `omr.score`, so sizes are snapped to SIZE_STEP_MM about each box's centre
    snapped = np.maximum(np.round(rects[:, 2:] / SIZE_STEP_MM) * SIZE_STEP_MM, SIZE_STEP_MM)
    rects[:, :2] += (rects[:, 2:] - snapped) / 2
    rects[:, 2:] = snapped
    return rects


#: measured sizes are multiples of this
SIZE_STEP_MM = 0.2


def read_boxes(grey: np.ndarray, layout: FormLayout, page_layout: PageGeometry,
               page_to_image: np.ndarray,
               residual_mm: float, who: dict, source: str, thresholds: Thresholds,
               settings: ScoreSettings) -> Reading:
    """Score and decide the boxes of a registered foreign page (the engine's own code)."""
    boxes: list[BoxDoc] = page_layout.boxes
    model: ReferenceModel = page_layout.reference
    reg = page_layout.doc.registration
    targets_shown = reg.targets_shown if reg is not None else True
    settings, thresholds, rects = reading_geometry(page_layout, settings, thresholds)
    cached = page_layout.print_masks
    prepared = cached[1] if cached is not None and cached[0] == settings else None
    moved = False
    if not targets_shown:  # nothing of the reference pins the targets: their outlines do
        offsets = local_offsets(grey, page_to_image, page_layout.rects_mm,
                                np.array([b.shape == "ellipse" for b in boxes], bool),
                                model.page_size_mm)
        moved = bool(offsets.any())
        if moved:
            rects = rects.copy()
            rects[:, :2] += offsets
    # the printed black of this scan: the darkest of what the blank printed
    black = _black_level(grey, model, page_to_image)
    raw = sample_boxes(grey, page_to_image, rects, black, settings)
    if moved:  # the reference's print about the moved boxes; inside a box it shows none (its
        # bubble was erased where the template put it, and what is left of it is no print)
        prepared = [(_cleared(ink, g.inner), _cleared(wide, g.inner)) for (ink, wide), g
                    in zip(print_masks(model, rects, settings), raw.groups, strict=True)]
    options = [b.option for b in boxes]
    samples, known, seen = lift_print(raw, model, rects, options, settings, targets_shown,
                                      prepared)
    judged = np.isfinite(seen)
    if judged.sum() >= PRINT_MIN_BOXES:
        missing = float((seen[judged] < PRINT_SEEN_SHARE).mean())
        if missing > NOT_THIS_FORM_MISSING_SHARE:
            return failed(source, "unknown_form",
                          f"the page does not hold the boxes of {who['form']!r} (best match; "
                          f"{missing:.0%} of them missing): it is another form, or not a "
                          "ballot")
        if missing > PRINT_MISSING_MAX_SHARE:
            return failed(source, "unreadable",
                          f"the printed boxes are missing at {missing:.0%} of the places the "
                          "reference puts them (part of the sheet torn off, folded over or "
                          "covered); re-scan it whole and flat", **who)
    clear = samples.peak >= max(INK_PEAK_MIN, 6.0 * samples.noise)
    level = float(np.clip(np.median(samples.peak[clear]), INK_LEVEL_MIN, 1.0)) \
        if clear.any() else 1.0
    threshold = ink_threshold(level, samples.noise, settings)
    # the faintest ink a person sees on this scan: "no darker than the scan's grain" is judged
    # against it (`decide`), not against the single level the boxes are measured at, which is
    # the voter's or the absolute mark level and may be well above it (a light pencil's whole
    # page of ticks would otherwise pass for grain)
    faintest = ink_levels(level, samples.noise, settings).visible
    ink = box_fill(samples, threshold, settings, printed_borders=False)
    ink.visible_level = faintest
    # scanner streaks and folds, erased as the engine does for our own forms: on the boxes as
    # scanned (a line runs on across their printed borders), then the print is lifted again.
    # Not on an imported answer sheet: a row of shaded bubbles there passes for a band
    light = (ink.fill >= thresholds.marginal_fill) & (ink.fill < LINES_ONLY_LIGHT_FILL)
    light &= targets_shown
    if light.any() and clear_lines(raw, np.nonzero(light)[0], grey, page_to_image, rects,
                                   threshold, settings):
        heavier = (ink.fill >= LINES_ONLY_LIGHT_FILL) & (ink.fill < LINES_ONLY_MAX_FILL)
        if heavier.any():
            clear_lines(raw, np.nonzero(heavier)[0], grey, page_to_image, rects, threshold,
                        settings)
        samples, _, _ = lift_print(raw, model, rects, options, settings, targets_shown,
                                   prepared)
        ink = box_fill(samples, threshold, settings, printed_borders=False)
        ink.visible_level = faintest
    if (~known).sum() >= UNKNOWN_MIN_BOXES:
        # bubbles whose printed letter is unknown: their usual fill is the letter's
        ink.fill[~known] = np.clip(ink.fill[~known] - np.median(ink.fill[~known]), 0.0, 1.0)
        ink.visible[~known] = np.clip(ink.visible[~known] - np.median(ink.visible[~known]),
                                      0.0, 1.0)
    # a foreign target may hold printed letters (an answer sheet's bubbles): what remains of
    # them once the print is lifted is not a voter's dot, slash or circle; only fills decide
    calls = decide(ink, list(page_layout.box_fields), replace(thresholds, **PRINT_IN_TARGETS))
    masks = {}
    for g in samples.groups:
        for j, index in enumerate(g.index):
            if ink.fill[index] >= thresholds.marginal_fill:
                masks[int(index)] = g.dark[j, g.inner[0], g.inner[1]] > threshold
    reading = assemble_reading(layout, page_layout, boxes, ink.fill, calls, page_to_image,
                               residual_mm, source, who)
    reading.fingerprint = fingerprint(masks)
    return reading


def _cleared(mask: np.ndarray, inner: tuple[slice, slice]) -> np.ndarray:
    out = mask.copy()
    out[:, inner[0], inner[1]] = False
    return out


def _black_level(grey: np.ndarray, model: ReferenceModel, page_to_image: np.ndarray) -> float:
    """Grey level of the printed black in this scan (10th percentile where the blank is
    darkest), sampled on a coarse grid of the reference."""
    pts = model.black_points_mm
    if len(pts) < 20:
        return 0.0
    q = pts @ page_to_image[:, :2].T + page_to_image[:, 2]
    q = np.round(q[:, :2] / q[:, 2:3]).astype(int)
    h, w = grey.shape
    ok = (q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)
    if ok.sum() < 20:
        return 0.0
    return percentile_u8(grey[q[ok, 1], q[ok, 0]], 10)
