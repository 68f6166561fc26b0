"""The per-cadre PDF (综合分析): header with name and 职务, the key rate of each stage year
over year (lines), the stages side by side per year (bars), then every meeting with its figures
and its voter-category breakdown. Same fonts, styles and page furniture as the meeting report
(`tally.report.pdfkit`); every number comes from the `CadreView`.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate

from forms.fonts import register_font
from tally.cadre.model import Appearance, CadreView
from tally.cadre.stages import FIGURE_LABELS, RATE_KEYS, STAGE_DEFS, Stage
from tally.report.cadre_charts import stage_bars, stage_colours, year_lines
from tally.report.charts import SERIES, Series
from tally.report.fmt import num, pct
from tally.report.pdfkit import (
    CAUTION,
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
    numbered_canvas,
    para,
    table,
)

CLASSIFICATION = "内部资料  注意保密"
#: the figures a meeting's row shows, per stage, in this order
SHOWN: dict[Stage, tuple[str, ...]] = {
    "民主推荐": ("votes", "rate", "rank"),
    "谈话推荐": ("votes", "rate"),
    "民主测评": ("excellent", "competent_or_better", "basic", "incompetent", "score"),
    "民意调查": ("satisfied", "dissatisfied"),
    "满意度评议": ("agree", "disagree", "score"),
}


def figure_text(key: str, value: float | None) -> str:
    if key in RATE_KEYS:
        return pct(value)
    if key in ("votes", "rank", "denominator"):
        return "—" if value is None else f"{value:.0f}"
    return num(value)


def key_rate(a: Appearance) -> float | None:
    return a.figures.get(STAGE_DEFS[a.stage].key)


def yearly(view: CadreView) -> dict[Stage, dict[int, float | None]]:
    """Each stage's key rate per year (the latest meeting of the year when several)."""
    out: dict[Stage, dict[int, float | None]] = {}
    for a in view.appearances:  # in date order: a later meeting of the year wins
        out.setdefault(a.stage, {})[a.year] = key_rate(a)
    return out


def render_cadre(view: CadreView, *, generated: str = "") -> bytes:
    """The per-cadre report as PDF bytes (deterministic for the same view)."""
    register_font()
    title = f"{view.name} 综合分析"
    story: list[Flowable] = [gap(2), BoldText(title, 19, align="center", space_after=4)]
    facts = [["姓名", view.name, "职务", view.post or "—"],
             ["人员编号", view.person_id or "（未设人员编号）", "年度",
              "、".join(str(y) for y in view.years) or "—"],
             ["环节", "、".join(view.stages) or "—", "会议 / 录入",
              f"{len(view.appearances)} 项"]]
    story.append(table(facts, [20 * mm, 62 * mm, 22 * mm, CONTENT_W - 104 * mm], head_rows=0,
                       font_size=9, align_left_cols=(1, 3),
                       extra=[("BACKGROUND", (0, 0), (0, -1), "#DDE4EE"),
                              ("BACKGROUND", (2, 0), (2, -1), "#DDE4EE"),
                              ("ALIGN", (1, 0), (1, -1), "LEFT"),
                              ("ALIGN", (3, 0), (3, -1), "LEFT")]))
    if view.local_only:
        story += [gap(2), box("说明：表单中此人未设人员编号（person_id），只能在本次会议内对应，"
                              "不与其他会议合并；请在表单中为其填写人员编号。", CAUTION, size=10)]
    if view.also_listed_as:
        story.append(para("在其他会议中的登记：" + "；".join(view.also_listed_as), SMALL))
    if generated:
        story.append(para(f"报告生成：{generated}", SMALL))
    story += charts(view)
    story += meetings_table(view)
    story += category_tables(view)
    story.append(para("各项数据取自各次会议的计票结果（与会议报告同一计算与校验码）；"
                      "手工录入项注明录入人、时间与理由。得票率、测评率的计算基数见各会议报告。",
                      SMALL))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=(210 * mm, 297 * mm), leftMargin=MARGIN_X, rightMargin=MARGIN_X,
        topMargin=22 * mm, bottomMargin=18 * mm, title=title, author="Scantally",
        subject=f"cadre {view.key}", creator="Scantally", invariant=1)
    canvas = numbered_canvas(f"干部综合分析 · {view.name}", CLASSIFICATION,
                             f"人员编号 {view.person_id or view.key}")
    doc.build(story, canvasmaker=canvas)
    return buf.getvalue()


