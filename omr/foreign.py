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

The reference pixels are prepared at the edge (`attach_references`: the layout page gains an
in-memory `reference_model`); everything here is pure.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from omr.decide import Thresholds, decide
from omr.fingerprint import fingerprint
from omr.reading import FieldMarks, Reading, failed
from omr.reference import (
    ReferenceError,
    ReferenceLimits,
    ReferenceModel,
    find_page_quad,
    match_reference,
    page_features,
    prepare_reference,
    refine,
    work_image,
)
from omr.score import ScoreSettings, box_fill, ink_threshold, sample_boxes

MODEL_KEY = "reference_model"
#: printed matter of the blank is widened by this before it is lifted from the page
#: (registration error, blur)
PRINT_MARGIN_MM = 0.35
#: a reference pixel this much darker than its paper is printed matter
PRINT_CONTRAST = 60
#: an ellipse is measured on this share of its bounding box's sides, centred (0.707: inscribed)
ELLIPSE_SIDE_SHARE = 0.75
#: a box whose strongest ink reaches this holds ink, for the voter's level
INK_PEAK_MIN = 0.1
INK_LEVEL_MIN = 0.3


def is_foreign(layout: dict) -> bool:
    """Does this layout register by a reference image (a foreign form)?"""
    return any(p.get("registration", {}).get("kind") == "reference" for p in layout["pages"])


def attach_references(layout: dict, references: dict[int, np.ndarray],
                      limits: ReferenceLimits = ReferenceLimits()) -> dict:
    """A copy of `layout` whose reference pages carry their prepared `ReferenceModel`
    (in memory only: never serialise it). `references`: page number -> uint8 grey image of the
    blank, at the dpi its layout says."""
    out = {**layout, "pages": []}
    for page in layout["pages"]:
        reg = page.get("registration") or {}
        page = dict(page)
        if reg.get("kind") == "reference" and page["page"] in references:
            rects = np.array([b["rect_mm"] for b in page["boxes"]], np.float64).reshape(-1, 4)
            page[MODEL_KEY] = prepare_reference(references[page["page"]], float(reg["dpi"]),
                                                rects, limits)
        out["pages"].append(page)
    return out


def sheet_serial(source: str, page: int) -> str:
    """The serial of a foreign sheet: from its source and page (16 hex digits)."""
    return hashlib.sha256(f"{source}|{page}".encode()).hexdigest()[:16]


def read_foreign(
    grey: np.ndarray, layouts: dict[str, dict], *, source: str, dpi: float | None = None,
    thresholds: Thresholds = Thresholds(), settings: ScoreSettings = ScoreSettings(),
    limits: ReferenceLimits = ReferenceLimits(),
) -> Reading:
    """Read one page (`grey` uint8) against the foreign layouts among `layouts`."""
    candidates = [(lay, p) for lay in layouts.values() if is_foreign(lay)
                  for p in lay["pages"] if MODEL_KEY in p]
    if not candidates:
        return failed(source, "unknown_form", "no foreign form with its reference image is "
                                              "loaded; load the form's layout and reference")
    quad = find_page_quad(grey)
    want_edges = any(p["registration"].get("page_edges") for _, p in candidates)
    if want_edges and quad is None and _dark_border(grey):
        return failed(source, "unreadable", "the sheet's edges are not found on the dark "
                                            "background (a corner folded or cut off); re-scan")
    model0: ReferenceModel = candidates[0][1][MODEL_KEY]
    work, scale = work_image(grey, model0, dpi, quad)
    quad_work = quad * scale if quad is not None else None
    points, descriptors = page_features(work, limits, quad_work)
    matches = []
    for lay, page in candidates:
        model: ReferenceModel = page[MODEL_KEY]
        if model.work_px_per_mm != model0.work_px_per_mm or model.page_size_mm != \
                model0.page_size_mm:
            w2, s2 = work_image(grey, model, dpi, quad)
            q2 = quad * s2 if quad is not None else None
            p2, d2 = page_features(w2, limits, q2)
            m = match_reference(model, p2, d2, s2, limits)
            matches.append((m, lay, page, w2))
        else:
            matches.append((match_reference(model, points, descriptors, scale, limits), lay,
                            page, work))
    found = sorted((x for x in matches if x[0] is not None), key=lambda x: -x[0].inliers)
    if not found:
        names = ", ".join(sorted({lay["form"]["id"] for lay, _ in candidates}))
        return failed(source, "unknown_form", f"the page matches none of the loaded foreign "
                                              f"forms ({names}); load its form, or check it is "
                                              "a ballot")
    match, layout, page_layout, page_work = found[0]
    who = {"form": layout["form"]["id"], "page": page_layout["page"],
           "serial": sheet_serial(source, page_layout["page"])}
    if len(found) > 1 and found[1][0].inliers >= limits.ambiguous_share * match.inliers:
        other = found[1][1]["form"]["id"]
        return failed(source, "unknown_form",
                      f"the page matches both {who['form']!r} page {who['page']} and "
                      f"{other!r} page {found[1][2]['page']} about as well; load only the "
                      "forms of this stack", **who)
    try:
        reg = refine(page_layout[MODEL_KEY], page_work, match, limits)
    except ReferenceError as exc:
        return failed(source, "unreadable", str(exc), **who)
    return read_boxes(grey, layout, page_layout, reg.page_to_image, reg.residual_mm, who,
                      source, thresholds, settings)


