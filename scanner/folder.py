"""A folder of scanned files as a `SheetSource` (scanner-to-folder, uploads, test stacks).

`FolderSource(path)` yields one `Sheet` per page of every JPEG/PNG/TIFF/PDF file and every such
member of a ZIP, in natural name order ("scan-2" before "scan-10"; zero-padded names sort the
same either way). With `watch=True` it keeps polling for new files and takes a file only once
its size and mtime have held still for `settle_s`, until `close()` or the `stop` event. A file
is taken once, by name; a folder that can no longer be listed raises `DeviceIO`.

Nothing is silently dropped: an undecodable page, a refused ZIP member (absolute path, "..",
over-large) or a file that vanished still yields a `Sheet` with `front` None and
`metadata["error"]` saying why. Files are read, never moved or deleted.
"""

from __future__ import annotations

import os
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import TracebackType

from scanner.errors import DeviceIO
from scanner.images import MAX_PIXELS, Page, decode_bytes, iter_pages
from scanner.source import Sheet

__all__ = ["IMAGE_SUFFIXES", "FolderSource", "natural_key"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"})
_ZIP_SUFFIX = ".zip"
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing digit runs as numbers: "scan-2" < "scan-10"."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def _wanted(name: str) -> bool:
    base = PurePosixPath(name).name
    if not base or base.startswith((".", "~")) or "__MACOSX" in PurePosixPath(name).parts:
        return False
    return PurePosixPath(base).suffix.lower() in IMAGE_SUFFIXES | {_ZIP_SUFFIX}


class FolderSource:
    """Sheets from the files in one folder (not its subfolders), optionally watched."""

    def __init__(
        self,
        path: str | Path,
        *,
        watch: bool = False,
        poll_s: float = 0.5,
        settle_s: float = 1.0,
        pdf_dpi: float = 200,
        max_pixels: int = MAX_PIXELS,
        max_member_bytes: int = MAX_MEMBER_BYTES,
        stop: threading.Event | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"scan folder {str(self.path)!r} does not exist or is a file")
        self.uri = f"dir:{self.path}" + ("?watch=1" if watch else "")
        self.watch = watch
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.pdf_dpi = pdf_dpi
        self.max_pixels = max_pixels
        self.max_member_bytes = max_member_bytes
        self._stop = stop or threading.Event()
        #: names of files taken so far (relative to the folder), in the order they were read
        self.taken: list[str] = []
        #: names ignored because they are not image/PDF/ZIP files (README.txt, Thumbs.db, ...)
        self.skipped: list[str] = []
        self._sequence = 0

    def close(self) -> None:
        """Stop iterating (also from another thread): a watching loop returns within `poll_s`."""
        self._stop.set()

    def __enter__(self) -> FolderSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Sheet]:
        """Yield sheets; iterating again later continues with files not taken yet."""
        seen = set(self.taken)
        pending: dict[str, tuple[int, int, float]] = {}  # name -> (size, mtime_ns, since)
        while not self._stop.is_set():
            for name in self._ready(seen, pending):
                if self._stop.is_set():
                    return
                seen.add(name)
                self.taken.append(name)
                for sheet in self._sheets_of(name):
                    if self._stop.is_set():
                        return
                    yield sheet
            if not self.watch:
                return
            self._stop.wait(self.poll_s)

    def _ready(self, seen: set[str], pending: dict[str, tuple[int, int, float]]) -> list[str]:
        """Names to take now, in natural order: all of them, or (watching) the settled ones."""
        ready = []
        now = time.monotonic()
        try:
            listing = os.scandir(self.path)
        except OSError as exc:  # unplugged drive, unmounted share, folder deleted
            raise DeviceIO(
                f"cannot list the scan folder {str(self.path)!r} ({exc.strerror or exc})",
                device=self.uri,
            ) from exc
        with listing as entries:
            for entry in entries:
                if entry.name in seen or not entry.is_file():
                    continue
                if not _wanted(entry.name):
                    if entry.name not in self.skipped:
                        self.skipped.append(entry.name)
                    continue
                if not self.watch:
                    ready.append(entry.name)
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                state = (stat.st_size, stat.st_mtime_ns)
                before = pending.get(entry.name)
                if before is None or before[:2] != state:
                    pending[entry.name] = (*state, now)  # new or still growing: wait
                elif now - before[2] >= self.settle_s:
                    ready.append(entry.name)
                    del pending[entry.name]
        return sorted(ready, key=natural_key)

    def _sheets_of(self, name: str) -> Iterator[Sheet]:
        if name.lower().endswith(_ZIP_SUFFIX):
            yield from self._zip_sheets(name)
            return
        try:
            pages = iter_pages(
                self.path / name, pdf_dpi=self.pdf_dpi, max_pixels=self.max_pixels, name=name
            )
        except OSError as exc:
            yield self._error_sheet(name, f"file could not be read ({exc.strerror or exc})")
            return
        for page in pages:
            yield self._sheet(page, {"file": name})

    def _zip_sheets(self, name: str) -> Iterator[Sheet]:
        try:
            archive = zipfile.ZipFile(self.path / name)
        except (OSError, zipfile.BadZipFile) as exc:
            yield self._error_sheet(name, f"ZIP file cannot be opened ({exc}); re-create it")
            return
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir() and _wanted(m.filename)]
            for member in sorted(members, key=lambda m: natural_key(m.filename)):
                label = f"{name}/{member.filename}"
                meta = {"file": name, "member": member.filename}
                if problem := self._refuse(member):
                    yield self._error_sheet(label, problem, meta)
                    continue
                try:
                    with archive.open(member) as handle:
                        data = handle.read(self.max_member_bytes + 1)
                except (OSError, RuntimeError, ValueError, zipfile.BadZipFile) as exc:
                    problem = f"ZIP member cannot be read ({exc}); re-create the ZIP"
                    yield self._error_sheet(label, problem, meta)
                    continue
                pages = decode_bytes(data, label, pdf_dpi=self.pdf_dpi, max_pixels=self.max_pixels)
                for page in pages:
                    yield self._sheet(page, dict(meta))

    def _refuse(self, member: zipfile.ZipInfo) -> str | None:
        path = member.filename.replace("\\", "/")
        if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
            return f"ZIP member {member.filename!r} has an absolute path; refused"
        if ".." in PurePosixPath(path).parts:
            return f"ZIP member {member.filename!r} points outside the archive (..); refused"
        if path.lower().endswith(_ZIP_SUFFIX):
            return f"ZIP member {member.filename!r} is itself a ZIP; unpack it first"
        if member.file_size > self.max_member_bytes:
            return (
                f"ZIP member {member.filename!r} is {member.file_size} bytes unpacked, over the "
                f"{self.max_member_bytes} byte limit; refused"
            )
        return None

    def _sheet(self, page: Page, metadata: dict[str, object]) -> Sheet:
        self._sequence += 1
        metadata["page"] = int(page.source.rsplit("#", 1)[1])
        if page.error:
            metadata["error"] = page.error
        return Sheet(
            sequence=self._sequence,
            source=page.source,
            front=page.image,
            front_bytes=page.data,
            dpi=page.dpi,
            metadata=metadata,
        )

    def _error_sheet(self, label: str, error: str, meta: dict[str, object] | None = None) -> Sheet:
        page = Page(f"{label}#1", None, error)
        return self._sheet(page, dict(meta or {"file": label}))
