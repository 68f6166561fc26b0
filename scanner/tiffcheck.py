"""Walk a TIFF's directory chain to find truncation before any pixel is decoded.

Pillow is lenient with a cut-short multi-page TIFF (an interrupted copy or upload): it may treat
a missing directory as the end of the file and silently drop the pages after it. `check_tiff`
reads only the structure - each page's directory (IFD) and where its strips/tiles lie - and says
which pages are complete, so that a lost page is reported instead of vanishing. It also notes
where each page's directory starts (`offsets`: a decoder goes straight to page k instead of
walking k directories) and stops after `max_pages` directories (`over`: a 10,000-frame file is
refused by its count without walking all of it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = ["TiffCheck", "check_tiff"]

_MAX_PAGES = 100_000
_STRIP_OFFSETS, _STRIP_BYTES, _TILE_OFFSETS, _TILE_BYTES = 273, 279, 324, 325
#: TIFF field type -> (struct code, size in bytes), for the integer types offsets use
_INT_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}


@dataclass
class TiffCheck:
    #: one entry per page directory found: None if complete, else why its pixels are missing
    pages: list[str | None] = field(default_factory=list)
    #: why the chain stops early (a directory beyond the end of the file), or None
    tail: str | None = None
    #: the byte offset of each page's directory (IFD), in page order
    offsets: list[int] = field(default_factory=list)
    #: the file has more pages than the `max_pages` it was checked with (the walk stopped)
    over: bool = False


def check_tiff(data: bytes, max_pages: int = _MAX_PAGES) -> TiffCheck:
    """Return the pages of a classic or BigTIFF file and where it is cut short, if it is;
    at most `max_pages` of them (`over` when there are more)."""
    result = TiffCheck()
    size = len(data)
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack_from(order + "H", data, 2)[0] == 43 if size >= 4 else False
    head_bytes = 16 if big else 8
    if size < head_bytes:
        result.tail = f"the file ends inside its header ({size} bytes)"
        return result
    off_code, count_code, entry_bytes, count_bytes = ("Q", "Q", 20, 8) if big else ("I", "H", 12, 2)
    offset = struct.unpack_from(order + off_code, data, 8 if big else 4)[0]
    seen: set[int] = set()
    while offset and offset not in seen:
        if len(result.pages) >= max_pages:
            result.over = True
            return result
        seen.add(offset)
        if offset + count_bytes > size:
            result.tail = "the file ends before that page's directory (cut short?)"
            return result
        n_entries = struct.unpack_from(order + count_code, data, offset)[0]
        end = offset + count_bytes + n_entries * entry_bytes
        next_bytes = 8 if big else 4
        if end + next_bytes > size:
            result.tail = "the file ends inside that page's directory (cut short?)"
            return result
        tags: dict[int, list[int]] = {}
        for i in range(n_entries):
            entry = offset + count_bytes + i * entry_bytes
            tag, kind = struct.unpack_from(order + "HH", data, entry)
            if tag in (_STRIP_OFFSETS, _STRIP_BYTES, _TILE_OFFSETS, _TILE_BYTES):
                tags[tag] = _read_ints(data, order, entry, kind, big)
        result.pages.append(_page_problem(tags, size))
        result.offsets.append(offset)
        offset = struct.unpack_from(order + off_code, data, end)[0]
    return result


def _read_ints(data: bytes, order: str, entry: int, kind: int, big: bool) -> list[int]:
    if kind not in _INT_TYPES:
        return []
    code, item_bytes = _INT_TYPES[kind]
    count = struct.unpack_from(order + ("Q" if big else "I"), data, entry + 4)[0]
    inline_bytes = 8 if big else 4
    where = entry + (12 if big else 8)
    if count * item_bytes > inline_bytes:
        where = struct.unpack_from(order + ("Q" if big else "I"), data, where)[0]
    if count > len(data) or where + count * item_bytes > len(data):
        return [len(data) + 1]  # the table itself lies past the end: report it as missing data
    return list(struct.unpack_from(f"{order}{count}{code}", data, where))


def _page_problem(tags: dict[int, list[int]], size: int) -> str | None:
    offsets = tags.get(_STRIP_OFFSETS) or tags.get(_TILE_OFFSETS) or []
    counts = tags.get(_STRIP_BYTES) or tags.get(_TILE_BYTES) or []
    for start, length in zip(offsets, counts, strict=False):
        if start + length > size:
            return "the file ends before this page's image data (cut short?)"
    if any(start > size for start in offsets):
        return "the file ends before this page's image data (cut short?)"
    return None
