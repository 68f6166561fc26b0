"""The three-way decision per box - empty, marked, doubtful - with named thresholds.

Inputs per box, from `omr.score.BoxInk`: `fill`, the share of its measured area covered by ink
(the voter's own ink level already taken into account: a light pencil counts); `cover`, how
evenly the ink covers the box (high only when the box is filled or scribbled all over);
`spread_mm`, how wide the ink is across its main direction; `solidity`, how much of its outline
the ink fills (low for pen strokes: a tick, a cross, a circle).

- a box is empty only when it holds no visible ink: its `visible` fill (any ink a person can
  see, on an absolute scale) is under `marginal_fill`. At or above `definite_fill` of sure ink
  it is marked; in between it is doubtful (a faint or tiny mark, a smudge: a person looks); so
  is a single thin straight line (`line_spread_mm`: a hair on the glass, a scratch), whatever
  its length, and a mark lighter than the voter's others whose strongest ink is not surely
  ink on an absolute scale (`light_peak_min`);
- a box scribbled over with ink running well past its border (`ring_cancel`: the paper all
  round it inked) is doubtful, whoever the voter: a cancellation looks like one for a voter
  who fills boxes too;
- a cancelled mark is doubtful: a box covered all over (`covered_cell_fill`: scribbled over or
  filled solid) on a sheet where this voter otherwise ticks, crosses or circles - their other
  marks are pen strokes (`stroke_solidity_max`) and at least as many; a voter who fills every
  box, or fills boxes partly, is read as marked; with no other mark to compare, a filled box is
  a vote;
- a box with no ink inside whose printed border looks wider all round than the page's empty
  boxes' (`hollow_border_min_mm`) holds what a small-window bitonal threshold left of a fill:
  doubtful, never empty;
- a box with no ink inside whose band along the border holds far more visible ink beyond
  the print than the page's other bare boxes, in a good part of the directions round it, was
  drawn round (a light circle tracing the border): doubtful, never empty;
- a box with little ink inside but ink round it along its border is circled round: on a
  grey or colour scan a ring drawn round it on three sides or more, in most directions from
  its centre (`ring_mark_sides`, `ring_mark_cover`) - or in half of them, half with ink
  opposite too (`ring_half_cover`: an oval running on the border for stretches, where the
  print hides it) -, is the voter's ○, a vote; any other such
  box is doubtful (on a bitonal scan the ring may be what the threshold left of a hollowed
  fill or scribble-out; two sides may be a neighbour's ink), never empty;
- a box that a line across the page runs through (`omr.aligned`: the same straight stroke at
  one place in three boxes or more of a column or a row, a fold or a streak) is doubtful
  unless what is left of its ink besides the line is a mark by itself;
- a mark far heavier (`heavy_ratio`) than the same voter's other marks beside it in the same
  field (a tick crossed out next to a new one) is doubtful too; so is one far heavier than
  the voter's marks over the page that also runs past its border where theirs do not, and,
  where the voter marks with pen strokes, one covered far more heavily than their marks over
  the page (`page_heavy_ratio`) - their light marks under the definite fill counted among
  them: a thin pen thinned further by a bitonal threshold leaves no sure mark to compare with,
  yet the ticks are theirs.

`marked` holds only sure options; one doubtful box makes the page `review`; a page with no ink
in any box is `blank`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from omr.score import BoxInk

Decision = Literal["empty", "marked", "doubtful"]


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds (fills are shares 0..1 of a box's measured area)."""

    #: below this a box is empty (noise, dust and specks stay under it)
    marginal_fill: float = 0.03
    #: at or above this a box is marked (the lightest clear tick is far above it)
    definite_fill: float = 0.08
    #: a box whose every cell (but one) is at least this full is covered all over: filled
    #: solid or scribbled over (simulated: ticks, crosses, circles at most 0.72, a thick pen in
    #: small boxes; cancels at least 0.83)
    covered_cell_fill: float = 0.78
    #: a voter whose uncovered marks have a median solidity below this marks with pen strokes
    #: (simulated sheets: ticks, crosses, circles at most 0.87, even a thick pen in small
    #: boxes; partial fills at least 0.98)
    stroke_solidity_max: float = 0.93
    #: ink no wider than this across its main direction is a single straight line (a hair, a
    #: scratch, a slip of the pen), not a tick, a cross or a circle (simulated ticks: 0.84+)
    line_spread_mm: float = 0.7
    #: a box covered all over whose ring of paper outside the border is inked this much (mean
    #: share over its four sides) was scribbled over past its border: cancelled?
    ring_cancel: float = 0.11
    #: ...or inked at least `ring_relative` times as much as the median ring of the voter's
    #: other marks (at least `ring_relative_min`): a fill voter's fills stay inside
    ring_relative: float = 3.0
    ring_relative_min: float = 0.08
    #: a box not covered whose ring holds at least this share of... (see `ring_outside_fill`)
    ring_outside: float = 0.08
    #: ...and at least this share of the box's own fill has its ink mostly round the box, past
    #: its border (a scribble whose inside a bitonal scan hollowed, a box circled from outside)
    ring_outside_fill: float = 0.6
    #: ...but on a grey or colour scan (which keeps a scribble solid), a box holding no more
    #: than a stroke's ink (under `ring_stroke_fill`) is doubtful only when its ring holds at
    #: least `ring_outside_solid`: the wide bands a scribble-out leaves round a box, not the
    #: stroke of an oval or a long tick running past the border (simulated marks on such
    #: scans: fill at most 0.24, ring at most 0.24; scribbles: ring 0.37 and up)
    ring_outside_solid: float = 0.3
    ring_stroke_fill: float = 0.3
    #: a box lighter than the voter's other marks is a sure mark only when its strongest ink
    #: is at least this dark (0 paper .. 1 printed black) and it is wider than one straight
    #: stroke (`light_spread_mm`: a stray dash poking into the box is not a vote), else a
    #: person looks
    light_peak_min: float = 0.2
    light_spread_mm: float = 1.2
    #: ... and when its ink is on average at least this many times as dark as the faintest
    #: ink a person sees on this scan (`InkLevels.visible`, raised by the scan's own noise).
    #: Every box, light or not, must be this many times as dark as the paper's own grain (the
    #: scan's noise floor): a voter whose ink is as light as the grain lowers the levels to
    #: it, and on a dithered or noisy page of light pencil an empty box whose grain is a
    #: shade denser than the paper round it is no sure mark however much of it it covers.
    #: On a quiet scan the grain is far under the faintest visible ink, and a light pencil's
    #: ordinary marks (darkness 0.15-0.2) stay sure
    light_ink_ratio: float = 1.5
    #: ink averaging this dark (0 paper .. 1 printed black) is black ink, whatever the scan's
    #: noise: never grain (a pen's stroke on a thresholded scan, smoothed: 0.95)
    black_ink_dark: float = 0.9
    #: a box with less fill than `speck_max_fill` whose largest piece of ink holds under
    #: `speck_clump` of it is specks scattered over the box (a bitonal scan's grain, dust, a
    #: hollowed fill's remains), not one stroke: never a sure mark, a person looks
    speck_clump: float = 0.4
    speck_max_fill: float = 0.15
    #: ink this dark on average (0 paper .. 1 printed black) is surely a pen's or a pencil's
    #: pressed stroke: a mark of it is sure though small ...
    sure_ink_dark: float = 0.3
    #: ... a dot pressed on the spot of at least `dot_min_fill` of the box (a speck of dust
    #: is smaller); nothing under `small_mark_fill` is a mark however dark
    dot_min_fill: float = 0.06
    #: ... at least this wide either way (mm): a speck of dust, blurred, is well under
    dot_min_mm: float = 1.0
    #: ... and round: at least this wide for its length (a short dash is a smudge)
    dot_roundness: float = 0.7
    small_mark_fill: float = 0.035
    #: ... or one straight stroke across the box (a slash): at least this share of the box's
    #: diagonal long, its middle within `slash_off_centre` of the box's centre (a hair or a
    #: stray dash poking in from outside is short, or off to one side)
    slash_length_share: float = 0.5
    slash_off_centre: float = 0.55
    #: ... and slanting: within this many degrees of 45 (a dash from the next cell lies flat)
    slash_angle_deg: float = 32.0
    #: ... and, with less ink than `definite_fill`, one piece: at least this share of its
    #: ink in its largest connected part (two specks of dust in a slanting row span a box as
    #: far; a stroke is drawn in one go)
    slash_one_piece: float = 0.9
    #: a box covered all over whose ink runs out past its border on this many sides (the band
    #: outside it, what is printed there left out) was scribbled out: cancelled? - on a bitonal
    #: scan, whose threshold may hollow the scribble's ring. A grey or colour scan shows a
    #: scribble-out's ring as it is (`ring_cancel`); a fill running just over the border
    #: (a felt-tip's) is no scribble there
    cancel_outside_sides: int = 3
    #: a box with ink on at least this many sides of the band just round its border (and
    #: little inside) was circled round: never read empty, a person decides
    circled_sides: int = 3
    #: ... or on `round_sides` sides and round the box in at least `round_cover` of the
    #: directions from its centre (an oval wider than the box runs along its border, where it
    #: cannot be told from the print, on two sides; simulated circles round a box: 0.5 and up,
    #: empty boxes of a dithered scan at most 0.63 but then on fewer sides)
    round_sides: int = 2
    round_cover: float = 0.45
    #: a circle drawn round a box - ink on at least `ring_mark_sides` sides of the band along
    #: its border and in at least `ring_mark_cover` of the directions from its centre -, on a
    #: scan that keeps solid ink solid (grey or colour, not bitonal), is the voter's ○: a vote
    #: (simulated circles round a box on such scans: 3 or 4 sides and 0.75 and up; empty boxes
    #: beside a neighbour's ink: 2 sides and at most 0.63). On a bitonal scan the same ring may
    #: be the edge of a fill or a scribble-out that the threshold hollowed: a person looks.
    ring_mark_sides: int = 3
    ring_mark_cover: float = 0.75
    #: ... or in at least this share of the directions, and with ink opposite in as many of
    #: them (`BoxInk.band_cover`): an oval drawn round the box that runs on its printed border
    #: for stretches, hidden there by the print (a neighbour's ink lies on one side, and on
    #: two sides at most; hand decks of seed 961: 16 such ovals counted, no box invented)
    ring_half_cover: float = 0.5
    #: a box with no ink inside, whose band along the border (on it, over it, just inside or
    #: outside) holds visible ink beyond the print over at least `band_ink_min` of its area
    #: and `band_ink_usual_ratio` times what the page's bare boxes usually hold there (their
    #: upper quartile), in at least `band_cover_min` of the directions round it (each with
    #: ink opposite it too: a neighbour's scribble spilling over lies on one side), was drawn
    #: round - a light circle tracing the border, which the print hides where it runs on it:
    #: never empty, a person looks (hand decks of seeds 931 and 932: 8 of 22 such lost
    #: circles caught, for 0.1% more empty boxes sent to a person)
    band_ink_min: float = 0.025
    band_ink_usual_ratio: float = 2.0
    band_cover_min: float = 0.2
    #: a box with no ink inside whose printed border looks wider than on the page's empty
    #: boxes by at least `hollow_border_min_mm` on every side and `hollow_border_mean_mm` on
    #: average holds the edge of a fill that a small-window bitonal threshold hollowed: ink a
    #: person can see, never read empty (empty boxes of simulated hollowed scans: at most 0.063
    #: and 0.081; hollowed fills: 0.07 and 0.12 and up)
    hollow_border_min_mm: float = 0.06
    hollow_border_mean_mm: float = 0.1
    #: on a thresholded bitonal scan, a box with no ink a person sees at a glance that holds
    #: black dots over `stipple_min_dark` of its inside (its mean darkness: the share of it
    #: black) and whose border looks wider than the page's empty boxes' by
    #: `stipple_border_mean_mm` on average holds a light fill that the threshold thinned to
    #: dots along and inside its border: doubtful, never empty. Two signs together: either
    #: alone is what dust or a border out of place by a fraction leaves (hand-model decks:
    #: empty boxes on such scans reach 0.01 of dots, or 0.09 mm of border, alone; 29 of
    #: 9,873 both at once)
    stipple_min_dark: float = 0.003
    stipple_border_mean_mm: float = 0.04
    #: a covered box is a ticking voter's cancellation only if such boxes are this few (a voter
    #: who mixes ticks and fills fills several)
    stroke_cancels_max: int = 2
    #: a mark at least this many times the median fill of the voter's other marks, and at
    #: least `page_heavy_min_fill` full, where those marks are pen strokes, is covered far
    #: more heavily than the voter marks: scribbled out?
    page_heavy_ratio: float = 3.0
    page_heavy_min_fill: float = 0.6
    #: ... or at least this many times (and `past_heavy_min_fill` full) when its ring is also
    #: inked far more than theirs (`ring_relative`, `ring_relative_min`): scribbled out past
    #: its border (simulated: cancels 2.1 times the voter's marks and up; no clear mark with
    #: both signs)
    past_heavy_ratio: float = 2.0
    past_heavy_min_fill: float = 0.5
    #: a mark at least this many times the fill of another mark in its field is heavy
    heavy_ratio: float = 2.0
    #: ...and at least this full (a small tick beside a tiny one is not heavy)
    heavy_min_fill: float = 0.3


