"""Layout compiler: a `FormSpec` -> page plans (every box placed, in millimetres).

Page 1 carries the title, header, instructions and the voter-category block; sections follow
and break onto more pages between rows (a table's header repeats on the next page). Every page
carries four fiducials, a QR code (form, layout hash, page, serial) and "第 k 页 共 n 页".
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from forms import geometry as g
from forms.fonts import text_width_mm
from forms.people import display_names
from forms.plan import Flow, LayoutError, PagePlan, Text, check_text, fit_lines
from forms.spec import (
    Categories,
    FormSpec,
    IndividualPart,
    Level,
    Person,
    Position,
    Satisfaction,
    TeamPart,
)
from forms.table import Cell, Col, Table

MAX_PAGES = 8
CN_NUMERALS = "一二三四五六七八九十"
#: whitespace next to a CJK character or full-width punctuation: a folded YAML line break
#: (`instructions: >-`) that would print as a gap in Chinese text
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u2018\u2019\u201c\u201d"
_FOLDED_SPACE = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


@dataclass(frozen=True)
class FieldInfo:
    id: str
    label: str
    page: int
    min: int
    max: int
    options: list[str]
    group: str
    person: str | None = None


@dataclass
class CompiledLayout:
    spec: FormSpec
    pages: list[PagePlan]
    fields: list[FieldInfo]


#: heights a leader's sub-row (德/能/勤/绩/廉) may take, roomiest first: the roomiest that needs
#: no more pages than the tightest is used, so 12 leaders do not spill one onto a third page
SUB_ROW_HEIGHTS_MM = (7.0, 6.5, 6.0)


def compile_layout(spec: FormSpec) -> CompiledLayout:
    """Place every element of `spec`; LayoutError when it cannot be done."""
    ev = spec.evaluation
    if spec.timing_track or ev is None or ev.individual is None or not ev.individual.rows:
        return _compile(spec, SUB_ROW_HEIGHTS_MM[0])
    tightest: CompiledLayout | None = None
    with contextlib.suppress(LayoutError):
        tightest = _compile(spec, SUB_ROW_HEIGHTS_MM[-1])
    for height in SUB_ROW_HEIGHTS_MM[:-1]:
        try:
            laid = _compile(spec, height)
        except LayoutError:
            continue
        if tightest is None or len(laid.pages) <= len(tightest.pages):
            return laid
    return tightest or _compile(spec, SUB_ROW_HEIGHTS_MM[-1])


def _compile(spec: FormSpec, sub_row_mm: float) -> CompiledLayout:
    flow = Flow(spec.paper, spec.timing_track, spec.title, MAX_PAGES)
    fields: list[FieldInfo] = []
    shown = display_names(spec)
    _first_page_header(flow, spec)
    if spec.categories and spec.categories.mode == "sheet":
        _category_block(flow, spec, fields)
    section = 0
    if spec.recommendation:
        for pos in spec.recommendation.positions:
            _position(flow, pos, CN_NUMERALS[section % 10], fields)
            section += 1
    if spec.evaluation:
        if spec.evaluation.team:
            _team(flow, spec.evaluation.team, CN_NUMERALS[section % 10], fields)
            section += 1
        if spec.evaluation.individual:
            _individual(flow, spec.evaluation.individual, CN_NUMERALS[section % 10], fields,
                        shown, sub_row_mm)
            section += 1
    if spec.satisfaction:
        _satisfaction(flow, spec.satisfaction, fields, shown)
    _footers(flow, spec)
    return CompiledLayout(spec, flow.pages, fields)


def _first_page_header(flow: Flow, spec: FormSpec) -> None:
    left = flow.left_mm
    code_left = g.code_rect_mm(flow.width_mm)[0] - 3.0
    title_w = code_left - left
    centre = (left + code_left) / 2
    lines, size = fit_lines(spec.title, title_w, 22, 14, 1, "title")
    flow.text(centre, 21.0, lines[0], size, "middle", bold=True)
    lines, size = fit_lines(spec.header.meeting, title_w, 11, 8, 1, "header.meeting")
    flow.text(centre, 28.5, lines[0], size, "middle")
    day = spec.header.date
    check_text(spec.header.unit, "header.unit")
    flow.text(left, 36.0, f"单位：{spec.header.unit}", 10.5)
    flow.text(flow.right_mm, 36.0, f"日期：{day.year}年{day.month}月{day.day}日", 10.5, "end")
    flow.page.items.append(_rule(left, 38.0, flow.right_mm))
    instructions = _FOLDED_SPACE.sub("", spec.instructions.strip())
    lines, size = fit_lines("填写说明：" + instructions, flow.content_w_mm, 9.5, 8.5, 4,
                            "instructions")
    y_mm = 43.0
    for i, line in enumerate(lines):
        flow.text(left, y_mm, line, size, bold=(i == 0 and len(line) <= 5))
        y_mm += size * 0.3528 * 1.35
    flow.y_mm = y_mm - 1.0


def _rule(x1: float, y: float, x2: float):
    from forms.plan import Line

    return Line(x1, y, x2, y, 0.35)


def _caption(flow: Flow, text: str, where: str) -> None:
    """A section caption, kept with at least the next two rows."""
    flow.ensure(8.0 + 9.0 + 2 * 7.5)
    check_text(text, where)
    flow.text(flow.left_mm, flow.y_mm + 6.0, text, 11.5, bold=True)
    flow.y_mm += 8.0


def _category_block(flow: Flow, spec: FormSpec, fields: list[FieldInfo]) -> None:
    cats = spec.categories
    assert cats is not None
    flow.y_mm += 2.0
    cols = [Col(cats.title, None)] + [Col(c.label, w, mark=True)
                                      for c, w in zip(cats.options, _category_widths(flow, cats),
                                                      strict=True)]
    table = Table(flow, cols, "categories")
    table.header(8.0, 9.5)
    cells = [Cell("请在本人所属类别下划“√”（限选一项）", size_pt=9.5, align="start")]
    cells += [Cell(mark=("category", c.id)) for c in cats.options]
    table.row(cells, 7.5)
    fields.append(FieldInfo("category", cats.title, flow.page.page, 0, 1,
                            [c.id for c in cats.options], "category"))
    flow.y_mm += 3.0


#: a category column: at least this wide, wider (up to the most) to hold its label on one line
CATEGORY_COL_MM = (20.0, 34.0)
#: what the first column of the category block keeps for its instruction
CATEGORY_NOTE_MM = 62.0


def _category_widths(flow: Flow, cats: Categories) -> list[float]:
    """Each category column as wide as its header needs on one line (9.5 pt, else down to
    8 pt), within `CATEGORY_COL_MM`, while the columns leave `CATEGORY_NOTE_MM` to the note; a
    label still too long wraps into balanced lines (`fit_lines`)."""
    lo, hi = CATEGORY_COL_MM
    room = flow.content_w_mm - CATEGORY_NOTE_MM
    for size in (9.5, 9.0, 8.5, 8.0):
        want = [min(hi, max(lo, text_width_mm(c.label, size) + 3.0)) for c in cats.options]
        if sum(want) <= room:
            return want
    return [max(lo, min(hi, room / len(cats.options)))] * len(cats.options)


def _position(flow: Flow, pos: Position, numeral: str, fields: list[FieldInfo]) -> None:
    field_id = f"pos.{pos.id}"
    where = f"recommendation.positions.{pos.id}"
    rows = len(pos.candidates) + pos.writeins
    row_mm = g.GRID_ROW_PITCH_MM if flow.timing else 6.5
    cols = [Col("序号", 11.0), Col("姓  名", 26.0), Col("简要情况", None, align="start"),
            Col("推荐", 18.0, mark=True)]
    table = Table(flow, cols, where)
    # the whole block (caption, header, rows) must share a page: measure it as it will be
    # drawn, with the timing grid's whole pitches and the snap to the next grid line
    snap_mm = g.GRID_ROW_PITCH_MM if flow.timing else 0.0
    need_mm = (8.0 + snap_mm + table.row_height(8.0, False)
               + rows * table.row_height(row_mm, True) + 2.0)
    if need_mm > flow.bottom_mm - 45.0:
        raise LayoutError(
            f"{where}: {rows} rows do not fit on one page (a position's boxes must share a "
            "page); split the position or use paper: A3"
        )
    flow.ensure(need_mm)
    caption = (f"{numeral}、{pos.title}" if pos.title_states_quota else
               f"{numeral}、{pos.title}（应推荐{pos.quota}人，限推{pos.quota}人，多推无效）")
    _caption(flow, caption, where)
    table.header(8.0)
    pages = {flow.page.page}
    for i, c in enumerate(pos.candidates, 1):
        table.row([Cell(str(i)), Cell(c.name, size_pt=10.5, bold=True),
                   Cell(_profile(c), size_pt=8.5, min_pt=7, align="start"),
                   Cell(mark=(field_id, c.id))], row_mm)
        pages.add(flow.page.page)
    for k in range(1, pos.writeins + 1):
        option = f"writein{k}"
        table.row([Cell("另推"), Cell("", span=2, writein=(f"{field_id}.{option}", field_id,
                                                           option)),
                   Cell(mark=(field_id, option))], row_mm)
        pages.add(flow.page.page)
    _one_page(pages, f"position '{pos.id}'")
    options = [c.id for c in pos.candidates] + [f"writein{k}" for k in range(1, pos.writeins + 1)]
    fields.append(FieldInfo(field_id, pos.title, min(pages), 0, pos.quota, options,
                            "recommendation"))
    flow.y_mm += 4.0


def _profile(c: Person) -> str:
    """The 简要情况 cell of a candidate: the profile, led by the 职务 when it does not say it."""
    if c.post and c.post not in c.profile:
        return f"{c.post}；{c.profile}" if c.profile else c.post
    return c.profile


def _caption_cont(flow: Flow, title: str) -> None:
    flow.text(flow.left_mm, flow.y_mm + 6.0, f"{title}（续）", 11.5, bold=True)
    flow.y_mm += 8.0


def _one_page(pages: set[int], what: str) -> None:
    # A field's boxes may sit on one page only: the reading of a page must be complete.
    if len(pages) > 1:
        raise AssertionError(f"{what} spans pages {sorted(pages)}")


def _level_cols(levels: list[Level]) -> list[Col]:
    width = 17.0 if len(levels) <= 5 else 15.0
    return [Col(lv.label, width, mark=True) for lv in levels]


def _team(flow: Flow, team: TeamPart, numeral: str, fields: list[FieldInfo]) -> None:
    _caption(flow, f"{numeral}、{team.title}（每项限选一个等次）", "evaluation.team")
    cols = [Col("序号", 11.0), Col("测评内容", None, align="start"), *_level_cols(team.levels)]
    table = Table(flow, cols, "evaluation.team")
    table.header()
    flow.on_new_page = [lambda f: (_caption_cont(f, team.title), table.header())]
    for i, dim in enumerate(team.dimensions, 1):
        fid = f"team.{dim.id}"
        table.row([Cell(str(i)), Cell(dim.label, align="start")]
                  + [Cell(mark=(fid, lv.id)) for lv in team.levels])
        fields.append(FieldInfo(fid, f"领导班子·{dim.label}", flow.page.page, 0, 1,
                                [lv.id for lv in team.levels], "team"))
    flow.on_new_page = []
    flow.y_mm += 4.0


def _individual(flow: Flow, part: IndividualPart, numeral: str, fields: list[FieldInfo],
                shown: dict[str, str], sub_row_mm: float) -> None:
    _caption(flow, f"{numeral}、{part.title}（每行限选一个等次）", "evaluation.individual")
    levels = part.all_levels
    sub_rows = part.rows
    if sub_rows:
        cols = [Col("序号", 10.0), Col("姓名", 22.0), Col("职务", None, align="start"),
                Col("项目", 11.0), *_level_cols(levels)]
    else:
        cols = [Col("序号", 11.0), Col("姓名", 24.0), Col("现任职务", None, align="start"),
                *_level_cols(levels)]
    table = Table(flow, cols, "evaluation.individual")
    table.header()
    flow.on_new_page = [lambda f: (_caption_cont(f, part.title), table.header())]
    option_ids = [lv.id for lv in levels]
    for i, leader in enumerate(part.leaders, 1):
        if not sub_rows:
            fid = f"leader.{leader.id}"
            table.row([Cell(str(i)), Cell(leader.name, size_pt=10.5, bold=True),
                       Cell(leader.post, size_pt=9, align="start")]
                      + [Cell(mark=(fid, o)) for o in option_ids])
            fields.append(FieldInfo(fid, shown[leader.id], flow.page.page, 0, 1, option_ids,
                                    "individual", leader.id))
            continue
        row_h = g.GRID_ROW_PITCH_MM if flow.timing else sub_row_mm
        flow.snap_y()
        flow.ensure(row_h * len(sub_rows) + 0.5)
        top = flow.y_mm
        for k, sub in enumerate(sub_rows):
            last = k == len(sub_rows) - 1
            fid = f"leader.{leader.id}.{sub.id}"
            table.row([Cell(""), Cell(""), Cell(""), Cell(sub.label)]
                      + [Cell(mark=(fid, o)) for o in option_ids],
                      row_h, bottom_from_col=0 if last else 3)
            fields.append(FieldInfo(fid, f"{shown[leader.id]}·{sub.label}", flow.page.page, 0, 1,
                                    option_ids, "individual", leader.id))
        _merged_person(flow, table, top, flow.y_mm, str(i), leader.name, leader.post)
    flow.on_new_page = []
    flow.y_mm += 4.0


def _merged_person(flow: Flow, table: Table, top: float, bottom: float, no: str, name: str,
                   post: str) -> None:
    """Texts of the vertically merged 序号/姓名/职务 cells of a leader with sub-rows."""
    mid = flow.baseline(top, bottom - top, 10.5)
    (x0, w0), (x1, w1), (x2, w2) = table.xs[:3]
    flow.text(x0 + w0 / 2, mid, no, 10, "middle")
    lines, size = fit_lines(name, w1 - 2, 10.5, 7.5, 2, "evaluation.individual.leaders")
    for k, line in enumerate(lines):
        flow.text(x1 + w1 / 2, mid + (k - (len(lines) - 1) / 2) * 4.5, line, size, "middle",
                  bold=True)
    if post:
        lines, size = fit_lines(post, w2 - 3, 9, 7, 4, "evaluation.individual.leaders")
        for k, line in enumerate(lines):
            flow.text(x2 + 1.5, mid + (k - (len(lines) - 1) / 2) * 4.0, line, size)


def _satisfaction(flow: Flow, sat: Satisfaction, fields: list[FieldInfo],
                  shown: dict[str, str]) -> None:
    _caption(flow, "一、总体评价（每项限选一个等次）", "satisfaction.overall")
    cols = [Col("序号", 11.0), Col("评议内容", None, align="start"), *_level_cols(sat.levels)]
    table = Table(flow, cols, "satisfaction.overall")
    table.header()
    for i, q in enumerate(sat.overall, 1):
        fid = f"q.{q.id}"
        table.row([Cell(str(i)), Cell(q.label, size_pt=9.5, align="start", max_lines=3)]
                  + [Cell(mark=(fid, lv.id)) for lv in sat.levels], 10.0)
        fields.append(FieldInfo(fid, q.label, flow.page.page, 0, 1, [lv.id for lv in sat.levels],
                                "overall"))
    flow.y_mm += 4.0
    numeral = 1
    if sat.items:
        numeral += 1
        _caption(flow, f"{CN_NUMERALS[numeral - 1]}、{sat.items_title}（每人限选一个等次）",
                 "satisfaction.items")
        cols = [Col("序号", 11.0), Col("姓名", 24.0), Col("现任职务", None, align="start"),
                *_level_cols(sat.item_levels)]
        table = Table(flow, cols, "satisfaction.items")
        table.header()
        flow.on_new_page = [lambda f: (_caption_cont(f, sat.items_title), table.header())]
        ids = [lv.id for lv in sat.item_levels]
        for i, p in enumerate(sat.items, 1):
            fid = f"item.{p.id}"
            table.row([Cell(str(i)), Cell(p.name, size_pt=10.5, bold=True),
                       Cell(p.post, size_pt=9, align="start")] + [Cell(mark=(fid, o)) for o in ids])
            fields.append(FieldInfo(fid, shown[p.id], flow.page.page, 0, 1, ids, "items", p.id))
        flow.on_new_page = []
        flow.y_mm += 4.0
    if sat.comment:
        numeral += 1
        h = sat.comment.height_mm
        flow.ensure(8.0 + h)
        _caption(flow, f"{CN_NUMERALS[numeral - 1]}、{sat.comment.label}", "satisfaction.comment")
        from forms.plan import Rect, Region

        top = flow.y_mm
        flow.page.items.append(Rect(flow.left_mm, top, flow.content_w_mm, h, stroke_mm=0.5))
        flow.page.regions.append(Region("comment", "comment",
                                        (flow.left_mm + 1, top + 1, flow.content_w_mm - 2, h - 2)))
        flow.y_mm = top + h + 4.0


def _footers(flow: Flow, spec: FormSpec) -> None:
    n = len(flow.pages)
    for plan in flow.pages:
        y = plan.height_mm - g.FIDUCIAL_INSET_MM - 1.0
        plan.items.append(Text(plan.width_mm / 2, y, f"第 {plan.page} 页  共 {n} 页", 9, "middle"))
        if n > 1 and plan.page < n:
            plan.items.append(Text(flow.right_mm, y, "（请翻页 / 见下页）", 8, "end"))
    if not any(p.boxes for p in flow.pages):
        raise LayoutError("the form has no mark boxes; add positions, rows or items")
    for plan in flow.pages:
        if not plan.boxes and not plan.regions:
            raise LayoutError(f"page {plan.page} would carry no boxes; check the spec")
