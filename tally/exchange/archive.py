"""The bundle as a zip file: members read whole within limits or streamed for their hash
(`BundleFile`), or written one by one, each hashed as it goes (`BundleWriter`)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import IO

from tally.exchange.bundle import MAX_DATA_MEMBER_BYTES, BundleError, Member, sha256_hex

_CHUNK_BYTES = 1 << 20


class BundleFile:
    """A bundle opened for reading: members by name, read whole within limits or streamed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise BundleError(f"{self.path}: no such file") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"{self.path} is not a Scantally bundle (not a zip file: {exc}); "
                              "export it again with `scantally export`") from None
        names = self.zip.namelist()
        if len(names) != len(set(names)):
            dup = next(n for n in names if names.count(n) > 1)
            self.close()
            raise BundleError(f"{self.path}: member {dup!r} appears twice: the bundle was "
                              "altered after it was written; ask the station for a new export")
        self.infos = {i.filename: i for i in self.zip.infolist()}

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> BundleFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size(self, name: str) -> int:
        return self.infos[name].file_size

    def read(self, name: str, limit: int = MAX_DATA_MEMBER_BYTES) -> bytes:
        info = self.infos.get(name)
        if info is None:
            raise BundleError(f"{self.path}: member {name} is missing: not a whole bundle")
        if info.file_size > limit:
            raise BundleError(f"{self.path}: member {name} is {info.file_size:,} bytes, over "
                              f"the limit of {limit:,}: not a Scantally bundle")
        try:
            return self.zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BundleError(f"{self.path}: member {name} is damaged ({exc}): the file was "
                              "changed or cut short on its way; copy it again") from None

    def digest(self, name: str) -> str:
        """SHA-256 of a member, streamed (images need not fit in memory twice)."""
        h = hashlib.sha256()
        try:
            with self.zip.open(name) as fh:
                for chunk in iter(lambda: fh.read(_CHUNK_BYTES), b""):
                    h.update(chunk)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BundleError(f"{self.path}: member {name} is damaged ({exc}): the file was "
                              "changed or cut short on its way; copy it again") from None
        return h.hexdigest()


class BundleWriter:
    """Members written one by one into an open zip, each hashed as it goes."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(fh, "w", allowZip64=True)
        self.members: list[Member] = []

    def add(self, name: str, data: bytes, *, compress: bool = True) -> Member:
        kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = kind
        self.zip.writestr(info, data, compress_type=kind, compresslevel=6 if compress else None)
        member = Member(name=name, sha256=sha256_hex(data), bytes=len(data))
        self.members.append(member)
        return member

    def add_unlisted(self, name: str, data: bytes) -> None:
        """The manifest and its signature: in the zip, not in the manifest."""
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)

    def close(self) -> None:
        self.zip.close()
