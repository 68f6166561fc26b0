"""Per-box ink: sample only the boxes, normalise the background, drop lines, measure the fill.

Every box is resampled into a small upright patch - its inside plus a ring of paper around it,
at `sample_px_per_mm` - straight from the scan, through the local affine map of the page->image
homography at the box (one `cv2.warpAffine` per box; the page itself is never warped). In it:

- darkness = (paper - grey) / (paper - black), clipped to 0..1 and averaged over 3 x 3 pixels
  (noise, dithering), where `paper` is the bright level of the ring around that box (local
  shading, a dark scanner) and `black` the printed fiducials' ink (a light scanner, toner);
- the printed border is located in its profiles, which measures the registration error box by
  box; the measured area is the box's inside shrunk by `margin_mm`, so the border never counts;
- a straight line that crosses the whole patch and goes on well outside it (a scanner streak, a
  fold) is erased before measuring (`omr.lines`);
- `fill` is the share of the measured area covered by ink, and `visible` the share holding any
  ink a person could see (`InkLevels`): a light mark is never read away as paper because the
  same voter's other marks are darker;
- `ring` is how much ink lies just outside the printed border (a scribble running past it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from omr.register import apply


@dataclass(frozen=True)
class ScoreSettings:
    """How boxes are sampled and measured (units in the names)."""

    #: resolution of the resampled box patches
    sample_px_per_mm: float = 6.0
    #: paper kept around the inside of each box (holds the border and the local paper level)
    ring_mm: float = 2.0
    #: the measured area is the box's inside shrunk by this on every side (border + registration)
    margin_mm: float = 0.6
    #: printed border width (forms.geometry.BOX_BORDER_MM)
    border_mm: float = 0.35
    #: how far the border is searched for around its expected place
    border_search_mm: float = 1.2
    #: a straight line must go on this far beyond the patch, on both sides, to be erased
    line_reach_mm: float = 6.0
    #: a voter's pen or pencil is thinner than this; wider straight bands are not lines
    line_max_width_mm: float = 1.6
    #: darkness (0 paper .. 1 printed black) a person sees as ink on any sheet: a box with more
    #: than dust of it is never empty (VotingWorks' marginal mark)
    visible_darkness: float = 0.12
    #: darkness that is surely ink, whatever the voter's other marks: a pixel this dark counts
    #: towards a mark on an absolute scale
    ink_floor: float = 0.16
    #: a voter's own ink level: pixels darker than this share of it are ink of their marks
    #: (a light pencil adapts; this level only ever raises the count of a box, see InkLevels)
    ink_share: float = 0.45
    #: every level stays this many standard deviations of the paper noise above the paper
    noise_sigmas: float = 4.0
    #: a box with at least this share of ink at the voter's own level is measured at that
    #: level (its shape: cover, spread, solidity); a lighter box at the absolute floor
    voter_mark_fill: float = 0.08
    #: darkness is averaged over this many pixels square (noise, dithering); 1: not at all
    smooth_px: int = 3


@dataclass
class PatchGroup:
    """Boxes of one size, resampled: darkness patches (N, hp, wp) and where things are in them."""

    index: np.ndarray  # positions of these boxes in the page's box list
    size_mm: tuple[float, float]  # inside width, height
    dark: np.ndarray  # float32 darkness 0..1
    inner: tuple[slice, slice]  # rows, columns of the measured area


@dataclass
class BoxSamples:
    """The boxes of a page, resampled, with what was measured on them."""

    groups: list[PatchGroup]
    #: per box, the registration error measured on its printed border (mm); NaN when the
    #: border is not clearly visible near its expected place
    border_error_mm: np.ndarray
    #: per box, where its printed border was found (mm along the page's x and y) relative to
    #: where the homography put it, signed; NaN with the error
    border_offset_mm: np.ndarray
    #: per box, whether its border can be measured: not mostly filled (`BORDER_MAX_FILLED`)
    border_measured: np.ndarray
    #: per box, darkness of its strongest ink (95th percentile of the measured area, every
    #: third pixel each way)
    peak: np.ndarray
    #: the page's paper noise (standard deviation of darkness on clean paper: the quietest
    #: quarter of the boxes, empty ones)
    noise: float
    #: the page is a bitonal scan (`bitonal_scan`), and of those an error-diffusion dither
    #: (`dithered_scan`), measured once here for every rule that asks
    bitonal: bool = False
    dithered: bool = False

    @property
    def thresholded(self) -> bool:
        """A bitonal scan by a threshold (fixed, dynamic or small-window), not a dither: every
        black pixel is equally black, ink has no shades."""
        return self.bitonal and not self.dithered


#: pixels this close to black or white...
BITONAL_EDGE = 16
#: ...over this share of those looked at: a bitonal scan (a G4 TIFF's 0 and 255)
BITONAL_SHARE = 0.98


def is_bitonal(pixels: np.ndarray) -> bool:
    """Are these uint8 pixels (nearly) all black or white?"""
    extreme = (pixels < BITONAL_EDGE) | (pixels > 255 - BITONAL_EDGE)
    return bool(extreme.mean() >= BITONAL_SHARE)


def bitonal_scan(grey: np.ndarray) -> bool:
    """Is the page a bitonal scan (looked at on every 7th pixel each way)? Only a bitonal
    threshold hollows a solid (a fill, a scribble) to its edge; a grey or colour scan keeps
    solid ink solid."""
    return is_bitonal(grey[::7, ::7])


def sample_boxes(
    grey: np.ndarray, page_to_image: np.ndarray, rects_mm: np.ndarray, black_level: float,
    settings: ScoreSettings,
) -> BoxSamples:
    """Resample the boxes `rects_mm` ((N, 4): x, y, w, h, page mm, the inside of each box) from
    `grey` (uint8) into darkness patches; measure border registration, peak ink and noise."""
    n = len(rects_mm)
    border_offset = np.full((n, 2), np.nan)
    measured = np.zeros(n, bool)
    peak = np.zeros(n)
    noises = []
    groups = []
    sizes = np.round(rects_mm[:, 2:] * 20) / 20
    warped = []
    own_paper = np.zeros(n)
    bitonal = bitonal_scan(grey)
    dither = bitonal and _dots_stand_alone(grey)
    grey, page_to_image = area_resampled(grey, page_to_image, settings)
    # a dithered scan's ink is measured on its grey averaged back (`dither_averaged`), its
    # printed borders, which the averaging widens and lightens, on the scan as it is
    ink_grey = dither_averaged(grey, page_to_image) if dither else grey
    for size in np.unique(sizes, axis=0):
        index = np.nonzero((sizes == size).all(1))[0]
        grey_patches = _warp_patches(ink_grey, page_to_image, rects_mm[index], settings)
        own_paper[index] = _ring_paper(grey_patches, size, settings)
        warped.append((size, index, grey_patches))
    paper = _robust_paper(own_paper, rects_mm[:, :2] + rects_mm[:, 2:] / 2)
    for size, index, grey_patches in warped:
        dark, noise = _darkness(grey_patches, size, black_level, settings, paper[index])
        inner = _inner(size, settings)
        if dither:
            raw = _warp_patches(grey, page_to_image, rects_mm[index], settings)
            border_dark, _ = _darkness(raw, size, black_level, settings,
                                       _ring_paper(raw, size, settings))
            border_offset[index] = _border_offset(border_dark, size, settings)
        else:
            border_offset[index] = _border_offset(dark, size, settings)
        flat = dark[:, inner[0], inner[1]][:, ::3, ::3].reshape(len(index), -1)
        k = int(0.95 * (flat.shape[1] - 1))
        peak[index] = np.partition(flat, k, axis=1)[:, k]
        # a box mostly filled hides its border, or offers its fill's edge as one
        measured[index] = (flat > 0.5).mean(1) < BORDER_MAX_FILLED
        noises.append(noise)
        groups.append(PatchGroup(index, (float(size[0]), float(size[1])), dark, inner))
    border_error = np.hypot(border_offset[:, 0], border_offset[:, 1])
    return BoxSamples(groups, border_error, border_offset, measured, peak,
                      float(np.percentile(np.concatenate(noises), 25)), bitonal, dither)


#: a box with more than this share of its measured area dark (> 0.5) is not used to measure
#: the registration on its border
BORDER_MAX_FILLED = 0.25


#: a bitonal scan on which at least this share of the black pixels (in a few bands across
#: the page) touch no other black pixel is error-diffusion dithered: its paper and its light
#: ink are densities of lone dots (simulated dithered pages: 0.13 and up, every other bitonal
#: kind - fixed, dynamic, small-window thresholds, with their specks - at most 0.022)
DITHER_ISOLATED_SHARE = 0.08
#: rows in each of the bands looked at, and how many bands
DITHER_BAND_ROWS = 48
DITHER_BANDS = 8
#: a dithered scan's grey is recovered by a Gaussian of this sigma (mm) over the scan
DITHER_SIGMA_MM = 0.15


def dithered_scan(grey: np.ndarray) -> bool:
    """Is the page an error-diffusion (dithered) bitonal scan? Its black pixels in the paper
    and in light ink stand mostly alone; a thresholded scan's (fixed, dynamic or small-window)
    lie in strokes and specks of several pixels."""
    return grey.ndim == 2 and bitonal_scan(grey) and _dots_stand_alone(grey)


def _dots_stand_alone(grey: np.ndarray) -> bool:
    """On a bitonal scan: do most black pixels (in a few bands across it) stand alone?"""
    if grey.ndim != 2:
        return False
    h = grey.shape[0]
    alone = black = 0
    for y in np.linspace(0.1 * h, 0.9 * h - DITHER_BAND_ROWS, DITHER_BANDS).astype(int):
        band = grey[max(0, y):y + DITHER_BAND_ROWS] < 128
        core = band[1:-1, 1:-1]
        touched = band[:-2, 1:-1] | band[2:, 1:-1] | band[1:-1, :-2] | band[1:-1, 2:]
        black += int(core.sum())
        alone += int((core & ~touched).sum())
    return black > 0 and alone / black >= DITHER_ISOLATED_SHARE


def dither_averaged(grey: np.ndarray, page_to_image: np.ndarray) -> np.ndarray:
    """A dithered scan averaged back into the grey its dots encode, as an eye at reading
    distance sees it: a Gaussian of `DITHER_SIGMA_MM` at the scan's own scale. Averaged over
    a fixed area of paper rather than a fixed count of samples, a coarse (150-200 dpi) dither
    no longer leaves a noise floor that a pencil stroke's density drowns in."""
    px_per_mm = _page_px_per_mm(page_to_image)
    if not np.isfinite(px_per_mm) or px_per_mm <= 0:
        return grey
    return cv2.GaussianBlur(grey, (0, 0), DITHER_SIGMA_MM * px_per_mm)


