"""Checking uploaded scans before anything is stored: images, PDFs and ZIPs of them.

`stage_uploads` looks at every uploaded file by its content (never its name), copies what is
acceptable into a staging folder, and raises `UploadRefused` at the first thing that is not:
a file that is not an image, a PDF or a ZIP (named); in a ZIP, a member whose name climbs out
of the archive (`../`, an absolute path, a drive letter), a link, an encrypted member, a nested
ZIP, a member that is not an image, more members or more uncompressed bytes than the limits, a
member that expands more than `max_zip_ratio` times (a ZIP bomb), or one that turns out larger
than its header said, and a PDF or TIFF of more pages than `max_pdf_pages` / `max_tiff_frames`
(counted from its structure, not decoded). The caps are `intake.limits.IntakeLimits` (here
also called `UploadLimits`); each refusal names the one to raise. The caller deletes the
staging folder on refusal, so nothing is kept. The request size itself is limited before any
of this (`server.app.BodyLimit`).
"""

from __future__ import annotations

import re
import shutil
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from intake.limits import IntakeLimits, MiB
from scanner.images import sniff_format
from scanner.pages import file_count_problem

__all__ = ["MiB", "StagedFile", "UploadLimits", "UploadRefused", "display_name",
           "member_problem", "stage_uploads"]
ACCEPTED = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tiff", "PDF": ".pdf", "BMP": ".bmp"}
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
JUNK = re.compile(r"(^|/)(__MACOSX/|\._|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.I)
CHUNK = MiB


#: the caps of an upload are the intake's (one settings object for the server and the CLI)
UploadLimits = IntakeLimits


class UploadRefused(ValueError):
    """An upload that is refused whole; the message names the file and says what to do."""


@dataclass(frozen=True)
class StagedFile:
    #: what the operator knows it by: "scans.zip/stack1/0001.jpg" or "0001.jpg"
    name: str
    path: Path
    fmt: str


def display_name(raw: str | None, fallback: str) -> str:
    """A client-supplied file name made safe to show (base name, no control characters)."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or fallback


def member_problem(name: str) -> str | None:
    """Why a ZIP member name is unsafe, or None."""
    if "\x00" in name:
        return "has a NUL character in its name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return "has an absolute path"
    if any(part == ".." for part in PurePosixPath(norm).parts):
        return "climbs out of the archive (../)"
    return None


def _refuse(message: str) -> UploadRefused:
    return UploadRefused(f"{message}. Nothing was stored.")


def _head(fh: BinaryIO, n: int = 1024) -> bytes:
    fh.seek(0)
    head = fh.read(n)
    fh.seek(0)
    return head


def stage_uploads(files: Iterable[tuple[str, BinaryIO]], folder: Path,
                  limits: UploadLimits) -> list[StagedFile]:
    """Check and copy every upload (name, seekable file) into `folder`, in order; ZIPs are
    unpacked (members in name order). UploadRefused at the first bad one."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[StagedFile] = []
    for index, (raw_name, fh) in enumerate(files, 1):
        name = display_name(raw_name, f"upload-{index}")
        head = _head(fh)
        if not head:
            raise _refuse(f"'{name}' is empty (0 bytes); choose the scanned files again")
        if head.startswith(ZIP_MAGIC):
            out.extend(_stage_zip(name, fh, folder, len(out), limits))
            continue
        fmt = sniff_format(head)
        if fmt not in ACCEPTED:
            raise _refuse(f"'{name}' is not an image, a PDF or a ZIP (its content starts "
                          f"{head[:8]!r}); upload scanned sheets as JPEG, PNG, TIFF or PDF, or "
                          "a ZIP of them")
        target = folder / f"{len(out) + 1:05d}{ACCEPTED[fmt]}"
        with target.open("wb") as dst:
            shutil.copyfileobj(fh, dst, CHUNK)
        _check_pages(name, target, limits)
        out.append(StagedFile(name, target, fmt))
    if not out:
        raise _refuse("no scanned file in the upload; choose the images, PDFs or a ZIP")
    return out


def _stage_zip(name: str, fh: BinaryIO, folder: Path, already: int,
               limits: UploadLimits) -> list[StagedFile]:
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(f"'{name}' is a damaged ZIP ({exc}); make the archive again") from None
    with zf:
        members = zf.infolist()
        if len(members) > limits.max_zip_members:
            raise _refuse(f"'{name}' holds {len(members)} files, more than the limit of "
                          f"{limits.max_zip_members} (max_zip_members); split it into several "
                          "uploads")
        declared = sum(m.file_size for m in members)
        if declared > limits.max_zip_bytes:
            raise _refuse(f"'{name}' would unpack to {declared / MiB:,.0f} MiB, over the limit "
                          f"of {limits.max_zip_bytes / MiB:,.0f} MiB (max_zip_bytes; a ZIP "
                          "bomb?); upload the scans in smaller archives")
        out: list[StagedFile] = []
        total = 0
        for m in sorted(members, key=lambda m: m.filename):
            where = f"'{name}': member '{display_name(m.filename, '?')}'"
            problem = member_problem(m.filename)
            if problem:
                raise _refuse(f"{where} {problem}; the archive is unsafe")
            if m.is_dir() or JUNK.search(m.filename.replace("\\", "/")):
                continue
            if (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise _refuse(f"{where} is a symbolic link; put the image files themselves in "
                              "the ZIP")
            if m.flag_bits & 0x1:
                raise _refuse(f"{where} is encrypted; make the ZIP without a password")
            if m.file_size > MiB and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1):
                raise _refuse(f"{where} expands {m.file_size / max(m.compress_size, 1):,.0f} "
                              f"times (over {limits.max_zip_ratio:g}, max_zip_ratio): a ZIP "
                              "bomb, not a scan")
            staged, size = _copy_member(zf, m, where, folder / f"{already + len(out) + 1:05d}",
                                        limits.max_zip_bytes - total)
            _check_pages(f"{name}/{m.filename}", staged[0], limits)
            total += size
            out.append(StagedFile(f"{name}/{m.filename}"[:300], *staged))
        return out


def _check_pages(name: str, path: Path, limits: IntakeLimits) -> None:
    """Refuse a PDF or TIFF of more pages than its cap, by its structure (nothing decoded)."""
    if problem := file_count_problem(f"'{name}'", path, limits.pages):
        raise _refuse(problem)


def _copy_member(zf: zipfile.ZipFile, m: zipfile.ZipInfo, where: str, stem: Path,
                 budget: int) -> tuple[tuple[Path, str], int]:
    size = 0
    target: Path | None = None
    fmt = ""
    try:
        with zf.open(m) as src:
            first = src.read(CHUNK)
            if first.startswith(ZIP_MAGIC):
                raise _refuse(f"{where} is itself a ZIP; unpack the inner archive and upload "
                              "its images")
            fmt = sniff_format(first) or ""
            if fmt not in ACCEPTED:
                raise _refuse(f"{where} is not an image or a PDF (it starts {first[:8]!r}); "
                              "only scanned sheets may be in the ZIP")
            target = stem.with_suffix(ACCEPTED[fmt])
            with target.open("wb") as dst:
                chunk = first
                while chunk:
                    size += len(chunk)
                    if size > m.file_size or size > budget:
                        raise _refuse(f"{where} unpacks to more than its header says (a ZIP "
                                      "bomb?)")
                    dst.write(chunk)
                    chunk = src.read(CHUNK)
    except UploadRefused:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError,
            RuntimeError) as exc:
        raise _refuse(f"{where} cannot be unpacked ({exc}); make the archive again") from None
    return (target, fmt), size
