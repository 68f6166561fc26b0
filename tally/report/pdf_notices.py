"""The report's warnings: a summary of one line per cadre (with n, the rules it tripped, where,
and the most extreme value), then every single warning word for word, one compact paragraph
per cadre.

A stray page (a category of one ballot) trips every rule of every sub-row; aggregated, it is a
line per cadre saying how many warnings, where, and the n behind them, not pages of lines.
"""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from tally.report.pdfkit import ALARM, CELL, CONTENT_W, SMALL, h1, h2, para, table
from tally.rules.result import Notice, TallyResult
from tally.rules.warnsummary import MEETING_SUBJECT

#: the detail paragraphs, small and close
DETAIL = ParagraphStyle("warning-detail", parent=SMALL, fontSize=7.5, leading=10.5,
                        spaceBefore=2, spaceAfter=2)


def warnings_section(result: TallyResult) -> list[Flowable]:
    """The summary: one line per subject."""
    out: list[Flowable] = [h1("预警事项")]
    notices = [*result.alarms, *result.warnings]
    if not notices:
        return [*out, para("按本报告的预警线，无预警事项。")]
    lines = result.warning_summary
    intro = para(f"共 {len(notices)} 条预警，涉及 {len(lines)} 个对象。n 为该比率的计算基数"
                 "（票数；分项测评为人数）；基数很小（如某类别仅一两张票）的比率不宜作为结论。",
                 SMALL)
    intro.keepWithNext = True  # the heading and this line stay with the table
    out.append(intro)
    rows: list[list[object]] = [["序号", "对象", "条数", "全体 n", "预警情况"]]
    extra = []
    for i, line in enumerate(lines, 1):
        rows.append([i, para(line.subject, CELL), line.count,
                     "—" if line.n is None else line.n,
                     para(line.message.split("：", 2)[-1], CELL)])
        if any(r.severity == "alarm" for r in line.rules):
            extra.append(("TEXTCOLOR", (1, i), (1, i), ALARM))
    widths = [10 * mm, 38 * mm, 12 * mm, 14 * mm]
    out += [h2("一、预警汇总（每个对象一行）"),
            table(rows, [*widths, CONTENT_W - sum(widths)], extra=extra, align_left_cols=(4,))]
    return out


def warnings_detail(result: TallyResult) -> list[Flowable]:
    """Every warning, word for word, in one compact paragraph per subject (the summary's
    order): the record behind the summary, without a table row each."""
    notices = [*result.alarms, *result.warnings]
    if not notices:
        return []
    by_subject: dict[str, list[Notice]] = {}
    for n in notices:
        by_subject.setdefault(n.about or MEETING_SUBJECT, []).append(n)
    out: list[Flowable] = [h2("二、预警明细（逐条）")]
    for line in result.warning_summary:
        hits = by_subject.pop(line.subject, [])
        if hits:
            text = f"{line.subject}（{len(hits)} 条）：" + "；".join(n.message for n in hits) + "。"
            out.append(para(text, DETAIL))
    return out
