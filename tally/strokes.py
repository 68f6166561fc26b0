"""姓氏笔画 order: stroke counts (Unicode Unihan kTotalStrokes) and stroke orders (cnchar-order).

The tables are generated into `tally/data/` (see `tally/data/STROKES-SOURCE.md` for the sources,
licences and the exact rule). Sort rule, per character, surname first: stroke count, then the
stroke order (横1 竖2 撇3 点4 折5, first stroke, then the next …) when both characters have one,
then the Unicode code point. Characters outside the tables sort after every known character.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources
from typing import TypeVar

T = TypeVar("T")
_UNKNOWN = 10_000  # sorts after any real stroke count


@lru_cache(maxsize=1)
def _counts() -> dict[str, int]:
    text = resources.files("tally").joinpath("data", "stroke_counts.txt").read_text("utf-8")
    out: dict[str, int] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        n, chars = line.split("\t")
        for ch in chars:
            out[ch] = int(n)
    return out


@lru_cache(maxsize=1)
def _orders() -> dict[str, str]:
    text = resources.files("tally").joinpath("data", "stroke_orders.txt").read_text("utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            ch, seq = line.split("\t")
            out[ch] = seq
    return out


def stroke_count(ch: str) -> int | None:
    """Total strokes of one character (Unihan kTotalStrokes), None when unknown."""
    return _counts().get(ch)


def stroke_order(ch: str) -> str | None:
    """Stroke classes of one character as digits 1横 2竖 3撇 4点 5折, None when unknown."""
    return _orders().get(ch)


def char_key(ch: str) -> tuple[int, str, int]:
    """Sort key of one character: (strokes, stroke order, code point).

    A character without a known stroke order gets the empty order, so among characters of the
    same count the ones with a known order come by order and the rest by code point.
    """
    n = stroke_count(ch)
    if n is None:
        return (_UNKNOWN, "", ord(ch))
    return (n, stroke_order(ch) or "", ord(ch))


def name_key(name: str) -> tuple[tuple[int, str, int], ...]:
    """Sort key of a name for 姓氏笔画 order (whitespace ignored)."""
    return tuple(char_key(ch) for ch in name if not ch.isspace())


def sort_by_strokes(items: Iterable[T], name: Callable[[T], str]) -> list[T]:
    """`items` in 姓氏笔画 order of `name(item)`; equal names keep their given order."""
    return sorted(items, key=lambda it: name_key(name(it)))
