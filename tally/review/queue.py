"""The review queue (`review_queue`): every item of a meeting, from its stored ballots and the
pages that did not count, the least certain boxes first (see `tally.review`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.spec import FormSpec
from omr.layout import FormLayout
from omr.reading import Reading
from tally.ballots import (
    PageView,
    SheetState,
    StoredBallot,
    decisions_by_page,
    is_writein,
    manual_entries,
    sheet_state,
    stored_ballots,
)
from tally.db import Decision, Page
from tally.formstore import meeting_layouts, meeting_specs
from tally.readings import full_readings
from tally.review.crops import mark_crops
from tally.review.items import (
    SHEET_DECISIONS,
    Crop,
    ItemKind,
    ItemState,
    MarkState,
    ReviewItem,
    UncountedState,
)
from tally.review.labels import mark_label


@dataclass
class _Context:
    specs: dict[str, FormSpec]
    layouts: dict[str, FormLayout]
    decisions: dict[int, list[Decision]] = field(default_factory=dict)
    #: counted pages with a box item: their scores and certainties are read afterwards
    scored: set[int] = field(default_factory=set)


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


def _mark_item(ctx: _Context, v: PageView, f: str, o: str, reason: str) -> ReviewItem:
    row = v.row
    writein = is_writein(o)
    state = MarkState.of(v, f, o)
    resolved = (f, o) in v.decided and not state.doubtful and (
        not writein or not state.marked or state.name is not None)
    if row.state == "counted":  # a hand entry's page has no scores
        ctx.scored.add(row.id)
    layout, spec = ctx.layouts.get(row.form_id or ""), ctx.specs.get(row.form_id or "")
    return ReviewItem(
        id=f"{row.id}:{f}:{o}", kind="writein" if writein else "mark", page_id=row.id,
        source=row.source, form_id=row.form_id, page_no=row.page_no, serial=row.serial,
        field=f, option=o, label=mark_label(layout, spec, f, o), reason=reason,
        choices=("writein", "empty", "cancel") if writein else ("marked", "empty", "cancel"),
        state=state, crops=mark_crops(layout, row, f, o), resolved=resolved)


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
