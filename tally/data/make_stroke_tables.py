"""Regenerate `stroke_counts.txt` and `stroke_orders.txt` (not imported at run time).

Sources (see STROKES-SOURCE.md):
- stroke counts: Unicode Unihan `kTotalStrokes`, from Debian's `unicode-data` package
  (`/usr/share/unicode/Unihan_IRGSources.txt.bz2`); the first value when two are given
  (the mainland-China G-source count);
- stroke orders: the `cnchar-order` npm package (MIT), whose per-character stroke letters are
  folded into the five standard stroke classes 横1 竖2 撇3 点4 折5 (提 counts as 横, 捺 and 点
  as 点, every stroke with a turn or hook, 竖钩 included, as 折).

Only characters of the CJK Unified Ideographs blocks (U+3400–4DBF, U+4E00–9FFF) that the
report font draws are kept. A stroke order whose length disagrees with the Unihan count is
dropped (the count wins).

Usage (from the repository root):
    apt-get download unicode-data && dpkg -x unicode-data_*.deb /tmp/ud
    npm pack cnchar-order@3.2.6 && tar xzf cnchar-order-3.2.6.tgz -C /tmp/cn
    .venv/bin/python tally/data/make_stroke_tables.py \
        /tmp/ud/usr/share/unicode/Unihan_IRGSources.txt.bz2 /tmp/cn/package/cnchar.order.min.js
"""

from __future__ import annotations

import bz2
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
UNIFIED = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))

#: cnchar-order stroke letters -> the five classes (1 横 2 竖 3 撇 4 点 5 折)
CNCHAR_CLASS = {
    "j": "1", "i": "1",  # 横, 提
    "f": "2",  # 竖
    "s": "3",  # 撇
    "k": "4", "d": "4", "l": "4",  # 点, 点(变体), 捺
    **{c: "5" for c in "abceghmnopqrtuvwxyz"},  # every turning or hooked stroke
}


def _unified(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in UNIFIED)


def read_counts(unihan_bz2: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with bz2.open(unihan_bz2, "rt", encoding="utf-8") as fh:
        for line in fh:
            if "\tkTotalStrokes\t" not in line:
                continue
            cp, _, value = line.rstrip("\n").split("\t")
            code = int(cp[2:], 16)
            if _unified(code):
                out[chr(code)] = int(value.split()[0])
    return out


def read_orders(cnchar_js: Path) -> dict[str, str]:
    text = cnchar_js.read_text(encoding="utf-8")
    match = re.search(r"JSON\.parse\('(\{.*?\})'\)", text)
    if not match:
        raise SystemExit(f"{cnchar_js}: no stroke table found; is it cnchar-order 3.x?")
    raw: dict[str, str] = json.loads(match.group(1))
    return {ch: "".join(CNCHAR_CLASS[s] for s in seq) for ch, seq in raw.items() if len(ch) == 1}


def main(unihan_bz2: str, cnchar_js: str) -> None:
    sys.path.insert(0, str(HERE.parents[1]))
    from forms.fonts import _cmap

    cmap = _cmap()
    counts = {ch: n for ch, n in read_counts(Path(unihan_bz2)).items() if ord(ch) in cmap}
    orders = read_orders(Path(cnchar_js))
    by_count: dict[int, list[str]] = defaultdict(list)
    for ch in sorted(counts):
        by_count[counts[ch]].append(ch)
    with open(HERE / "stroke_counts.txt", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# total strokes<TAB>characters. Modified (reduced, regrouped) from Unicode "
                 "Unihan 15.0 kTotalStrokes; Unicode licence: see STROKES-SOURCE.md\n")
        for n in sorted(by_count):
            fh.write(f"{n}\t{''.join(by_count[n])}\n")
    kept = dropped = 0
    with open(HERE / "stroke_orders.txt", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# character<TAB>stroke classes 1横 2竖 3撇 4点 5折. Derived from "
                 "cnchar-order 3.2.6 (MIT); see STROKES-SOURCE.md\n")
        for ch in sorted(orders):
            if ch not in counts:
                continue
            if len(orders[ch]) != counts[ch]:
                dropped += 1
                continue
            fh.write(f"{ch}\t{orders[ch]}\n")
            kept += 1
    print(f"{len(counts)} stroke counts, {kept} stroke orders ({dropped} dropped: length differs)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
