"""Driver for Sekonic-style OMR card readers (SR-430/SR-450 ASCII protocol, HARDWARE.md).

Wire format (host -> reader commands end in CR; half duplex, one command at a time):

===========================  ==================================================================
host sends                   reader answers
===========================  ==================================================================
``CAN CR``     (18h 0Dh)     ``ACK`` (06h): reset
``? CR``                     one status byte (see `hardware.protocol`): ``0`` = a sheet was read
``ENQ T CR``   (05h 54h 0Dh) timing marks seen on the last sheet: 3 decimal digits, CR
``ENQ CR``     (05h 0Dh)     status byte of the last failed command (``0`` if none), CR
``DLE C sss nnn CR``         mode C data of the last sheet, columns ``sss`` .. ``sss+nnn-1``
                             (1-based, 3 decimal digits each): per column ``ceil(rows/4)``
                             uppercase hex digits then CR; after the last column ETX (03h).
                             ``rows`` is the timing-mark count. A request the reader cannot
                             serve (no sheet, columns out of range) is answered ``P``.
===========================  ==================================================================

The hex digits of a column follow `hardware.protocol` (digit j = rows 4j..4j+3, topmost row =
bit 1h). Example, a 6-row x 2-column sheet with marks at (row 0, col 0) and (row 5, col 1):
``DLE C 001 002 CR`` -> ``b"10\\r02\\r\\x03"``.

One sheet = ``? CR`` -> ``0``; ``ENQ T CR`` -> ``048\\r``; ``DLE C 001 080 CR`` -> 80 x (12 + 1)
bytes + ETX. Any other status byte becomes its typed error; silence, stray bytes or a short
answer become `DeviceIO` quoting what arrived.
"""

from __future__ import annotations

import re

import numpy as np

from hardware.base import PendingSheet, SerialCardReader
from hardware.protocol import (
    CAN,
    CR,
    DLE,
    ENQ,
    ETX,
    STATUS_CODES,
    STATUS_ERRORS,
    STATUS_OK,
    decode_columns,
    digits_per_column,
    encode_columns,
    status_error,
)
from scanner.errors import DeviceIO, TimingMarkError

FEED = b"?" + CR
ENQ_TIMING = ENQ + b"T" + CR
ENQ_LAST_ERROR = ENQ + CR
DEFAULT_COLS = 80

_TIMING_ANSWER = re.compile(rb"(\d{3})\r")


def data_request(start_col: int, col_count: int) -> bytes:
    """``DLE C sss nnn CR`` for mode C, columns 1-based."""
    if not (1 <= start_col <= 999 and 1 <= col_count <= 999):
        raise ValueError(f"columns must be 1..999, got start {start_col}, count {col_count}")
    return DLE + b"C%03d%03d" % (start_col, col_count) + CR


def encode_data_block(bitmap: np.ndarray, start_col: int, col_count: int) -> bytes:
    """The reader's mode C answer for columns `start_col` .. (1-based) of `bitmap`."""
    window = bitmap[:, start_col - 1 : start_col - 1 + col_count]
    return b"".join(column + CR for column in encode_columns(window)) + ETX


def data_block_size(rows: int, col_count: int) -> int:
    """Bytes in a mode C answer: per column the hex digits and CR, then ETX."""
    return col_count * (digits_per_column(rows) + 1) + 1


def decode_data_block(data: bytes, rows: int, col_count: int) -> np.ndarray:
    """Parse a mode C answer into a rows x col_count bitmap; ValueError says what is wrong."""
    if not data.endswith(ETX):
        raise ValueError("the answer does not end with ETX (03h)")
    lines = data[:-1].split(CR)
    if len(lines) != col_count + 1 or lines[-1] != b"":
        raise ValueError(f"expected {col_count} CR-terminated columns before ETX")
    return decode_columns(lines[:-1], rows)


class SekonicReader(SerialCardReader):
    """A Sekonic-style reader: feeds with ``?``, fetches mode C data for `cols` columns.

    `cols` defaults to 80; `rows`, if given, is the timing-mark count every sheet must have.
    """

    protocol = "sekonic"
    _reset_command = CAN + CR

    def timing_marks(self) -> int:
        """``ENQ T``: how many timing marks the reader saw on the last sheet."""
        self._write(ENQ_TIMING)
        answer = self._read_until(CR, 8, timeout_s=self.timeout_s)
        if not _TIMING_ANSWER.fullmatch(answer):
            raise self._io_error("expected 3 digits and CR in answer to ENQ T", answer)
        return int(answer[:3])

    def last_error(self) -> str:
        """``ENQ``: the status byte of the reader's last failed command (``"0"`` if none)."""
        self._write(ENQ_LAST_ERROR)
        answer = self._read_until(CR, 4, timeout_s=self.timeout_s)
        code = answer[:1].decode("latin-1")
        if len(answer) != 2 or not answer.endswith(CR) or code not in STATUS_CODES:
            raise self._io_error("expected a status byte and CR in answer to ENQ", answer)
        return code

    def _read_next(self) -> None:
        self._write(FEED)
        answer = self._read(1, timeout_s=self.timeout_s)
        if not answer:
            raise self._io_error(
                f"no answer to the feed command '?' within {self.timeout_s:g} s", b"", drain=False
            )
        code = answer.decode("latin-1")
        if code not in STATUS_CODES:
            raise self._io_error("unexpected answer to the feed command '?'", answer)
        if code != STATUS_OK:
            raise status_error(code, device=self.device, upcoming=self._upcoming(2))
        rows = self.timing_marks()
        if rows == 0 or (self.rows is not None and rows != self.rows):
            expected = f"{self.rows}" if self.rows is not None else "at least 1"
            raise TimingMarkError(
                f"the reader counted {rows} timing marks, expected {expected}; "
                "is this the right card type?",
                device=self.device,
                refeed=self._upcoming(1),
            )
        bitmap = self._fetch(rows)
        self._file(PendingSheet(bitmap, {"timing_marks": rows}))

    def _fetch(self, rows: int) -> np.ndarray:
        cols = self.cols or DEFAULT_COLS
        self._write(data_request(1, cols))
        size = data_block_size(rows, cols)
        first = self._read(1, timeout_s=self.timeout_s)
        if not first:
            raise self._io_error(
                f"no answer to the data request DLE C 001 {cols:03d} within {self.timeout_s:g} s",
                b"",
                drain=False,
            )
        code = first.decode("latin-1")
        if code in ("P", "Q"):
            _, meaning, _ = STATUS_ERRORS[code]
            raise DeviceIO(
                f"{meaning} in answer to the data request for {cols} columns; "
                f"does the reader have {cols} columns (cols= in the URI)?",
                device=self.device,
                refeed=self._upcoming(1),
                status=code,
            )
        if code not in "0123456789ABCDEF":
            raise self._io_error("unexpected answer to the data request", first)
        data = first + self._read(size - 1, timeout_s=self._transfer_s(size))
        if len(data) < size:
            raise self._io_error(
                f"short answer to the data request: expected {size} bytes ({cols} columns of "
                f"{digits_per_column(rows)} hex digits and CR, then ETX), got {len(data)}",
                data,
            )
        try:
            return decode_data_block(data, rows, cols)
        except ValueError as exc:
            raise self._io_error(f"malformed mode C data: {exc}", data) from exc
