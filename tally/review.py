"""The review queue: what a person must look at, with image crops, and their decisions.

Items (`review_queue`), each with a stable id:
- `<page>:<field>:<option>` kind `mark`: a doubtful mark -> decide `marked` (已标记), `empty`
  (空白) or `cancel` (涂改作废: the voter marked and struck it out; not a vote, logged as such);
- `<page>:<field>:writeinK` kind `writein`: a marked (or doubtful) write-in box whose name is not
  typed yet, or a write-in line with ink and no mark (when the reading says so, key
  `writein_ink`) -> type the name from the image (`writein`, which also counts the mark) or
  `empty` (the mark does not count: nothing or nobody on the line);
- `<page>:serial` kind `unknown_serial`: a serial not in the printed set -> `accept` / `dismiss`;
- `<page>:sheet` kind `sheet`: a page the engine sent to review for a reason other than a mark;
- `<page>:missing` kind `missing_page`: a ballot with a page never read -> re-feed it, or
  `accept` / `void` / `dismiss`;
- `<page>:unreadable` kind `unreadable`: a page that could not be read -> re-feed the sheet (the
  item clears itself once that page is counted), key its marks by hand (`tally.manual`: it
  clears once a second login confirms them), or `dismiss`;
- `<page>:refused` kind `refused`: a page that read but that a rule of the meeting refused at
  ingest (a serial printed for another form) -> `dismiss` with a reason.
A decision on a whole ballot (`void` with a reason, `unvoid`, `accept`, `dismiss`) may be made on
any `<page>` item, also on a sheet that read OK (`<page>` alone). A decision that changes a mark
(a box becomes counted or stops counting), a cancellation, and every decision on a whole sheet
must say why. Every decision is a new row (never an edit) with who, when, before, after
and why, written with its audit entry in one transaction; the figures follow because ballots are
re-assembled from readings plus decisions (`tally.ballots`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.people import display_names
from forms.spec import FormSpec
from forms.text import TextError, clean_name, clean_text
from omr.layout import FormLayout
from omr.reading import Reading
from scanner.images import iter_bytes
from tally import audit
from tally.ballots import (
    CATEGORY_FIELD,
    PageView,
    SheetState,
    StoredBallot,
    decisions_by_page,
    is_writein,
    manual_entries,
    page_view,
    sheet_state,
    stored_ballots,
)
from tally.db import DECISION_KINDS, Decision, Page
from tally.formstore import meeting_layouts, meeting_specs
from tally.readings import StoredPage, full_readings
from tally.store import Store

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
#: the id of the not-yet-stored decision when computing its "after" (sorts after every real one)
_PROBE_ID = 2**62
SHEET_SUFFIXES = ("sheet", "serial", "missing", "unreadable", "refused")
MAX_WRITEIN_CHARS = 40
#: margins around a crop, and the resolution crops are rendered at
BOX_MARGIN_MM = 4.0
ROW_MARGIN_MM = 2.5
CROP_PX_PER_MM = 8.0
PAGE_PX_PER_MM = 3.0


class ReviewError(ValueError):
    """A decision that cannot be made; the message says why and what to do instead.

    `template` (English, `str.format` style) is also the message id the server translates by
    (server/i18n.py, extracted by `pybabel extract -k ReviewError`), `params` fill it in."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template.format(**params) if params else template)


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


@dataclass
class _Context:
    specs: dict[str, FormSpec]
    layouts: dict[str, FormLayout]
    decisions: dict[int, list[Decision]] = field(default_factory=dict)
    #: counted pages with a box item: their scores and certainties are read afterwards
    scored: set[int] = field(default_factory=set)


# -- the queue --------------------------------------------------------------------------------