@dataclass(frozen=True)
class BoxCall:
    """The decision on one box and, when doubtful, why (for the page's reason)."""

    decision: Decision
    why: str = ""
    #: how far the box is from the thresholds that would change its decision (0 on a threshold
    #: or decided by a rule of shape, 1 far from any): the review queue shows the least certain
    #: first, as SDAPS' per-box quality
    certainty: float = 1.0


def decide(ink: BoxInk, fields: list[str], thresholds: Thresholds) -> list[BoxCall]:
    """Decide every box of a page: `ink` measured per box, `fields[i]` the field of box i."""
    t = thresholds
    fill = np.asarray(ink.fill, np.float64)
    spread = np.asarray(ink.spread_mm)
    thin = spread <= t.line_spread_mm
    ink_dark = np.asarray(ink.ink_dark)
    # ink barely darker than the paper's own grain on this scan (its noise floor): on a
    # dithered or noisy page a box of denser grain is no mark, however much of it it covers.
    # Ink as dark as printed black (`black_ink_dark`) is never grain: on a speckled
    # thresholded scan the noise floor climbs so high that no stroke could clear it
    grain = ink_dark < min(t.light_ink_ratio * ink.grain_level, t.black_ink_dark)
    # a mark lighter than the voter's others that is not surely ink, or only one stroke wide
    # (the faintest visible is never under the grain, so this holds every grain box too)
    unsure_light = np.asarray(ink.light) & (
        (np.asarray(ink.peak) < t.light_peak_min) | (spread < t.light_spread_mm)
        | (ink_dark < min(t.light_ink_ratio * ink.visible_level, t.black_ink_dark)))
    speck_sized = fill < t.speck_max_fill
    specks = speck_sized & (ink.clump(speck_sized) < t.speck_clump)
    inked = (fill >= t.definite_fill) & ~thin & ~unsure_light & ~specks & ~grain
    covered = inked & (np.asarray(ink.cover) >= t.covered_cell_fill)
    open_marks = inked & ~covered
    # this voter's style: a covered box is a cancellation when their marks are mostly strokes
    # (the solidity is only measured when some box is covered)
    strokes = (bool(covered.any()) and bool(open_marks.any())
               and covered.sum() <= min(t.stroke_cancels_max, open_marks.sum())
               and float(np.median(ink.solidity[open_marks])) < t.stroke_solidity_max)
    by_field: dict[str, list[int]] = {}
    for i, f in enumerate(fields):
        by_field.setdefault(f, []).append(i)
    visible = np.asarray(ink.visible, np.float64)
    ring = np.asarray(ink.ring, np.float64)
    calls: list[BoxCall] = []
    long = (np.asarray(ink.length_mm) >= t.slash_length_share * np.asarray(ink.diagonal_mm))
    small = (fill >= t.small_mark_fill) & ~thin
    # a small mark is sure when it is a dot of surely-ink pressed on the spot; any other small
    # ink (a short stroke, a circle round the border with nothing inside) goes to a person
    round_ = spread >= t.dot_roundness * np.asarray(ink.length_mm)
    dot = (small & (ink_dark >= t.sure_ink_dark) & (fill >= t.dot_min_fill) & round_
           & (spread >= t.dot_min_mm))
    slash = (~unsure_light & thin & (np.asarray(ink.peak) >= t.light_peak_min) & long
             & (np.asarray(ink.off_centre) <= t.slash_off_centre)
             & (np.abs(np.asarray(ink.angle_deg) - 45.0) <= t.slash_angle_deg))
    # a slash with less ink than a definite mark must be one piece: specks in a slanting row
    # are no stroke (a long one, broken by a bitonal threshold, has the ink to show it is one)
    short = slash & (fill < t.definite_fill)
    if short.any():
        slash &= ~short | (ink.clump(short) >= t.slash_one_piece)
    halo = np.asarray(ink.halo_sides)
    circled = (halo >= t.circled_sides) | ((halo >= t.round_sides)
                                           & (np.asarray(ink.round_cover) >= t.round_cover))
    hollowed = ((np.asarray(ink.border_excess_mm) >= t.hollow_border_min_mm)
                & (np.asarray(ink.border_excess_mean_mm) >= t.hollow_border_mean_mm))
    stippled = (~np.asarray(ink.shades) & (np.asarray(ink.mean_dark) >= t.stipple_min_dark)
                & (np.asarray(ink.border_excess_mean_mm) >= t.stipple_border_mean_mm))
    aligned = np.asarray(ink.aligned_line)
    # ink round the border far beyond what the page's other bare boxes hold there
    band_ink = np.asarray(ink.band_ink)
    bare = fill < t.definite_fill
    usual = float(np.percentile(band_ink[bare], 75)) if bare.any() else 0.0
    drawn_round = ((band_ink >= max(t.band_ink_min, t.band_ink_usual_ratio * usual))
                   & (np.asarray(ink.band_cover) >= t.band_cover_min))
    directions = np.asarray(ink.round_cover)
    ringed = ink.solid_scan & (halo >= t.ring_mark_sides) & ~aligned & (
        (directions >= t.ring_mark_cover)
        | ((directions >= t.ring_half_cover) & (np.asarray(ink.band_cover) >= t.ring_half_cover)))
    off_line = np.asarray(ink.off_line_fill)
    # the voter's lighter marks too (a tick under the definite fill, which a person will
    # confirm): they show the voter's hand as well as the sure ones
    light_marks = ((fill >= t.small_mark_fill) & (fill < t.definite_fill) & ~thin & ~specks
                   & ~grain & ~aligned)
    stroke_only = ink.solid_scan & (fill < t.ring_stroke_fill)
    for i, value in enumerate(fill):
        if circled[i] and value < t.definite_fill and ringed[i]:
            calls.append(BoxCall("marked", certainty=_distance(float(ink.round_cover[i]),
                                                               t.ring_mark_cover)))
        elif circled[i] and value < t.definite_fill:
            calls.append(BoxCall("doubtful", "circled round its border, not marked inside?",
                                 0.0))
        elif visible[i] < t.marginal_fill and drawn_round[i]:
            calls.append(BoxCall("doubtful", "ink drawn round its border, beyond what is "
                                             "printed: circled?", 0.0))
        elif visible[i] < t.marginal_fill and hollowed[i]:
            calls.append(BoxCall("doubtful", "its border inked wider all round: a fill the "
                                             "scan hollowed?", 0.0))
        elif visible[i] < t.marginal_fill and stippled[i]:
            calls.append(BoxCall("doubtful", "dots inside and its border inked wider: a light "
                                             "fill the scan's threshold thinned to dots?", 0.0))
        elif visible[i] < t.marginal_fill:
            calls.append(BoxCall("empty", certainty=_distance(visible[i], t.marginal_fill)))
        elif aligned[i] and off_line[i] < t.definite_fill:
            calls.append(BoxCall("doubtful", "a straight line at one place through this box and "
                                             "others of its column or row: a fold or a streak?",
                                 0.0))
        elif value < t.definite_fill and dot[i]:
            calls.append(BoxCall("marked", certainty=_distance(value, t.small_mark_fill)))
        elif slash[i] and not _heavy(i, fill, by_field[fields[i]], open_marks, t):
            calls.append(BoxCall("marked", certainty=0.5))
        elif value < t.definite_fill:
            calls.append(BoxCall("doubtful", "faint mark",
                                 _band_certainty(max(value, visible[i]), t)))
        elif thin[i]:
            calls.append(BoxCall("doubtful", "a single thin straight line: a hair, a slip of "
                                             "the pen?", 0.0))
        elif grain[i] and not unsure_light[i]:
            calls.append(BoxCall("doubtful", "ink hardly darker than the paper's own grain on "
                                             "this scan: grain, a shadow?", 0.0))
        elif covered[i] and (_past_border(i, ring, inked, t) or (
                not ink.solid_scan and ink.outside_sides[i] >= t.cancel_outside_sides)):
            calls.append(BoxCall("doubtful", "scribbled over and past its border: "
                                             "cancelled?", 0.0))
        elif (ring[i] >= (t.ring_outside_solid if stroke_only[i] else t.ring_outside)
              and ring[i] >= t.ring_outside_fill * value):
            calls.append(BoxCall("doubtful", "ink mostly round the box, past its border: "
                                             "scribbled over?", 0.0))
        elif covered[i] and strokes:
            calls.append(BoxCall("doubtful", "scribbled over or filled where the voter "
                                             "otherwise ticks: cancelled?", 0.0))
        elif _heavier_past_border(i, fill, ring, open_marks | slash, t):
            calls.append(BoxCall("doubtful", "far more ink than the voter's other marks, and "
                                             "past its border: scribbled out?", 0.0))
        elif _heavier_than_voter(i, fill, open_marks, open_marks | light_marks, ink, t):
            calls.append(BoxCall("doubtful", "far more ink than the voter's other marks: "
                                             "scribbled out?", 0.0))
        elif _heavy(i, fill, by_field[fields[i]], open_marks, t):
            calls.append(BoxCall("doubtful", "far more ink than the mark beside it: crossed "
                                             "out?", 0.0))
        elif specks[i]:
            calls.append(BoxCall("doubtful", "specks scattered over the box, not one stroke",
                                 0.0))
        elif unsure_light[i]:
            calls.append(BoxCall("doubtful", "a light mark, lighter than the voter's others",
                                 0.0))
        else:
            calls.append(BoxCall("marked", certainty=_distance(value, t.definite_fill)))
    return calls


