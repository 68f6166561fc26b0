"""Driver for the generic framed card-reader protocol (one CRC-checked frame per sheet).

Host -> reader: single control bytes, no CR. ``CAN`` (18h) resets (answer ``ACK``, and the next
frame is numbered 00001); ``ENQ`` (05h) feeds one sheet and asks for its frame; ``ACK`` (06h)
accepts a frame; ``NAK`` (15h) asks for the same frame again. Every frame is ACKed or NAKed
before the next ``ENQ``; a frame not ACKed before ``CAN`` is dropped by the reader and its sheet
must be re-fed.

Reader -> host, one frame per sheet, all ASCII between STX and ETX, no separators::

    STX  seq  status  rows  cols  bitmap  crc16  ETX
    02h  5d   1c      3d    3d    hex     4X     03h

- ``seq``: 5 decimal digits, the reader's sheet counter (00001 after a reset, wraps 99999 ->
  00000). A normal frame takes the next number; a status frame (any status but ``0``) carries
  the number the next sheet will get and does not advance the counter.
- ``status``: one status byte (`hardware.protocol`); ``0`` = a sheet was read.
- ``rows``, ``cols``: 3 decimal digits each; ``rows`` = timing marks seen. ``000`` in status frames.
- ``bitmap``: ``cols * ceil(rows/4)`` uppercase hex digits, column by column, each column
  encoded as in Sekonic mode C (`hardware.protocol`); empty in status frames.
- ``crc16``: 4 uppercase hex digits, CRC-16/CCITT-FALSE (poly 1021h, init FFFFh, no reflection,
  no final xor) over every byte between STX and the CRC field (seq .. bitmap).

Example: seq 1, status 0, a 4 x 1 sheet with a mark in row 0: ``b"\\x0200001000400011" + CRC +
b"\\x03"``.

The host NAKs a frame whose CRC or syntax is bad, up to `MAX_RESENDS` times, then raises
`DeviceIO`. A gap in ``seq`` means frames were lost: `DeviceIO` names the sheets to re-feed, and
the intact frame that revealed the gap is held back until they are read. A normal frame with the
same ``seq`` as the previous one is a duplicate: ACKed, dropped and counted once.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

import numpy as np
import serial

from hardware.base import PendingSheet, SerialCardReader
from hardware.protocol import (
    ACK,
    CAN,
    ENQ,
    ETX,
    NAK,
    STATUS_CODES,
    STATUS_ERRORS,
    STATUS_OK,
    STX,
    decode_columns,
    digits_per_column,
    encode_columns,
    show_bytes,
    status_error,
)
from scanner.errors import DeviceIO, TimingMarkError

SEQ_MODULUS = 100_000
#: NAKs sent for one frame before giving up
MAX_RESENDS = 3
#: a larger jump in ``seq`` is not a gap but a confused reader
MAX_GAP = 1000
HEADER_BYTES = 12  # seq 5 + status 1 + rows 3 + cols 3
CRC_BYTES = 4

_HEADER = re.compile(rb"(\d{5})(.)(\d{3})(\d{3})", re.DOTALL)


class FrameError(ValueError):
    """A frame whose syntax or CRC is wrong (the host answers NAK)."""


@dataclass(frozen=True)
class Frame:
    seq: int
    status: str
    rows: int
    cols: int
    #: rows x cols bool marks; None in a status frame
    bitmap: np.ndarray | None


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of `data` (check value for b"123456789": 0x29B1)."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(seq: int, status: str, bitmap: np.ndarray | None = None) -> bytes:
    """One frame: a sheet's marks (status ``0``) or a status frame (no bitmap)."""
    if status not in STATUS_CODES:
        raise ValueError(f"unknown status {status!r}")
    rows, cols = bitmap.shape if bitmap is not None else (0, 0)
    body = b"%05d%s%03d%03d" % (seq % SEQ_MODULUS, status.encode("ascii"), rows, cols)
    if bitmap is not None:
        body += b"".join(encode_columns(bitmap))
    return STX + body + b"%04X" % crc16_ccitt_false(body) + ETX


def parse_frame(frame: bytes) -> Frame:
    """Check and decode one frame (STX .. ETX). Raises FrameError saying what is wrong."""
    if len(frame) < 2 + HEADER_BYTES + CRC_BYTES or frame[:1] != STX or frame[-1:] != ETX:
        raise FrameError("not an STX .. ETX frame of at least 18 bytes")
    body, crc_text = frame[1 : -1 - CRC_BYTES], frame[-1 - CRC_BYTES : -1]
    if not re.fullmatch(rb"[0-9A-F]{4}", crc_text):
        raise FrameError(f"CRC field {crc_text!r} is not 4 uppercase hex digits")
    crc_sent, crc_computed = int(crc_text, 16), crc16_ccitt_false(body)
    if crc_sent != crc_computed:
        raise FrameError(f"CRC mismatch: frame says {crc_sent:04X}, data gives {crc_computed:04X}")
    header = _HEADER.fullmatch(body[:HEADER_BYTES])
    if header is None:
        raise FrameError(f"malformed header {body[:HEADER_BYTES]!r}")
    seq, rows, cols = int(header[1]), int(header[3]), int(header[4])
    status = header[2].decode("latin-1")
    if status not in STATUS_CODES:
        raise FrameError(f"unknown status {status!r}")
    digits = digits_per_column(rows)
    hex_text = body[HEADER_BYTES:]
    if len(hex_text) != cols * digits:
        raise FrameError(
            f"bitmap is {len(hex_text)} hex digits, {rows} x {cols} needs {cols * digits}"
        )
    bitmap = None
    if rows and cols:
        columns = [hex_text[c * digits : (c + 1) * digits] for c in range(cols)]
        try:
            bitmap = decode_columns(columns, rows)
        except ValueError as exc:
            raise FrameError(str(exc)) from exc
    return Frame(seq=seq, status=status, rows=rows, cols=cols, bitmap=bitmap)


