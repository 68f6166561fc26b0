"""The sheet ledger as a report section (`ledger_section`): fed = the sum of the states per
form and per batch, and every page still unresolved or taken out of the count, with its reason,
who and why, and (when given) a crop of its image. The meeting report places it."""

from __future__ import annotations

from collections.abc import Mapping

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from tally.ledger import STATE_LABELS, STATES, Ledger, LedgerRow
from tally.report.pdf_appendix import _image  # the report's one way to place a PNG
from tally.report.pdfkit import (
    CAUTION,
    CELL,
    CONTENT_W,
    SMALL,
    box,
    gap,
    h2,
    keep,
    para,
    table,
)
from tally.report.reasons import reason_zh

LABEL_W_MM = 44.0


def _rows_table(rows: list[LedgerRow]) -> Flowable:
    head = ["", "送入", *(STATE_LABELS[s] for s in STATES), "待处理"]
    body: list[list[object]] = [head]
    for r in rows:
        body.append([para(r.label, CELL), r.fed, *(r.states[s] for s in STATES), r.unresolved])
    w = (CONTENT_W - LABEL_W_MM * mm) / (len(head) - 1)
    return table(body, [LABEL_W_MM * mm] + [w] * (len(head) - 1), align_left_cols=(0,))


def ledger_section(ledger: Ledger, title: str = "选票台账",
                   crops: Mapping[int, bytes] | None = None) -> list[Flowable]:
    """Flowables of the ledger: the sum, a table per form and per batch, then the pages that
    are unresolved, refused, dismissed or entered by hand (`crops`: page id -> PNG)."""
    total = " + ".join(f"{STATE_LABELS[s]} {n}" for s, n in ledger.states.items() if n)
    out: list[Flowable] = [h2(title),
                           para(f"送入 {ledger.fed} 页 = {total or '0'}。每页恰在一种状态；"
                                "按表单、按批次分别相加均等于送入页数。", SMALL)]
    if ledger.provisional:
        out += [box(f"临时结果：尚有 {ledger.unresolved} 页待处理（拒收待重扫、待复核、手工录入"
                    "待确认或编号未认可），处理后请重新生成本报告。", CAUTION), gap(2)]
    out += [para("按表单", SMALL), _rows_table(ledger.by_form), gap(2),
            para("按批次", SMALL), _rows_table(ledger.by_batch)]
    listed = [p for p in ledger.pages if p.state in ("refused", "dismissed", "manual")
              or p.unresolved]
    if listed:
        rows: list[list[object]] = [["页", "编号", "状态", "原因", "经办 / 理由"]]
        for p in listed:
            state = STATE_LABELS[p.state] + ("（待处理）" if p.unresolved else "")
            rows.append([f"#{p.page_id}", p.serial or "未识别", para(state, CELL),
                         para(reason_zh(p.code, p.reason), CELL),
                         para(" · ".join(x for x in (p.who, p.why) if x) or "—", CELL)])
        out += [gap(3), para("未直接计入或待处理的页", SMALL),
                table(rows, [14 * mm, 24 * mm, 26 * mm, 70 * mm, CONTENT_W - 134 * mm],
                      align_left_cols=(3, 4))]
        for p in listed:
            png = (crops or {}).get(p.page_id)
            if png:
                out.append(keep(para(f"#{p.page_id} {p.source}", SMALL),
                                _image(png, max_h=60 * mm)))
    return out
