"""A folder of scanned files as a `SheetSource` (scanner-to-folder, uploads, test stacks).

`FolderSource(path)` yields one `Sheet` per page of every JPEG/PNG/TIFF/BMP/PDF file and every
such member of a ZIP, in natural name order ("scan-2" before "scan-10"; zero-padded names sort the
same either way). With `watch=True` it keeps polling for new files and takes a file only once
its size and mtime have held still for `settle_s`, until `close()` or the `stop` event. A file
is taken once, by name; a folder that can no longer be listed raises `DeviceIO`.

`FileSource(files)` does the same for a list of (path, name) files, in the order given (the
files of `scantally ingest`, an upload). Pages are handed over encoded (`scanner.pages`), never
decoded here; a file's pages are found from its structure, one at a time.

Nothing is silently dropped: a refused ZIP member (absolute path, "..", over-large), a file
that vanished or a page cut short still yields a `Sheet` whose page has an `error` saying why;
a file that is no scan at all (README.txt) is listed in `skipped`. Files are read, never moved
or deleted. A multi-page ZIP member (TIFF, PDF) is copied to a temporary file of the source, so
that its pages travel to the workers as a path, not each with the whole member's bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import ClassVar

from scanner.errors import DeviceIO
from scanner.images import MAX_PIXELS, sniff_format
from scanner.pages import EncodedPage, PageLimits, plan_pages
from scanner.source import Sheet, SourceKind

__all__ = ["IMAGE_SUFFIXES", "FileSource", "FolderSource", "natural_key", "scan_files"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".pdf"})
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


class _FileSheets:
    """Turns files (and ZIP members) into sheets of encoded pages, numbered in order."""

    kind: ClassVar[SourceKind] = "images"
    close_wakes: ClassVar[bool] = True
    pdf_dpi: float
    limits: PageLimits
    max_member_bytes: int
    _sequence: int

    def _sheets_of(self, path: Path, name: str) -> Iterator[Sheet]:
        if name.lower().endswith(_ZIP_SUFFIX):
            yield from self._zip_sheets(path, name)
            return
        try:
            pages = plan_pages(name, path=path, pdf_dpi=self.pdf_dpi, limits=self.limits)
        except OSError as exc:
            yield self._error_sheet(name, f"file could not be read ({exc.strerror or exc})", name)
            return
        yield from self._sheets(pages, name, None)

    def _sheets(self, pages: Iterator[EncodedPage], name: str, member: str | None
                ) -> Iterator[Sheet]:
        """One sheet per page, knowing which is the last of its file only one page ahead."""
        previous: EncodedPage | None = None
        for page in pages:
            if previous is not None:
                yield self._sheet(previous, name, member, last=False)
            previous = page
        if previous is not None:
            yield self._sheet(previous, name, member, last=True)

    def _zip_sheets(self, path: Path, name: str) -> Iterator[Sheet]:
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            yield self._error_sheet(name, f"ZIP file cannot be opened ({exc}); re-create it", name)
            return
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir() and _wanted(m.filename)]
            for member in sorted(members, key=lambda m: natural_key(m.filename)):
                label = f"{name}/{member.filename}"
                if problem := self._refuse(member):
                    yield self._error_sheet(label, problem, name, member.filename)
                    continue
                try:
                    with archive.open(member) as handle:
                        data = handle.read(self.max_member_bytes + 1)
                except (OSError, RuntimeError, ValueError, zipfile.BadZipFile) as exc:
                    problem = f"ZIP member cannot be read ({exc}); re-create the ZIP"
                    yield self._error_sheet(label, problem, name, member.filename)
                    continue
                if sniff_format(data[:1024]) in ("TIFF", "PDF"):
                    # several pages: each one goes to a worker as a path, not as the member's
                    # bytes (a copy of the whole member per page in flight)
                    pages = plan_pages(label, path=self._spill(data), pdf_dpi=self.pdf_dpi,
                                       limits=self.limits)
                else:
                    pages = plan_pages(label, data=data, pdf_dpi=self.pdf_dpi,
                                       limits=self.limits)
                del data
                yield from self._sheets(pages, name, member.filename)

    def _spill(self, data: bytes) -> Path:
        """Write a multi-page ZIP member to a temporary file of this source (removed when the
        source is garbage-collected or the process ends)."""
        folder = getattr(self, "_spill_dir", None)
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="scantally-zip-"))
            self._spill_dir = folder
            weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        fd, name = tempfile.mkstemp(dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return Path(name)

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

    def _sheet(self, page: EncodedPage, name: str, member: str | None, *, last: bool) -> Sheet:
        self._sequence += 1
        return Sheet(sequence=self._sequence, source=page.source, front=page, dpi=page.dpi,
                     file=name, member=member, last_of_file=last)

    def _error_sheet(self, label: str, error: str, name: str,
                     member: str | None = None) -> Sheet:
        return self._sheet(EncodedPage(f"{label}#1", error=error), name, member, last=True)


class FolderSource(_FileSheets):
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
        limits: PageLimits | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"scan folder {str(self.path)!r} does not exist or is a file")
        self.uri = f"dir:{self.path}" + ("?watch=1" if watch else "")
        self.watch = watch
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.pdf_dpi = pdf_dpi
        self.limits = limits or PageLimits(max_pixels=max_pixels)
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
                for sheet in self._sheets_of(self.path / name, name):
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


class FileSource(_FileSheets):
    """Sheets from the given files, in order: `(path, name)` pairs, `name` labelling the pages
    ("scan.tiff#2"). A ZIP's members are read like a folder's. `limits` (default: the
    defaults, with `max_pixels`) caps each file's size, pages and pixels; `skip(page)`, when
    given, leaves out the pages it says are done already (stored before a crash, when a job
    is taken up again): they are planned, never decoded, and get no sequence number."""

    def __init__(self, files: list[tuple[Path, str]], *, uri: str = "files",
                 pdf_dpi: float = 200, max_pixels: int = MAX_PIXELS,
                 max_member_bytes: int = MAX_MEMBER_BYTES, limits: PageLimits | None = None,
                 skip: Callable[[EncodedPage], bool] | None = None) -> None:
        self.files, self.uri = files, uri
        self.pdf_dpi, self.max_member_bytes = pdf_dpi, max_member_bytes
        self.limits = limits or PageLimits(max_pixels=max_pixels)
        self._skip = skip
        self._sequence = 0
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[Sheet]:
        for path, name in self.files:
            for sheet in self._sheets_of(path, name):
                if self._stop.is_set():
                    return
                if self._skip is not None and sheet.front is not None and \
                        self._skip(sheet.front):
                    self._sequence -= 1
                    continue
                yield sheet

    def close(self) -> None:
        """Stop between files' pages (also from another thread)."""
        self._stop.set()


def scan_files(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[Path]]:
    """The scans among `paths` (a folder: every scan below it, in natural order) as (path,
    name) pairs, and the files left out because they are no scan (each to be named)."""
    files: list[tuple[Path, str]] = []
    skipped: list[Path] = []
    for p in paths:
        if not p.is_dir():
            files.append((p, str(p)))
            continue
        for f in sorted((f for f in p.rglob("*") if f.is_file()),
                        key=lambda f: natural_key(str(f.relative_to(p)))):
            (files.append((f, str(f))) if _wanted(f.name) else skipped.append(f))
    return files, skipped