class FramedReader(SerialCardReader):
    """A framed-protocol reader. `rows`/`cols`, if given, are checked against every frame."""

    protocol = "framed"
    _reset_command = CAN

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        uri: str,
        rows: int | None = None,
        cols: int | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(port, uri=uri, rows=rows, cols=cols, timeout_s=timeout_s)
        #: NAKs sent because a frame failed its check
        self.crc_resends = 0
        #: duplicate frames dropped
        self.duplicates_dropped = 0
        self._expected_seq = 1
        self._last_good_seq: int | None = None

    def _after_reset(self) -> None:
        self._expected_seq = 1
        self._last_good_seq = None

    def _read_next(self) -> None:
        self._write(ENQ)
        frame = self._receive_good_frame()
        if frame.status == STATUS_OK and frame.seq == self._last_good_seq:
            self._write(ACK)
            self.duplicates_dropped += 1
            return
        expected = self._expected_seq
        lost = (frame.seq - expected) % SEQ_MODULUS
        if lost > MAX_GAP:
            raise self._io_error(
                f"frame {frame.seq:05d} is out of sequence (expected {expected:05d})",
                b"",
                drain=False,
            )
        if frame.status == STATUS_OK:
            self._check_geometry(frame)
            self._write(ACK)
            self._last_good_seq = frame.seq
            self._expected_seq = (frame.seq + 1) % SEQ_MODULUS
            assert frame.bitmap is not None
            meta = {"timing_marks": frame.rows, "reader_seq": frame.seq}
            self._file(PendingSheet(frame.bitmap, meta), lost=lost)
        else:
            self._write(ACK)
            self._expected_seq = frame.seq
            self._file(None, lost=lost)
        if lost:
            missing = self._missing()
            also = ""
            if frame.status != STATUS_OK:
                also = f"; the reader then reported: {STATUS_ERRORS[frame.status][1]}"
            raise DeviceIO(
                f"sheet(s) {', '.join(map(str, missing))} lost on the line (reader frame "
                f"{frame.seq:05d} arrived where {expected:05d} was expected); sheets already "
                f"read are kept{also}",
                device=self.device,
                refeed=missing,
            )
        if frame.status != STATUS_OK:
            raise status_error(frame.status, device=self.device, upcoming=self._upcoming(2))

    def _check_geometry(self, frame: Frame) -> None:
        wrong_rows = self.rows is not None and frame.rows != self.rows
        if frame.rows == 0 or frame.cols == 0 or wrong_rows:
            expected = f"{self.rows}" if self.rows is not None else "at least 1"
            raise TimingMarkError(
                f"the reader counted {frame.rows} timing marks, expected {expected}; "
                "is this the right card type?",
                device=self.device,
                refeed=self._upcoming(1),
            )
        if self.cols is not None and frame.cols != self.cols:
            raise DeviceIO(
                f"the reader sent {frame.cols} columns, expected {self.cols} (cols= in the URI)",
                device=self.device,
                refeed=self._upcoming(1),
            )

    def _receive_good_frame(self) -> Frame:
        """Receive a frame, NAKing bad ones up to MAX_RESENDS times."""
        for attempt in range(MAX_RESENDS + 1):
            raw = self._receive_raw()
            try:
                return parse_frame(raw)
            except FrameError as exc:
                problem = str(exc)
            if attempt < MAX_RESENDS:
                self.crc_resends += 1
                self._flush_input()
                self._write(NAK)
        raise DeviceIO(
            f"the frame for sheet {self._upcoming(1)[0]} failed its check "
            f"{MAX_RESENDS + 1} times ({problem}); last received {show_bytes(raw)}",
            device=self.device,
            refeed=self._upcoming(1),
        )

    def _receive_raw(self) -> bytes:
        """The bytes of one frame, STX .. ETX, or DeviceIO on silence, garbage or a short frame."""
        first = self._read(1, timeout_s=self.timeout_s)
        if not first:
            raise self._io_error(
                f"no frame within {self.timeout_s:g} s after ENQ", b"", drain=False
            )
        if first != STX:
            raise self._io_error("expected a frame starting with STX (02h)", first)
        header = self._read(HEADER_BYTES, timeout_s=self._transfer_s(HEADER_BYTES))
        if len(header) < HEADER_BYTES:
            raise self._io_error("short frame: the header is incomplete", first + header)
        match = _HEADER.fullmatch(header)
        if match is None:  # length unknown: take what runs up to ETX, then NAK it
            rest = self._read_until(ETX, 1 << 20, timeout_s=self._transfer_s(4096))
            return first + header + rest
        size = int(match[4]) * digits_per_column(int(match[3])) + CRC_BYTES + 1
        rest = self._read(size, timeout_s=self._transfer_s(size))
        if len(rest) < size:
            raise self._io_error(
                f"short frame: expected {1 + HEADER_BYTES + size} bytes, "
                f"got {1 + HEADER_BYTES + len(rest)}",
                first + header + rest,
            )
        return first + header + rest
