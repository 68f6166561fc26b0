"""Writing instruments: how a pen turns a path with pressure into a stroke of ink.

A ballpoint's line is thin and even in width but skips where the ball runs dry; gel ink is dark
and even; a felt tip is wide with a bleeding edge; a pencil's line is grey and grainy (graphite
catches on the paper's tooth) and follows the pressure closely in darkness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omr.handsim.strokes import Stroke

#: sRGB luma weights: how dark an ink looks to a grey scanner
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Pen:
    """One writing instrument.

    `ink_rgb`: transmittance (0..1 per channel) of a full layer of ink; `width_mm`: line width at
    full pressure; `opacity`: ink coverage at full pressure; `width_follows` / `opacity_follows`:
    how much width and coverage drop with lighter pressure (0: not at all, 1: proportionally);
    `skip`: share of a ballpoint's path where the ink thins out; `grain`: pencil tooth (0..1);
    `bleed_mm`: the soft edge of a felt tip.
    """

    name: str
    ink_rgb: tuple[float, float, float]
    width_mm: float
    opacity: float
    width_follows: float
    opacity_follows: float
    skip: float = 0.0
    grain: float = 0.0
    bleed_mm: float = 0.0

    @property
    def pencil(self) -> bool:
        return self.grain > 0

    def darkness(self, alpha: float) -> float:
        """How much a grey scanner sees this ink darken the paper at coverage `alpha` (0..1)."""
        return float(alpha * (1.0 - float(np.dot(LUMA, self.ink_rgb))))

    def stroke(self, points_mm: np.ndarray, pressure: np.ndarray, force: float,
               rng: np.random.Generator) -> Stroke:
        """The stroke this pen leaves along `points_mm` with `pressure` (0..1) x `force`."""
        p = np.clip(pressure * force, 0.02, 1.6)
        width = self.width_mm * (1.0 - self.width_follows + self.width_follows * np.minimum(p, 1.3))
        cover = self.opacity * (1.0 - self.opacity_follows
                                + self.opacity_follows * np.minimum(p, 1.0))
        if force > 1.0:  # pressing harder: more ink, up to the full layer
            cover = cover + (1.0 - cover) * min(1.0, (force - 1.0) * 0.8)
        if self.skip > 0 and len(points_mm) > 3:
            cover = cover * _skips(len(points_mm), self.skip, rng)
        return Stroke(np.asarray(points_mm, float), np.maximum(width, 0.08),
                      np.clip(cover, 0.0, 1.0))

    def texture(self, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pencil grain on an ink-coverage patch (a pen's ink is left as it is)."""
        if self.grain <= 0:
            return alpha
        tooth = 1.0 - self.grain * rng.random(alpha.shape, dtype=np.float32) ** 0.6
        return alpha * tooth


def _skips(n: int, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A ballpoint's coverage along a path: mostly full, thinning in a few places."""
    s = np.linspace(0, 1, n)
    wave = np.zeros(n)
    for _ in range(3):
        wave += np.sin(2 * np.pi * (s * rng.uniform(1.5, 6.0) + rng.uniform()))
    thin = np.clip((wave / 3.0 - 0.35) * 2.0, 0.0, 1.0)
    return 1.0 - amount * thin


PENS: dict[str, Pen] = {p.name: p for p in (
    Pen("ballpoint-blue", (0.22, 0.32, 0.78), 0.42, 0.88, 0.25, 0.45, skip=0.35),
    Pen("ballpoint-black", (0.14, 0.14, 0.18), 0.40, 0.85, 0.25, 0.45, skip=0.35),
    Pen("gel-black", (0.05, 0.05, 0.07), 0.55, 0.97, 0.25, 0.10),
    Pen("gel-blue", (0.12, 0.22, 0.68), 0.55, 0.95, 0.25, 0.10),
    Pen("felt-tip", (0.08, 0.08, 0.11), 1.00, 0.95, 0.35, 0.15, bleed_mm=0.12),
    Pen("pencil-hb", (0.42, 0.42, 0.45), 0.50, 0.80, 0.30, 0.85, grain=0.55),
    Pen("pencil-2b", (0.28, 0.28, 0.31), 0.62, 0.88, 0.30, 0.75, grain=0.40),
)}