def _page_px_per_mm(page_to_image: np.ndarray) -> float:
    """The scan's scale (image px per page mm) at the middle of an A4 page, along x and y."""
    q = apply(page_to_image, np.array([[105.0, 148.0], [106.0, 148.0], [105.0, 149.0]]))
    return float(np.mean([np.hypot(*(q[1] - q[0])), np.hypot(*(q[2] - q[0]))]))


#: a scan finer than this many times the sample rate is area-averaged down before sampling...
AREA_SAMPLE_ABOVE = 1.5
#: ...to this many times the sample rate
AREA_SAMPLE_TO = 1.25


def area_resampled(grey: np.ndarray, page_to_image: np.ndarray, settings: ScoreSettings
                   ) -> tuple[np.ndarray, np.ndarray]:
    """`grey` area-averaged down to about `AREA_SAMPLE_TO` times the sample rate, with the
    homography that maps the page onto it, when the scan is much finer than the samples.

    A sample is meant to stand for the ink over its own small area, as a person's eye
    averages it. Point-sampling a fine scan instead picks a few of its pixels: on an
    error-diffusion (dithered) bitonal scan that turns the even grey of paper into loud
    salt-and-pepper noise, the page's noise floor rises over a thin stroke's darkness and the
    stroke vanishes. Averaging the area first (anti-aliasing) gives each sample the grey the
    dither encodes, and costs nothing at the usual 200 dpi, where nothing is done."""
    px_per_mm = _page_px_per_mm(page_to_image)
    ppm = settings.sample_px_per_mm
    if not np.isfinite(px_per_mm) or px_per_mm <= AREA_SAMPLE_ABOVE * ppm:
        return grey, page_to_image
    factor = AREA_SAMPLE_TO * ppm / px_per_mm
    h_px, w_px = grey.shape[:2]
    w_new, h_new = max(1, round(w_px * factor)), max(1, round(h_px * factor))
    small = cv2.resize(grey, (w_new, h_new), interpolation=cv2.INTER_AREA)
    fx, fy = w_new / w_px, h_new / h_px  # pixel centres: x' + 0.5 = (x + 0.5) * fx
    scale = np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]])
    return small, scale @ page_to_image


def axis_mm(length_mm: float, settings: ScoreSettings) -> np.ndarray:
    """Sample centres along one side of a patch, in mm from the box's inside edge."""
    count = round((length_mm + 2 * settings.ring_mm) * settings.sample_px_per_mm)
    return patch_mm(np.arange(count), settings)


def patch_mm(px: np.ndarray, settings: ScoreSettings) -> np.ndarray:
    """Patch sample coordinates (px, either axis, fractions allowed) -> mm from the box's
    inside edge."""
    step = 1.0 / settings.sample_px_per_mm
    return -settings.ring_mm + step / 2 + step * np.asarray(px, np.float64)


