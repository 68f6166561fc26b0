"""The signed-off page of a deck check: 测试票检验记录 (PDF, Chinese), for the 监票人 to sign.

It prints the meeting, the forms and the deck's size (sheets per purpose), the conclusion (一致
or 不一致, with the figures that differ first), then every figure, one row per figure with a
column per bucket ("expected / counted", a differing cell in red) and 一致/不一致 per row, the
result hashes, the station key's fingerprint and signature lines for 监票人 and 计票人. Every
page carries the test-mode banner.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate

from forms.fonts import register_font
from tally.report.pdfkit import (
    ALARM,
    CELL,
    CONTENT_W,
    MARGIN_X,
    SMALL,
    BoldText,
    box,
    gap,
    h1,
    h2,
    keep,
    key_values,
    numbered_canvas,
    para,
    table,
)
from tally.testdeck.check import DeckCheck, FigureCheck
from tally.testmode import BANNER_LINE

TITLE = "测试票检验记录"
PURPOSES = {"coverage": "逐项覆盖", "overmark_all": "全部超选", "overmark_one": "单栏超选",
            "blank": "空白票", "cancel": "涂改待复核"}
OK_TEXT, BAD_TEXT = "一致", "不一致"
OK_COLOUR = "#1E7B34"


def _facts(check: DeckCheck) -> list[Flowable]:
    key = check.key_id or "（本站未生成站点密钥：scantally keys new）"
    rows = [["会议", f"{check.meeting}（#{check.meeting_id}）"], ["单位", check.unit or "—"],
            ["检验时间", check.checked_at], ["检验人", check.checked_by],
            ["测试票序列号", f"{check.first_serial} 至 {check.last_serial}"],
            ["站点密钥指纹", key], ["审计链", f"检验记录为审计链第 {check.audit_seq} 条"]]
    return [key_values(rows, 34 * mm, font_size=9)]


def _forms(check: DeckCheck) -> Flowable:
    rows: list[list[object]] = [["表单", "版式校验码", "测试票张数", "构成", "实计选票"]]
    for f in check.forms:
        parts = "、".join(f"{PURPOSES.get(k, k)} {v}" for k, v in f.purposes.items())
        rows.append([para(f"{f.title}（{f.form_id}）", CELL), f.layout_hash[:12], f.sheets,
                     para(parts, CELL), f.counted_ballots])
    rows.append(["合计", "", sum(f.sheets for f in check.forms), "",
                 sum(f.counted_ballots for f in check.forms)])
    return table(rows, [50 * mm, 26 * mm, 20 * mm, CONTENT_W - 116 * mm, 20 * mm],
                 align_left_cols=(0, 3))


def _conclusion(check: DeckCheck) -> list[Flowable]:
    n, bad = len(check.figures), check.mismatches
    out: list[Flowable] = []
    if check.ok:
        out.append(box(f"结论：一致。机器计票的全部 {n} 项数字与测试票预期一致，"
                       "计票结果校验码一致。", OK_COLOUR, size=12))
        return out
    what = f"{len(bad)} 项数字不一致" if bad else "各项数字一致"
    result = "计票结果校验码一致" if check.result_ok else "计票结果校验码不一致"
    out.append(box(f"结论：不一致。{what}，{result}。不得转入正式计票，请查明原因后重新检验。",
                   ALARM, size=12))
    if bad:
        rows: list[list[object]] = [["表单", "项目", "范围", "预期", "实计"]]
        for f in bad:
            rows.append([f.form_id, para(f.label, CELL), f.bucket_label, f.expected, f.counted])
        out += [h2("不一致的数字"),
                table(rows, [32 * mm, CONTENT_W - 92 * mm, 28 * mm, 16 * mm, 16 * mm],
                      align_left_cols=(1,), extra=[("TEXTCOLOR", (4, 1), (4, -1), ALARM)])]
    return out


def _figure_table(check: DeckCheck, form_id: str) -> Flowable:
    figs = [f for f in check.figures if f.form_id == form_id]
    buckets: dict[str, str] = {}
    rows_by_item: dict[str, dict[str, FigureCheck]] = {}
    labels: dict[str, str] = {}
    for f in figs:
        buckets.setdefault(f.bucket, f.bucket_label)
        rows_by_item.setdefault(f.item, {})[f.bucket] = f
        labels.setdefault(f.item, f.label)
    head = ["项目", *(f"{label}\n预期/实计" for label in buckets.values()), "结论"]
    rows: list[list[object]] = [head]
    extra: list[tuple] = []
    for r, (item, cells) in enumerate(rows_by_item.items(), 1):
        row: list[object] = [para(labels[item], CELL)]
        for c, bucket in enumerate(buckets, 1):
            f = cells.get(bucket)
            row.append("—" if f is None else f"{f.expected} / {f.counted}")
            if f is not None and not f.ok:
                extra.append(("TEXTCOLOR", (c, r), (c, r), ALARM))
        ok = all(f.ok for f in cells.values())
        row.append(OK_TEXT if ok else BAD_TEXT)
        if not ok:
            extra.append(("TEXTCOLOR", (len(row) - 1, r), (len(row) - 1, r), ALARM))
        rows.append(row)
    label_w, verdict_w = 52 * mm, 14 * mm
    w = (CONTENT_W - label_w - verdict_w) / max(len(buckets), 1)
    return table(rows, [label_w, *([w] * len(buckets)), verdict_w], font_size=7.5,
                 align_left_cols=(0,), extra=extra)


def _signatures() -> Flowable:
    blank = "____________________"
    rows = [["监票人", "签字", blank, "监票人", "签字", blank],
            ["计票人", "签字", blank, "日期", "", "______年____月____日"]]
    return table(rows, [18 * mm, 12 * mm, 50 * mm, 18 * mm, 12 * mm, CONTENT_W - 110 * mm],
                 head_rows=0, font_size=10, stripes=False,
                 extra=[("GRID", (0, 0), (-1, -1), 0, "#FFFFFF"),
                        ("TOPPADDING", (0, 0), (-1, -1), 10)])


def render_signoff(check: DeckCheck) -> bytes:
    """The record as PDF bytes."""
    register_font()
    story: list[Flowable] = [gap(4), BoldText(TITLE, 19, align="center", space_after=6)]
    story += _facts(check)
    story += [h2("测试票"), _forms(check), gap(3)]
    story += _conclusion(check)
    hashes = [["计票结果校验码（实计）", check.counted_sha256],
              ["计票结果校验码（预期）", check.expected_sha256],
              ["预期数据文件校验码", check.deck_sha256]]
    story += [h2("校验信息"),
              key_values(hashes, 44 * mm),
              para("预期数字由测试票的预设标记经与正式计票相同的计票规则计算得出；涂改（划掉）的"
                   "标记应转入人工复核，复核前不计入。", SMALL)]
    story.append(keep(h2("签字确认"), _signatures()))
    for f in check.forms:
        story += [h1(f"逐项核对：{f.title}（{f.form_id}）"), _figure_table(check, f.form_id)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=(210 * mm, 297 * mm), leftMargin=MARGIN_X,
                            rightMargin=MARGIN_X, topMargin=22 * mm, bottomMargin=18 * mm,
                            title=TITLE, author=check.unit, creator="Scantally",
                            subject=f"{check.meeting} result sha256 {check.counted_sha256}")
    verdict = OK_TEXT if check.ok else BAD_TEXT
    key = f"站点密钥 {check.key_id}" if check.key_id else "站点密钥未生成"
    canvas = numbered_canvas(f"{check.unit} · {check.meeting}", f"{TITLE} · {verdict}",
                             f"结果校验码 {check.counted_sha256[:16]}", key,
                             watermark=BANNER_LINE)
    doc.build(story, canvasmaker=canvas)
    return buf.getvalue()
