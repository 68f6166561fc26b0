"""What both card-reader protocols share: control bytes, status codes and the column codec.

Status codes (one ASCII byte, Sekonic SR-430/SR-450 style) and the typed error each maps to:

====  ===========================  ===================  ==================================
code  meaning                      error                sheets to re-feed (``refeed``)
====  ===========================  ===================  ==================================
``0`` normal read                  (a sheet)            --
``1`` jam                          `Jammed`             the sheet being read
``2`` card remains in transport    `Jammed`             the sheet being read
``3`` feed error                   `Jammed` (1)         the sheet being read
``6`` double feed                  `DoubleFeed`         the sheet being read and the next
``@`` timing-mark error            `TimingMarkError`    the sheet being read
``B`` hopper empty                 `NoDocuments`        none: normal end of a stack
``D`` cover open                   `CoverOpen`          the sheet being read
``P`` bad command                  `DeviceIO`           the sheet being read
``Q`` communication error          `DeviceIO`           the sheet being read
====  ===========================  ===================  ==================================

(1) A feed error means the card did not travel cleanly (misfeed, skew, not picked): the operator
has to handle paper, not cables, so it is a `Jammed` (advice: clear and re-feed), not a
`DeviceIO` (advice: check the cable).

Column codec (Sekonic mode C, reused by the framed protocol): a bitmap of ``rows`` x ``cols``
is sent column by column, left to right. Each column is ``ceil(rows / 4)`` uppercase hex digits;
digit ``j`` covers rows ``4j .. 4j+3`` with row ``4j + i`` as bit value ``1 << i`` (the topmost row
of a group is the least significant bit). Bits past the last row are sent as 0 and ignored.
Example: a column of 6 rows with marks in rows 0 and 5 is ``"12"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scanner.errors import (
    CoverOpen,
    DeviceError,
    DeviceIO,
    DoubleFeed,
    Jammed,
    NoDocuments,
    TimingMarkError,
)

STX = b"\x02"
ETX = b"\x03"
ENQ = b"\x05"
ACK = b"\x06"
DLE = b"\x10"
DC3 = b"\x13"
NAK = b"\x15"
CAN = b"\x18"
CR = b"\r"

STATUS_OK = "0"
STATUS_EMPTY = "B"

#: status code -> (error class, message, how many upcoming sheets the operator must re-feed)
STATUS_ERRORS: dict[str, tuple[type[DeviceError], str, int]] = {
    "1": (Jammed, "card jammed in the transport (status 1)", 1),
    "2": (Jammed, "a card remains in the transport (status 2)", 1),
    "3": (Jammed, "feed error: the card was not fed cleanly (status 3)", 1),
    "6": (DoubleFeed, "double feed: two cards went through together (status 6)", 2),
    "@": (TimingMarkError, "timing-mark error: the timing track could not be read (status @)", 1),
    "B": (NoDocuments, "hopper empty (status B)", 0),
    "D": (CoverOpen, "cover open (status D)", 1),
    "P": (DeviceIO, "the reader rejected a command as malformed (status P: bad command)", 1),
    "Q": (DeviceIO, "the reader reported a communication error (status Q)", 1),
}

#: every status code a reader may send, including the normal read
STATUS_CODES: frozenset[str] = frozenset(STATUS_ERRORS) | {STATUS_OK}

_HEX_DIGITS = b"0123456789ABCDEF"


def status_error(status: str, *, device: str, upcoming: Sequence[int]) -> DeviceError:
    """The typed error for a non-normal status code.

    `upcoming` are the sequence numbers of the next sheets to be read (at least two); the error's
    `refeed` takes as many of them as the status leaves unread (none for an empty hopper).
    """
    cls, message, refeed_count = STATUS_ERRORS[status]
    return cls(message, device=device, refeed=list(upcoming[:refeed_count]), status=status)


def digits_per_column(rows: int) -> int:
    """Hex digits that carry one column of `rows` rows."""
    return (rows + 3) // 4


def encode_columns(bitmap: np.ndarray) -> list[bytes]:
    """Encode a rows x cols bool bitmap as one ASCII hex string per column (see module doc)."""
    if bitmap.ndim != 2:
        raise ValueError(f"a bitmap is 2-D (rows x columns), got shape {bitmap.shape}")
    rows, cols = bitmap.shape
    digits = digits_per_column(rows)
    padded = np.zeros((digits * 4, cols), dtype=np.uint8)
    padded[:rows] = bitmap.astype(bool)
    weights = np.array([1, 2, 4, 8], dtype=np.uint8)[None, :, None]
    nibbles = (padded.reshape(digits, 4, cols) * weights).sum(axis=1)  # digits x cols
    return [bytes(_HEX_DIGITS[v] for v in nibbles[:, c]) for c in range(cols)]


def decode_columns(columns: Sequence[bytes], rows: int) -> np.ndarray:
    """Decode per-column hex strings (see module doc) into a rows x len(columns) bool bitmap.

    Raises ValueError naming the first column that is not ``ceil(rows/4)`` uppercase hex digits.
    """
    digits = digits_per_column(rows)
    values = np.zeros((digits, len(columns)), dtype=np.uint8)
    for c, text in enumerate(columns):
        if len(text) != digits or any(b not in _HEX_DIGITS for b in text):
            raise ValueError(
                f"column {c + 1} is {text!r}, expected {digits} uppercase hex digit(s)"
            )
        values[:, c] = [_HEX_DIGITS.index(b) for b in text]
    shifts = np.arange(4, dtype=np.uint8)[None, :, None]
    bits = (values[:, None, :] >> shifts) & 1  # digits x 4 x cols
    return bits.reshape(digits * 4, len(columns))[:rows].astype(bool)


def show_bytes(data: bytes, limit: int = 48) -> str:
    """A short printable rendering of received bytes for error messages."""
    if not data:
        return "nothing"
    shown = repr(data[:limit])
    more = f" ... ({len(data)} bytes)" if len(data) > limit else ""
    return shown + more
