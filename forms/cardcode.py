"""The sheet serial as pre-printed cells of the reader grid, for OMR card readers.

A card reader sends marks, not images: it cannot read the QR code. So a form printed with a
timing track also prints its serial as solid cells in reserved rows of the reader grid (see
`forms.layout`: ``pages[].serial_code``), which the reader sends with the voter's marks and
`omr.grid.card_serial` decodes. A re-fed card then has the same serial and is counted once.

What can go wrong with printed cells is one-directional: a voter's scribble over the code area
only *adds* cells, a reader that misses faint print only *loses* them. So the code must catch
every one-directional error, of any size, not only most of them: a scribble must never turn
one serial into another. The code (`scantally.cardcode/2`, `CODE_BITS` = 76 cells):

- the serial (at most `MAX_CHARS` characters from `CHARS`, each as its index + 1, 0 padding a
  shorter serial on the left) as one base-37 number, 53 bits;
- a CRC-16/CCITT over that number's 7 bytes, 16 bits: it catches every error of one or two
  cells in either direction, and all but 1 in 65,536 of the others;
- a Berger check, 7 bits: the number of 0 cells among the 69 before it. Cells only added lower
  that count while they can only raise the check's value (and cells only lost the reverse), so
  no one-directional error, of any number of cells, ever yields a valid code.

A bit 1 is a printed cell. A code that fails either check is never guessed: the card goes to a
person. `scantally.cardcode/1` (6 bits a character and the CRC, no Berger check) is still
decoded for layouts compiled before /2.
"""

from __future__ import annotations

import binascii

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_CHARS = 10
BASE = len(CHARS) + 1
VALUE_BITS = 53  # BASE ** MAX_CHARS < 2 ** 53
CRC_BITS = 16
BERGER_BITS = 7  # counts 0..69 zeros
CODE_BITS = VALUE_BITS + CRC_BITS + BERGER_BITS
SCHEME = "scantally.cardcode/2"
SCHEME_V1 = "scantally.cardcode/1"
_V1_BITS_PER_CHAR = 6

assert BASE ** MAX_CHARS < 2 ** VALUE_BITS
assert (VALUE_BITS + CRC_BITS) < 2 ** BERGER_BITS
assert CODE_BITS == MAX_CHARS * _V1_BITS_PER_CHAR + CRC_BITS  # both schemes fill the same cells


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


def _bits(value: int, width: int) -> list[bool]:
    return [bool(value >> k & 1) for k in range(width - 1, -1, -1)]


def _int(bits: list[bool]) -> int:
    value = 0
    for b in bits:
        value = value << 1 | int(b)
    return value


def _crc(value: int) -> int:
    return binascii.crc_hqx(value.to_bytes(7, "big"), 0xFFFF)


def encode_serial(serial: str) -> list[bool]:
    """The `CODE_BITS` bits of `serial` (`SCHEME`), most significant first; SerialCodeError if
    it cannot be coded."""
    value = 0
    for s in _symbols(serial):
        value = value * BASE + s
    bits = _bits(value, VALUE_BITS) + _bits(_crc(value), CRC_BITS)
    return bits + _bits(bits.count(False), BERGER_BITS)


def _serial(symbols: list[int]) -> str | None:
    if any(not 0 <= v < BASE for v in symbols):
        return None
    start = next((k for k, v in enumerate(symbols) if v), len(symbols))
    if start == len(symbols) or not all(symbols[start:]):
        return None
    return "".join(CHARS[v - 1] for v in symbols[start:])


def decode_serial(bits: list[bool], scheme: str = SCHEME) -> str | None:
    """The serial the bits code, or None when they are not a valid code (a check fails, a
    symbol out of range, padding inside the serial, or no serial at all)."""
    if len(bits) != CODE_BITS:
        return None
    if scheme == SCHEME_V1:
        return _decode_v1(bits)
    if scheme != SCHEME:
        raise ValueError(f"unknown card code scheme {scheme!r}; recompile the layout")
    info = bits[:VALUE_BITS + CRC_BITS]
    if _int(bits[VALUE_BITS + CRC_BITS:]) != info.count(False):
        return None
    value = _int(bits[:VALUE_BITS])
    if _crc(value) != _int(bits[VALUE_BITS:VALUE_BITS + CRC_BITS]) or value >= BASE ** MAX_CHARS:
        return None
    symbols = []
    for _ in range(MAX_CHARS):
        value, s = divmod(value, BASE)
        symbols.append(s)
    return _serial(symbols[::-1])


def _decode_v1(bits: list[bool]) -> str | None:
    n = _V1_BITS_PER_CHAR
    symbols = [_int(bits[k:k + n]) for k in range(0, MAX_CHARS * n, n)]
    if binascii.crc_hqx(bytes(symbols), 0xFFFF) != _int(bits[-CRC_BITS:]):
        return None
    return _serial(symbols)
