"""Open a serial OMR card reader from a URI and get a `SheetSource` of mark bitmaps.

``serial:///dev/ttyUSB0?protocol=sekonic&baud=38400`` with query keys:

- ``protocol``: ``sekonic`` (default) or ``framed`` (see `hardware.sekonic`, `hardware.framed`)
- ``baud``: line speed, default 38400
- ``rows``: timing marks every sheet must have (default: whatever the reader counts)
- ``cols``: columns to read (Sekonic: default 80; framed: checked against each frame if given)
- ``timeout_s``: seconds to wait for an answer, default 5
- ``rtscts``: hardware flow control, ``1`` (default; the Sekonic line is RTS/CTS) or ``0``

The reader is reset (CAN -> ACK) on opening, so a wrong port or speed fails here, not mid-stack.
Sheets come out as ``Sheet(sequence, source=f"{uri}#{sequence}", bitmap=rows x cols bool,
device_info={"protocol": ..., "timing_marks": ...})``; iteration ends by raising `NoDocuments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import serial

from hardware.base import SerialCardReader
from hardware.framed import FramedReader
from hardware.sekonic import SekonicReader
from scanner.errors import DeviceError, DeviceIO

ACCEPTED_FORM = (
    "serial:///dev/ttyUSB0?protocol=sekonic|framed&baud=38400"
    "[&rows=N][&cols=N][&timeout_s=S][&rtscts=0|1]"
)
DEFAULT_BAUD = 38400
DEFAULT_TIMEOUT_S = 5.0

_DRIVERS: dict[str, type[SerialCardReader]] = {"sekonic": SekonicReader, "framed": FramedReader}


@dataclass(frozen=True)
class ReaderSettings:
    """What a card-reader URI says."""

    device: str
    protocol: str = "sekonic"
    baud: int = DEFAULT_BAUD
    rows: int | None = None
    cols: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    rtscts: bool = True


def parse_reader_uri(uri: str) -> ReaderSettings:
    """Parse a card-reader URI; ValueError names the URI, the problem and the accepted form."""

    def bad(problem: str) -> ValueError:
        return ValueError(f"bad card-reader URI {uri!r}: {problem}; expected {ACCEPTED_FORM}")

    try:
        parts = urlsplit(uri)
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise bad(str(exc)) from exc
    if parts.scheme != "serial":
        raise bad(f"the scheme must be 'serial', not {parts.scheme!r}")
    if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise bad("give the device as an absolute path after 'serial://'")
    if parts.fragment:
        raise bad("a fragment (#...) is not allowed")
    query: dict[str, str] = {}
    for key, value in pairs:
        if key in query:
            raise bad(f"{key!r} is given twice")
        query[key] = value
    unknown = sorted(set(query) - {"protocol", "baud", "rows", "cols", "timeout_s", "rtscts"})
    if unknown:
        raise bad(f"unknown parameter(s) {', '.join(unknown)}")

    def number(key: str, low: int, high: int) -> int | None:
        if key not in query:
            return None
        text = query[key]
        if not text.isdigit() or not low <= int(text) <= high:
            raise bad(f"{key} must be a whole number from {low} to {high}, got {text!r}")
        return int(text)

    protocol = query.get("protocol", "sekonic")
    if protocol not in _DRIVERS:
        raise bad(f"protocol must be one of {', '.join(_DRIVERS)}, got {protocol!r}")
    timeout_s = DEFAULT_TIMEOUT_S
    if "timeout_s" in query:
        try:
            timeout_s = float(query["timeout_s"])
        except ValueError:
            timeout_s = -1.0
        if not 0 < timeout_s <= 600:
            raise bad(f"timeout_s must be seconds in (0, 600], got {query['timeout_s']!r}")
    rtscts_text = query.get("rtscts", "1")
    if rtscts_text not in ("0", "1"):
        raise bad(f"rtscts must be 0 or 1, got {rtscts_text!r}")
    return ReaderSettings(
        device=parts.path,
        protocol=protocol,
        baud=number("baud", 50, 4_000_000) or DEFAULT_BAUD,
        rows=number("rows", 1, 999),
        cols=number("cols", 1, 999),
        timeout_s=timeout_s,
        rtscts=rtscts_text == "1",
    )


def open_card_reader(uri: str) -> SerialCardReader:
    """Open and reset the card reader at `uri`; a `SheetSource` of bitmaps (close it after).

    Raises ValueError for a malformed URI and DeviceIO (naming the port) if the port cannot be
    opened or the reader does not answer the reset.
    """
    settings = parse_reader_uri(uri)
    try:
        port = serial.serial_for_url(
            settings.device,
            baudrate=settings.baud,
            timeout=settings.timeout_s,
            rtscts=settings.rtscts,
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceIO(
            f"cannot open serial port {settings.device}: {exc}", device=settings.device
        ) from exc
    reader = _DRIVERS[settings.protocol](
        port, uri=uri, rows=settings.rows, cols=settings.cols, timeout_s=settings.timeout_s
    )
    try:
        reader.reset()
    except DeviceError:
        reader.close()
        raise
    return reader
