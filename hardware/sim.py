"""A simulated OMR card reader on a real pty, speaking the Sekonic or the framed protocol.

The simulator runs as a thread on the master side of ``os.openpty()``; a driver opens `.port`
(the slave device, e.g. ``/dev/pts/7``) like any serial port::

    with CardReaderSim(bitmaps, protocol="framed", faults=Faults(jam_at={3})) as sim:
        reader = open_card_reader(sim.uri)

Sheets are numbered 1, 2, ... in the order loaded (`load` adds a next stack). Faults are one-shot
and keyed by sheet number: each fires the first time the reader tries that sheet. A sheet that
was not delivered (jam, double feed, timing-mark error, cover open, garbage, silence, a data block
cut short, a frame not ACKed before CAN) stays on top of the hopper, which is what the operator
re-feeding it amounts to; a lost frame (`lose_frame_at`) puts its sheet back after the next one.
When the hopper is empty the reader answers ``B``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import select
import threading
import tty
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from hardware.framed import encode_frame
from hardware.protocol import ACK, CAN, CR, DC3, DLE, ENQ, NAK, STATUS_EMPTY, STATUS_OK
from hardware.sekonic import encode_data_block
from scanner.errors import DeviceError, NoDocuments
from scanner.source import Sheet, SheetSource

#: line noise: no status byte, no STX, no ACK
GARBAGE = b"\xff\xfe#~\x00\x7f\x81\xc3(noise)"
POLL_S = 0.05


@dataclass
class Faults:
    """One-shot fault injections, by sheet number (1-based position in the loaded stack)."""

    jam_at: set[int] = field(default_factory=set)  # status 1
    card_remains_at: set[int] = field(default_factory=set)  # status 2
    feed_error_at: set[int] = field(default_factory=set)  # status 3
    double_feed_at: set[int] = field(default_factory=set)  # status 6
    timing_mark_error_at: set[int] = field(default_factory=set)  # status @
    empty_at: set[int] = field(default_factory=set)  # status B before sheet k (hopper ran dry)
    cover_open_at: set[int] = field(default_factory=set)  # status D
    comm_error_at: set[int] = field(default_factory=set)  # status Q
    #: line noise instead of the answer to the feed command
    garbage_at: set[int] = field(default_factory=set)
    #: no answer at all to the feed command
    silent_at: set[int] = field(default_factory=set)
    #: the data block (Sekonic) or frame (framed) stops half way
    short_data_at: set[int] = field(default_factory=set)
    #: framed: how many transmissions of the sheet's frame go out with a bad CRC
    corrupt_frame_at: dict[int, int] = field(default_factory=dict)
    #: framed: the sheet's frame never arrives (its seq is skipped)
    lose_frame_at: set[int] = field(default_factory=set)
    #: framed: the sheet's frame is sent twice
    duplicate_frame_at: set[int] = field(default_factory=set)


_STATUS_FAULTS: tuple[tuple[str, str], ...] = (
    ("jam_at", "1"),
    ("card_remains_at", "2"),
    ("feed_error_at", "3"),
    ("double_feed_at", "6"),
    ("timing_mark_error_at", "@"),
    ("empty_at", "B"),
    ("cover_open_at", "D"),
    ("comm_error_at", "Q"),
    ("garbage_at", "garbage"),
    ("silent_at", "silent"),
)


class CardReaderSim:
    """A card reader behind a pty. Start on construction; `stop()` (or leave the `with`)."""

    def __init__(
        self,
        bitmaps: Iterable[np.ndarray] = (),
        *,
        protocol: str = "sekonic",
        faults: Faults | None = None,
        feed_delay_s: float = 0.0,
    ) -> None:
        if protocol not in ("sekonic", "framed"):
            raise ValueError(f"protocol must be 'sekonic' or 'framed', got {protocol!r}")
        self.protocol = protocol
        self.faults = copy.deepcopy(faults) if faults is not None else Faults()
        self.feed_delay_s = feed_delay_s
        self.sheets: list[np.ndarray] = []
        #: sheet numbers whose data reached the host (Sekonic: data sent; framed: frame ACKed)
        self.delivered: list[int] = []
        #: (fault, sheet) in the order they fired
        self.fired: list[tuple[str, int]] = []
        #: every command received (Sekonic: one line without CR; framed: one control byte)
        self.commands: list[bytes] = []
        self.naks = 0
        self._hopper: deque[int] = deque()
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._crash: BaseException | None = None
        # Sekonic state
        self._last_fed: int | None = None
        self._undelivered: int | None = None
        self._last_error = STATUS_OK
        # framed state
        self._seq = 1
        self._pending: tuple[int | None, bytes] | None = None  # (sheet or None, frame) to ACK
        self._repeat: bytes | None = None  # a frame to send again (duplicate fault)
        self.load(bitmaps)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name=f"card-reader-sim {self.port}")
        self._thread.daemon = True
        self._thread.start()

    @property
    def uri(self) -> str:
        """A `hardware.reader.open_card_reader` URI for this simulator."""
        return f"serial://{self.port}?protocol={self.protocol}"

    def load(self, bitmaps: Iterable[np.ndarray]) -> list[int]:
        """Put sheets on the hopper (after those waiting); returns their sheet numbers."""
        numbers = []
        with self._lock:
            for bitmap in bitmaps:
                self.sheets.append(np.asarray(bitmap, dtype=bool).copy())
                numbers.append(len(self.sheets))
                self._hopper.append(len(self.sheets))
        return numbers

    def __enter__(self) -> CardReaderSim:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the thread and close the pty. Raises RuntimeError if the simulator crashed."""
        if not self._stop_event.is_set():
            self._stop_event.set()
            self._thread.join(timeout=5)
            for fd in (self._master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self._crash is not None:
            raise RuntimeError(f"card reader simulator crashed: {self._crash!r}") from self._crash

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        inbox = b""
        try:
            while not self._stop_event.is_set():
                ready, _, _ = select.select([self._master], [], [], POLL_S)
                if not ready:
                    continue
                try:
                    inbox += os.read(self._master, 4096)
                except BlockingIOError:
                    continue
                if self.protocol == "sekonic":
                    inbox = self._serve_sekonic(inbox)
                else:
                    for byte in inbox:
                        self._serve_framed(bytes([byte]))
                    inbox = b""
        except BaseException as exc:  # surfaced by stop(); a closed pty while stopping is fine
            if not (isinstance(exc, OSError) and self._stop_event.is_set()):
                self._crash = exc

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop_event.is_set():
            _, writable, _ = select.select([], [self._master], [], POLL_S)
            if not writable:
                continue
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                continue

    def _next_feed(self) -> tuple[str, int | None]:
        """Try to feed the top sheet: ("0", sheet) if read, else a fault or status ``B``."""
        with self._lock:
            if not self._hopper:
                return STATUS_EMPTY, None
            sheet = self._hopper[0]
            for name, outcome in _STATUS_FAULTS:
                armed: set[int] = getattr(self.faults, name)
                if sheet in armed:
                    armed.discard(sheet)
                    self.fired.append((name, sheet))
                    return outcome, sheet
            self._hopper.popleft()
            return STATUS_OK, sheet

    def _put_back(self, sheet: int) -> None:
        with self._lock:
            self._hopper.appendleft(sheet)

    def _one_shot(self, name: str, sheet: int) -> bool:
        armed: set[int] = getattr(self.faults, name)
        if sheet in armed:
            armed.discard(sheet)
            self.fired.append((name, sheet))
            return True
        return False

    # -- Sekonic ---------------------------------------------------------------------------

    def _serve_sekonic(self, inbox: bytes) -> bytes:
        while CR in inbox:
            line, inbox = inbox.split(CR, 1)
            self.commands.append(line)
            self._sekonic_command(line)
        return inbox

    def _sekonic_command(self, line: bytes) -> None:
        if line == CAN:
            if self._undelivered is not None:
                self._put_back(self._undelivered)
                self._undelivered = None
            self._send(ACK)
        elif line == b"?":
            self._sekonic_feed()
        elif line == ENQ + b"T":
            rows = self.sheets[self._last_fed - 1].shape[0] if self._last_fed else 0
            self._send(b"%03d" % rows + CR)
        elif line == ENQ:
            self._send(self._last_error.encode() + CR)
        elif len(line) == 8 and line.startswith(DLE + b"C") and line[2:].isdigit():
            self._sekonic_data(int(line[2:5]), int(line[5:8]))
        elif len(line) == 3 and line.startswith(DC3) and line[1:].isdigit():
            self._send(ACK)
        else:
            self._reject()

    def _reject(self) -> None:
        self._last_error = "P"
        self._send(b"P")

    def _sekonic_feed(self) -> None:
        if self.feed_delay_s:
            self._stop_event.wait(self.feed_delay_s)
        outcome, sheet = self._next_feed()
        if outcome == STATUS_OK:
            self._last_fed = self._undelivered = sheet
            self._send(b"0")
        elif outcome == "garbage":
            self._send(GARBAGE)
        elif outcome != "silent":
            self._last_error = outcome
            self._send(outcome.encode())

    def _sekonic_data(self, start_col: int, col_count: int) -> None:
        if self._last_fed is None:
            self._reject()
            return
        sheet = self._last_fed
        bitmap = self.sheets[sheet - 1]
        if start_col < 1 or start_col - 1 + col_count > bitmap.shape[1] or col_count < 1:
            self._reject()
            return
        block = encode_data_block(bitmap, start_col, col_count)
        if self._one_shot("short_data_at", sheet):
            self._send(block[: len(block) // 2])
            return
        self._send(block)
        if self._undelivered == sheet:
            self.delivered.append(sheet)
            self._undelivered = None

    # -- framed ----------------------------------------------------------------------------

    def _serve_framed(self, command: bytes) -> None:
        self.commands.append(command)
        if command == CAN:
            self._drop_pending()
            self._seq = 1
            self._repeat = None
            self._send(ACK)
        elif command == ENQ:
            self._drop_pending()
            self._framed_feed()
        elif command == ACK and self._pending is not None:
            sheet, _ = self._pending
            if sheet is not None:
                self.delivered.append(sheet)
            self._pending = None
        elif command == NAK and self._pending is not None:
            self.naks += 1
            self._transmit(*self._pending)

    def _drop_pending(self) -> None:
        """A frame not ACKed: its sheet goes back on the hopper for the operator to re-feed."""
        if self._pending is not None and self._pending[0] is not None:
            self._put_back(self._pending[0])
        self._pending = None

    def _framed_feed(self) -> None:
        if self._repeat is not None:
            frame, self._repeat = self._repeat, None
            self._pending = (None, frame)
            self._send(frame)
            return
        if self.feed_delay_s:
            self._stop_event.wait(self.feed_delay_s)
        outcome, sheet = self._next_feed()
        lost: list[int] = []
        while outcome == STATUS_OK and sheet is not None and self._one_shot("lose_frame_at", sheet):
            lost.append(sheet)
            self._seq = (self._seq + 1) % 100_000
            outcome, sheet = self._next_feed()
        for lost_sheet in reversed(lost):
            self._put_back(lost_sheet)
        if outcome == "garbage":
            self._send(GARBAGE)
        elif outcome == "silent":
            pass
        elif outcome == STATUS_OK and sheet is not None:
            frame = encode_frame(self._seq, STATUS_OK, self.sheets[sheet - 1])
            self._seq = (self._seq + 1) % 100_000
            if self._one_shot("duplicate_frame_at", sheet):
                self._repeat = frame
            self._pending = (sheet, frame)
            if self._one_shot("short_data_at", sheet):
                self._send(frame[: len(frame) // 2])
            else:
                self._transmit(sheet, frame)
        else:
            frame = encode_frame(self._seq, outcome)
            self._pending = (None, frame)
            self._send(frame)

    def _transmit(self, sheet: int | None, frame: bytes) -> None:
        """Send a frame, corrupted (one hex digit changed) while the sheet's fault lasts."""
        left = self.faults.corrupt_frame_at.get(sheet, 0) if sheet is not None else 0
        if left > 0 and sheet is not None:
            self.faults.corrupt_frame_at[sheet] = left - 1
            self.fired.append(("corrupt_frame_at", sheet))
            index = 13  # first byte after STX + header: a bitmap or CRC hex digit
            digit = b"0123456789ABCDEF"[(b"0123456789ABCDEF".index(frame[index]) + 1) % 16]
            frame = frame[:index] + bytes([digit]) + frame[index + 1 :]
        self._send(frame)


def run_stack(
    source: SheetSource, *, stacks: int = 1, max_errors: int = 50
) -> tuple[list[Sheet], list[DeviceError]]:
    """Read `source` like a patient operator, for tests and demos: (sheets, errors).

    Every error is noted and reading goes on (against the simulator, whatever was not read is
    still on its hopper, as if re-fed) until the `stacks`-th `NoDocuments`, the last error listed.
    RuntimeError after `max_errors` errors.
    """
    sheets: list[Sheet] = []
    errors: list[DeviceError] = []
    ends = 0
    while len(errors) < max_errors:
        try:
            for sheet in source:
                sheets.append(sheet)
        except NoDocuments as exc:
            errors.append(exc)
            ends += 1
            if ends == stacks:
                return sheets, errors
        except DeviceError as exc:
            errors.append(exc)
    raise RuntimeError(f"gave up after {max_errors} errors: {errors[-1]}")
