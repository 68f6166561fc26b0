"""The ground truth of a simulated corpus (`truth.json`, schema `scantally.simtruth/1`).

One record per sheet, one per page: the file holding it, what a reader must say about it
(`expect`: ok, review, unreadable, unknown_form or blank, and a `reason` when unreadable), the
options clearly marked and the cancelled ones per field, how many stray marks lie outside the
boxes, and every degradation applied with its parameters. The OMR accuracy check and the tally
tests both load it with `load_truth`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omr.reading import STATUSES

TRUTH_SCHEMA = "scantally.simtruth/1"
#: what a simulated page is expected to read as: one of the statuses
EXPECTS: tuple[str, ...] = STATUSES


@dataclass
class PageTruth:
    page: int
    #: the image file, relative to the truth file; "sheet-00001.tiff#2" is page 2 of a TIFF
    file: str
    expect: str
    marks: dict[str, list[str]] = field(default_factory=dict)
    cancelled: dict[str, list[str]] = field(default_factory=dict)
    stray: int = 0
    degradations: list[dict] = field(default_factory=list)
    reason: str | None = None
    #: the form id printed on the page when it is not the corpus's form (unknown_form)
    form: str | None = None
    #: 3x3 homography from page millimetres to image pixels (None for a noise page)
    mm_to_px: list[list[float]] | None = None

    @property
    def path_and_index(self) -> tuple[str, int]:
        """(file name, 1-based page index inside the file)."""
        name, _, idx = self.file.partition("#")
        return name, int(idx) if idx else 1

    def degradation(self, name: str) -> dict | None:
        """The first recorded degradation called `name`, or None."""
        return next((d for d in self.degradations if d["name"] == name), None)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("reason", "form", "mm_to_px"):
            if d[key] is None:
                del d[key]
        return d


@dataclass
class SheetTruth:
    serial: str
    pages: list[PageTruth]
    #: the voter category (ticked on the sheet, or the batch's when assigned per batch)
    category: str | None = None
    #: write-in lines used: {field: {option: name written, or "" for a mark with an empty line}}
    writeins: dict[str, dict[str, str]] = field(default_factory=dict)
    #: free text written in the comment area (satisfaction), kept for image-only tests
    comment: str | None = None
    #: how the voter marked: style (tick, cross, circle, solid, partial) and pen
    voter: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"serial": self.serial, "pages": [p.to_dict() for p in self.pages]}
        if self.category is not None:
            d["category"] = self.category
        d["writeins"] = self.writeins
        if self.comment is not None:
            d["comment"] = self.comment
        d["voter"] = self.voter
        return d


@dataclass
class Truth:
    form: dict  # {"id", "hash", "spec"}
    seed: int
    dpi: int
    sheets: list[SheetTruth]
    profile: str = "mixed"
    format: str = "jpg"
    schema: str = TRUTH_SCHEMA
    #: the folder holding the images (set by load_truth; not written)
    root: Path | None = None

    def pages(self) -> Iterator[tuple[SheetTruth, PageTruth]]:
        for sheet in self.sheets:
            for page in sheet.pages:
                yield sheet, page

    def image_path(self, page: PageTruth) -> Path:
        name, _ = page.path_and_index
        return (self.root or Path(".")) / name

    def by_source(self) -> dict[tuple[str, int], tuple[SheetTruth, PageTruth]]:
        """Look pages up by (file name, page index in file), e.g. from a reading's source."""
        return {page.path_and_index: (sheet, page) for sheet, page in self.pages()}

    def to_dict(self) -> dict:
        return {"schema": self.schema, "form": self.form, "seed": self.seed, "dpi": self.dpi,
                "profile": self.profile, "format": self.format,
                "sheets": [s.to_dict() for s in self.sheets]}

    @classmethod
    def from_dict(cls, doc: dict, root: Path | None = None) -> Truth:
        if doc.get("schema") != TRUTH_SCHEMA:
            raise ValueError(f"not a simulator truth file (schema {doc.get('schema')!r}, "
                             f"expected {TRUTH_SCHEMA!r})")
        sheets = [
            SheetTruth(serial=s["serial"], pages=[PageTruth(**p) for p in s["pages"]],
                       category=s.get("category"), writeins=s.get("writeins", {}),
                       comment=s.get("comment"), voter=s.get("voter", {}))
            for s in doc["sheets"]
        ]
        return cls(form=doc["form"], seed=doc["seed"], dpi=doc["dpi"], sheets=sheets,
                   profile=doc.get("profile", "mixed"), format=doc.get("format", "jpg"),
                   root=root)


def load_truth(path: str | Path) -> Truth:
    """Read a `truth.json` (or the folder holding one); `root` is set to its folder."""
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    with p.open(encoding="utf-8") as fh:
        return Truth.from_dict(json.load(fh), root=p.parent)


def truth_json(truth: Truth) -> str:
    """The truth as JSON text (UTF-8, names unescaped)."""
    return json.dumps(truth.to_dict(), ensure_ascii=False, indent=1) + "\n"