def review_queue(session: Session, meeting_id: int, *,
                 include_resolved: bool = False) -> list[ReviewItem]:
    """Every open item of the meeting (and resolved ones too when asked), page by page."""
    ctx = _Context(meeting_specs(session, meeting_id), meeting_layouts(session, meeting_id),
                   decisions_by_page(session, meeting_id))
    items: list[ReviewItem] = []
    ballots = stored_ballots(session, meeting_id)
    for b in ballots:
        items.extend(_ballot_items(ctx, b))
    counted_keys = {(v.row.form_id, v.row.serial, v.row.page_no)
                    for b in ballots for v in b.pages if v.row.state == "counted"}
    entries = manual_entries(ctx.decisions)
    for row in session.scalars(select(Page).where(Page.meeting_id == meeting_id,
                                                  Page.state.in_(("uncounted", "refused")),
                                                  Page.status != "blank").order_by(Page.id)):
        refed = row.serial is not None and (row.form_id, row.serial, row.page_no) in counted_keys
        sheet = sheet_state(ctx.decisions.get(row.id, []))
        entry = entries.get(row.id)
        resolved = refed or sheet.accepted is False or (entry is not None and entry.confirmed)
        if row.state == "refused":
            items.append(_sheet_item(ctx, row, "refused", f"{row.reason}; dismiss it with a "
                                     "reason", ("dismiss",),
                                     UncountedState(sheet.accepted is False), resolved))
            continue
        if refed:
            why = "re-fed and read since"
        elif entry is not None and entry.confirmed:
            why = f"entered by {entry.entered_by}, confirmed by {entry.confirmed_by}"
        elif entry is not None:
            why = (f"entered by hand by {entry.entered_by}: a second login must confirm the "
                   "entry against the image")
        else:
            why = "re-feed the sheet, enter its marks by hand, or dismiss the page"
        items.append(_sheet_item(ctx, row, "unreadable", f"{row.reason or row.status}; {why}",
                                 ("dismiss",),
                                 UncountedState(sheet.accepted is False, entry is not None,
                                                bool(entry and entry.confirmed)),
                                 resolved))
    boxes = full_readings(session, ctx.scored)
    items = [_with_scores(i, boxes[i.page_id]) if i.field is not None and i.page_id in boxes
             else i for i in items]
    # the least certain marks first (as SDAPS' correction view), then the rest in page order
    items.sort(key=lambda i: (0, i.certainty) if i.certainty is not None else (1, 0.0))
    return [i for i in items if include_resolved or not i.resolved]


def _ballot_items(ctx: _Context, b: StoredBallot) -> list[ReviewItem]:
    first = b.pages[0].row
    sheet_decided = b.sheet.accepted is not None or b.sheet.void
    state = b.sheet
    items = []
    if b.unknown_serial:
        items.append(_sheet_item(
            ctx, first, "unknown_serial",
            f"serial {b.serial} was not printed for this meeting: a forged sheet or another "
            "meeting's? accept it to count it, or dismiss it", ("accept", "dismiss"), state,
            b.sheet.accepted is not None))
    layout = ctx.layouts.get(b.form_id)
    have = {v.row.page_no for v in b.pages}
    missing = [n for n in layout.pages if n not in have] if layout else []
    if missing:
        items.append(_sheet_item(
            ctx, first, "missing_page",
            f"page(s) {', '.join(map(str, missing))} of sheet {b.serial} were not read: re-feed "
            "them, or accept / void / dismiss the ballot", SHEET_DECISIONS, state, sheet_decided))
    for v in b.pages:
        items.extend(_page_items(ctx, v, state, sheet_decided))
    return items


def _page_items(ctx: _Context, v: PageView, sheet: SheetState,
                sheet_decided: bool) -> list[ReviewItem]:
    row, reading = v.row, v.reading
    items = []
    if row.status == "review" and not reading.has_doubtful:
        items.append(_sheet_item(ctx, row, "sheet", row.reason or "the reader asked for review",
                                 SHEET_DECISIONS, sheet, sheet_decided))
    targets: dict[tuple[str, str], str] = {}
    for f, doubtful in reading.doubtful.items():
        for o in doubtful:
            targets[(f, o)] = "doubtful mark: is the box marked?"
    for f, o in v.unnamed_writeins:
        targets.setdefault((f, o), "a marked write-in line: type the name from the image")
    for region in reading.writein_ink:
        f, _, o = region.rpartition(".")
        targets.setdefault((f, o), "ink on a write-in line with no mark: a name to count?")
    for f, marked in reading.marked.items():
        for o in marked:
            if is_writein(o):
                targets.setdefault((f, o), "a marked write-in line: type the name from the image")
    for (f, o), reason in targets.items():
        items.append(_mark_item(ctx, v, f, o, reason))
    return items


def _mark_state(v: PageView, f: str, o: str) -> MarkState:
    """A box as the decisions leave it."""
    return MarkState(marked=o in v.marks.get(f, []), doubtful=o in v.doubtful.get(f, []),
                     name=v.writeins.get(f, {}).get(o), cancelled=(f, o) in v.cancelled)


