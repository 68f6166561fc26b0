"""The per-sheet QR payload: form id, layout hash, page and sheet serial.

Format (version 1): ``ST1|<form_id>|<layout_hash>|<page>|<serial>``. The reader side
(`omr`) parses it with `parse_payload`; the printer side (`forms.render`) makes it with
`make_payload`. Kept tiny so the code stays small (QR version 4-5 at 20 mm).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "ST1"
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}"
SERIAL_PATTERN = r"[A-Za-z0-9]{1,16}"
#: the test-deck range (`tally.testmode`): "TD0" and four digits, never a real token
TEST_SERIAL_PREFIX = "TD0"
TEST_SERIAL_DIGITS = 4
MAX_TEST_SERIAL = 10 ** TEST_SERIAL_DIGITS - 1
_TEST_SERIAL_RE = re.compile(rf"^{TEST_SERIAL_PREFIX}[0-9]{{{TEST_SERIAL_DIGITS}}}$")
HASH_CHARS = 12
_PAYLOAD_RE = re.compile(
    rf"^{PREFIX}\|(?P<form>{ID_PATTERN})\|(?P<hash>[0-9a-f]{{{HASH_CHARS}}})\|"
    rf"(?P<page>[1-9][0-9]?)\|(?P<serial>{SERIAL_PATTERN})$"
)


@dataclass(frozen=True)
class SheetCode:
    form_id: str
    layout_hash: str  # the first HASH_CHARS hex digits of the layout hash
    page: int
    serial: str


def make_payload(form_id: str, layout_hash: str, page: int, serial: str) -> str:
    text = f"{PREFIX}|{form_id}|{layout_hash[:HASH_CHARS]}|{page}|{serial}"
    if not _PAYLOAD_RE.match(text):
        raise ValueError(f"cannot encode sheet code {text!r}: id, page or serial out of range")
    return text


def parse_payload(text: str) -> SheetCode | None:
    """Parse a decoded QR text; None when it is not a Scantally sheet code."""
    m = _PAYLOAD_RE.match(text.strip())
    if not m:
        return None
    return SheetCode(m["form"], m["hash"], int(m["page"]), m["serial"])


def is_test_serial(serial: str | None) -> bool:
    """True for a serial of the test range (TD0 and four digits)."""
    return bool(serial) and _TEST_SERIAL_RE.match(serial or "") is not None
