"""Excel export (openpyxl): a notes sheet, the summary sheets and the raw sheet records.

`票面记录` holds one row per returned sheet, ordered by serial (random tokens, so the order says
nothing about who handed in which sheet): its category, status, reason and, per field, the
marked options by name; a void field's cell is shaded red. Pass `anonymous=True` to leave the
serial column out (DOMAIN.md: serials beside choices only for logged-in team members).

Every cell goes through `_cell`: text (names, write-ins, labels, reasons) is always a string
cell, never a formula, and text that a spreadsheet would read as one gets the quote prefix.

A test-mode meeting's workbook (`test_mode=True`) opens on a first sheet named 测试模式 with the
banner line, carries the banner as the first row of every 说明 sheet and as the workbook's
title, so a copy taken out of the hall cannot pass for an official count.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from forms.layout import FieldInfo
from forms.people import display_names
from forms.spec import FormSpec
from forms.text import name_key
from tally.model import Ballot
from tally.report.fmt import KIND_LABELS, settings_lines
from tally.report.safe import starts_like_formula
from tally.report.tables import Cell, SummaryTable, summary_tables
from tally.rules.compute import layout_fields
from tally.rules.result import UNMARKED_LABEL, TallyResult
from tally.rules.validity import judge, vote_fields
from tally.testmode import BANNER, BANNER_LINE

HEAD_FILL = PatternFill("solid", fgColor="DDE4EE")
VOID_FILL = PatternFill("solid", fgColor="F4C7C3")
BOLD = Font(bold=True)
BANNER_FONT = Font(bold=True, color="C00000", size=14)
STATUS = {"valid": "有效", "invalid": "无效", "abstain": "弃权"}


def render_xlsx(result: TallyResult, spec: FormSpec, ballots: list[Ballot], *,
                anonymous: bool = True, test_mode: bool = False) -> bytes:
    """The workbook; `anonymous=False` adds each ballot's serial beside its choices, which
    DOMAIN.md allows only in the audit export that logged-in team members see."""
    wb = _workbook(test_mode)
    _form_sheets(wb, result, spec, ballots, anonymous, "", test_mode)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_meeting_xlsx(forms: Sequence[tuple[TallyResult, FormSpec, list[Ballot]]], *,
                        anonymous: bool = True, test_mode: bool = False) -> bytes:
    """One workbook for several forms: a `表单` sheet listing them, then each form's sheets
    with its number in front ("1-说明", "1-推荐得票", …, "2-说明", …)."""
    wb = _workbook(test_mode)
    ws = wb.create_sheet("表单")
    ws.column_dimensions["B"].width = 30
    head = ["编号", "表单", "表单ID", "类型", "收回", "结果状态", "计票结果 SHA-256"]
    ws.append([_cell(ws, h, head=True) for h in head])
    for k, (result, _, _) in enumerate(forms, 1):
        f = result.form
        ws.append([_cell(ws, v) for v in [k, f.title, f.id, KIND_LABELS[f.kind],
                                          result.reconciliation.returned,
                                          "临时结果" if result.provisional else "已全部复核",
                                          result.sha256]])
    for k, (result, spec, ballots) in enumerate(forms, 1):
        _form_sheets(wb, result, spec, ballots, anonymous, f"{k}-", test_mode)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _workbook(test_mode: bool) -> Workbook:
    wb = Workbook(write_only=True)
    if test_mode:
        wb.properties.title = BANNER_LINE
        ws = wb.create_sheet(BANNER)
        ws.column_dimensions["A"].width = 90
        banner = WriteOnlyCell(ws, BANNER_LINE)
        banner.font = BANNER_FONT
        ws.append([banner])
        ws.append([WriteOnlyCell(ws, "本工作簿来自测试模式的会议（测试票、上机检测），"
                                     "不是正式计票结果。")])
    return wb


def _form_sheets(wb: Workbook, result: TallyResult, spec: FormSpec, ballots: list[Ballot],
                 anonymous: bool, prefix: str, test_mode: bool = False) -> None:
    _notes_sheet(wb.create_sheet(f"{prefix}说明"), result, test_mode)
    for table in summary_tables(result):
        _summary_sheet(wb.create_sheet(f"{prefix}{table.title}"), table)
    _raw_sheet(wb.create_sheet(f"{prefix}票面记录"), result, spec, ballots, anonymous)


def _cell(ws: WriteOnlyWorksheet, value: Cell, *, head: bool = False, percent: bool = False,
          void: bool = False) -> WriteOnlyCell:
    c = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        # openpyxl would take a leading '=' as a formula: text stays text
        c.data_type = "s"
        if starts_like_formula(value):
            c.quotePrefix = True
    if head:
        c.fill, c.font = HEAD_FILL, BOLD
        c.alignment = Alignment(wrap_text=True, vertical="center")
    if percent and isinstance(value, float):
        c.number_format = "0.00%"
    if void:
        c.fill = VOID_FILL
    return c


def _notes_sheet(ws: WriteOnlyWorksheet, result: TallyResult, test_mode: bool = False) -> None:
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 90
    f = result.form
    rows: list[tuple[str, str]] = [
        ("表单", f"{f.title}（{f.id}）"), ("单位", f.unit), ("会议", f.meeting),
        ("日期", f.date.isoformat()), *settings_lines(result),
        ("计票结果 SHA-256", result.sha256),
        ("结果状态", "临时结果（有存疑标记未复核）" if result.provisional else "已全部复核"),
    ]
    if result.reconciliation.vote_void:
        rows.insert(0, ("警报", result.alarms[0].message))
    if test_mode:
        rows.insert(0, (BANNER, BANNER_LINE))
    for k, v in rows:
        ws.append([_cell(ws, k, head=True), _cell(ws, v)])


def _summary_sheet(ws: WriteOnlyWorksheet, table: SummaryTable) -> None:
    ws.freeze_panes = "A2"
    for i in range(len(table.header)):
        letter = _col_letter(i)
        ws.column_dimensions[letter].width = 14
    ws.append([_cell(ws, h, head=True) for h in table.header])
    for row in table.rows:
        ws.append([_cell(ws, v, percent=i in table.percent_cols) for i, v in enumerate(row)])


def _raw_sheet(ws: WriteOnlyWorksheet, result: TallyResult, spec: FormSpec,
               ballots: list[Ballot], anonymous: bool) -> None:
    fields = {f.id: f for f in vote_fields(layout_fields(spec))}
    labels = _option_labels(spec)
    cats = {b.id: b.label for b in result.buckets}
    has_cats = spec.categories is not None
    head = ([] if anonymous else ["序列号"]) + ["类别", "票面状态", "作废原因", "待复核",
                                             "无效栏目"] + [f.label for f in fields.values()]
    ws.freeze_panes = "B2" if not anonymous else "A2"
    ws.append([_cell(ws, h, head=True) for h in head])
    for ballot in sorted(ballots, key=lambda b: b.serial):
        v = judge(ballot, spec.id, fields, has_cats)
        void_fields = [fields[fid].label for fid, blk in v.blocks.items() if blk.status == "void"]
        reason = next((n.reason for n in v.notes if n.kind == "void"), "")
        row: list[WriteOnlyCell] = [] if anonymous else [_cell(ws, ballot.serial)]
        row += [_cell(ws, cats.get(ballot.category or "", ballot.category or UNMARKED_LABEL)
                      if has_cats else ""),
                _cell(ws, STATUS[v.status], void=v.status == "invalid"),
                _cell(ws, reason), _cell(ws, "是" if v.pending_review else ""),
                _cell(ws, "、".join(void_fields))]
        marks = ballot.marks()
        for fid, info in fields.items():
            marked = set(marks.get(fid, ()))
            text = "、".join(_option_text(info, o, labels, ballot) for o in info.options
                            if o in marked)
            blk = v.blocks.get(fid)
            row.append(_cell(ws, text, void=blk is not None and blk.status == "void"))
        ws.append(row)


def _option_text(info: FieldInfo, option: str, labels: dict[str, dict[str, str]],
                 ballot: Ballot) -> str:
    if option.startswith("writein") and info.group == "recommendation":
        name = name_key(ballot.writeins.get(info.id, {}).get(option, ""))
        return f"另推:{name}" if name else "另推:（空）"
    return labels.get(info.id, {}).get(option, option)


def _option_labels(spec: FormSpec) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    shown = display_names(spec)
    if spec.recommendation:
        for p in spec.recommendation.positions:
            out[f"pos.{p.id}"] = {c.id: shown.get(c.id, c.name) for c in p.candidates}
    if spec.evaluation and spec.evaluation.team:
        levels = {lv.id: lv.label for lv in spec.evaluation.team.levels}
        out.update({f"team.{d.id}": levels for d in spec.evaluation.team.dimensions})
    if spec.evaluation and spec.evaluation.individual:
        part = spec.evaluation.individual
        levels = {lv.id: lv.label for lv in part.all_levels}
        for leader in part.leaders:
            out[f"leader.{leader.id}"] = levels
            out.update({f"leader.{leader.id}.{s.id}": levels for s in part.rows})
    if spec.satisfaction:
        levels = {lv.id: lv.label for lv in spec.satisfaction.levels}
        out.update({f"q.{q.id}": levels for q in spec.satisfaction.overall})
        ilevels = {lv.id: lv.label for lv in spec.satisfaction.item_levels}
        out.update({f"item.{p.id}": ilevels for p in spec.satisfaction.items})
    return out


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)