def _warp_patches(grey: np.ndarray, h: np.ndarray, rects_mm: np.ndarray,
                  settings: ScoreSettings) -> np.ndarray:
    """(N, hp, wp) uint8 patches, each through the homography's local affine map at its box."""
    ppm, ring = settings.sample_px_per_mm, settings.ring_mm
    wp = len(axis_mm(rects_mm[0, 2], settings))
    hp = len(axis_mm(rects_mm[0, 3], settings))
    n = len(rects_mm)
    centre = rects_mm[:, :2] + rects_mm[:, 2:] / 2
    unit = np.eye(2)
    q = apply(h, np.concatenate([centre, centre + unit[0], centre + unit[1]]))
    q0, dx, dy = q[:n], q[n:2 * n] - q[:n], q[2 * n:] - q[:n]  # image px per mm along x, y
    first = rects_mm[:, :2] - ring + 0.5 / ppm - centre  # first sample, mm from the centre
    origin = q0 + first[:, :1] * dx + first[:, 1:] * dy
    affine = np.stack([np.column_stack([dx[:, 0] / ppm, dy[:, 0] / ppm, origin[:, 0]]),
                       np.column_stack([dx[:, 1] / ppm, dy[:, 1] / ppm, origin[:, 1]])], 1)
    out = np.empty((n, hp, wp), np.uint8)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for i in range(n):
        cv2.warpAffine(grey, affine[i], (wp, hp), dst=out[i], flags=flags,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    return out


def _ring_mask(size_mm: np.ndarray, settings: ScoreSettings) -> np.ndarray:
    """Patch pixels of paper around the box: 0.5 mm or more outside its border."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    gap = settings.border_mm + 0.5
    out_x = (xs < -gap) | (xs > size_mm[0] + gap)
    out_y = (ys < -gap) | (ys > size_mm[1] + gap)
    return out_y[:, None] | out_x[None, :]


def _inner(size_mm: np.ndarray, settings: ScoreSettings) -> tuple[slice, slice]:
    """(rows, columns) of the measured area in a patch: the inside shrunk by margin_mm."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    m = settings.margin_mm
    cols = np.nonzero((xs > m) & (xs < size_mm[0] - m))[0]
    rows = np.nonzero((ys > m) & (ys < size_mm[1] - m))[0]
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _ring_paper(patches: np.ndarray, size_mm: np.ndarray, settings: ScoreSettings
                ) -> np.ndarray:
    """(N,) grey level of the paper round each of (N, hp, wp) grey patches: the 75th
    percentile of its ring."""
    ring = patches[:, _ring_mask(size_mm, settings)][:, ::4]
    rank = round(0.75 * (ring.shape[1] - 1))
    return np.partition(ring, rank, axis=1)[:, rank].astype(np.float64)


#: a box's paper level is compared with that of this many boxes nearest to it...
PAPER_NEIGHBOURS = 6
#: ...and may be at most this many grey levels darker than their median: a box scribbled over
#: far past its border has ink, not paper, in its ring (read against it, it would look empty)
PAPER_NEIGHBOUR_DROP = 20.0


def _robust_paper(own: np.ndarray, centres_mm: np.ndarray) -> np.ndarray:
    """Each box's paper level: its own ring's, unless that is far darker than the paper round
    the boxes nearest to it (`PAPER_NEIGHBOURS`, `PAPER_NEIGHBOUR_DROP`)."""
    n = len(own)
    if n < 3:
        return own
    around = np.median(own[_nearest(centres_mm)], axis=1)
    return np.maximum(own, around - PAPER_NEIGHBOUR_DROP)


#: `_nearest` of the layouts seen (a page's box centres are its layout's: a few per process)
_NEAREST: dict[bytes, np.ndarray] = {}


def _nearest(centres_mm: np.ndarray) -> np.ndarray:
    """(N, k) indices of the `PAPER_NEIGHBOURS` boxes nearest to each box (itself left out),
    computed once per set of box centres."""
    key = np.ascontiguousarray(centres_mm, np.float64).tobytes()
    nearest = _NEAREST.get(key)
    if nearest is None:
        n = len(centres_mm)
        k = min(PAPER_NEIGHBOURS, n - 1)
        d = np.hypot(*(centres_mm[:, None, :] - centres_mm[None, :, :]).transpose(2, 0, 1))
        np.fill_diagonal(d, np.inf)
        nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
        if len(_NEAREST) >= 64:
            _NEAREST.clear()
        _NEAREST[key] = nearest
    return nearest


def _darkness(patches: np.ndarray, size_mm: np.ndarray, black_level: float,
              settings: ScoreSettings, paper_level: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Darkness 0..1 of (N, hp, wp) grey patches against each box's paper level
    (`paper_level`, see `_robust_paper`), and per box the grey spread (std) of its measured
    area, as darkness: for an empty box, the paper noise."""
    paper = np.asarray(paper_level, np.float32)
    span = np.maximum(paper - black_level, 30.0).astype(np.float32)
    rows, cols = _inner(size_mm, settings)
    n, hp, wp = patches.shape
    if settings.smooth_px > 1:  # noise and a bitonal scan's dithering, averaged out
        k = settings.smooth_px
        patches = cv2.blur(patches.reshape(n * hp, wp), (k, k)).reshape(n, hp, wp)
    # the noise of what is thresholded: the smoothed darkness, not the raw pixels
    spread = patches[:, rows, cols][:, ::2, ::2].reshape(len(patches), -1).std(1) / span
    dark = patches.astype(np.float32)
    np.subtract(paper[:, None, None], dark, out=dark)
    np.multiply(dark, (1.0 / span)[:, None, None], out=dark)
    np.clip(dark, 0.0, 1.0, out=dark)
    return dark, spread


def _border_offset(dark: np.ndarray, size_mm: np.ndarray, settings: ScoreSettings
                   ) -> np.ndarray:
    """Per patch, where (mm, signed, along the page's x and y: (N, 2)) its printed border lies
    relative to where the homography put it.

    The column profile over the box's height shows the two vertical border lines, the row
    profile the two horizontal ones; the shift that puts both lines of a pair on peaks (the
    weaker of the two as high as can be, refined to a fraction of a pixel) is the error along
    that axis. NaN when either pair is not clearly visible near its place (a filled box, a
    page registered far off: a lone table rule is never a pair).
    """
    step = 1.0 / settings.sample_px_per_mm
    reach = round(settings.border_search_mm / step)
    half = settings.border_mm / 2
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    along_x = _span((ys > 0.5) & (ys < size_mm[1] - 0.5))
    along_y = _span((xs > 0.5) & (xs < size_mm[0] - 0.5))
    err = []
    for coords, length, profile in (
        (xs, size_mm[0], dark[:, along_x, :].mean(1)),
        (ys, size_mm[1], dark[:, :, along_y].mean(2)),
    ):
        lo = int(np.argmin(np.abs(coords + half)))
        hi = int(np.argmin(np.abs(coords - length - half)))
        shifts = np.arange(-reach, reach + 1)
        shifts = shifts[(lo + shifts >= 0) & (hi + shifts < len(coords))]
        pair = np.minimum(profile[:, lo + shifts], profile[:, hi + shifts])  # (N, S)
        best = pair.argmax(1)
        strength = pair.max(1) - np.median(profile, 1)
        # sub-pixel: the vertex of the parabola through the best shift and its neighbours
        rows = np.arange(len(pair))
        left = pair[rows, np.maximum(best - 1, 0)]
        mid = pair[rows, best]
        right = pair[rows, np.minimum(best + 1, len(shifts) - 1)]
        curve = left - 2 * mid + right
        delta = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1), 0.0)
        shift_mm = (shifts[best] + np.clip(delta, -0.5, 0.5)) * step
        err.append(np.where(strength > BORDER_MIN_STRENGTH, shift_mm, np.nan))
    return np.column_stack(err)


#: both lines of a border pair must stand this much darker than the box's profile median
BORDER_MIN_STRENGTH = 0.2


@dataclass(frozen=True)
class InkLevels:
    """The darkness levels (0..1) in force on one page.

    - `visible`: ink a person sees, on an absolute scale (over the paper noise); a box with
      more of it than dust leaves is at least doubtful, never empty;
    - `mark`: ink that surely belongs to a mark, on an absolute scale: `ink_floor`, lowered
      towards `visible` for a voter whose own ink is lighter (a light pencil);
    - `voter`: this voter's own level (`ink_share` of their ink darkness), at which their
      ordinary marks are measured; a box lighter than that is measured at `mark` instead, so
      the voter's level can only make a light box count, never make visible ink vanish.
    """

    visible: float
    mark: float
    voter: float

    def as_dict(self) -> dict[str, float]:
        return {"visible": round(self.visible, 4), "mark": round(self.mark, 4),
                "voter": round(self.voter, 4)}


def ink_levels(ink_level: float, noise: float, settings: ScoreSettings) -> InkLevels:
    """The page's darkness levels for a voter whose ink is `ink_level` dark, on paper whose
    darkness noise is `noise` (standard deviation)."""
    noise_floor = settings.noise_sigmas * noise
    visible = max(settings.visible_darkness, noise_floor)
    voter = max(settings.ink_share * ink_level, visible)
    mark = max(min(voter, settings.ink_floor), visible)
    return InkLevels(visible, mark, max(voter, mark))


def ink_threshold(ink_level: float, noise: float, settings: ScoreSettings) -> float:
    """One darkness above which a pixel is ink of this voter's marks, never under the absolute
    `ink_floor` (for a reader that decides on one level, as the foreign forms' shading does)."""
    return max(settings.ink_share * ink_level, settings.ink_floor,
               settings.noise_sigmas * noise)


class BoxInk:
    """What the ink in each box looks like (arrays over the page's boxes).

    fill: share of the measured area that is ink of a mark (0..1), at the voter's level or,
    for a box lighter than the voter's others, at the absolute `InkLevels.mark` (`light`
    says which). visible: share holding ink a person can see (`InkLevels.visible`): under the
    marginal fill a box is empty, never above. cover: how evenly the ink covers the box - the
    measured area is cut into `COVER_CELLS` and this is the second-lowest cell fill: high for
    a box filled solid or scribbled all over, near 0 for a tick, a cross, a circle or a
    partial fill, which leave some cell empty. spread_mm: how wide the ink is across its main
    direction (0 for an empty box) - a single straight line (a hair, a scratch) is as thin as
    the line, any mark is much wider. ring: how much of the paper just outside the printed
    border is inked (the mean over the four sides, each at its cleanest distance, 0.45 to 1.4
    mm outside the border, table rules left out): a scribble running past the border inks it
    all round, a tick only where it overshoots. peak: darkness of the box's strongest ink.
    solidity: ink area over the area of its convex hull - near 1 for a filled area (solid,
    partial), well under for strokes (a tick, a cross, a circle); measured on first use only
    (it is needed when some box is covered).
    """

    def __init__(self, fill: np.ndarray, cover: np.ndarray, spread_mm: np.ndarray | None = None,
                 solidity: np.ndarray | None = None,
                 measure_solidity: Callable[[], np.ndarray] | None = None, *,
                 visible: np.ndarray | None = None, ring: np.ndarray | None = None,
                 light: np.ndarray | None = None, peak: np.ndarray | None = None) -> None:
        self.fill = fill
        self.cover = cover
        self.spread_mm = spread_mm if spread_mm is not None else np.full_like(fill, np.inf)
        self.visible = visible if visible is not None else fill
        self.ring = ring if ring is not None else np.zeros_like(fill)
        self.light = light if light is not None else np.zeros(len(fill), bool)
        self.peak = peak if peak is not None else np.ones_like(fill)
        #: length of the ink along its main direction (mm), how far its centroid is off the
        #: box's centre (share of the half size), the mean darkness of its ink pixels, and how
        #: many sides of the band round the border carry ink (`_halo_sides`)
        n = len(fill)
        self.length_mm = np.zeros(n)
        self.off_centre = np.ones(n)
        self.ink_dark = np.zeros(n)
        self.halo_sides = np.zeros(n, int)
        #: the page's `InkLevels.visible` (0: not known), and the darkness its paper's own
        #: grain reaches (the noise floor, `ScoreSettings.noise_sigmas` times the paper noise;
        #: 0: not known)
        self.visible_level = 0.0
        self.grain_level = 0.0
        #: mean darkness of each box's measured area (on a bitonal scan: the share of it black)
        self.mean_dark = np.zeros(n)
        #: diagonal of each box's measured area (mm)
        self.diagonal_mm = np.full(n, np.inf)
        self.angle_deg = np.zeros(n)
        #: for a box mostly filled: how many sides of the band outside its border carry ink
        self.outside_sides = np.zeros(n, int)
        self._solidity = solidity
        self._measure_solidity = measure_solidity
        #: per group of `BoxSamples.groups` (same order): its box indices and the ink masks
        #: over their measured areas, at the level each box was measured at
        self.masks: list[tuple[np.ndarray, np.ndarray]] = []
        #: how much wider its printed border looks than on the page's empty boxes (mm): on its
        #: least widened side, and on average over the four (`_border_excess`)
        self.border_excess_mm = np.zeros(n)
        self.border_excess_mean_mm = np.zeros(n)
        #: for a box without a mark's worth of ink inside: the share of directions from its
        #: centre in which ink (beyond what is printed) lies round it (`_round_cover`)
        self.round_cover = np.zeros(n)
        #: for such a box: the share of the band along its border (`_border_band`) holding
        #: visible ink beyond what is printed there, and, where that share is at least
        #: `BAND_INK_MIN`, the share of directions from its centre in which it lies with ink
        #: in the opposite direction too (a neighbour's ink spilling over lies on one side)
        self.band_ink = np.zeros(n)
        self.band_cover = np.zeros(n)
        #: the scan keeps the shades of ink (a grey or colour scan, or a dither averaged back
        #: to the grey it encodes), so how dark ink is can be told; not on a thresholded
        #: bitonal scan (`BoxSamples.thresholded`), whose black pixels are all one black
        self.shades = True
        #: the page is a grey or colour scan, which keeps solid ink solid (not `bitonal_scan`:
        #: a bitonal threshold may hollow a fill to its edge); False when not known
        self.solid_scan = False
        #: a line across the page runs through the box (`omr.aligned`), and the box's fill
        #: without it
        self.aligned_line = np.zeros(n, bool)
        self.off_line_fill = fill

    def clump(self, where: np.ndarray) -> np.ndarray:
        """(N,) share of each box's ink in its largest connected piece (8-connected), for the
        boxes `where` (a boolean mask) holds; 1 elsewhere and for a box without ink. Near 1 for
        a stroke, a cross (one piece) or a fill, low for specks scattered over the box.
        Measured on demand: only the boxes a decision asks about are worth the labelling."""
        out = np.ones(len(self.fill))
        for index, ink in self.masks:
            for j in np.nonzero(where[index] & (self.fill[index] >= SHAPE_MIN_FILL))[0]:
                out[index[j]] = _largest_share(ink[j])
        return out

    @property
    def solidity(self) -> np.ndarray:
        if self._solidity is None:
            self._solidity = (self._measure_solidity() if self._measure_solidity is not None
                              else np.ones_like(self.fill))
        return self._solidity


def box_fill(samples: BoxSamples, levels: InkLevels | float, settings: ScoreSettings, *,
             printed_borders: bool = True) -> BoxInk:
    """Fill, visible ink, cover, spread, ring and (when asked for) solidity of every box.

    `printed_borders`: the boxes are our printed rectangles, so the shape of ink along their
    borders is measured too (`_border_excess`, `_round_cover`); a foreign form's targets (a
    printed circle, a bracket, letters lifted as print) are no such borders: False.

    `levels`: the page's `InkLevels` (a single darkness: every level at it). Each box is
    measured at the voter's level when it holds a mark's worth of ink there
    (`voter_mark_fill`), else at the absolute mark level: lighter ink than the voter's other
    marks still counts as what it is."""
    if not isinstance(levels, InkLevels):
        levels = InkLevels(float(levels), float(levels), float(levels))
    n = len(samples.peak)
    fill, visible, cover = np.zeros(n), np.zeros(n), np.zeros(n)
    spread, ring = np.zeros(n), np.zeros(n)
    length, off_centre, ink_dark = np.zeros(n), np.ones(n), np.zeros(n)
    angle = np.zeros(n)
    halo, outside = np.zeros(n, int), np.zeros(n, int)
    diagonal = np.zeros(n)
    light = np.zeros(n, bool)
    border_min, border_mean = np.zeros(n), np.zeros(n)
    round_cover = np.zeros(n)
    band_ink, band_cover = np.zeros(n), np.zeros(n)
    mean_dark = np.zeros(n)
    grain = settings.noise_sigmas * samples.noise  # the darkness the paper's own grain reaches
    # a ring drawn round a box is read at a fainter level than ink in it (`BAND_FAINT_DARKNESS`),
    # where the scan keeps ink's shades: on a thresholded one faint darkness is only the
    # smoothing's halo round black pixels
    band_level = levels.visible if samples.thresholded else min(
        levels.visible, max(BAND_FAINT_DARKNESS, BAND_GRAIN_RATIO * grain))
    masks = []
    for g in samples.groups:
        band = _border_band(g.size_mm, settings)
        inner = g.dark[:, g.inner[0], g.inner[1]]
        own = (inner > levels.voter).mean((1, 2))
        is_light = own < settings.voter_mark_fill
        level = np.where(is_light, levels.mark, levels.voter).astype(np.float32)
        ink = inner > level[:, None, None]
        light[g.index] = is_light & (levels.mark < levels.voter)
        fill[g.index] = ink.mean((1, 2))
        visible[g.index] = (inner > levels.visible).mean((1, 2))
        mean_dark[g.index] = inner.mean((1, 2))
        cover[g.index] = np.sort(_cell_fill(ink, COVER_CELLS), axis=1)[:, 1]
        # the ring matters only round a box that holds a mark's worth of ink
        inked = np.nonzero(fill[g.index] >= RING_MIN_FILL)[0]
        if len(inked):
            printed = _printed(g.dark > levels.visible, visible[g.index], settings)
            ring[g.index[inked]] = _ring_ink(g.dark[inked] > level[inked, None, None],
                                             g.size_mm, settings, printed)
        # a box without a mark's worth of ink inside may be circled round its border
        # ... and one filled may have been scribbled out past its border
        bare = np.nonzero(fill[g.index] < RING_MIN_FILL)[0]
        full = np.nonzero(fill[g.index] >= OUTSIDE_MIN_FILL)[0]
        printed_dark = (_printed_darkness(g.dark, visible[g.index])
                        if len(bare) or len(full) else None)
        if printed_dark is not None:
            if len(bare):
                extra = g.dark[bare] - printed_dark > levels.mark
                halo[g.index[bare]] = _halo_sides(extra, g.size_mm, settings)
                # only a box inked along two sides of its border or more can be round one
                # (`omr.decide`'s `round_sides`)
                sided = np.nonzero(halo[g.index[bare]] >= ROUND_MIN_SIDES)[0]
                if printed_borders and len(sided):
                    round_cover[g.index[bare[sided]]] = _round_cover(extra[sided], g.size_mm,
                                                                     settings)
                if printed_borders:
                    # any visible ink beyond the print in the band along the border, and for a
                    # box with a fair share of it, in how many directions round the box it lies
                    # (a line right across the patch - a fold, a streak - left out)
                    beyond = g.dark[bare] - printed_dark
                    seen = beyond > levels.visible
                    if band_level < levels.visible:  # fainter ink, off the printed border
                        seen |= (beyond > band_level) & ~_border_zone(g.size_mm, settings)
                    rows, cols = _lines_across(seen, g.size_mm, settings)
                    seen &= band & ~rows[:, :, None] & ~cols[:, None, :]
                    share = seen.sum((1, 2)) / max(int(band.sum()), 1)
                    band_ink[g.index[bare]] = share
                    wide = np.nonzero(share >= BAND_INK_MIN)[0]
                    if len(wide):
                        band_cover[g.index[bare[wide]]] = _round_cover(
                            seen[wide], g.size_mm, settings, opposite=True)
            if len(full):
                outside[g.index[full]] = _halo_sides(g.dark[full] - printed_dark > levels.mark,
                                                     g.size_mm, settings, outer_only=True)
        masks.append((g.index, ink))
        if printed_borders:
            border_min[g.index], border_mean[g.index] = _border_excess(
                g.dark, g.size_mm, visible[g.index], settings)
        ppm = settings.sample_px_per_mm
        diagonal[g.index] = np.hypot(*ink.shape[1:]) / ppm
        shaped = np.nonzero(fill[g.index] >= SHAPE_MIN_FILL)[0]
        if len(shaped):
            boxes = g.index[shaped]
            width_px, length_px, off_centre[boxes], angle[boxes] = _shapes_px(ink[shaped])
            spread[boxes], length[boxes] = width_px / ppm, length_px / ppm
            held = ink[shaped]
            ink_dark[boxes] = ((inner[shaped] * held).sum((1, 2), dtype=np.float64)
                               / np.maximum(held.sum((1, 2)), 1))

    def measure_solidity() -> np.ndarray:
        grain_px = max(3, round(GRAIN_MM * settings.sample_px_per_mm) | 1)
        grain = np.ones((grain_px, grain_px), np.uint8)
        solidity = np.ones(n)
        for index, ink in masks:
            for j in np.nonzero(fill[index] >= SHAPE_MIN_FILL)[0]:
                # close the grain of a pencil (or a bitonal scan of it) first: an area stays one
                closed = cv2.morphologyEx(ink[j].view(np.uint8), cv2.MORPH_CLOSE, grain)
                solidity[index[j]] = _solidity(closed)
        return solidity

    out = BoxInk(fill, cover, spread, measure_solidity=measure_solidity, visible=visible,
                 ring=ring, light=light, peak=samples.peak.copy())
    out.length_mm, out.off_centre, out.ink_dark, out.halo_sides = (length, off_centre,
                                                                   ink_dark, halo)
    out.diagonal_mm, out.angle_deg, out.outside_sides = diagonal, angle, outside
    out.visible_level = levels.visible
    out.shades = not samples.thresholded
    out.grain_level = grain
    out.mean_dark = mean_dark
    out.masks = masks
    out.border_excess_mm, out.border_excess_mean_mm = border_min, border_mean
    out.round_cover = round_cover
    out.band_ink, out.band_cover = band_ink, band_cover
    return out


#: a box with at least this share of its border band holding visible ink beyond the print has
#: the directions of that ink measured (`BoxInk.band_cover`)
BAND_INK_MIN = 0.02
#: off the printed border (`_border_zone`), the band along a box's border is searched for ink
#: down to this darkness (half the faintest visible in a box, `ScoreSettings.visible_darkness`)
#: and `BAND_GRAIN_RATIO` times the scan's grain (its noise floor), never above the visible
#: level. A ring drawn round the box is one long stroke: on quiet paper a person sees a light
#: pencil's ring, blurred by the scan to darkness 0.06-0.1, at a glance, where a speck that
#: faint would be nothing. A faint band alone only sends the box to a person (`omr.decide`'s
#: `drawn_round`); a ring counts as a vote only with its ink at the mark level on most sides
#: (`halo_sides`, `round_cover`)
BAND_FAINT_DARKNESS = 0.06
BAND_GRAIN_RATIO = 3.0


def _border_band(size_mm: tuple[float, float], settings: ScoreSettings) -> np.ndarray:
    """(hp, wp) the band along a box's border, from `HALO_INSIDE_MM` inside its inside edge to
    `HALO_OUTSIDE_MM` outside, the border itself included: where a circle drawn round the box
    runs, on the border, over it, just inside or outside it."""
    outside = _outside_mm(size_mm, settings)
    return (outside > -HALO_INSIDE_MM) & (outside < HALO_OUTSIDE_MM)


def _outside_mm(size_mm: tuple[float, float], settings: ScoreSettings) -> np.ndarray:
    """(hp, wp) how far each patch pixel lies outside the box's inside edge (mm; negative
    inside the box)."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    out_x = np.maximum(-xs, xs - size_mm[0])
    out_y = np.maximum(-ys, ys - size_mm[1])
    return np.maximum(out_x[None, :], out_y[:, None])


def _border_zone(size_mm: tuple[float, float], settings: ScoreSettings) -> np.ndarray:
    """(hp, wp) the printed border and its edges (`HALO_CLEAR_MM` round the box's inside
    edge), where the print's own blur and a fraction of registration leave faint darkness
    on every box."""
    outside = _outside_mm(size_mm, settings)
    return (outside > -HALO_CLEAR_MM[0]) & (outside < HALO_CLEAR_MM[1])


#: the ring of paper round a box whose ink is measured: from this far outside the box's inside
#: edge (past the printed border, thickened by a bitonal scan, and its blur) to the patch's edge
RING_FROM_MM = 1.0
#: ink thinner than this is left out of the ring (an opening): printed table rules and pen
#: strokes overshooting the border, not a scribble's band of ink
RING_GRAIN_MM = 0.7
#: a row (column) of the patch inked over this share of its length beyond the box on both
#: sides is a printed rule running past the box (or a streak), not a voter's ink
RING_RULE_SHARE = 0.95
#: ... and one such row (column) or a few side by side, at most this wide (mm): a rule is a
#: thin line, a band of ink wider than this is a fill or a scribble running past the border
RING_RULE_MAX_MM = 1.0


#: boxes with less ink than this have no ring worth measuring (under the definite fill)
RING_MIN_FILL = 0.08
#: boxes with less visible ink than this are empty enough to show what is printed round a box
PRINTED_MAX_FILL = 0.02
#: at most this many of them make the template (spread over the page's boxes of one size)
PRINTED_SAMPLE = 16
#: fewest such boxes of one size for a template of the print round them
PRINTED_MIN_BOXES = 3


def _opened(ink: np.ndarray, settings: ScoreSettings) -> np.ndarray:
    """(N, hp, wp) boolean patches with ink thinner than `RING_GRAIN_MM` removed."""
    n, hp, wp = ink.shape
    k = max(3, round(RING_GRAIN_MM * settings.sample_px_per_mm))
    return cv2.morphologyEx(ink.reshape(n * hp, wp).view(np.uint8), cv2.MORPH_OPEN,
                            np.ones((k, k), np.uint8)).reshape(n, hp, wp).astype(bool)


def _printed(visible_ink: np.ndarray, visible_fill: np.ndarray, settings: ScoreSettings
             ) -> np.ndarray | None:
    """What is printed round boxes of one size (rules, the borders of boxes beside them, a
    border thickened by the scan): the pixels inked in most of their empty patches, grown by
    2 px (registration jitter); None when too few boxes are empty."""
    empty = np.nonzero(visible_fill < PRINTED_MAX_FILL)[0]
    if len(empty) < PRINTED_MIN_BOXES:
        return None
    if len(empty) > PRINTED_SAMPLE:
        empty = empty[np.linspace(0, len(empty) - 1, PRINTED_SAMPLE).round().astype(int)]
    common = (_opened(visible_ink[empty], settings).mean(0) >= 0.5).astype(np.uint8)
    return cv2.dilate(common, np.ones((5, 5), np.uint8)).astype(bool)


def _ring_ink(ink: np.ndarray, size_mm: tuple[float, float], settings: ScoreSettings,
              printed: np.ndarray | None = None) -> np.ndarray:
    """(N,) inked share of the ring of paper outside the border of (N, hp, wp) boolean ink
    patches: its mean over the four sides, after an opening that removes thin lines (a tick's
    overshoot), leaving out what is printed round such boxes (`printed`) and rows and columns
    that run on inked beyond the box on both sides (printed rules); a scribble running past
    the border inks it in wide bands."""
    opened = _opened(ink, settings)
    if printed is not None:
        opened &= ~printed[None]
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    d = RING_FROM_MM
    left, right = _span(xs < -d), _span(xs > size_mm[0] + d)
    top, bottom = _span(ys < -d), _span(ys > size_mm[1] + d)
    along_x = _span((xs >= 0) & (xs <= size_mm[0]))
    along_y = _span((ys >= 0) & (ys <= size_mm[1]))
    rule_row, rule_col = _lines_across(opened, size_mm, settings)
    keep_row, keep_col = ~rule_row, ~rule_col
    shares = []
    for rows, cols in ((top, along_x), (bottom, along_x), (along_y, left), (along_y, right)):
        cell = opened[:, rows, cols]
        kept = keep_row[:, rows][:, :, None] & keep_col[:, cols][:, None, :]
        counted = kept.sum((1, 2))
        shares.append(np.where(counted > 0, (cell & kept).sum((1, 2)) / np.maximum(counted, 1),
                               0.0))
    return np.mean(shares, axis=0)


def _lines_across(ink: np.ndarray, size_mm: tuple[float, float], settings: ScoreSettings
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(N, hp) rows and (N, wp) columns of (N, hp, wp) boolean ink patches that a thin line
    runs along right across the patch - inked over `RING_RULE_SHARE` of the ring beyond the
    box on both sides, in runs no wider than `RING_RULE_MAX_MM`: a printed rule, a fold or a
    streak through the box, not ink of the box's own."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    d = RING_FROM_MM
    left, right = _span(xs < -d), _span(xs > size_mm[0] + d)
    top, bottom = _span(ys < -d), _span(ys > size_mm[1] + d)
    widest = RING_RULE_MAX_MM * settings.sample_px_per_mm
    rows = _thin_runs((ink[:, :, left].mean(2) >= RING_RULE_SHARE)
                      & (ink[:, :, right].mean(2) >= RING_RULE_SHARE), widest)
    cols = _thin_runs((ink[:, top, :].mean(1) >= RING_RULE_SHARE)
                      & (ink[:, bottom, :].mean(1) >= RING_RULE_SHARE), widest)
    return rows, cols


def _thin_runs(flags: np.ndarray, widest_px: float) -> np.ndarray:
    """(N, L) `flags` with every run of consecutive True longer than `widest_px` cleared: a
    printed rule is a thin line; a band of ink as wide as a fill running past the border all
    round is the voter's, and stays in the ring."""
    out = flags.copy()
    for i in np.nonzero(flags.any(1))[0]:
        edges = np.diff(np.concatenate(([0], flags[i].astype(np.int8), [0])))
        for start, end in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0],
                              strict=True):
            if end - start > widest_px:
                out[i, start:end] = False
    return out


def _solidity(mask: np.ndarray) -> float:
    """Ink area over the area of its convex hull, in a 0/1 mask (1 for next to no ink)."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return 1.0
    hull = cv2.convexHull(np.column_stack([xs, ys]).astype(np.int32))
    area = cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True) + 1.0  # pixel areas
    return float(min(1.0, len(xs) / area))


def _shapes_px(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (N, h, w) boolean mask: (width, length) of its ink - the sides of the rectangle with
    the same second moments (px) -, how far its centroid lies from the mask's centre, as a
    share of the mask's half size (0 centred, 1 at an edge), and the angle of its main
    direction with the box's horizontal (0..90 degrees). A mask without ink: (0, 0, 1, 0)."""
    h, w = masks.shape[1:]
    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    cols = masks.sum(1, dtype=np.float64)  # (N, w) ink per column
    rows = masks.sum(2, dtype=np.float64)  # (N, h) ink per row
    m00 = rows.sum(1)
    inked = m00 >= 1
    area = np.maximum(m00, 1.0)
    cx, cy = cols @ xs / area, rows @ ys / area
    mu20 = cols @ (xs * xs) / area - cx * cx
    mu02 = rows @ (ys * ys) / area - cy * cy
    mu11 = np.einsum("nij,i,j->n", masks, ys, xs, dtype=np.float64) / area - cx * cy
    half_trace, half_gap = (mu20 + mu02) / 2, np.hypot((mu20 - mu02) / 2, mu11)
    small, large = half_trace - half_gap, half_trace + half_gap
    width = np.sqrt(12.0 * np.maximum(small, 0.0) + 1.0)
    length = np.sqrt(12.0 * np.maximum(large, 0.0) + 1.0)
    off = np.maximum(np.abs(cx - (w - 1) / 2) / (w / 2), np.abs(cy - (h - 1) / 2) / (h / 2))
    angle = np.abs(np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02)))
    angle = np.minimum(angle, 180 - angle)
    return (np.where(inked, width, 0.0), np.where(inked, length, 0.0),
            np.where(inked, off, 1.0), np.where(inked, angle, 0.0))


