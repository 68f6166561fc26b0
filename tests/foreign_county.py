"""A 测评表 typeset the way a county office would: a plain ruled table, □ characters for boxes.

No marks of ours, no QR code: drawn with PIL (the ballot font, a word processor's look) at
`DPI`. `county_blank()` is the blank; `county_spec_yaml()` the spec a person would write for it
after `form learn`, its targets named in reading order (4 levels per row).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from forms.fonts import FONT_PATH

DPI = 200
K = DPI / 25.4
TEAM = ["思想政治建设", "领导能力", "工作实绩", "党风廉政建设"]
LEADERS = [("P1", "张伟", "局长"), ("P2", "李娜", "副局长"), ("P3", "王强", "副局长"),
           ("P4", "刘洋", "纪检组长"), ("P5", "陈静", "办公室主任"), ("P6", "杨帆", "科长")]
TEAM_LEVELS = ["好", "较好", "一般", "差"]
LEADER_LEVELS = ["优秀", "称职", "基本称职", "不称职"]


def _px(mm: float) -> int:
    return round(mm * K)


@lru_cache(maxsize=1)
def _blank() -> np.ndarray:
    img = Image.new("L", (_px(210), _px(297)), 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT_PATH), _px(4.2))
    big = ImageFont.truetype(str(FONT_PATH), _px(7))
    box = ImageFont.truetype(str(FONT_PATH), _px(13))  # a big □, as a word processor sets it
    d.text((_px(105), _px(22)), "XX县2026年度领导班子和领导干部民主测评表", font=big, fill=0,
           anchor="mm")
    d.text((_px(20), _px(34)), "说明：请在所选等次下的“□”内打“√”，每行只选一项。", font=font,
           fill=0)
    y = 45.0
    for title, rows, levels in (("一、领导班子总体评价", [(r, "") for r in TEAM], TEAM_LEVELS),
                                ("二、领导干部个人评价", [(n, p) for _, n, p in LEADERS],
                                 LEADER_LEVELS)):
        d.text((_px(20), _px(y)), title, font=font, fill=0)
        y += 8
        xs = [20, 70, 100, 122.5, 145, 167.5, 190]
        row_h = 10.0
        top = y
        heads = ["项目" if not rows[0][1] else "姓名", "" if not rows[0][1] else "职务", *levels]
        for i, text in enumerate(heads):
            d.text((_px((xs[i] + xs[i + 1]) / 2), _px(y + row_h / 2)), text, font=font,
                   fill=0, anchor="mm")
        y += row_h
        for name, post in rows:
            d.text((_px(22), _px(y + row_h / 2)), name, font=font, fill=0, anchor="lm")
            if post:
                d.text((_px(72), _px(y + row_h / 2)), post, font=font, fill=0, anchor="lm")
            for i in range(2, 6):  # the four level columns
                cx = (xs[i] + xs[i + 1]) / 2
                d.text((_px(cx), _px(y + row_h / 2)), "□", font=box, fill=0, anchor="mm")
            y += row_h
        for r in range(len(rows) + 2):
            yy = top + r * row_h
            d.line([(_px(20), _px(yy)), (_px(190), _px(yy))], fill=0, width=_px(0.3))
        for x in xs:
            d.line([(_px(x), _px(top)), (_px(x), _px(y))], fill=0, width=_px(0.3))
        y += 10
    return np.array(img)


def county_blank() -> np.ndarray:
    return _blank().copy()


def county_spec_yaml(targets_per_row: int = 4) -> str:
    """The spec of the county form, its fields naming targets 1.. in reading order."""
    lines = ["schema: scantally.form/1", "id: county-eval", "kind: evaluation",
             "title: XX县民主测评表",
             "header: {unit: XX县, meeting: 2026年度民主测评, date: 2026-12-01}",
             "evaluation:", "  team:", "    levels:"]
    ids = ["good", "fair_good", "average", "poor"]
    lines += [f"      - {{id: {i}, label: {label}}}" for i, label in zip(ids, TEAM_LEVELS,
                                                                         strict=True)]
    lines.append("    dimensions:")
    lines += [f"      - {{id: d{i}, label: {label}}}" for i, label in enumerate(TEAM, 1)]
    lines += ["  individual:", "    leaders:"]
    lines += [f"      - {{id: {p}, name: {n}, post: {post}}}" for p, n, post in LEADERS]
    lines += ["foreign:", "  reference: reference.png", "  fields:"]
    n = 1
    for i in range(1, len(TEAM) + 1):
        lines.append(f"    team.d{i}: {list(range(n, n + targets_per_row))}")
        n += targets_per_row
    for p, _, _ in LEADERS:
        lines.append(f"    leader.{p}: {list(range(n, n + targets_per_row))}")
        n += targets_per_row
    return "\n".join(lines) + "\n"
