"""The audit appendix's items, read from the store: every sheet of a form that was void, had a
void block, is doubtful, or was decided at review, with image crops, reasons in names and the
reviewers' decisions (who, when, why).

`appendix_items(store, meeting_id, form) -> list[AppendixItem]`. The crops show the rows of the
fields in question (the whole page, small, for a sheet voided as a whole); they are read from
the stored images, which are verified against their SHA-256 first. An image that is missing
or altered gives the item without that crop and says so in its reason, so the report is still
made and the gap is visible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.layout import FieldInfo
from forms.people import display_names
from forms.spec import FormSpec
from omr.layout import FormLayout
from tally.ballots import is_writein
from tally.db import Decision, Page
from tally.formstore import meeting_layouts
from tally.images import ImageError
from tally.report.meta import AppendixItem, DecisionNote
from tally.review.crops import render_crop
from tally.review.decisions import history
from tally.review.errors import ReviewError
from tally.rules.compute import layout_fields
from tally.rules.result import SheetNote, TallyResult
from tally.store import Store

#: a crop's margin above and below a field's boxes, and the resolutions crops are drawn at
ROW_MARGIN_MM = 2.5
ROW_PX_PER_MM = 6.0
PAGE_PX_PER_MM = 1.6
#: crops per sheet at most (a sheet with a doubtful mark on every row shows the first few)
MAX_CROPS = 4

DECISION_WORDS = {
    "marked": "判为已标记（计票）", "empty": "判为空白（不计票）", "writein": "录入另推姓名",
    "cancel": "判为涂改作废（不计票）", "void": "整张作废", "unvoid": "撤销作废",
    "accept": "接受计票", "dismiss": "不予计票",
}
CATEGORY_FIELD = "category"


@dataclass(frozen=True)
class FormContext:
    """What naming a form's fields and options needs."""

    spec: FormSpec
    fields: dict[str, FieldInfo]
    shown: dict[str, str]

    @classmethod
    def of(cls, spec: FormSpec) -> FormContext:
        return cls(spec, {f.id: f for f in layout_fields(spec)}, display_names(spec))

    def field_label(self, field: str) -> str:
        info = self.fields.get(field)
        return info.label if info else ("参加人员类别" if field == CATEGORY_FIELD else field)

    def option_label(self, field: str, option: str) -> str:
        """A candidate by the name it is shown under, a level by its label, 另推K."""
        if is_writein(option):
            return f"另推{option.removeprefix('writein')}"
        spec = self.spec
        if field.startswith("pos.") and spec.recommendation:
            for p in spec.recommendation.positions:
                if f"pos.{p.id}" == field:
                    return next((self.shown.get(c.id, c.name) for c in p.candidates
                                 if c.id == option), option)
        levels: list[tuple[str, str]] = []
        if field == CATEGORY_FIELD and spec.categories:
            levels = [(c.id, c.label) for c in spec.categories.options]
        elif field.startswith("team.") and spec.evaluation and spec.evaluation.team:
            levels = [(lv.id, lv.label) for lv in spec.evaluation.team.levels]
        elif field.startswith("leader.") and spec.evaluation and spec.evaluation.individual:
            levels = [(lv.id, lv.label) for lv in spec.evaluation.individual.all_levels]
        elif field.startswith("q.") and spec.satisfaction:
            levels = [(lv.id, lv.label) for lv in spec.satisfaction.levels]
        elif field.startswith("item.") and spec.satisfaction:
            levels = [(lv.id, lv.label) for lv in spec.satisfaction.item_levels]
        return dict(levels).get(option, option)

    def what(self, field: str | None, option: str | None) -> str:
        if field is None:
            return ""
        label = self.field_label(field)
        return f"{label} · {self.option_label(field, option)}" if option else label


def appendix_items(store: Store, meeting_id: int, form_id: str, spec: FormSpec,
                   result: TallyResult) -> list[AppendixItem]:
    """The appendix items of one form of the meeting, by serial (see the module docstring)."""
    ctx = FormContext.of(spec)
    notes: defaultdict[str, list[SheetNote]] = defaultdict(list)
    for n in result.sheets:
        notes[n.serial].append(n)
    with store.session(readonly=True) as s:
        pages = _pages(s, meeting_id, form_id)
        by_page: defaultdict[int, list[Decision]] = defaultdict(list)
        for d in history(s, meeting_id):
            by_page[d.page_id].append(d)
        layout = meeting_layouts(s, meeting_id).get(form_id)
        serials = sorted(set(notes) | {p.serial for p in pages
                                       if p.serial and by_page.get(p.id)})
        out: list[AppendixItem] = []
        for serial in serials:
            sheet_pages = [p for p in pages if p.serial == serial]
            decisions = [d for p in sheet_pages for d in by_page.get(p.id, [])]
            out.append(_item(store, s, ctx, layout, serial, notes.get(serial, []), sheet_pages,
                             sorted(decisions, key=lambda d: d.id)))
    return out


