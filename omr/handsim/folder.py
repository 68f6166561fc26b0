"""A truth folder on disk: truth.json (field-report format), its images and form specs.

`load_truth_folder(folder)` reads the truth and compiles every form it names (paths relative
to the folder); the images are read by the intake's pool (`server.cli.handbench.read_folder`)
and returns the readings keyed as `score.score` wants them; `deck_tags` gives, for a handsim
deck, each image's scan kind, pens and mark style, to break the figures down by.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omr.handsim.blank import load_form
from omr.handsim.deck import DECK_FILE, TRUTH_FILE
from omr.layout import FormLayout, parse_layouts


@dataclass
class TruthFolder:
    folder: Path
    truth: list[dict]
    #: layout JSON per "form" string as written in the truth
    layouts: dict[str, dict]

    @property
    def layouts_by_id(self) -> dict[str, FormLayout]:
        """The typed layouts by form id, for the readers (parsed here, once)."""
        return parse_layouts({doc["form"]["id"]: doc for doc in self.layouts.values()})


def load_truth_folder(folder: str | Path) -> TruthFolder:
    """The truth and its compiled forms; ValueError naming the problem when they are not
    there or do not agree (two specs with one form id and different layouts)."""
    folder = Path(folder)
    path = folder / TRUTH_FILE
    if not path.is_file():
        raise ValueError(f"{folder}: no {TRUTH_FILE} here")
    truth = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(truth, list) or not all(isinstance(e, dict) and "image" in e
                                              and "form" in e and "boxes" in e for e in truth):
        raise ValueError(f"{path}: not a list of {{image, form, boxes}} entries")
    layouts: dict[str, dict] = {}
    ids: dict[str, str] = {}
    for form in sorted({e["form"] for e in truth}):
        spec = folder / form
        if not spec.is_file():
            raise ValueError(f"{path}: form {form!r} is not at {spec}")
        doc = load_form(spec).layout
        fid = doc["form"]["id"]
        if fid in ids and layouts[ids[fid]]["form"]["hash"] != doc["form"]["hash"]:
            raise ValueError(f"{path}: forms {ids[fid]!r} and {form!r} share the id {fid!r} "
                             "with different layouts")
        ids[fid] = form
        layouts[form] = doc
    return TruthFolder(folder, truth, layouts)


def deck_tags(folder: str | Path) -> dict[str, list[str]]:
    """image -> ["scan:<kind>", "pen:<name>", ..., "style:<style>"] from a deck's deck.json
    (empty when the folder has none, e.g. a field report)."""
    path = Path(folder) / DECK_FILE
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for p in doc.get("pages", []):
        tags = [f"scan:{p['scan']['kind']}", f"dpi:{p['scan']['dpi']}", f"style:{p['style']}"]
        tags += [f"pen:{pen}" for pen in dict.fromkeys(p.get("pens", []))]
        out[p["image"]] = tags
    return out