#: boxes at least this full are looked at for ink running out past their border all round
OUTSIDE_MIN_FILL = 0.5
#: the band along a box's border searched for a circle drawn round it (on the border, over it,
#: just inside or outside it): from this far inside the box's inside edge ...
HALO_INSIDE_MM = 1.2
#: ... to this far outside (the printed border and rules, masked out, lie in it)
HALO_OUTSIDE_MM = 1.8
#: leaving out the zone from this far inside to this far outside, where the printed border
#: lies, thicker or thinner than elsewhere on a bitonal or unevenly lit scan
HALO_CLEAR_MM = (0.5, 0.85)
#: a side of the band counts as inked when ink lies across this share of its length
HALO_SIDE_SHARE = 0.35


#: a printed border's width is its darkness summed across it, this far either side of the box's
#: inside edge (mm), along the middle `BORDER_WIDTH_MIDDLE` of each side (its corners left out)
BORDER_WIDTH_REACH_MM = 0.9
BORDER_WIDTH_MIDDLE = 0.6


def _border_widths(dark: np.ndarray, size_mm: tuple[float, float],
                   settings: ScoreSettings) -> np.ndarray:
    """(N, 4) how wide each box's printed border looks on its left, right, top and bottom side
    (mm: the darkness summed across it)."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    w, h = size_mm
    r, keep = BORDER_WIDTH_REACH_MM, (1 - BORDER_WIDTH_MIDDLE) / 2
    left, right = np.abs(xs) < r, np.abs(xs - w) < r
    top, bottom = np.abs(ys) < r, np.abs(ys - h) < r
    mid_x = _span((xs > keep * w) & (xs < (1 - keep) * w))
    mid_y = _span((ys > keep * h) & (ys < (1 - keep) * h))
    step = 1.0 / settings.sample_px_per_mm
    rows = dark[:, mid_y]
    cols = dark[:, :, mid_x]
    return np.stack([rows[:, :, _span(left)].sum(2).mean(1),
                     rows[:, :, _span(right)].sum(2).mean(1),
                     cols[:, _span(top)].sum(1).mean(1),
                     cols[:, _span(bottom)].sum(1).mean(1)], 1) * step


def _span(mask: np.ndarray) -> slice:
    """The slice of a run of True in a 1-D mask over sample positions (a range of mm along a
    patch's side is one run): a view, not the copy a boolean index makes."""
    hit = np.flatnonzero(mask)
    if not len(hit):
        return slice(0, 0)
    assert hit[-1] - hit[0] + 1 == len(hit), "not one run"
    return slice(int(hit[0]), int(hit[-1]) + 1)


def _border_excess(dark: np.ndarray, size_mm: tuple[float, float], visible_fill: np.ndarray,
                   settings: ScoreSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per box, how much wider than on this page's empty boxes of its size its border looks
    (mm): on its least widened side, and on average over the four. A fill that a small-window
    bitonal threshold hollowed leaves only its edge, along the inside of the border: the border
    looks wider on all four sides. A box merely out of place by a fraction looks wider on one
    side and narrower on the other. Zeros when too few boxes are empty to compare."""
    n = len(dark)
    empty = np.nonzero(visible_fill < PRINTED_MAX_FILL)[0]
    if len(empty) < PRINTED_MIN_BOXES:
        return np.zeros(n), np.zeros(n)
    widths = _border_widths(dark, size_mm, settings)
    excess = widths - np.median(widths[empty], axis=0)
    return excess.min(1), excess.mean(1)


def _printed_darkness(dark: np.ndarray, visible_fill: np.ndarray) -> np.ndarray | None:
    """(hp, wp) how dark what is printed round boxes of one size is, pixel by pixel: the
    median of their empty patches, its local maximum over 3 x 3 pixels (registration jitter);
    None when too few boxes are empty."""
    empty = np.nonzero(visible_fill < PRINTED_MAX_FILL)[0]
    if len(empty) < PRINTED_MIN_BOXES:
        return None
    if len(empty) > PRINTED_SAMPLE:
        empty = empty[np.linspace(0, len(empty) - 1, PRINTED_SAMPLE).round().astype(int)]
    return cv2.dilate(_median_of(dark[empty]), np.ones((3, 3), np.uint8))


def _median_of(stack: np.ndarray) -> np.ndarray:
    """(hp, wp) float32 pixel-wise median of (K, hp, wp) patches, as `np.median(axis=0)`
    gives it (the mean of the middle two for an even K), by one partition along rows."""
    k, hp, wp = stack.shape
    pixels = np.ascontiguousarray(stack.reshape(k, -1).T, dtype=np.float32)  # (hp * wp, K)
    middle = [(k - 1) // 2, k // 2]
    parted = np.partition(pixels, middle, axis=1)
    return ((parted[:, middle[0]] + parted[:, middle[1]]) * np.float32(0.5)).reshape(hp, wp)


def _halo_sides(ink: np.ndarray, size_mm: tuple[float, float], settings: ScoreSettings,
                outer_only: bool = False) -> np.ndarray:
    """(N,) how many of the four sides of the band along each box's border (`outer_only`:
    its part outside the border) carry ink (`ink`: darker than what is printed there) along
    `HALO_SIDE_SHARE` of their length: a box circled round its border has ink on all four,
    a neighbour's overshoot on one."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    a, b = (-HALO_CLEAR_MM[1], HALO_OUTSIDE_MM) if outer_only else (HALO_INSIDE_MM,
                                                                      HALO_OUTSIDE_MM)
    c, d = HALO_CLEAR_MM

    def near(v: np.ndarray, edge: float, outwards: float) -> np.ndarray:
        """Within the band of the edge at `edge` (outwards: +1 or -1), off its border zone."""
        out = (v - edge) * outwards  # mm outside the box's inside edge
        return (out > -a) & (out < b) & ~((out > -c) & (out < d))

    along_x = _span((xs >= 0) & (xs <= size_mm[0]))
    along_y = _span((ys >= 0) & (ys <= size_mm[1]))
    top, bottom = near(ys, 0.0, -1.0), near(ys, size_mm[1], 1.0)
    left, right = near(xs, 0.0, -1.0), near(xs, size_mm[0], 1.0)
    def across(band: np.ndarray) -> np.ndarray:
        """(N, L) is there ink across the band at each point along it: lines running along
        the whole side (a border or rule the template missed by a fraction) left out."""
        band = band & ~(band.mean(2, keepdims=True) >= 0.9)
        return band.any(1)

    sides = (across(ink[:, top, along_x]), across(ink[:, bottom, along_x]),
             across(ink[:, along_y, left].transpose(0, 2, 1)),
             across(ink[:, along_y, right].transpose(0, 2, 1)))
    return np.sum([side.mean(1) >= HALO_SIDE_SHARE for side in sides], axis=0)


