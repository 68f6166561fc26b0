"""Bitonal conversions as scanners do them: grey uint8 (H, W) -> bool (H, W), True = black.

`global_threshold`: one level for the page. `sauvola`: a dynamic threshold from the local mean
and spread (Sauvola & Pietikainen), the usual "adaptive" mode. `small_window`: a local-mean
threshold over a window smaller than the page's solid areas, so their insides come out white
(corner marks and bars become outlines). `floyd_steinberg`: error-diffusion dither.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

BITONAL_KINDS = ("global", "sauvola", "hollow", "dither")
#: the dynamic range R of the grey spread in Sauvola's formula
SAUVOLA_RANGE = 128.0


def global_threshold(grey: np.ndarray, level: int) -> np.ndarray:
    return grey < level


def sauvola(grey: np.ndarray, window_px: int, k: float) -> np.ndarray:
    window = max(3, window_px | 1)
    g = grey.astype(np.float32)
    mean = cv2.blur(g, (window, window), borderType=cv2.BORDER_REPLICATE)
    sq = cv2.blur(g * g, (window, window), borderType=cv2.BORDER_REPLICATE)
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    return g < mean * (1.0 + k * (std / SAUVOLA_RANGE - 1.0))


def small_window(grey: np.ndarray, window_px: int, offset: float) -> np.ndarray:
    """Black where a pixel is `offset` grey levels darker than its window's mean: inside a
    solid area wider than the window the mean equals the pixel, so it turns white."""
    window = max(3, window_px | 1)
    mean = cv2.blur(grey.astype(np.float32), (window, window), borderType=cv2.BORDER_REPLICATE)
    return grey.astype(np.float32) < mean - offset


def floyd_steinberg(grey: np.ndarray) -> np.ndarray:
    """Floyd-Steinberg error diffusion (Pillow's dither when converting to 1 bit)."""
    img = Image.fromarray(grey).convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    return ~np.asarray(img, dtype=bool)


def to_bitonal(grey: np.ndarray, kind: str, params: dict) -> np.ndarray:
    if kind == "global":
        return global_threshold(grey, int(params["level"]))
    if kind == "sauvola":
        return sauvola(grey, int(params["window_px"]), float(params["k"]))
    if kind == "hollow":
        return small_window(grey, int(params["window_px"]), float(params["offset"]))
    if kind == "dither":
        return floyd_steinberg(grey)
    raise ValueError(f"unknown bitonal kind {kind!r}; use one of {', '.join(BITONAL_KINDS)}")