def charts(view: CadreView) -> list[Flowable]:
    per = yearly(view)
    stages = [s for s in view.stages if any(v is not None for v in per.get(s, {}).values())]
    if not stages:
        return []
    colours = stage_colours(len(stages))
    lines = [Series(f"{s}·{FIGURE_LABELS[STAGE_DEFS[s].key]}", colours[k],
                    [per[s].get(y) for y in view.years]) for k, s in enumerate(stages)]
    out: list[Flowable] = [h1("一、历年关键指标")]
    out.append(year_lines(view.years, lines, CONTENT_W, 62 * mm,
                          title="各环节关键指标（逐年）"))
    bars = [Series(f"{y}年", SERIES[k % len(SERIES)], [per[s].get(y) for s in stages])
            for k, y in enumerate(view.years)]
    out += [h1("二、分环节对比"),
            stage_bars([f"{s}\n{FIGURE_LABELS[STAGE_DEFS[s].key]}" for s in stages], bars,
                         CONTENT_W, 62 * mm, title="各环节关键指标（按年度）")]
    return out


def meetings_table(view: CadreView) -> list[Flowable]:
    rows: list[list[object]] = [["年度", "环节", "会议", "对象 / 职位", "主要数据", "来源"]]
    for a in view.appearances:
        figs = "；".join(f"{FIGURE_LABELS[k]} {figure_text(k, a.figures.get(k))}"
                        for k in SHOWN[a.stage] if k in a.figures)
        if a.figures.get("denominator") is not None:
            figs += f"；基数 {figure_text('denominator', a.figures['denominator'])}"
        if a.source == "hand":
            source = f"手工录入：{a.entered_by}，{a.entered_at[:16].replace('T', ' ')}"
            source += f"，{a.why}" if a.why else ""
        else:
            source = f"计票结果 {a.result_sha256[:12]}" + ("（临时）" if a.provisional else "")
        meeting = a.meeting_label + (f"（{a.date}）" if a.date else "")
        rows.append([str(a.year), a.stage, para(meeting, CELL),
                     para(_subject(a), CELL),
                     para(figs, CELL), para(source, CELL)])
    widths = [12 * mm, 18 * mm, 38 * mm, 36 * mm, 44 * mm]
    return [h1("三、历次会议数据"), table(rows, [*widths, CONTENT_W - sum(widths)])]


def category_tables(view: CadreView) -> list[Flowable]:
    out: list[Flowable] = [h1("四、分类别数据")]
    any_cats = False
    for a in view.appearances:
        if not a.categories:
            continue
        any_cats = True
        keys = [k for k in (*SHOWN[a.stage], "denominator") if k in a.figures]
        head = ["类别", *[FIGURE_LABELS[k] for k in keys]]
        rows: list[list[object]] = [head, ["全体", *[figure_text(k, a.figures.get(k))
                                                   for k in keys]]]
        rows += [[c.label, *[figure_text(k, c.figures.get(k)) for k in keys]]
                 for c in a.categories]
        w = (CONTENT_W - 30 * mm) / max(len(keys), 1)
        out.append(keep(h2(f"{a.year}年 {a.stage} · {a.meeting_label}"),
                        table(rows, [30 * mm] + [w] * len(keys))))
    if not any_cats:
        out.append(para("各项数据均无类别划分。", SMALL))
    return out


def _subject(a: Appearance) -> str:
    """What the row is about, and the name and post as that form listed them."""
    if not a.name:
        return a.subject
    return f"{a.subject}；{a.name}" + (f"（{a.post}）" if a.post else "")