#: fewest sides of the band round a box's border with ink for `_round_cover` to be measured
#: (`omr.decide.Thresholds.round_sides` asks for at least this)
ROUND_MIN_SIDES = 2
#: directions round a box's centre in which `_round_cover` looks for ink
ROUND_BINS = 32
#: the ring searched: from this far inside the box's inside edge to the patch's edge (mm)
ROUND_INSIDE_MM = 1.0
#: ink pieces smaller than this (mm^2) are specks (dust, a bitonal scan's grain), left out
ROUND_SPECK_MM2 = 0.12


def _round_cover(extra: np.ndarray, size_mm: tuple[float, float],
                 settings: ScoreSettings, *, opposite: bool = False) -> np.ndarray:
    """(N,) for each patch of `extra` (ink darker than what is printed there), the share of
    `ROUND_BINS` directions from the box's centre (scaled to the box's shape) in which ink lies
    in the ring round the box's edge. A circle or an oval drawn round the box, even one that
    runs along the printed border for a stretch (where it cannot be told from the border),
    covers most directions; a tick's tail or a neighbour's overshoot covers a few.
    `opposite`: count only the directions whose opposite direction holds ink too (ink on one
    side of the box, a neighbour's spilling over, then counts for nothing)."""
    xs, ys = axis_mm(size_mm[0], settings), axis_mm(size_mm[1], settings)
    w, h = size_mm
    u = (xs - w / 2) / (w / 2)
    v = (ys - h / 2) / (h / 2)
    angle = np.arctan2(v[:, None], u[None, :])
    bins = ((angle + np.pi) / (2 * np.pi) * ROUND_BINS).astype(int) % ROUND_BINS
    inside = ((np.abs(xs - w / 2) < w / 2 - ROUND_INSIDE_MM)[None, :]
              & (np.abs(ys - h / 2) < h / 2 - ROUND_INSIDE_MM)[:, None])
    ring = ~inside
    speck_px = ROUND_SPECK_MM2 * settings.sample_px_per_mm ** 2
    out = np.zeros(len(extra))
    for k, mask in enumerate(extra):
        mask = mask & ring
        if not mask.any():
            continue
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), 8)
        big = np.nonzero(stats[1:, cv2.CC_STAT_AREA] >= speck_px)[0] + 1
        if not len(big):
            continue
        kept = np.isin(labels, big)
        hit = np.zeros(ROUND_BINS, bool)
        hit[np.unique(bins[kept])] = True
        if opposite:  # only directions whose opposite holds ink too: round, not one side
            hit &= np.roll(hit, ROUND_BINS // 2)
        out[k] = hit.mean()
    return out


def _largest_share(mask: np.ndarray) -> float:
    """Share of a boolean mask's pixels in its largest 8-connected piece (1 when empty)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if count <= 1:
        return 1.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas.max() / areas.sum())


#: boxes with less ink than this have no shape (spread, solidity) worth measuring
SHAPE_MIN_FILL = 0.02
#: holes this small in an inked area are pencil grain, closed before measuring its solidity
GRAIN_MM = 0.6
#: grid (columns, rows) in which the evenness of a box's ink is measured
COVER_CELLS = (4, 3)


def _cell_fill(ink: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    """(N, columns * rows) ink share of each cell of (N, h, w) boolean masks (row by row)."""
    n, h, w = ink.shape
    xs = np.linspace(0, w, cells[0] + 1).round().astype(int)
    ys = np.linspace(0, h, cells[1] + 1).round().astype(int)
    counts = np.add.reduceat(np.add.reduceat(ink.view(np.uint8), ys[:-1], axis=1,
                                             dtype=np.int32), xs[:-1], axis=2)
    area = np.diff(ys)[:, None] * np.diff(xs)[None, :]
    return (counts / area).reshape(n, -1)