def _distance(value: float, threshold: float) -> float:
    """How far `value` lies from `threshold`, as a share of it (0 on it, 1 at twice or zero)."""
    return float(min(1.0, abs(value - threshold) / threshold))


def _band_certainty(value: float, t: Thresholds) -> float:
    """For a doubtful fill between the marginal and definite fills: its distance from the
    nearer of the two, as a share of the band's half width (1 in its middle)."""
    half = (t.definite_fill - t.marginal_fill) / 2
    return float(min(1.0, min(value - t.marginal_fill, t.definite_fill - value) / half))


def _past_border(i: int, ring: np.ndarray, inked: np.ndarray, t: Thresholds) -> bool:
    """Is the paper round box i inked far more than a mark stays in: over `ring_cancel`, or
    `ring_relative` times the median of the voter's other marks (and half `ring_cancel`)?"""
    if ring[i] >= t.ring_cancel:
        return True
    others = np.delete(ring[inked], np.searchsorted(np.nonzero(inked)[0], i))
    if ring[i] < t.ring_relative_min or not len(others):
        return False
    return bool(ring[i] >= t.ring_relative * float(np.median(others)))


def _heavier_than_voter(i: int, fill: np.ndarray, open_marks: np.ndarray, marks: np.ndarray,
                        ink: BoxInk, t: Thresholds) -> bool:
    """Is open mark i covered far more heavily than the voter's other marks (`marks`: the
    sure ones and the lighter ones), who marks with pen strokes (a tick, a cross, a circle),
    not fills?"""
    if not open_marks[i] or fill[i] < t.page_heavy_min_fill:
        return False
    others = marks.copy()
    others[i] = False
    if others.sum() < 2 or fill[i] < t.page_heavy_ratio * float(np.median(fill[others])):
        return False
    return float(np.median(ink.solidity[others])) < t.stroke_solidity_max


