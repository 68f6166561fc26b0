"""The report's audit appendix: every void, void-block, doubtful and reviewed sheet of a form,
in names (never field ids), with its image crops, the reasons, and each reviewer's decision
(who, when, why). Present whenever the form has such a sheet, also after review is complete.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable, Image

from tally.report.meta import KIND_LABELS, AppendixItem
from tally.report.pdfkit import (
    CELL,
    CONTENT_W,
    SMALL,
    BoldText,
    gap,
    h1,
    h2,
    keep,
    para,
    table,
)
from tally.rules.result import SheetNote, TallyResult

NOTE_KINDS = {"void": "整张作废", "void_block": "栏目无效", "review": "需复核"}


def appendix(result: TallyResult, items: Sequence[AppendixItem]) -> list[Flowable]:
    out: list[Flowable] = [h1("附录：无效票、存疑票及复核记录"),
                           para("本附录列出序列号，仅供考察组成员核查，不得对外公开。", SMALL)]
    if not result.sheets and not items:
        return [*out, para("本表单没有无效票、栏目无效、存疑或经复核更正的选票。")]
    if result.sheets:
        sheets = len({n.serial for n in result.sheets})
        out.append(h2(f"一、待说明的选票（{sheets} 张，{len(result.sheets)} 条）"))
        out.append(sheet_table(result.sheets))
    if items:
        out.append(h2(f"{'二' if result.sheets else '一'}、逐张核查（{len(items)} 张，附图像）"))
    for k, item in enumerate(items, 1):
        block: list[Flowable] = [
            BoldText(f"{k}. 序列号 {item.serial}（{KIND_LABELS[item.kind]}）", 10,
                     space_before=6, space_after=2),
            para(f"原因：{item.reason}", CELL)]
        if item.decisions:
            rows: list[list[object]] = [["复核内容", "决定", "复核人", "时间", "理由"]]
            for d in item.decisions:
                when = d.at.strftime("%m-%d %H:%M") if d.at else "—"
                rows.append([para(d.what or "整张选票", CELL), para(d.decision, CELL),
                             para(d.who, CELL), when, para(d.why or "—", CELL)])
            widths = [48 * mm, 34 * mm, 20 * mm, 20 * mm]
            block.append(table(rows, [*widths, CONTENT_W - sum(widths)], align_left_cols=(0, 4)))
        for i, png in enumerate(item.crops):
            if i < len(item.crop_labels):
                block.append(para(item.crop_labels[i], SMALL))
            block.append(_image(png))
        if len(item.crop_labels) > len(item.crops):
            block.append(para(item.crop_labels[-1], SMALL))
        block.append(gap(2))
        out.append(keep(*block))
    return out


def sheet_table(notes: Sequence[SheetNote]) -> Flowable:
    """One row per sheet and kind: a sheet with three void rows is one line naming all three."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for n in notes:
        grouped.setdefault((n.serial, n.kind), []).append(n.reason)
    rows: list[list[object]] = [["序号", "序列号", "类型", "原因"]]
    for i, ((serial, kind), reasons) in enumerate(grouped.items(), 1):
        rows.append([i, serial, NOTE_KINDS.get(kind, kind), para("；".join(reasons), CELL)])
    return table(rows, [12 * mm, 34 * mm, 18 * mm, CONTENT_W - 64 * mm])


def _image(png: bytes, max_w: float = CONTENT_W, max_h: float = 70 * mm) -> Image:
    reader = ImageReader(io.BytesIO(png))
    w, h = reader.getSize()
    scale = min(max_w / w, max_h / h, 1.5)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale, hAlign="LEFT")
