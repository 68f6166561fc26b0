"""SANE scanners (USB and network, Linux) as a `SheetSource`.

`SaneSource("test:0", source="ADF")` scans a feeder stack through `scanimage --batch`
(sane-utils; pages are yielded as scanimage finishes each one, and a stalled driver is killed),
or in-process through python-sane when scanimage is missing or `backend="python-sane"` (no page
timeout there). SANE statuses map onto the typed errors (HARDWARE.md): JAMMED 6 -> `Jammed`,
COVER_OPEN 8 -> `CoverOpen`, DEVICE_BUSY 3 -> `Busy` (retried when nothing was fed yet),
IO_ERROR 9 and any other failure -> `DeviceIO`; NO_DOCS 7 is the normal end of a stack
(`NoDocuments` only when not one page came). Errors carry `refeed`: the sheet(s) not delivered.
Iterating again after the operator cleared the fault scans the re-fed stack; sequence numbers
carry on.

`source` may be the device's own name for it or "ADF" / "ADF Duplex" / "Flatbed", matched
against what the device offers. Duplex pages alternate front/back; a sheet is delivered whole.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

import numpy as np

from scanner.errors import Busy, CoverOpen, DeviceError, DeviceIO, Jammed, NoDocuments
from scanner.images import encode_png
from scanner.pages import EncodedPage, plan_pages
from scanner.scanimage import STATUS_TEXT, ScanimageBatch, ScanimageError, device_sources
from scanner.source import Sheet, SourceKind

__all__ = [
    "SANE_STATUS",
    "SaneDevice",
    "SaneSource",
    "list_devices",
    "sane_backend",
    "status_error",
]

#: SANE_Status codes by name
SANE_STATUS = {
    "GOOD": 0, "UNSUPPORTED": 1, "CANCELLED": 2, "DEVICE_BUSY": 3, "INVAL": 4, "EOF": 5,
    "JAMMED": 6, "NO_DOCS": 7, "COVER_OPEN": 8, "IO_ERROR": 9, "NO_MEM": 10, "ACCESS_DENIED": 11,
}  # fmt: skip
_ERRORS: dict[int, tuple[type[DeviceError], str]] = {
    3: (Busy, "the scanner is busy"),
    6: (Jammed, "paper jam in the document feeder"),
    8: (CoverOpen, "the scanner cover is open"),
    9: (DeviceIO, "input/output error talking to the scanner"),
}
_SOURCE_WORDS = {
    "adf": ("adf", "feeder", "document"),
    "adf duplex": ("duplex",),
    "duplex": ("duplex",),
    "flatbed": ("flatbed", "platen"),
}


def status_error(
    code: int, *, device: str, refeed: list[int], detail: str = ""
) -> DeviceError | None:
    """The typed error for a SANE status (or scanimage exit code); None for a normal end."""
    if code in (SANE_STATUS["GOOD"], SANE_STATUS["NO_DOCS"], SANE_STATUS["EOF"]):
        return None
    cls, what = _ERRORS.get(code, (DeviceIO, f"the scanner failed (SANE status {code})"))
    message = f"{what} ({detail})" if detail else what
    return cls(message, device=device, refeed=refeed, status=code)


def sane_backend(prefer: str = "auto") -> str | None:
    """Which driver to use: "scanimage", "python-sane" or None (neither is installed).

    "auto" prefers scanimage: a driver that hangs (the `test` backend does, now and then, on an
    error status) can be stopped in a child process, never inside ours. python-sane is used when
    asked for, or when scanimage is missing.
    """
    has_scanimage = shutil.which("scanimage") is not None
    if prefer == "scanimage" or (prefer == "auto" and has_scanimage):
        return "scanimage" if has_scanimage else None
    try:
        import sane  # noqa: F401
    except ImportError:
        return None
    return "python-sane"


@dataclass
class SaneDevice:
    name: str
    vendor: str
    model: str
    kind: str


def list_devices(*, timeout_s: float = 30.0) -> list[SaneDevice]:
    """The SANE devices `scanimage -L` sees (network backends may take a while)."""
    if not shutil.which("scanimage"):
        raise DeviceIO("scanimage is not installed (Debian: apt-get install sane-utils)")
    try:
        run = subprocess.run(
            ["scanimage", "-f", "%d\t%v\t%m\t%t%n"],
            capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise DeviceIO(f"scanimage -L did not finish within {timeout_s:g} s") from exc
    devices = []
    for line in run.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            devices.append(SaneDevice(*parts))
    return devices


class _SaneLibrary:
    """python-sane's init/exit are process-wide: count the users, exit after the last."""

    users = 0
    lock = threading.Lock()

    @classmethod
    def acquire(cls) -> Any:
        import sane

        with cls.lock:
            if cls.users == 0:
                sane.init()
            cls.users += 1
        return sane

    @classmethod
    def release(cls) -> None:
        import sane

        with cls.lock:
            cls.users -= 1
            if cls.users == 0:
                sane.exit()