def _heavier_past_border(i: int, fill: np.ndarray, ring: np.ndarray, marks: np.ndarray,
                         t: Thresholds) -> bool:
    """Is open mark i both far heavier than the voter's other marks (`marks`: the open ones
    and the slashes, which are thin; `past_heavy_ratio` times their median fill, at least
    `past_heavy_min_fill`) and inked past its border where they are not (`ring_relative`
    times their median ring, at least `ring_relative_min`)? Two signs of a scribble-out
    together, whatever the voter's style: a voter's marks are alike, and stay in their boxes
    alike."""
    if not marks[i] or fill[i] < t.past_heavy_min_fill or ring[i] < t.ring_relative_min:
        return False
    others = marks.copy()
    others[i] = False
    if others.sum() < 2:
        return False
    return bool(fill[i] >= t.past_heavy_ratio * float(np.median(fill[others]))
                and ring[i] >= t.ring_relative * float(np.median(ring[others])))


def _heavy(i: int, fill: np.ndarray, same_field: list[int], open_marks: np.ndarray,
           t: Thresholds) -> bool:
    """Is mark i far heavier than another open mark of its own field?"""
    if fill[i] < t.heavy_min_fill or not open_marks[i]:
        return False
    others = [fill[j] for j in same_field if j != i and open_marks[j]]
    return bool(others) and fill[i] >= t.heavy_ratio * min(others)