def _mark_item(ctx: _Context, v: PageView, f: str, o: str, reason: str) -> ReviewItem:
    row = v.row
    writein = is_writein(o)
    state = _mark_state(v, f, o)
    resolved = (f, o) in v.decided and not state.doubtful and (
        not writein or not state.marked or state.name is not None)
    if row.state == "counted":  # a hand entry's page has no scores
        ctx.scored.add(row.id)
    return ReviewItem(
        id=f"{row.id}:{f}:{o}", kind="writein" if writein else "mark", page_id=row.id,
        source=row.source, form_id=row.form_id, page_no=row.page_no, serial=row.serial,
        field=f, option=o, label=_label(ctx, row.form_id, f, o), reason=reason,
        choices=("writein", "empty", "cancel") if writein else ("marked", "empty", "cancel"),
        state=state,
        crops=_mark_crops(ctx, row, f, o), resolved=resolved)


def _with_scores(item: ReviewItem, reading: Reading) -> ReviewItem:
    """A box item with the engine's score and certainty of its box, when it gave them."""
    f, o = item.field or "", item.option or ""
    return replace(item, score=reading.scores.get(f, {}).get(o),
                   certainty=reading.certainty.get(f, {}).get(o))


def _sheet_item(ctx: _Context, row: Page, kind: ItemKind, reason: str, choices: tuple[str, ...],
                state: ItemState, resolved: bool) -> ReviewItem:
    suffix = {"unknown_serial": "serial", "missing_page": "missing"}.get(kind, kind)
    return ReviewItem(
        id=f"{row.id}:{suffix}", kind=kind, page_id=row.id, source=row.source,
        form_id=row.form_id, page_no=row.page_no, serial=row.serial, field=None, option=None,
        label=f"{row.form_id or '?'} sheet {row.serial or '?'} page {row.page_no or '?'}",
        reason=reason, choices=choices, state=state, crops=(Crop("page", None),),
        resolved=resolved)


def _label(ctx: _Context, form_id: str | None, f: str, o: str) -> str:
    layout = ctx.layouts.get(form_id or "")
    spec = ctx.specs.get(form_id or "")
    field_label = next((x.label for x in layout.fields if x.id == f), f) if layout else f
    return f"{field_label} · {option_label(spec, f, o) if spec else o}"


def option_label(spec: FormSpec, field_id: str, option: str) -> str:
    """The printed label of an option (a candidate's name, a level's label), else its id."""
    if is_writein(option):
        return f"另推{option.removeprefix('writein')}"
    labels: dict[str, str] = {}
    if field_id == CATEGORY_FIELD and spec.categories:
        labels = {c.id: c.label for c in spec.categories.options}
    elif field_id.startswith("pos.") and spec.recommendation:
        pos = next((p for p in spec.recommendation.positions
                    if f"pos.{p.id}" == field_id), None)
        shown = display_names(spec)
        labels = {c.id: shown.get(c.id, c.name) for c in pos.candidates} if pos else {}
    elif field_id.startswith("team.") and spec.evaluation and spec.evaluation.team:
        labels = {lv.id: lv.label for lv in spec.evaluation.team.levels}
    elif field_id.startswith("leader.") and spec.evaluation and spec.evaluation.individual:
        labels = {lv.id: lv.label for lv in spec.evaluation.individual.all_levels}
    elif field_id.startswith("q.") and spec.satisfaction:
        labels = {lv.id: lv.label for lv in spec.satisfaction.levels}
    elif field_id.startswith("item.") and spec.satisfaction:
        labels = {lv.id: lv.label for lv in spec.satisfaction.item_levels}
    return labels.get(option, option)


# -- crops ------------------------------------------------------------------------------------

def _mark_crops(ctx: _Context, row: Page, f: str, o: str) -> tuple[Crop, ...]:
    layout = ctx.layouts.get(row.form_id or "")
    page = layout.pages.get(row.page_no or 0) if layout is not None else None
    if page is None or layout is None:
        return (Crop("page", None),)
    box = next((b.rect_mm for b in page.boxes if b.field == f and b.option == o), None)
    if box is None:
        return (Crop("page", None),)
    x, y, w, h = box
    crops = [Crop("box", (x - BOX_MARGIN_MM, y - BOX_MARGIN_MM, w + 2 * BOX_MARGIN_MM,
                          h + 2 * BOX_MARGIN_MM))]
    region = next((r.rect_mm for r in page.regions if r.id == f"{f}.{o}"), None)
    if region is not None:
        crops.append(Crop("write-in line", _union(region, box, BOX_MARGIN_MM)))
    page_w = float(layout.doc.page_size_mm[0])
    crops.append(Crop("row", (0.0, y - ROW_MARGIN_MM, page_w, h + 2 * ROW_MARGIN_MM)))
    return tuple(crops)