def _pages(s: Session, meeting_id: int, form_id: str) -> list[Page]:
    q = (select(Page).where(Page.meeting_id == meeting_id, Page.form_id == form_id,
                            Page.duplicate_of.is_(None))
         .order_by(Page.serial, Page.page_no, Page.id))
    return list(s.scalars(q))


def _item(store: Store, s: Session, ctx: FormContext, layout: FormLayout | None, serial: str,
          notes: list[SheetNote], pages: list[Page], decisions: list[Decision]) -> AppendixItem:
    if any(n.kind == "void" for n in notes):
        kind = "void"
    elif any(n.kind == "review" for n in notes):
        kind = "doubtful"
    elif any(n.kind == "void_block" for n in notes):
        kind = "void_block"
    else:
        kind = "corrected"
    reasons = [n.reason for n in notes] or ["复核更正后计票"]
    fields = list(dict.fromkeys([*(n.field for n in notes if n.field),
                                 *(d.field for d in decisions if d.field)]))
    crops: list[bytes] = []
    labels: list[str] = []
    missing: list[str] = []
    wanted = _crop_rects(ctx, layout, pages, fields, whole=kind == "void" and not fields)
    for page, rect, label in wanted[:MAX_CROPS]:
        try:
            crops.append(render_crop(store, s, page.id, rect,
                                     px_per_mm=PAGE_PX_PER_MM if rect is None else ROW_PX_PER_MM))
            labels.append(label)
        except (ImageError, ReviewError) as exc:
            missing.append(f"第 {page.page_no or '?'} 页图像无法读取（{exc}）")
    if len(wanted) > MAX_CROPS:
        labels.append(f"（另有 {len(wanted) - MAX_CROPS} 处未附图）")
    notes_text = "；".join(dict.fromkeys([*reasons, *missing]))
    return AppendixItem(serial=serial, kind=kind, reason=notes_text, crops=crops,
                        crop_labels=labels, decisions=[_decision(ctx, d) for d in decisions])


def _decision(ctx: FormContext, d: Decision) -> DecisionNote:
    words = DECISION_WORDS.get(d.kind, d.kind)
    if d.kind == "writein" and d.text:
        words = f"录入另推姓名“{d.text}”"
    return DecisionNote(what=ctx.what(d.field, d.option), decision=words, who=d.who, at=d.at,
                        why=d.why or "")


def _crop_rects(ctx: FormContext, layout: FormLayout | None, pages: list[Page],
                fields: Iterable[str], *, whole: bool
                ) -> list[tuple[Page, tuple[float, float, float, float] | None, str]]:
    """(page, rect in mm or None for the whole page, label) of each crop to show."""
    if layout is None or not pages:
        return []
    if whole:
        return [(p, None, f"第 {p.page_no or '?'} 页（整页）") for p in pages]
    page_w = float(layout.doc.page_size_mm[0])
    out: list[tuple[Page, tuple[float, float, float, float] | None, str]] = []
    for field in fields:
        # a leader's sub-row (leader.P1.de): the whole block of that leader, so that the crop
        # shows the name beside the marks
        block = field.rsplit(".", 1)[0] + "." if field.count(".") == 2 else None
        for lp in layout.pages.values():
            boxes = [b.rect_mm for b in lp.boxes
                     if b.field == field or (block and b.field.startswith(block))]
            boxes += [r.rect_mm for r in lp.regions if r.id.startswith(f"{field}.")]
            row = next((p for p in pages if p.page_no == lp.number), None)
            if not boxes or row is None:
                continue
            top = min(b[1] for b in boxes) - ROW_MARGIN_MM
            bottom = max(b[1] + b[3] for b in boxes) + ROW_MARGIN_MM
            out.append((row, (0.0, top, page_w, bottom - top),
                        f"第 {lp.number} 页 · {ctx.field_label(field)}"))
    return out