class SaneSource:
    """Sheets from a SANE device's feeder. Iterate once per stack; `close()` when done."""

    kind: ClassVar[SourceKind] = "images"
    #: `close()` from another thread ends scanimage's wait for the next page
    close_wakes: ClassVar[bool] = True

    def __init__(
        self,
        device: str,
        *,
        source: str | None = "ADF",
        duplex: bool | None = None,
        dpi: int = 200,
        mode: str = "Gray",
        page_size_mm: tuple[float, float] | None = None,
        options: Mapping[str, str | int | float | bool] | None = None,
        backend: str = "auto",
        max_sheets: int | None = None,
        page_timeout_s: float = 120.0,
        busy_retries: int = 3,
        busy_backoff_s: float = 1.0,
    ) -> None:
        if not device:
            raise ValueError("a SANE device name is needed, e.g. 'test:0' or 'fujitsu:fi-7160:1'")
        self.device = device
        self.uri = f"sane:{device}"
        self.source, self.duplex, self.dpi, self.mode = source, duplex, dpi, mode
        self.page_size_mm = page_size_mm
        #: extra SANE options by their scanimage name ("test-picture": "Grid"); may be edited
        #: between stacks, e.g. after the operator changed a setting
        self.options: dict[str, str | int | float | bool] = dict(options or {})
        self.max_sheets, self.page_timeout_s = max_sheets, page_timeout_s
        self.busy_retries, self.busy_backoff_s = busy_retries, busy_backoff_s
        chosen = sane_backend(backend)
        if chosen is None:
            raise DeviceIO(
                "no SANE driver: install sane-utils (scanimage) or python-sane", device=self.uri
            )
        self.backend = chosen
        self._sequence = 0
        self._closed = threading.Event()
        self._batch: ScanimageBatch | None = None

    def close(self) -> None:
        """Stop scanning (also from another thread); the stack then ends without an error."""
        self._closed.set()
        batch = self._batch
        if batch is not None:
            batch.stop()

    def __enter__(self) -> SaneSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _fail(self, cls: type[DeviceError], message: str) -> DeviceError:
        return cls(message, device=self.uri, refeed=[self._sequence + 1])

    def _resolve_source(self, offered: list[str]) -> tuple[str | None, bool]:
        """The device's name for the asked source, and whether it scans both sides."""
        asked = self.source
        if asked is None or not offered:
            return None, bool(self.duplex)
        found = next((name for name in offered if name.lower() == asked.lower()), None)
        words = _SOURCE_WORDS.get(asked.lower())
        if found is None and words:
            wants_duplex = "duplex" in asked.lower()
            for name in offered:
                low = name.lower()
                sided = "duplex" in low or "back" in low or "rear" in low
                if any(w in low for w in words) and (wants_duplex or not sided):
                    found = name
                    break
        if found is None:
            raise DeviceIO(
                f"source {asked!r} is not offered; the device offers {', '.join(offered)}",
                device=self.uri,
                advice="Choose one of the sources it offers.",
            )
        duplex = self.duplex if self.duplex is not None else "duplex" in found.lower()
        return found, duplex

    # -- one stack -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Sheet]:
        """Scan one stack: sheets until the feeder is empty (or an error)."""
        self._closed.clear()
        delivered = 0
        front: EncodedPage | None = None
        for duplex, page in self._pages():
            if not duplex:
                yield self._sheet(page, None)
            elif front is None:
                front = page
            else:
                yield self._sheet(front, page)
                front = None
            delivered += 1
        if front is not None:  # an odd page count: deliver the front rather than lose it
            sheet = self._sheet(front, None)
            sheet.warning = "duplex stack ended without this sheet's back side"
            yield sheet
        if delivered == 0 and not self._closed.is_set():
            raise NoDocuments("the document feeder is empty", device=self.uri, status=7)

    def _pages(self) -> Iterator[tuple[bool, EncodedPage]]:
        """Every page of the stack; a device busy before the first page is retried."""
        delay_s = self.busy_backoff_s
        for attempt in range(self.busy_retries + 1):
            pages = 0
            try:
                run = (
                    self._python_sane_pages if self.backend == "python-sane" else self._batch_pages
                )
                for page in run():
                    pages += 1
                    yield page
                return
            except Busy as exc:
                if pages or attempt == self.busy_retries or self._closed.wait(delay_s):
                    exc.refeed = [self._sequence + 1] if pages else []
                    exc.message += f"; still busy after {attempt + 1} attempt(s)"
                    exc.advice = "Wait until no other program uses the scanner, then scan again."
                    raise
                delay_s *= 2

    def _encoded(self, data: bytes) -> EncodedPage:
        """One page the scanner sent, as it sent it (decoded once, by the OMR worker)."""
        name = f"{self.uri}#{self._sequence + 1}"
        return next(iter(plan_pages(name, data=data, dpi=float(self.dpi))))

    def _sheet(self, front: EncodedPage, back: EncodedPage | None) -> Sheet:
        self._sequence += 1
        return Sheet(sequence=self._sequence, source=f"{self.uri}#{self._sequence}",
                     front=front, back=back, dpi=float(self.dpi),
                     device_info={"device": self.uri})

    # -- scanimage ---------------------------------------------------------------------------
    def _batch_pages(self) -> Iterator[tuple[bool, EncodedPage]]:
        try:
            offered = device_sources(self.device, timeout_s=self.page_timeout_s)
        except ScanimageError as exc:
            raise DeviceIO(str(exc), device=self.uri) from exc
        source, duplex = self._resolve_source(offered)
        args = [f"--mode={self.mode}", f"--resolution={self.dpi}"]
        if source:
            args.append(f"--source={source}")
        if self.page_size_mm:
            args += ["-x", f"{self.page_size_mm[0]:g}", "-y", f"{self.page_size_mm[1]:g}"]
        if self.max_sheets:
            args.append(f"--batch-count={self.max_sheets * (2 if duplex else 1)}")
        args += [_option_arg(name, value) for name, value in self.options.items()]
        batch = ScanimageBatch(self.device, args, page_timeout_s=self.page_timeout_s)
        self._batch = batch
        try:
            for data in batch.pages():
                yield duplex, self._encoded(data)
        except ScanimageError as exc:
            raise self._fail(DeviceIO, str(exc)) from exc
        finally:
            self._batch = None
        if self._closed.is_set() or batch.status is None:
            return
        error = status_error(
            batch.status, device=self.uri, refeed=[self._sequence + 1], detail=batch.detail
        )
        if error is not None:
            raise error

    # -- python-sane -------------------------------------------------------------------------
    def _python_sane_pages(
        self,
    ) -> Iterator[tuple[bool, EncodedPage]]:
        sane = _SaneLibrary.acquire()
        try:
            try:
                dev = sane.open(self.device)
            except Exception as exc:
                raise DeviceIO(f"cannot open SANE device: {exc}", device=self.uri) from exc
            try:
                offered = list(dev.opt["source"].constraint or []) if "source" in dev.opt else []
                source, duplex = self._resolve_source(offered)
                settings: dict[str, Any] = {"mode": self.mode, "resolution": self.dpi}
                if source:
                    settings["source"] = source
                if self.page_size_mm:
                    settings["br_x"], settings["br_y"] = self.page_size_mm
                settings.update(self.options)
                for name, value in settings.items():
                    key = name.replace("-", "_")
                    if key not in dev.opt:
                        raise DeviceIO(
                            f"the device has no option {name!r}",
                            device=self.uri,
                            advice="List its options with `scanimage -d DEVICE -A`.",
                        )
                    try:
                        setattr(dev, key, value)
                    except Exception as exc:
                        raise DeviceIO(
                            f"option {name}={value!r} refused: {exc}",
                            device=self.uri,
                            advice="List its options with `scanimage -d DEVICE -A`.",
                        ) from exc
                limit = self.max_sheets * (2 if duplex else 1) if self.max_sheets else None
                count = 0
                while limit is None or count < limit:
                    if self._closed.is_set():
                        return
                    try:
                        dev.start()
                        image = dev.snap(True)
                    except Exception as exc:
                        code = STATUS_TEXT.get(str(exc), SANE_STATUS["IO_ERROR"])
                        error = status_error(
                            code, device=self.uri, refeed=[self._sequence + 1], detail=str(exc)
                        )
                        if error is None:
                            return
                        raise error from exc
                    count += 1
                    # python-sane hands over pixels: encoded once, losslessly, here
                    yield duplex, self._encoded(encode_png(np.asarray(image)))
            finally:
                try:
                    dev.cancel()
                finally:
                    dev.close()
        finally:
            _SaneLibrary.release()


def _option_arg(name: str, value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        value = "yes" if value else "no"
    return f"--{name}={value}"
