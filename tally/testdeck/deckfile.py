"""The expected-totals file of a deck (`--expected expected.json`), schema scantally.testdeck/1.

It names the meeting and, per form, the layout the deck was printed from and every planned
sheet; the figures the machine must reach follow, computed from those sheets
(`tally.testdeck.expect`). A check recomputes the figures from the sheets and refuses a file
whose figures do not follow from them (edited by hand), naming the first that differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tally.meetings import MeetingError
from tally.testdeck.expect import Figure
from tally.testdeck.plan import PlannedSheet

SCHEMA = "scantally.testdeck/1"
MAX_FILE_BYTES = 16 * 1024 * 1024


class FormDeck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    form_id: str
    title: str
    layout_hash: str
    sheets: list[PlannedSheet]


class ExpectedDeck(BaseModel):
    """The deck of a meeting and the figures its reading must give."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["scantally.testdeck/1"] = Field(default=SCHEMA, alias="schema")
    meeting_id: int
    meeting: str
    generated_at: str
    generated_by: str
    forms: list[FormDeck]
    figures: list[Figure]
    #: sha256 of the expected result (`tally.rules.compute`) with the facts and settings of the
    #: meeting when the deck was made
    result_sha256: str

    @property
    def sheets(self) -> int:
        return sum(len(f.sheets) for f in self.forms)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), ensure_ascii=False,
                          indent=1) + "\n"


def read_deck(path: str | Path) -> ExpectedDeck:
    """An expected-totals file; MeetingError naming the file and the field when it is bad."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise MeetingError(f"{p}: over {MAX_FILE_BYTES:,} bytes; not an expected-totals "
                               "file of `scantally testdeck`")
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MeetingError(f"cannot read the expected-totals file {p}: {exc}; give the "
                           "file `scantally testdeck … --expected` wrote") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise MeetingError(f"{p}: not an expected-totals file (schema {SCHEMA} expected); give "
                           "the file `scantally testdeck … --expected` wrote")
    try:
        return ExpectedDeck.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(file)"
        raise MeetingError(f"{p}: field {where}: {err['msg']}; the file was edited or "
                           "damaged — print a new deck with `scantally testdeck`") from None
