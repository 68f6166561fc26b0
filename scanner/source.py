"""The one interface every reader backend implements: a stream of sheets.

A `SheetSource` yields `Sheet`s in feed order and raises the typed errors of
`scanner.errors` (`NoDocuments` ends a stack normally). An image sheet carries its pages
encoded, as the device or file delivered them (`scanner.pages.EncodedPage`, front and optional
back): nothing is decoded here, the OMR worker does it once. An OMR card reader's sheets carry
a mark bitmap instead. A source says what it is (`kind`, `close_wakes`); nobody needs to check
its class.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from scanner.pages import EncodedPage

#: "images": sheets with encoded pages; "cards": sheets with a card reader's mark bitmap
SourceKind = Literal["images", "cards"]


@dataclass
class Sheet:
    #: 1-based position in the device's feed order since the source was opened
    sequence: int
    #: where the sheet came from, e.g. "scan-0003.tiff#2" or "escl://127.0.0.1:8080/eSCL#17"
    source: str
    front: EncodedPage | None = None
    back: EncodedPage | None = None
    #: card readers: rows x columns of booleans (True = mark), indexed like the layout's grid
    bitmap: np.ndarray | None = None
    dpi: float | None = None
    #: sources of files: the file (relative name) and ZIP member the sheet came from
    file: str | None = None
    member: str | None = None
    #: the last sheet of its file (a multi-page file gives several sheets)
    last_of_file: bool = True
    #: something to tell the operator about this sheet (a duplex stack that lost a back side)
    warning: str | None = None
    #: what the device said about the sheet (protocol, timing marks, its own counter): shown
    #: and logged, never branched on
    device_info: dict[str, str | int] = field(default_factory=dict)


@runtime_checkable
class SheetSource(Protocol):
    """A device or folder that feeds sheets. Use as a context manager, iterate, close."""

    uri: str
    kind: SourceKind
    #: `close()` may be called from another thread and ends a wait for the next sheet
    close_wakes: bool

    def __iter__(self) -> Iterator[Sheet]: ...

    def close(self) -> None: ...
