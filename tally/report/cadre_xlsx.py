"""The xlsx of a list of cadres (综合分析): a summary line per cadre (each stage's key rate per
year), every meeting of each, and the voter-category breakdown. Text people typed (names,
posts, labels, reasons) goes through `tally.report.xlsx`'s cell maker: a string cell, never a
formula (`tally.report.safe`)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from tally.cadre.model import Appearance, CadreView
from tally.cadre.stages import FIGURE_LABELS, RATE_KEYS, STAGE_DEFS, STAGES
from tally.report.cadre_pdf import yearly
from tally.report.xlsx import _cell as cell

#: the figure columns of the detail sheets, in order
FIGURE_COLUMNS = ("votes", "rate", "rank", "excellent", "competent_or_better", "basic",
                  "incompetent", "unknown", "agree", "disagree", "satisfied", "dissatisfied",
                  "score", "category_weighted_score", "denominator")


def render_cadres_xlsx(views: list[CadreView]) -> bytes:
    wb = Workbook(write_only=True)
    _notes(wb.create_sheet("说明"), views)
    _summary(wb.create_sheet("干部汇总"), views)
    _detail(wb.create_sheet("历次会议"), views)
    _categories(wb.create_sheet("分类别"), views)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _notes(ws: WriteOnlyWorksheet, views: list[CadreView]) -> None:
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 90
    rows = [("内容", "干部综合分析：各干部在历次民主推荐、谈话推荐、民主测评、民意调查、"
                    "满意度评议中的数据"),
            ("干部人数", str(len(views))),
            ("关键指标", "；".join(f"{s}：{FIGURE_LABELS[STAGE_DEFS[s].key]}" for s in STAGES)),
            ("数据来源", "各次会议的计票结果（与会议报告同一计算，附结果校验码）；手工录入项注明"
                      "录入人、时间与理由"),
            ("未设人员编号", "表单中未设人员编号（person_id）的人员只在本次会议内对应，"
                          "不与其他会议合并")]
    for k, v in rows:
        ws.append([cell(ws, k, head=True), cell(ws, v)])


def _summary(ws: WriteOnlyWorksheet, views: list[CadreView]) -> None:
    years = sorted({y for v in views for y in v.years})
    cols = [(s, y) for s in STAGES for y in years
            if any(s in yearly(v) and y in yearly(v)[s] for v in views)]
    head = ["人员编号", "姓名", "职务", "仅本会议对应", "会议数",
            *[f"{y}年{s}{FIGURE_LABELS[STAGE_DEFS[s].key]}" for s, y in cols]]
    ws.freeze_panes = "C2"
    ws.append([cell(ws, h, head=True) for h in head])
    for v in views:
        per = yearly(v)
        row = [cell(ws, v.person_id or v.key), cell(ws, v.name), cell(ws, v.post),
               cell(ws, "是" if v.local_only else ""),
               cell(ws, len({a.meeting_id for a in v.appearances if a.meeting_id}))]
        row += [cell(ws, per.get(s, {}).get(y), percent=True) for s, y in cols]
        ws.append(row)


def _figure_cells(ws: WriteOnlyWorksheet, figures: dict[str, float | None]) -> list[object]:
    return [cell(ws, figures.get(k), percent=k in RATE_KEYS) for k in FIGURE_COLUMNS]


def _who(v: CadreView, a: Appearance) -> list[str]:
    return [v.person_id or v.key, a.name, a.post, str(a.year), a.stage, a.meeting_label, a.date,
            a.subject]


def _detail(ws: WriteOnlyWorksheet, views: list[CadreView]) -> None:
    head = ["人员编号", "姓名", "职务（当次）", "年度", "环节", "会议", "日期", "对象 / 职位",
            *[FIGURE_LABELS[k] for k in FIGURE_COLUMNS], "来源", "结果校验码 / 录入人", "理由"]
    ws.freeze_panes = "C2"
    ws.append([cell(ws, h, head=True) for h in head])
    for v in views:
        for a in v.appearances:
            source = "手工录入" if a.source == "hand" else ("计票结果（临时）" if a.provisional
                                                       else "计票结果")
            proof = f"{a.entered_by} {a.entered_at}" if a.source == "hand" else a.result_sha256
            ws.append([*[cell(ws, x) for x in _who(v, a)], *_figure_cells(ws, a.figures),
                       cell(ws, source), cell(ws, proof), cell(ws, a.why)])


def _categories(ws: WriteOnlyWorksheet, views: list[CadreView]) -> None:
    head = ["人员编号", "姓名", "职务（当次）", "年度", "环节", "会议", "日期", "对象 / 职位",
            "类别", *[FIGURE_LABELS[k] for k in FIGURE_COLUMNS]]
    ws.freeze_panes = "C2"
    ws.append([cell(ws, h, head=True) for h in head])
    for v in views:
        for a in v.appearances:
            for c in a.categories:
                ws.append([*[cell(ws, x) for x in _who(v, a)], cell(ws, c.label),
                           *_figure_cells(ws, c.figures)])