def _union(a: list[float], b: list[float], margin: float) -> tuple[float, float, float, float]:
    x0, y0 = min(a[0], b[0]) - margin, min(a[1], b[1]) - margin
    x1, y1 = max(a[0] + a[2], b[0] + b[2]) + margin, max(a[1] + a[3], b[1] + b[3]) + margin
    return (x0, y0, x1 - x0, y1 - y0)


def render_crop(store: Store, session: Session, page_id: int,
                rect_mm: tuple[float, float, float, float] | None, *,
                px_per_mm: float | None = None) -> bytes:
    """A PNG of part of a stored page, upright, mapped through the page's registration when the
    engine found one, else by scaling the printed page onto the image. The image is verified
    against its SHA-256 first (ImageMissing / ImageTampered)."""
    row = session.get(Page, page_id)
    if row is None:
        raise ReviewError("no page #{page}", page=page_id)
    data = store.images.get(row.sha256, what=f"page #{row.id} ({row.source})")
    first = next(iter_bytes(data, row.source or row.sha256), None)  # a stored image is one page
    if first is None or first.image is None:
        raise ReviewError("page #{page}: the stored image cannot be decoded ({error})",
                          page=row.id, error=first.error if first else "empty")
    image = first.image
    layout = meeting_layouts(session, row.meeting_id).get(row.form_id or "")
    page_w, page_h = (layout.doc.page_size_mm if layout else
                      (210.0, 210.0 * image.shape[0] / image.shape[1]))
    if row.page_to_image is not None:
        to_image = np.asarray(row.page_to_image, dtype=np.float64)
    else:
        to_image = np.diag([image.shape[1] / page_w, image.shape[0] / page_h, 1.0])
    if rect_mm is None:
        rect_mm, scale = (0.0, 0.0, float(page_w), float(page_h)), px_per_mm or PAGE_PX_PER_MM
    else:
        scale = px_per_mm or CROP_PX_PER_MM
    x, y, w, h = rect_mm
    crop_to_mm = np.array([[1 / scale, 0, x], [0, 1 / scale, y], [0, 0, 1]], dtype=np.float64)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    crop = cv2.warpPerspective(image, to_image @ crop_to_mm, size,
                               flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", crop)
    if not ok:
        raise ReviewError("page #{page}: cannot encode the crop", page=row.id)
    return png.tobytes()


# -- deciding ---------------------------------------------------------------------------------

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


def decide(store: Store, meeting_id: int, item_id: str, kind: str, *, who: str, why: str = "",
           text: str = "") -> Decision:
    """Record one decision (see the module docstring) with its before/after state and its audit
    entry; ReviewError when it does not fit the item."""
    target = parse_item_id(item_id)
    try:  # the edge for the CLI too: no NUL, NFC; a write-in without invisible characters
        who, why, text = clean_name(who), clean_text(why).strip(), clean_name(text)
    except TextError as exc:
        raise ReviewError("the decision's text {problem}", problem=str(exc)) from None
    if kind not in DECISION_KINDS or kind in MANUAL_DECISIONS:
        usable = [k for k in DECISION_KINDS if k not in MANUAL_DECISIONS]
        if kind in MANUAL_DECISIONS:
            raise ReviewError("unknown decision {kind!r}; use one of {kinds} (a manual entry "
                              "is made with `scantally review enter`)",
                              kind=kind, kinds=", ".join(usable))
        raise ReviewError("unknown decision {kind!r}; use one of {kinds}",
                          kind=kind, kinds=", ".join(usable))
    if not who:
        raise ReviewError("say who decides (--who NAME): every decision is signed")
    if kind in NEEDS_REASON and not why:
        raise ReviewError("a '{kind}' decision needs a reason (--why \"…\")", kind=kind)

    def work(s: Session) -> Decision:
        row = s.get(Page, target.page_id)
        if row is None or row.meeting_id != meeting_id:
            raise ReviewError("no page #{page} in this meeting; see `scantally review "
                              "--meeting M` for the items", page=target.page_id)
        if row.state == "duplicate":
            raise ReviewError("page #{page} is a duplicate of page #{first} and never "
                              "counts; decide on page #{first} instead",
                              page=row.id, first=row.duplicate_of)
        before: ItemState
        after: ItemState
        if target.field is None:
            before, after = _decide_sheet(s, row, kind, why)
        else:
            before, after = _decide_mark(s, row, target, kind, text)
            if not why and kind != "writein" and before.marked != after.marked:
                raise ReviewError("a '{kind}' decision changes whether {field}:{option} "
                                  "counts, so it needs a reason (原因（必填）, --why \"…\")",
                                  kind=kind, field=target.field, option=target.option)
        d = Decision(meeting_id=meeting_id, page_id=row.id, field=target.field,
                     option=target.option, kind=kind, text=text if kind == "writein" else "",
                     before=before.to_json(), after=after.to_json(), who=who, why=why)
        s.add(d)
        s.flush()
        audit.record(s, "decision", d, who, "review.decide")
        return d

    return store.write(work)


def _ballot_pages(s: Session, row: Page) -> list[Page]:
    if row.state != "counted":
        return [row]
    return list(s.scalars(select(Page).where(
        Page.meeting_id == row.meeting_id, Page.state == "counted",
        Page.form_id == row.form_id, Page.serial == row.serial)))


def _decide_sheet(s: Session, row: Page, kind: str,
                  why: str) -> tuple[SheetState, SheetState]:
    if kind in MARK_DECISIONS:
        raise ReviewError("'{kind}' is a decision on one box: give an item id like "
                          "'{page}:<field>:<option>'", kind=kind, page=row.id)
    if row.state in ("uncounted", "refused") and kind != "dismiss":
        entry = manual_entries({row.id: list(s.scalars(
            select(Decision).where(Decision.page_id == row.id)))}).get(row.id)
        if not (kind in ("void", "unvoid") and entry is not None and entry.confirmed):
            why_not = row.reason or row.status
            raise ReviewError("page #{page} could not be counted as read ({why_not}): "
                              "re-feed the sheet, enter its marks by hand, or dismiss the page",
                              page=row.id, why_not=why_not)
    pages = _ballot_pages(s, row)
    decisions = [d for p in pages for d in s.scalars(select(Decision)
                                                      .where(Decision.page_id == p.id))]
    before = sheet_state(decisions)
    probe = Decision(id=_PROBE_ID, page_id=row.id, field=None, option=None, kind=kind, why=why)
    after = sheet_state([*decisions, probe])
    return before, after


def _decide_mark(s: Session, row: Page, target: Target, kind: str,
                 text: str) -> tuple[MarkState, MarkState]:
    if kind in SHEET_DECISIONS:
        raise ReviewError("'{kind}' is a decision on a whole sheet: give the item id "
                          "'{page}' (or '{page}:sheet')", kind=kind, page=row.id)
    if row.state != "counted":
        raise ReviewError("page #{page} does not count ({reason}); its marks cannot be "
                          "decided — re-feed the sheet", page=row.id,
                          reason=row.reason or row.status)
    f, o = target.field or "", target.option or ""
    layout = meeting_layouts(s, row.meeting_id).get(row.form_id or "")
    field_doc = next((x for x in layout.fields if x.id == f), None) if layout else None
    if field_doc is None or field_doc.page != row.page_no or o not in field_doc.options:
        raise ReviewError("form {form} page {page_no} has no box {field}:{option}",
                          form=row.form_id, page_no=row.page_no, field=f, option=o)
    if kind == "writein":
        if not is_writein(o):
            raise ReviewError("{option!r} is not a write-in line; use --mark or --empty", option=o)
        if not text or len(text) > MAX_WRITEIN_CHARS:
            raise ReviewError("type the write-in name as written on the line (1-{most} "
                              "characters), or decide --empty", most=MAX_WRITEIN_CHARS)
    decisions = list(s.scalars(select(Decision).where(Decision.page_id == row.id)))
    page = StoredPage.of(row)
    before = _mark_state(page_view(page, decisions), f, o)
    probe = Decision(id=_PROBE_ID, page_id=row.id, field=f, option=o, kind=kind, text=text)
    after = _mark_state(page_view(page, [*decisions, probe]), f, o)
    return before, after


def history(session: Session, meeting_id: int, page_id: int | None = None) -> list[Decision]:
    """The decisions of a meeting (or of one page), oldest first."""
    q = select(Decision).where(Decision.meeting_id == meeting_id)
    if page_id is not None:
        q = q.where(Decision.page_id == page_id)
    return list(session.scalars(q.order_by(Decision.id)))


def writein_names(session: Session, meeting_id: int) -> list[str]:
    """The write-in names already typed in a meeting, most used first (for the review page's
    suggestions): one name typed the same way twice is one vote for one person."""
    counts: dict[str, int] = {}
    q = select(Decision.text).where(Decision.meeting_id == meeting_id,
                                    Decision.kind == "writein", Decision.text != "")
    for text in session.scalars(q):
        counts[text] = counts.get(text, 0) + 1
    return sorted(counts, key=lambda t: (-counts[t], t))
