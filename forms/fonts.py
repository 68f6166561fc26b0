"""The embedded CJK font: registration with reportlab, text metrics and glyph coverage.

One font ships with the package (WenQuanYi Micro Hei, Apache-2.0; see fonts/LICENSE-*), so a
rendered PDF looks the same on a machine without it: reportlab embeds the used subset.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "WQYMicroHei"
FONT_PATH = Path(__file__).with_name("fonts") / "wqy-microhei.ttc"
PT_PER_MM = 72.0 / 25.4


@lru_cache(maxsize=1)
def register_font() -> str:
    """Register the CJK font with reportlab once per process; return its name."""
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH), subfontIndex=0))
    return FONT_NAME


@lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTCollection

    with TTCollection(str(FONT_PATH), lazy=True) as coll:
        return frozenset(coll.fonts[0].getBestCmap().keys())


def missing_glyphs(text: str) -> list[str]:
    """Characters of `text` that the font cannot draw (whitespace ignored), in order, once each."""
    cmap = _cmap()
    out: list[str] = []
    for ch in text:
        if ch.isspace() or ord(ch) in cmap or ch in out:
            continue
        out.append(ch)
    return out


def text_width_mm(text: str, size_pt: float) -> float:
    register_font()
    return pdfmetrics.stringWidth(text, FONT_NAME, size_pt) / PT_PER_MM


def pt_to_mm(size_pt: float) -> float:
    return size_pt / PT_PER_MM
