"""The content-addressed image store: every page image kept as a file named by its SHA-256.

Layout: `<root>/ab/abcdef….img` (the first two hex digits as a folder). A file is written whole
or not at all (temp file, fsync, rename, fsync of the folder) and BEFORE the database row that
names it is committed, so a committed row always finds its image; a crash in between leaves an
orphan file, which is harmless and removed by `collect_garbage`. Reading verifies the hash, so a
changed byte is caught the moment the image is used.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tally.files import write_atomic

SUFFIX = ".img"


class ImageError(Exception):
    """An image the store cannot hand out; the message names it and says what to do."""


class ImageMissing(ImageError):
    pass


class ImageTampered(ImageError):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ImageStore:
    root: Path

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}{SUFFIX}"

    def put(self, data: bytes) -> str:
        """Store `data` durably (idempotent) and return its SHA-256."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists() and self.check(digest) is None:
            return digest  # already stored intact (a re-feed, or a crash before the row)
        write_atomic(target, data)
        return digest

    def get(self, sha256: str, *, what: str = "") -> bytes:
        """The bytes of an image, checked against its name; ImageMissing / ImageTampered if not."""
        target = self.path(sha256)
        label = f"{what}: " if what else ""
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise ImageMissing(
                f"{label}image {sha256[:12]}… is missing from the store ({target}); copy it "
                "back from a backup or from the station that scanned it, or re-scan the sheet"
            ) from None
        actual = sha256_hex(data)
        if actual != sha256:
            raise ImageTampered(
                f"{label}image {sha256[:12]}… was changed after it was stored ({target} now "
                f"hashes to {actual[:12]}…); restore the original from a backup"
            )
        return data

    def check(self, sha256: str) -> str | None:
        """None when the image is present and intact, else the problem in words."""
        try:
            self.get(sha256)
        except ImageError as exc:
            return str(exc)
        return None

    def iter_digests(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and len(folder.name) == 2:
                for f in sorted(folder.glob(f"*{SUFFIX}")):
                    yield f.name.removesuffix(SUFFIX)

    def collect_garbage(self, referenced: Iterable[str], *, min_age_s: float = 3600.0) -> int:
        """Delete image files no row references (and leftover temp files), older than
        `min_age_s` so an ingest in flight on another station keeps its fresh file. Returns the
        number of files deleted."""
        keep = set(referenced)
        cutoff = time.time() - min_age_s
        deleted = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                orphan = (f.name.startswith(".") and f.name.endswith(".tmp")) or (
                    f.name.endswith(SUFFIX) and f.name.removesuffix(SUFFIX) not in keep
                )
                if orphan and f.stat().st_mtime < cutoff:
                    f.unlink(missing_ok=True)
                    deleted += 1
        return deleted
