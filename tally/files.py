"""Durable, all-or-nothing file writes (the image store, reports and every CLI output)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (the directory entry itself reaches the disk)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: bytes | str, *, sync_dir: bool = True) -> Path:
    """Write a whole file or nothing: a temp file in the same folder, fsync, rename, fsync dir.

    A crash at any moment leaves either the old file or the new one, never a part; the file
    gets the mode a plain open() would give it (umask applies). `sync_dir=False` leaves the
    folder's fsync to the caller (who writes many files into few folders and syncs each once).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(target.parent)
    return target
