"""One PDF for a whole meeting: an overview page listing its forms, then each form's report
(`tally.report.pdf.form_story`: cover, figures, warnings, appendix) in the meeting's order.

The footer carries the meeting's result hash (the SHA-256 of all its forms' results, as
`scantally tally --json` prints it for a meeting of several forms); each form's cover carries
its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak

from forms.fonts import register_font
from tally.ledger import Ledger
from tally.report.fmt import KIND_LABELS
from tally.report.ledger import ledger_section
from tally.report.meta import AppendixItem, MeetingInfo
from tally.report.pdf import build, form_story
from tally.report.pdfkit import (
    ALARM,
    CAUTION,
    CELL,
    CONTENT_W,
    SMALL,
    BoldText,
    box,
    gap,
    h2,
    para,
    table,
)
from tally.rules.compute import result_sha256
from tally.rules.result import ALL, MeetingResult, TallyResult


@dataclass(frozen=True)
class FormPart:
    """One form's share of the meeting report."""

    result: TallyResult
    appendix_items: Sequence[AppendixItem] = ()


def meeting_sha256(results: Sequence[TallyResult]) -> str:
    """The meeting's result hash, as `compute_meeting` gives it for these forms."""
    body = MeetingResult(forms=sorted(results, key=lambda r: r.form.id))
    return result_sha256(body.model_dump(mode="json"))


def render_meeting_report(parts: Sequence[FormPart], info: MeetingInfo | None = None, *,
                          meeting: str = "", unit: str = "",
                          include_appendix: bool = True, ledger: Ledger | None = None,
                          ledger_crops: Mapping[int, bytes] | None = None) -> bytes:
    """The PDF of every form of a meeting, one after another, after an overview page and (when
    given) the meeting's sheet ledger, with crops of the pages it lists (page id -> PNG)."""
    register_font()
    info = info or MeetingInfo()
    results = [p.result for p in parts]
    first = results[0].form
    meeting = meeting or first.meeting
    unit = unit or first.unit
    title = info.title or f"{meeting}计票结果分析报告"
    sha = meeting_sha256(results)
    story: list[Flowable] = overview(results, info, title, meeting, unit, sha)
    if ledger is not None:
        story += [PageBreak(), *ledger_section(ledger, crops=ledger_crops)]
    for part in parts:
        story.append(PageBreak())
        form_title = f"{part.result.form.title}计票结果分析报告"
        story += form_story(part.result, info, form_title, part.appendix_items,
                            include_appendix)
    return build(story, info, title=title, author=unit, subject=f"meeting sha256 {sha}",
                 header_left=f"{unit} · {meeting}", sha256=sha)


def overview(results: Sequence[TallyResult], info: MeetingInfo, title: str, meeting: str,
             unit: str, sha: str) -> list[Flowable]:
    out: list[Flowable] = [gap(6), BoldText(meeting, 13, align="center", space_after=2),
                           BoldText(title, 19, align="center", space_before=4, space_after=6),
                           para(f"单位：{unit}。本报告包括本次会议的 {len(results)} 种表单，"
                                "依次为：", SMALL)]
    rows: list[list[object]] = [["序号", "表单", "类型", "收回", "有效", "无效", "弃权", "待复核",
                                 "预警", "结果状态"]]
    for i, r in enumerate(results, 1):
        total = next((x for x in r.reconciliation.rows if x.bucket == ALL), None)
        rows.append([i, para(f"{r.form.title}（{r.form.id}）", CELL), KIND_LABELS[r.form.kind],
                     r.reconciliation.returned, total.valid if total else "—",
                     total.invalid if total else "—", total.abstain if total else "—",
                     total.pending_review if total else "—",
                     len(r.alarms) + len(r.warnings), "临时结果" if r.provisional else "已复核"])
    widths = [10 * mm, 0.0, 18 * mm, 13 * mm, 13 * mm, 13 * mm, 13 * mm, 14 * mm, 12 * mm,
              18 * mm]
    widths[1] = CONTENT_W - sum(widths)
    out.append(table(rows, widths, align_left_cols=(1,)))
    for r in results:
        for alarm in r.alarms:
            out += [gap(2), box(f"警报（{r.form.title}）：{alarm.message}", ALARM, size=12)]
    if any(r.provisional for r in results):
        out += [gap(2), box("提示：尚有选票未处理完毕，本报告为临时结果，处理后请重新生成。",
                            CAUTION)]
    hashes = [["会议计票结果 SHA-256", sha],
              ["选票图像集 SHA-256", info.image_set_sha256 or "（未提供）"],
              ["审计锚点", info.audit_anchor or "（未提供）"]]
    out += [gap(2),
            table(hashes, [42 * mm, CONTENT_W - 42 * mm], head_rows=0, font_size=8,
                  align_left_cols=(1,), extra=[("ALIGN", (1, 0), (1, -1), "LEFT"),
                                               ("BACKGROUND", (0, 0), (0, -1), "#DDE4EE")]),
            para("会议计票结果校验码为各表单计票结果的规范化 JSON 的 SHA-256，与 scantally "
                 "tally --json 对多表单会议给出的 sha256 相同；各表单的校验码见其封面。", SMALL)]
    lines = [(r.form.title, line) for r in results for line in r.warning_summary]
    if lines:
        heading = h2("预警汇总（各表单，每个对象一行）")
        heading.keepWithNext = False  # the table splits; kept together it would leave page 1
        out.append(heading)
        rows = [["表单", "对象", "条数", "预警情况"]]
        for form_title, line in lines:
            rows.append([para(form_title, CELL), para(line.subject, CELL), line.count,
                         para(line.message.split("：", 2)[-1], CELL)])
        widths = [34 * mm, 36 * mm, 12 * mm, 0.0]
        widths[3] = CONTENT_W - sum(widths)
        out.append(table(rows, widths, align_left_cols=(3,)))
    return out
