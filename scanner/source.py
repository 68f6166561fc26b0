"""The one interface every reader backend implements: a stream of sheets.

A `SheetSource` yields `Sheet`s in feed order and raises the typed errors of
`scanner.errors` (`NoDocuments` ends a stack normally). Image sheets carry greyscale or colour
numpy arrays (front, optional back); an OMR card reader's sheets carry a mark bitmap instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class Sheet:
    #: 1-based position in the device's feed order since the source was opened
    sequence: int
    #: where the sheet came from, e.g. "scan-0003.tiff#2" or "escl://127.0.0.1:8080/eSCL#17"
    source: str
    front: np.ndarray | None = None
    back: np.ndarray | None = None
    #: encoded bytes of the front/back as delivered (JPEG, PNG, ...), kept for the image store
    front_bytes: bytes | None = None
    back_bytes: bytes | None = None
    #: card readers: rows x columns of booleans (True = mark), indexed like the layout's grid
    bitmap: np.ndarray | None = None
    dpi: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SheetSource(Protocol):
    """A device or folder that feeds sheets. Use as a context manager, iterate, close."""

    uri: str

    def __iter__(self) -> Iterator[Sheet]: ...

    def close(self) -> None: ...
