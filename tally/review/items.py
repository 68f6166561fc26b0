"""What a review item is: its kinds, its id (`parse_item_id`), its state and its JSON (the CLI's
and the API's), and the decisions that resolve each kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tally.ballots import PageView, SheetState
from tally.review.errors import ReviewError

ItemKind = Literal["mark", "writein", "unknown_serial", "sheet", "missing_page", "unreadable",
                   "refused"]
DecisionKind = Literal["marked", "empty", "writein", "cancel", "void", "unvoid", "accept",
                       "dismiss"]
MARK_DECISIONS = ("marked", "empty", "writein", "cancel")
SHEET_DECISIONS = ("void", "unvoid", "accept", "dismiss")
#: decisions that must always say why (a mark decision must too when it changes the mark)
NEEDS_REASON = ("cancel", "void", "unvoid", "accept", "dismiss")
#: decisions made through `tally.manual`, not `decide`
MANUAL_DECISIONS = ("enter", "confirm")
#: what follows `<page>:` in the id of an item on a whole sheet
SHEET_SUFFIXES = ("sheet", "serial", "missing", "unreadable", "refused")


@dataclass(frozen=True)
class Crop:
    """A part of a page to show: `rect_mm` [x, y, w, h] on the printed page; None = all of it."""

    label: str
    rect_mm: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class MarkState:
    """A box as the decisions leave it: counted, still doubtful, its typed write-in name."""

    marked: bool
    doubtful: bool
    name: str | None = None
    #: the reviewer called it a cancellation (涂改作废: marked and struck out, not a vote)
    cancelled: bool = False

    @classmethod
    def of(cls, v: PageView, f: str, o: str) -> MarkState:
        """Box `f`:`o` of a page as the decisions leave it."""
        return cls(marked=o in v.marks.get(f, ()), doubtful=o in v.doubtful.get(f, ()),
                   name=v.writeins.get(f, {}).get(o), cancelled=(f, o) in v.cancelled)

    def to_json(self) -> dict[str, bool | str | None]:
        """`cancelled` only when it is one (as the decisions stored so far say it)."""
        doc: dict[str, bool | str | None] = {"marked": self.marked, "doubtful": self.doubtful,
                                             "name": self.name}
        return {**doc, "cancelled": True} if self.cancelled else doc


@dataclass(frozen=True)
class UncountedState:
    """A page that did not count (unreadable, refused): dismissed? keyed by hand, confirmed?
    (`entered` and `confirmed` only for an unreadable page: a refused one is never keyed)."""

    dismissed: bool
    entered: bool | None = None
    confirmed: bool | None = None

    def to_json(self) -> dict[str, bool]:
        doc = {"dismissed": self.dismissed, "entered": self.entered,
               "confirmed": self.confirmed}
        return {k: v for k, v in doc.items() if v is not None}


#: what a review item's `state` is: a box's, a whole ballot's decisions, an uncounted page's
ItemState = MarkState | SheetState | UncountedState


@dataclass(frozen=True)
class ReviewItem:
    id: str
    kind: ItemKind
    page_id: int
    source: str
    form_id: str | None
    page_no: int | None
    serial: str | None
    field: str | None
    option: str | None
    #: what the item is about, in words ("副局长人选 · 另推1")
    label: str
    reason: str
    #: the decisions that resolve it
    choices: tuple[str, ...]
    #: the current state (a box's, the ballot's decisions, an uncounted page's)
    state: ItemState
    crops: tuple[Crop, ...] = ()
    #: the engine's darkness score of the box, when it gave one
    score: float | None = None
    resolved: bool = False
    #: how sure the engine was of the box (0..1, `omr.decide`): the queue shows the least
    #: certain first
    certainty: float | None = None

    def to_json(self, crop: Callable[[Crop], dict[str, Any]] | None = None) -> dict[str, Any]:
        """The item as JSON (CLI and API); each crop as `crop(c)`, by default its label and
        rect_mm (the API gives a URL instead)."""
        def plain(c: Crop) -> dict[str, Any]:
            return {"label": c.label, "rect_mm": c.rect_mm}

        return {"id": self.id, "kind": self.kind, "page_id": self.page_id,
                "source": self.source, "form": self.form_id, "page": self.page_no,
                "serial": self.serial, "field": self.field, "option": self.option,
                "label": self.label, "reason": self.reason, "choices": list(self.choices),
                "state": self.state.to_json(), "score": self.score, "certainty": self.certainty,
                "resolved": self.resolved,
                "crops": [(crop or plain)(c) for c in self.crops]}


@dataclass(frozen=True)
class Target:
    page_id: int
    field: str | None = None
    option: str | None = None


def parse_item_id(item_id: str) -> Target:
    """`12:pos.deputy:writein1` -> a mark; `12`, `12:sheet`, `12:serial`… -> the whole sheet."""
    parts = item_id.strip().split(":")
    if not parts[0].isdigit() or len(parts) > 3 or (
            len(parts) == 2 and parts[1] not in SHEET_SUFFIXES):
        raise ReviewError("{item!r} is not a review item id (like '12:serial' or "
                          "'12:pos.deputy:writein1'); see `scantally review --meeting M`",
                          item=item_id)
    if len(parts) == 3:
        return Target(int(parts[0]), parts[1], parts[2])
    return Target(int(parts[0]))
