"""The sheet serial as pre-printed cells of the reader grid, for OMR card readers.

A card reader sends marks, not images: it cannot read the QR code. So a form printed with a
timing track also prints its serial as solid cells in reserved rows of the reader grid (see
`forms.layout`: ``pages[].serial_code``), which the reader sends with the voter's marks and
`omr.grid.card_serial` decodes. A re-fed card then has the same serial and is counted once.

The code: each character of the serial (at most `MAX_CHARS`, from `CHARS`) as 6 bits (its index
+ 1; 0 pads a shorter serial on the left), then a CRC-16/CCITT over those bytes, 16 bits; a bit 1
is a printed cell. A voter's stray mark in the code area, or a cell the reader missed, fails the
CRC: the card is then never guessed, it goes to a person.
"""

from __future__ import annotations

import binascii

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_CHARS = 10
BITS_PER_CHAR = 6
CRC_BITS = 16
CODE_BITS = MAX_CHARS * BITS_PER_CHAR + CRC_BITS


class SerialCodeError(ValueError):
    """A serial that cannot be printed as a card code (too long, or a character outside CHARS)."""


def _symbols(serial: str) -> list[int]:
    if not serial or len(serial) > MAX_CHARS:
        raise SerialCodeError(
            f"serial {serial!r}: a card-reader form prints serials of 1-{MAX_CHARS} characters "
            "in its reader grid; use shorter serials")
    bad = [ch for ch in serial if ch not in CHARS]
    if bad:
        raise SerialCodeError(
            f"serial {serial!r}: {bad[0]!r} cannot be printed in a card code; use digits and "
            "capital letters")
    return [0] * (MAX_CHARS - len(serial)) + [CHARS.index(ch) + 1 for ch in serial]


def _crc(symbols: list[int]) -> int:
    return binascii.crc_hqx(bytes(symbols), 0xFFFF)


def encode_serial(serial: str) -> list[bool]:
    """The `CODE_BITS` bits of `serial`, most significant first; SerialCodeError if it cannot
    be coded."""
    symbols = _symbols(serial)
    bits: list[bool] = []
    for s in symbols:
        bits += [bool(s >> k & 1) for k in range(BITS_PER_CHAR - 1, -1, -1)]
    crc = _crc(symbols)
    bits += [bool(crc >> k & 1) for k in range(CRC_BITS - 1, -1, -1)]
    return bits


def decode_serial(bits: list[bool]) -> str | None:
    """The serial the bits code, or None when they are not a valid code (wrong CRC, a symbol out
    of range, padding inside the serial, or no serial at all)."""
    if len(bits) != CODE_BITS:
        return None
    values = [int("".join("1" if b else "0" for b in bits[k:k + BITS_PER_CHAR]), 2)
              for k in range(0, MAX_CHARS * BITS_PER_CHAR, BITS_PER_CHAR)]
    crc = int("".join("1" if b else "0" for b in bits[-CRC_BITS:]), 2)
    if _crc(values) != crc or any(v > len(CHARS) for v in values):
        return None
    start = next((k for k, v in enumerate(values) if v), len(values))
    if start == len(values) or not all(values[start:]):
        return None
    return "".join(CHARS[v - 1] for v in values[start:])
