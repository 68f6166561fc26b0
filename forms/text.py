"""Text that people type, made safe to store, compare and print.

Three rules, shared by the spec loader, the tally and the server's input types:

- a NUL or another control character (Unicode category Cc, except tab, line feed and carriage
  return) is refused: PostgreSQL cannot store NUL, and nothing typed needs them;
- text is Unicode NFC, so one name typed two ways is one name;
- in names (people, meetings, accounts, labels, write-ins) the invisible format characters
  (category Cf: zero-width space/joiner/non-joiner, word joiner, BOM, soft hyphen, the bidi
  embeddings, overrides and isolates) are removed: `张三` and `张\\u200d三` are one person.

What goes in: a str. What comes out: the cleaned str, or `TextError` (a ValueError) saying
which character at which position, so a pydantic validator can name the field.
"""

from __future__ import annotations

import unicodedata
from typing import Any

#: control characters text may keep (free text: reasons, instructions)
ALLOWED_CONTROLS = frozenset("\t\n\r")


class TextError(ValueError):
    """Text with a character that must not be there; the message says which and where."""


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def control_chars(text: str, *, allow: frozenset[str] = ALLOWED_CONTROLS) -> list[int]:
    """Positions of control characters (NUL, ESC, DEL, …) other than `allow`."""
    return [i for i, ch in enumerate(text)
            if unicodedata.category(ch) == "Cc" and ch not in allow]


def invisible_chars(text: str) -> list[int]:
    """Positions of format characters (Cf): zero-width, bidi controls, BOM, soft hyphen."""
    return [i for i, ch in enumerate(text) if unicodedata.category(ch) == "Cf"]


def check_controls(text: str, *, allow: frozenset[str] = ALLOWED_CONTROLS) -> None:
    bad = control_chars(text, allow=allow)
    if bad:
        i = bad[0]
        raise TextError(f"contains the control character {_describe(text[i])} at position "
                        f"{i + 1}; remove it (NUL and control characters are not text)")


def clean_text(text: str) -> str:
    """Free text (a reason, a comment): controls refused, NFC."""
    check_controls(text)
    return unicodedata.normalize("NFC", text)


def clean_name(text: str) -> str:
    """A name or a one-line label: no control characters at all (not even a line break),
    format characters removed, NFC, outer whitespace stripped."""
    check_controls(text, allow=frozenset())
    stripped = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFC", stripped).strip()


def refuse_invisible(text: str) -> str:
    """For text printed on a ballot: refuse (do not silently drop) invisible characters, so
    the spec's author sees what the printed sheet would hide."""
    check_controls(text)
    bad = invisible_chars(text)
    if bad:
        i = bad[0]
        raise TextError(f"contains the invisible character {_describe(text[i])} at position "
                        f"{i + 1} (zero-width, bidi control or BOM); retype the text "
                        "without it")
    return text


def name_key(name: str) -> str:
    """The form two names are compared in: `clean_name` with inner runs of whitespace made one
    space (never raises: stored names are compared as they are)."""
    kept = "".join(ch for ch in name
                   if ch.isspace() or unicodedata.category(ch) not in ("Cf", "Cc"))
    return " ".join(unicodedata.normalize("NFC", kept).split())


def find_control(value: Any, loc: tuple[str | int, ...] = (),
                 allow: frozenset[str] = ALLOWED_CONTROLS) -> tuple[str | int, ...] | None:
    """Where in a JSON-like value (keys included) a string holds a NUL or a control
    character other than `allow`; None if nowhere."""
    if isinstance(value, str):
        return loc if control_chars(value, allow=allow) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and control_chars(k, allow=frozenset()):
                return (*loc, k)
            found = find_control(v, (*loc, k), allow)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = find_control(v, (*loc, i), allow)
            if found is not None:
                return found
    return None