def _dark_border(grey: np.ndarray) -> bool:
    frame = np.concatenate([grey[:8].ravel(), grey[-8:].ravel()])
    return float(np.median(frame)) < float(np.percentile(grey, 90)) - 40


def lift_print(grey: np.ndarray, model: ReferenceModel, page_to_image: np.ndarray) -> np.ndarray:
    """`grey` with the blank's printed matter replaced by the paper's level."""
    ref_to_image = page_to_image @ np.diag([1 / model.work_px_per_mm,
                                            1 / model.work_px_per_mm, 1.0])
    printed = (model.work < model.paper_level - PRINT_CONTRAST).astype(np.uint8) * 255
    h, w = grey.shape
    mapped = cv2.warpPerspective(printed, ref_to_image, (w, h), flags=cv2.INTER_LINEAR)
    px_per_mm = abs(np.linalg.det(page_to_image[:2, :2])) ** 0.5
    k = max(3, round(2 * PRINT_MARGIN_MM * px_per_mm) | 1)
    mapped = cv2.dilate(mapped, np.ones((k, k), np.uint8))
    out = grey.copy()
    out[mapped > 64] = np.uint8(np.percentile(grey[::4, ::4], 90))  # the paper's level
    return out


def measured_rects(boxes: list[dict]) -> np.ndarray:
    """(N, 4) page mm rectangles to measure: an ellipse's inscribed share of its box."""
    rects = np.array([b["rect_mm"] for b in boxes], np.float64).reshape(-1, 4)
    for i, b in enumerate(boxes):
        if b.get("shape") == "ellipse":
            x, y, w, h = rects[i]
            s = ELLIPSE_SIDE_SHARE
            rects[i] = (x + w * (1 - s) / 2, y + h * (1 - s) / 2, w * s, h * s)
    return rects


def read_boxes(grey: np.ndarray, layout: dict, page_layout: dict, page_to_image: np.ndarray,
               residual_mm: float, who: dict, source: str, thresholds: Thresholds,
               settings: ScoreSettings) -> Reading:
    """Score and decide the boxes of a registered foreign page (the engine's own code)."""
    boxes = page_layout["boxes"]
    model: ReferenceModel = page_layout[MODEL_KEY]
    clean = lift_print(grey, model, page_to_image)
    rects = measured_rects(boxes)
    # the printed black of this scan: the darkest of what the blank printed
    black = _black_level(grey, model, page_to_image)
    samples = sample_boxes(clean, page_to_image, rects, black, settings)
    clear = samples.peak >= max(INK_PEAK_MIN, 6.0 * samples.noise)
    level = float(np.clip(np.median(samples.peak[clear]), INK_LEVEL_MIN, 1.0)) \
        if clear.any() else 1.0
    threshold = ink_threshold(level, samples.noise, settings)
    ink = box_fill(samples, threshold, settings)
    calls = decide(ink, [b["field"] for b in boxes], thresholds)
    masks = {}
    for g in samples.groups:
        for j, index in enumerate(g.index):
            if ink.fill[index] >= thresholds.marginal_fill:
                masks[int(index)] = g.dark[j, g.inner[0], g.inner[1]] > threshold
    page_fields = [f for f in layout["fields"] if f["page"] == page_layout["page"]]
    marks = {f["id"]: FieldMarks() for f in page_fields}
    scores: dict[str, dict[str, float]] = {f["id"]: {} for f in page_fields}
    doubts = []
    for box, fill, call in zip(boxes, ink.fill, calls, strict=True):
        field, option = box["field"], box["option"]
        marks.setdefault(field, FieldMarks())
        scores.setdefault(field, {})[option] = float(fill)
        if call.decision == "marked":
            marks[field].marked.append(option)
        elif call.decision == "doubtful":
            marks[field].doubtful.append(option)
            doubts.append(f"{field}/{option}: {call.why}")
    order = {f["id"]: f["options"] for f in page_fields}
    for field, m in marks.items():
        if field in order:
            m.marked.sort(key=order[field].index)
            m.doubtful.sort(key=order[field].index)
    if doubts:
        status, reason = "review", f"{len(doubts)} doubtful box(es): " + "; ".join(doubts[:5])
        if len(doubts) > 5:
            reason += f"; and {len(doubts) - 5} more"
    elif not any(c.decision != "empty" for c in calls):
        status, reason = "blank", "no marks"
    else:
        status, reason = "ok", ""
    return Reading(source, status, reason, **who, marks=marks, scores=scores,
                   page_to_image=page_to_image, registration_error_mm=residual_mm,
                   fingerprint=fingerprint(masks))


def _black_level(grey: np.ndarray, model: ReferenceModel, page_to_image: np.ndarray) -> float:
    """Grey level of the printed black in this scan (10th percentile where the blank is
    darkest), sampled on a coarse grid of the reference."""
    ys, xs = np.nonzero(model.work < model.black_level + 20)
    if len(xs) < 20:
        return 0.0
    step = max(1, len(xs) // 4000)
    pts = np.column_stack([xs[::step], ys[::step]]).astype(np.float64) / model.work_px_per_mm
    q = pts @ page_to_image[:, :2].T + page_to_image[:, 2]
    q = np.round(q[:, :2] / q[:, 2:3]).astype(int)
    h, w = grey.shape
    ok = (q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)
    if ok.sum() < 20:
        return 0.0
    return float(np.percentile(grey[q[ok, 1], q[ok, 0]], 10))
