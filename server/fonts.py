"""The web font: the forms' CJK font (WenQuanYi Micro Hei, a TTC) made loadable by browsers.

Browsers do not load a TTC through @font-face, and the hall machine is offline, so:
- `static/fonts/scantally-cjk.woff2` (committed, regenerate with
  `python -m server.fonts`) is face 0 subset to GB2312 level 1, its punctuation and full-width
  forms, ASCII, and every character of the templates and of `server.i18n`;
- `meeting_font(text)` makes, on demand, a small TTF of the characters of a meeting's specs
  that the base font lacks (rare surname characters such as 褚), for the hall screen.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).resolve().parent
SOURCE_TTC = HERE.parent / "forms" / "fonts" / "wqy-microhei.ttc"
BASE_FONT = HERE / "static" / "fonts" / "scantally-cjk.woff2"
TEMPLATES = HERE / "templates"


def gb2312_level1() -> str:
    """GB2312 level-1 hanzi (rows 16-55), its symbols (row 1) and full-width forms (row 3)."""
    chars = []
    for row in [0xA1, 0xA3, *range(0xB0, 0xD8)]:
        for col in range(0xA1, 0xFF):
            try:
                chars.append(bytes([row, col]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def interface_text() -> str:
    from server import i18n

    parts = [p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.glob("*.html"))]
    parts += i18n.all_text()
    parts += [p.read_text(encoding="utf-8") for p in sorted((HERE / "static" / "js").glob("*.js"))]
    return "".join(parts)


def base_text() -> str:
    ascii_ = "".join(chr(c) for c in range(0x20, 0x7F))
    punctuation = "·—…‘’“”、。，；：？！（）《》【】%"
    return "".join(sorted(set(ascii_ + gb2312_level1() + interface_text() + punctuation)))


def _subset(text: str, flavor: str | None) -> bytes:
    font = TTFont(str(SOURCE_TTC), fontNumber=0)
    options = subset.Options()
    options.flavor = flavor
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    sub = subset.Subsetter(options)
    sub.populate(text=text)
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = flavor
    font.save(buf)
    return buf.getvalue()


def build_base_font(out: Path = BASE_FONT) -> Path:
    """Write the base woff2 (needs the `brotli` package)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_subset(base_text(), "woff2"))
    return out


@lru_cache(maxsize=1)
def base_codepoints() -> frozenset[int]:
    """Characters the base font has; taken from the text it is built from (no woff2 decoding
    needed at run time)."""
    return frozenset(ord(c) for c in base_text())


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def missing_chars(text: str) -> str:
    have = base_codepoints()
    return "".join(sorted({c for c in _CJK.findall(text) if ord(c) not in have}))


@lru_cache(maxsize=32)
def meeting_font(chars: str) -> bytes:
    """A small TTF with just `chars` (those the base font lacks), or b"" when there are none
    or the source font lacks them too."""
    if not chars:
        return b""
    return _subset(chars, None)


FULL_FONT_NAME = "scantally-cjk-full.ttf"


def full_font(cache_dir: Path) -> Path:
    """Face 0 of the TTC as a plain TTF (all ~20,000 glyphs), made once into `cache_dir`: the
    console's last-resort font for characters outside the base subset (typed write-in names,
    rare surnames). Browsers fetch it only when a page needs a glyph the base font lacks."""
    target = cache_dir / FULL_FONT_NAME
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        TTFont(str(SOURCE_TTC), fontNumber=0).save(str(tmp))
        tmp.replace(target)
    return target


if __name__ == "__main__":
    path = build_base_font()
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
