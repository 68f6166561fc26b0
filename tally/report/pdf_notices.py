"""The report's warnings: a summary of one line per cadre (with n) up front, the warnings
aggregated per cadre and rule, and every single warning in a compact list at the end.

A stray page (a category of one ballot) trips every rule of every sub-row; aggregated, it is a
line per cadre saying how many warnings, where, and the n behind them, not pages of lines.
"""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from tally.report.fmt import pct
from tally.report.pdfkit import ALARM, CELL, CONTENT_W, SMALL, h1, h2, para, table
from tally.rules.result import Notice, TallyResult
from tally.rules.warnsummary import compact_scopes

_COUNT_CODES = {"returned_exceeds_issued", "returned_exceeds_present", "pending_review"}


#: the detail list's cells, smaller than the body's
CELL_SMALL = ParagraphStyle("cell-small", parent=CELL, fontSize=7.5, leading=9.5)


def _value(n: Notice, x: float | None) -> str:
    """A rate as a percentage; a count (sheets, people) as a number."""
    if n.code in _COUNT_CODES:
        return "—" if x is None else f"{x:g}"
    return pct(x)


def warnings_section(result: TallyResult) -> list[Flowable]:
    """The summary (one line per subject) and the per-rule aggregate table."""
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
    rows = [["对象", "预警规则", "条数", "出现范围", "最不利值", "n"]]
    for line in lines:
        for r in line.rules:
            n_text = "—" if r.n_min is None else (
                f"{r.n_min}" if r.n_min == r.n_max else f"{r.n_min}–{r.n_max}")
            probe = Notice(severity=r.severity, code=r.code, message="")
            rows.append([para(line.subject, CELL), para(r.rule, CELL), r.count,
                         para(compact_scopes(r.scopes), CELL), _value(probe, r.worst), n_text])
    widths = [34 * mm, 40 * mm, 10 * mm, 0.0, 16 * mm, 14 * mm]
    widths[3] = CONTENT_W - sum(widths)
    out += [h2("二、按对象和规则归并"), table(rows, widths, align_left_cols=(3,))]
    out.append(para("每条预警的明细见报告末尾“预警明细”。", SMALL))
    return out


def warnings_detail(result: TallyResult) -> list[Flowable]:
    """Every warning, one compact row each, grouped by subject in the summary's order."""
    notices = [*result.alarms, *result.warnings]
    if not notices:
        return []
    order = {line.subject: k for k, line in enumerate(result.warning_summary)}
    ranked = sorted(enumerate(notices),
                    key=lambda kn: (order.get(kn[1].about or "", len(order)), kn[0]))
    rows: list[list[object]] = [["序号", "级别", "说明", "数值", "预警线"]]
    extra = []
    for i, (_, n) in enumerate(ranked, 1):
        rows.append([i, "警报" if n.severity == "alarm" else "预警", para(n.message, CELL_SMALL),
                     _value(n, n.value), _value(n, n.threshold)])
        if n.severity == "alarm":
            extra.append(("TEXTCOLOR", (1, i), (1, i), ALARM))
    widths = [10 * mm, 12 * mm, 0.0, 16 * mm, 16 * mm]
    widths[2] = CONTENT_W - sum(widths)
    return [h1("预警明细"), table(rows, widths, extra=extra, font_size=7.5,
                                  align_left_cols=(2,))]
