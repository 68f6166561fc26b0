"""The PDF analysis report (reportlab): cover and audit page, figures, warnings, appendix.

`render_report(result, spec, meeting_info, appendix_items=[...], ledger=...) -> bytes` for one
form (with the sheet ledger of its pages after the cover, when given);
`tally.report.pdf_meeting` puts several forms' `form_story`s in one PDF. Every number comes
from the `TallyResult`; the embedded CJK font is the forms' (subset-embedded); pages carry a
header (unit, meeting, classification) and "第 k 页 共 n 页".
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, SimpleDocTemplate

from forms.fonts import register_font
from forms.spec import FormSpec
from tally.ledger import Ledger
from tally.report import pdf_kinds
from tally.report.fmt import KIND_LABELS, pct, settings_lines
from tally.report.ledger import ledger_section
from tally.report.meta import AppendixItem, MeetingInfo
from tally.report.pdf_appendix import appendix
from tally.report.pdf_notices import warnings_detail, warnings_section
from tally.report.pdfkit import (
    ALARM,
    CAUTION,
    CELL,
    CONTENT_W,
    MARGIN_X,
    SMALL,
    BoldText,
    box,
    gap,
    h2,
    keep,
    key_values,
    numbered_canvas,
    para,
    table,
)
from tally.rules.result import TallyResult
from tally.testmode import BANNER_LINE


def render_report(result: TallyResult, spec: FormSpec, meeting_info: MeetingInfo | None = None,
                  *, appendix_items: Sequence[AppendixItem] = (),
                  include_appendix: bool = True, ledger: Ledger | None = None,
                  ledger_crops: Mapping[int, bytes] | None = None) -> bytes:
    """The report of one form as PDF bytes (deterministic for the same inputs); `ledger` (the
    form's pages, `Ledger.for_form`) is shown after the cover, with crops (page id -> PNG)."""
    register_font()
    info = meeting_info or MeetingInfo()
    title = info.title or f"{result.form.title}计票结果分析报告"
    sheets = ledger_section(ledger, crops=ledger_crops) if ledger is not None else []
    story = form_story(result, info, title, appendix_items, include_appendix, sheets)
    f = result.form
    return build(story, info, title=title, author=f.unit, subject=f"{f.id} sha256 {result.sha256}",
                 header_left=f"{f.unit} · {f.meeting}", sha256=result.sha256)


def form_story(result: TallyResult, info: MeetingInfo, title: str,
               appendix_items: Sequence[AppendixItem] = (),
               include_appendix: bool = True,
               ledger_story: Sequence[Flowable] = ()) -> list[Flowable]:
    """One form's part of a report: cover, (the sheet ledger,) figures, warnings (summary, then
    detail), appendix."""
    story: list[Flowable] = []
    story += cover(result, info, title)
    story.append(PageBreak())
    if ledger_story:
        story += [*ledger_story, PageBreak()]
    if result.recommendation:
        story += pdf_kinds.recommendation(result)
    if result.evaluation:
        story += pdf_kinds.evaluation(result)
    if result.satisfaction:
        story += pdf_kinds.satisfaction(result)
    story += warnings_section(result)
    story += warnings_detail(result)
    if include_appendix:
        story.append(PageBreak())
        story += appendix(result, appendix_items)
    return story


def build(story: list[Flowable], info: MeetingInfo, *, title: str, author: str, subject: str,
          header_left: str, sha256: str) -> bytes:
    """Lay `story` out on numbered A4 pages; the footer carries `sha256`'s first 16 digits."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=(210 * mm, 297 * mm), leftMargin=MARGIN_X, rightMargin=MARGIN_X,
        topMargin=22 * mm, bottomMargin=18 * mm, title=title, author=author, subject=subject,
        creator="Scantally", invariant=1,
    )
    canvas = numbered_canvas(header_left, info.classification, f"结果校验码 {sha256[:16]}",
                             info.audit_anchor_short,
                             watermark=BANNER_LINE if info.test_mode else "")
    doc.build(story, canvasmaker=canvas)
    return buf.getvalue()


def cover(result: TallyResult, info: MeetingInfo, title: str) -> list[Flowable]:
    f = result.form
    out: list[Flowable] = [gap(6), BoldText(f.meeting, 13, align="center", space_after=2),
                           BoldText(title, 19, align="center", space_before=4, space_after=6)]
    facts = [["单位", f.unit, "会议日期", f"{f.date.year}年{f.date.month}月{f.date.day}日"],
             ["表单", f"{f.title}（{f.id}）", "类型", KIND_LABELS[f.kind]]]
    if info.generated_at or info.station:
        when = info.generated_at.strftime("%Y-%m-%d %H:%M") if info.generated_at else "—"
        facts.append(["报告生成", when, "计票站点", info.station or "—"])
    out.append(table(facts, [22 * mm, 75 * mm, 22 * mm, CONTENT_W - 119 * mm], head_rows=0,
                     font_size=9, align_left_cols=(1, 3),
                     extra=[("BACKGROUND", (0, 0), (0, -1), "#DDE4EE"),
                            ("BACKGROUND", (2, 0), (2, -1), "#DDE4EE"),
                            ("ALIGN", (1, 0), (1, -1), "LEFT"),
                            ("ALIGN", (3, 0), (3, -1), "LEFT")]))
    out.append(gap(3))
    for alarm in result.alarms:
        out += [box(f"警报：{alarm.message}", ALARM, size=12.5), gap(2)]
    if result.provisional:
        out += [box("提示：尚有选票未处理完毕（存疑标记待复核，或拒收页待重扫、录入、排除），"
                    "本报告为临时结果，处理后请重新生成。", CAUTION),
                gap(2)]
    out += [h2("一、票数核对"), reconciliation_table(result)]
    r = result.reconciliation
    line = f"发出 {r.issued} 张，" if r.issued is not None else "发出票数未登记，"
    line += f"收回 {r.returned} 张"
    if r.not_returned is not None:
        line += f"，未收回 {r.not_returned} 张"
    out.append(para(line + "。收回 = 有效 + 无效 + 弃权；到会率 = 实到 ÷ 应到。", SMALL))
    rows = [["项目", "设置"]] + [[k, para(v, CELL)] for k, v in settings_lines(result)]
    out += [h2("二、计算设置"), table(rows, [42 * mm, CONTENT_W - 42 * mm], align_left_cols=(1,))]
    hashes = [["选票图像集 SHA-256", info.image_set_sha256 or "（未提供）"],
              ["计票结果 SHA-256", result.sha256],
              ["审计锚点", info.audit_anchor or "（未提供）"]]
    out += [h2("三、校验信息"),
            key_values(hashes, 42 * mm),
            para("计票结果校验码为本结果全部数字与设置的规范化 JSON 的 SHA-256，可用 "
                 "scantally tally --json 重新计算核对。", SMALL)]
    out.append(keep(h2("四、签字确认"), signatures(info)))
    return out


def reconciliation_table(result: TallyResult) -> Flowable:
    head = ["类别", "应到", "实到", "到会率", "收回", "有效", "无效", "弃权", "待复核"]
    rows: list[list[object]] = [head]
    extra = []
    for i, r in enumerate(result.reconciliation.rows, 1):
        rows.append([r.label, "—" if r.expected is None else r.expected, r.present,
                     pct(r.participation), r.returned, r.valid, r.invalid, r.abstain,
                     r.pending_review])
        if r.participation_low:
            extra.append(("TEXTCOLOR", (3, i), (3, i), ALARM))
    w = (CONTENT_W - 30 * mm) / 8
    return table(rows, [30 * mm] + [w] * 8, extra=extra)


def signatures(info: MeetingInfo) -> Flowable:
    blank = "____________________"
    scrutineers = info.scrutineers or ["", ""]
    rows = [["计票操作员", info.operator or blank, "签字", blank]]
    for s in scrutineers:
        rows.append(["监票人", s or blank, "签字", blank])
    rows.append(["考察组负责人", info.team_leader or blank, "签字", blank])
    rows.append(["", "", "日期", "______年____月____日"])
    t = table(rows, [28 * mm, 60 * mm, 16 * mm, CONTENT_W - 104 * mm], head_rows=0,
              font_size=10, stripes=False, extra=[("GRID", (0, 0), (-1, -1), 0, "#FFFFFF"),
                                   ("TOPPADDING", (0, 0), (-1, -1), 9),
                                   ("ALIGN", (0, 0), (0, -1), "LEFT"),
                                   ("ALIGN", (1, 0), (1, -1), "LEFT")])
    return t
