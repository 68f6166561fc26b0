"""What every serial card-reader driver shares: port I/O with timeouts, reset, sequence numbers.

A driver yields `Sheet`s numbered 1, 2, 3, ... in the order of the paper, and raises the typed
errors of `scanner.errors`. An error never consumes a sequence number: the sheet the operator
re-feeds gets the number the error named. If a protocol reveals that sheets were lost while a later
one arrived intact (the framed protocol's sequence gap), the later sheet is held back and delivered
after the re-fed ones, so numbers and bitmaps stay in paper order and no read sheet is dropped.

Iterating ends by raising `NoDocuments` when the hopper is empty (the normal end of a stack): catch
it, load the next stack and iterate again. After any error the next read first resets the reader
(drop pending input, CAN, expect ACK), so a garbled line cannot leak into the next sheet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import serial

from hardware.protocol import ACK, show_bytes
from scanner.errors import DeviceError, DeviceIO
from scanner.source import Sheet, SourceKind

#: how long to keep collecting stray bytes after garbage, for the error message
DRAIN_SETTLE_S = 0.1
DRAIN_LIMIT_BYTES = 4096


@dataclass
class PendingSheet:
    """A sheet read intact but not yet handed out (it may wait for re-fed sheets before it)."""

    bitmap: np.ndarray
    device_info: dict[str, str | int] = field(default_factory=dict)


class SerialCardReader:
    """Base of the protocol drivers. Subclasses implement `_read_next` and `_reset_command`."""

    protocol: ClassVar[str] = ""
    kind: ClassVar[SourceKind] = "cards"
    #: closing the port from another thread does not end a read cleanly: stop between cards
    close_wakes: ClassVar[bool] = False
    _reset_command: ClassVar[bytes] = b""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        uri: str,
        rows: int | None = None,
        cols: int | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.uri = uri
        self.port = port
        self.device: str = port.port or uri
        self.rows = rows
        self.cols = cols
        self.timeout_s = timeout_s
        self._next_sequence = 1
        #: sheets after the last one handed out, in paper order; None = not read yet (re-feed)
        self._slots: list[PendingSheet | None] = []
        self._needs_reset = True
        self._closed = False

    # -- the SheetSource interface -----------------------------------------------------------

    def __iter__(self) -> Iterator[Sheet]:
        while True:
            yield self.read_sheet()

    def __enter__(self) -> SerialCardReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the serial port; further reads raise DeviceIO."""
        self._closed = True
        with contextlib.suppress(serial.SerialException, OSError):
            self.port.close()

    def read_sheet(self) -> Sheet:
        """Feed and read the next sheet (or hand out one held back). Raises the typed errors."""
        if self._closed:
            raise DeviceIO("the card reader is closed", device=self.device)
        while (sheet := self._pop_ready()) is None:
            try:
                if self._needs_reset:
                    self.reset()
                self._read_next()
            except DeviceError:
                self._needs_reset = True
                raise
        return sheet

    def reset(self) -> None:
        """Resynchronise with the reader: drop pending input, send CAN, wait for ACK (06h)."""
        self._flush_input()
        self._write(self._reset_command, refeed=[])
        answer = self._read_until(ACK, 256, timeout_s=self.timeout_s, refeed=[])
        if not answer.endswith(ACK):
            what = (
                f"no ACK (06h) to the reset command CAN within {self.timeout_s:g} s; "
                f"is a {self.protocol} reader on this port, powered, at "
                f"{self.port.baudrate} baud"
                if not answer
                else "the reader did not acknowledge the reset command CAN with ACK (06h)"
            )
            raise DeviceIO(f"{what}; received {show_bytes(answer)}", device=self.device)
        self._needs_reset = False
        self._after_reset()

    # -- for the protocol drivers ------------------------------------------------------------

    def _read_next(self) -> None:
        """Talk to the reader until one more sheet is filed with `_file`, or raise."""
        raise NotImplementedError

    def _after_reset(self) -> None:
        """Hook: protocol state to clear once the reader acknowledged a reset."""

    def _upcoming(self, count: int) -> list[int]:
        """Sequence numbers of the next `count` sheets to be read (re-feeds first)."""
        numbers = [self._next_sequence + i for i, s in enumerate(self._slots) if s is None]
        beyond = self._next_sequence + len(self._slots)
        while len(numbers) < count:
            numbers.append(beyond)
            beyond += 1
        return numbers[:count]

    def _missing(self) -> list[int]:
        """Sequence numbers of sheets known to be lost, awaiting re-feed."""
        return [self._next_sequence + i for i, s in enumerate(self._slots) if s is None]

    def _file(self, pending: PendingSheet | None, *, lost: int = 0) -> None:
        """File a sheet just read (or none), after `lost` sheets that never arrived."""
        empty = [i for i, s in enumerate(self._slots) if s is None]
        if lost > len(empty):
            self._slots.extend([None] * (lost - len(empty)))
            empty = [i for i, s in enumerate(self._slots) if s is None]
        if pending is None:
            return
        if lost < len(empty):
            self._slots[empty[lost]] = pending
        else:
            self._slots.append(pending)

    def _pop_ready(self) -> Sheet | None:
        if not self._slots or self._slots[0] is None:
            return None
        pending = self._slots.pop(0)
        sequence = self._next_sequence
        self._next_sequence += 1
        return Sheet(
            sequence=sequence,
            source=f"{self.uri}#{sequence}",
            bitmap=pending.bitmap,
            device_info={"protocol": self.protocol, **pending.device_info},
        )

    def _transfer_s(self, size_bytes: int) -> float:
        """Timeout for an answer of `size_bytes`: the base timeout plus the time on the wire."""
        return self.timeout_s + size_bytes * 10 / max(self.port.baudrate, 1)

    def _write(self, data: bytes, *, refeed: list[int] | None = None) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceIO(
                f"cannot write to the serial port: {exc}",
                device=self.device,
                refeed=self._upcoming(1) if refeed is None else refeed,
            ) from exc

    def _flush_input(self) -> None:
        """Drop whatever the reader sent that was not read yet."""
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise DeviceIO(
                f"cannot use the serial port: {exc}", device=self.device, refeed=self._upcoming(1)
            ) from exc

    def _set_timeout(self, timeout_s: float) -> None:
        if self.port.timeout != timeout_s:
            self.port.timeout = timeout_s

    def _read(self, size: int, *, timeout_s: float, refeed: list[int] | None = None) -> bytes:
        """Up to `size` bytes; fewer if `timeout_s` passes first."""
        try:
            self._set_timeout(timeout_s)
            return bytes(self.port.read(size))
        except (serial.SerialException, OSError) as exc:
            raise DeviceIO(
                f"cannot read from the serial port: {exc}",
                device=self.device,
                refeed=self._upcoming(1) if refeed is None else refeed,
            ) from exc

    def _read_until(
        self, terminator: bytes, size: int, *, timeout_s: float, refeed: list[int] | None = None
    ) -> bytes:
        try:
            self._set_timeout(timeout_s)
            return bytes(self.port.read_until(terminator, size))
        except (serial.SerialException, OSError) as exc:
            raise DeviceIO(
                f"cannot read from the serial port: {exc}",
                device=self.device,
                refeed=self._upcoming(1) if refeed is None else refeed,
            ) from exc

    def _drain(self) -> bytes:
        """Collect what is still arriving (stray bytes), until the line is quiet."""
        collected = b""
        while len(collected) < DRAIN_LIMIT_BYTES:
            chunk = self._read(DRAIN_LIMIT_BYTES, timeout_s=DRAIN_SETTLE_S)
            if not chunk:
                break
            collected += chunk
        return collected

    def _io_error(self, what: str, received: bytes, *, drain: bool = True) -> DeviceIO:
        """A DeviceIO for a bad answer, quoting what was received (plus what trails it)."""
        if drain:
            received += self._drain()
        refeed = self._upcoming(1)
        hint = f" (if sheet {refeed[0]} has left the hopper, put it back on top)"
        return DeviceIO(
            f"{what}; received {show_bytes(received)}{hint}", device=self.device, refeed=refeed
        )
