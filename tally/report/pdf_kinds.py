"""The figure sections of the PDF report, one function per ballot kind."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from forms.spec import title_states_quota
from tally.report.charts import SERIES, Series, count_bars, donut, grouped_bars, level_colours
from tally.report.charts import stacked_bars as stacked
from tally.report.fmt import DENOMINATOR_LABELS, num, pct
from tally.report.pdfkit import (
    CELL,
    CONTENT_W,
    SMALL,
    gap,
    h1,
    h2,
    keep,
    para,
    para_lines,
    table,
)
from tally.rules.result import ALL, PartResult, PositionResult, RowResult, RowStats, TallyResult

CN = "一二三四五六七八九十"
REMAINDER = Series("弃权及无效", "#E3E6EA", [])


def _numeral(i: int) -> str:
    return CN[i] if i < len(CN) else str(i + 1)


# ---------------------------------------------------------------- recommendation


def recommendation(result: TallyResult) -> list[Flowable]:
    assert result.recommendation is not None
    out: list[Flowable] = [h1("民主推荐结果")]
    den = DENOMINATOR_LABELS[result.settings.denominator]
    out.append(para(f"得票率 = 得票数 ÷ {den}。名次按得票数排列，得票相同者名次并列。"
                    f"表中“全体”为全部收回票，其后为各类别参加人员。", SMALL))
    for i, p in enumerate(result.recommendation.positions):
        out += _position(result, p, i)
    return out


def _position(result: TallyResult, p: PositionResult, i: int) -> list[Flowable]:
    blk = p.blocks[ALL]
    quota = "" if title_states_quota(p.title) else f"（应推荐 {p.quota} 人）"
    head = h2(f"{_numeral(i)}、{p.title}{quota}")
    summary = para(
        f"本职位有效 {blk.valid} 票，无效（超过限推人数）{blk.void} 票，弃权 {blk.abstain} 票，"
        f"整张作废 {blk.ballot_void} 张；得票率计算基数 {blk.denominator}。", SMALL)
    buckets = result.buckets
    row1: list[object] = ["序号", "姓名（职务）" if any(c.post for c in p.candidates) else "姓名"]
    row2: list[object] = ["", ""]
    spans = [((0, 0), (0, 1)), ((1, 0), (1, 1))]
    for k, b in enumerate(buckets):
        row1 += [f"{b.label}（基数 {p.blocks[b.id].denominator}）", "", ""]
        row2 += ["票数", "得票率", "名次"]
        spans.append(((2 + 3 * k, 0), (4 + 3 * k, 0)))
    rows: list[list[object]] = [row1, row2]
    for n, c in enumerate(p.candidates, 1):
        row: list[object] = [n, _person(c.name, c.post)]
        for b in buckets:
            row += [c.votes[b.id], pct(c.rate[b.id]), c.rank[b.id]]
        rows.append(row)
    name_w = 26 * mm if any(c.post for c in p.candidates) else 18 * mm
    cell_w = (CONTENT_W - 8 * mm - name_w) / (3 * len(buckets))
    font = 8.5 if len(buckets) <= 4 else 7.5
    t = table(rows, [8 * mm, name_w] + [cell_w] * (3 * len(buckets)), head_rows=2,
              spans=spans, font_size=font)
    chart = count_bars([c.shown for c in p.candidates], [c.votes[ALL] for c in p.candidates],
                       [c.rate[ALL] for c in p.candidates], CONTENT_W,
                       title=f"{p.title}得票情况（全体）")
    out: list[Flowable] = [keep(head, summary, t), gap(2), chart]
    if p.writeins or p.unnamed_writein_marks[ALL]:
        out += _writeins(result, p)
    return out


def _writeins(result: TallyResult, p: PositionResult) -> list[Flowable]:
    buckets = result.buckets
    rows: list[list[object]] = [["另推人选", *[f"{b.label}票数" for b in buckets], "得票率（全体）",
                                 "备注"]]
    shown = {c.id: c.shown for c in p.candidates}
    for w in p.writeins:
        note = (f"与候选人{shown.get(w.same_as_candidate, '')}同名" if w.same_as_candidate
                else "")
        rows.append([para(w.name, CELL), *[w.votes[b.id] for b in buckets], pct(w.rate[ALL]),
                     para(note, CELL)])
    w0 = 30 * mm
    rest = (CONTENT_W - w0 - 20 * mm - 40 * mm) / len(buckets)
    out: list[Flowable] = [para(f"{p.title}另推人选（复核时据票面录入）：", SMALL)]
    if p.writeins:
        out.append(table(rows, [w0] + [rest] * len(buckets) + [20 * mm, 40 * mm]))
    if p.unnamed_writein_marks[ALL]:
        out.append(para(f"另推栏已划票但未填写姓名 {p.unnamed_writein_marks[ALL]} 票（计入限推"
                        "人数，不计入任何人选得票）。", SMALL))
    return out


# ---------------------------------------------------------------- rated rows


def _person(name: str, post: str) -> object:
    """A name cell: the name, and the 职务 below it in small type (namesakes stay apart)."""
    if not post:
        return para(name, CELL)
    return para_lines(name, post)


def _bar_series(part: PartResult, cells: list[RowStats], unknown_in: bool) -> list[Series]:
    """Level shares per bar, plus the remainder (弃权/无效/作废) so that bars reach 100%."""
    levels = [lv for lv in part.levels if lv.id != "unknown" or unknown_in]
    colours = level_colours([lv.id for lv in levels])
    out = [Series(lv.label, colours[i], [c.shares[lv.id] for c in cells])
           for i, lv in enumerate(levels)]
    rest = [max(0.0, 1.0 - sum(s.values[k] or 0.0 for s in out)) for k in range(len(cells))]
    if any(v > 1e-9 for v in rest):
        out.append(Series(REMAINDER.label, REMAINDER.colour, rest, labelled=False))
    return out


def _counts_table(result: TallyResult, part: PartResult, rows: list[RowResult], first: str,
                  rate_keys: list[str], *, rank: bool = False, post: bool = False,
                  weighted: bool = False) -> Flowable:
    levels = part.levels
    head: list[object] = (["名次"] if rank else []) + [first] + (["职务"] if post else [])
    head += [lv.label for lv in levels] + [part.rate_labels[k] for k in rate_keys] + ["得分"]
    if weighted:
        head.append("类别加权得分")
    data: list[list[object]] = [head]
    for r in rows:
        s = r.stats[ALL]
        row: list[object] = ([r.rank] if rank else []) + [para(r.label, CELL)]
        if post:
            row.append(para(r.post, CELL))
        row += [s.counts[lv.id] for lv in levels] + [pct(s.rates[k]) for k in rate_keys]
        row.append(num(s.score))
        if weighted:
            row.append(num(r.category_weighted_score))
        data.append(row)
    fixed = (10 * mm if rank else 0) + (30 * mm if post else 0)
    label_w = 34 * mm if not post else 18 * mm
    n = len(head) - (1 if rank else 0) - 1 - (1 if post else 0)
    w = (CONTENT_W - fixed - label_w) / n
    widths = ([10 * mm] if rank else []) + [label_w] + ([30 * mm] if post else []) + [w] * n
    return table(data, widths, font_size=8 if n > 9 else 8.5)


def _bucket_rates_table(result: TallyResult, rows: list[RowResult], first: str,
                        keys: list[tuple[str, str]]) -> Flowable:
    """Rows × buckets, each bucket with the rates `keys` (key, short label)."""
    buckets = result.buckets
    row1: list[object] = [first] + [x for b in buckets for x in [b.label] + [""] * (len(keys) - 1)]
    row2: list[object] = [""] + [lab for _ in buckets for _, lab in keys]
    spans = [((0, 0), (0, 1))] + [((1 + k * len(keys), 0), (len(keys) + k * len(keys), 0))
                                  for k in range(len(buckets))]
    data: list[list[object]] = [row1, row2]
    for r in rows:
        data.append([_person(r.label, r.post)] + [pct(r.stats[b.id].rates[k]) for b in buckets
                                                  for k, _ in keys])
    label_w = 30 * mm
    w = (CONTENT_W - label_w) / (len(buckets) * len(keys))
    return table(data, [label_w] + [w] * (len(buckets) * len(keys)), head_rows=2, spans=spans,
                 font_size=8 if len(buckets) * len(keys) > 8 else 8.5)


def evaluation(result: TallyResult) -> list[Flowable]:
    ev = result.evaluation
    assert ev is not None
    out: list[Flowable] = [h1("民主测评结果")]
    den = DENOMINATOR_LABELS[result.settings.denominator]
    unknown = "计入" if result.settings.unknown_in_denominator else "不计入"
    out.append(para(f"各等次占比 = 该等次票数 ÷ {den}（“不了解”{unknown}基数）；得分 = Σ 占比 × "
                    "等次权重。多选的该项无效，未选的该项为弃权。", SMALL))
    if ev.team:
        out += _team(result, ev.team)
    if ev.individual:
        out += _individual(result, ev.individual)
    return out


def _team(result: TallyResult, part: PartResult) -> list[Flowable]:
    out: list[Flowable] = [h2(f"一、{part.title}")]
    rows = part.rows
    out.append(_counts_table(result, part, rows, "测评内容", list(part.rate_labels)))
    out.append(para("分类别好评率、差评率：", SMALL))
    out.append(_bucket_rates_table(result, rows, "测评内容",
                                   [("favourable", "好评率"), ("poor", "差评率")]))
    series = [Series(b.label, SERIES[k % len(SERIES)], [r.stats[b.id].rates["favourable"]
                                                         for r in rows])
              for k, b in enumerate(result.buckets)]
    out.append(gap(2))
    out.append(grouped_bars([r.label for r in rows], series, CONTENT_W, 78 * mm,
                            title="领导班子各项好评率（按参加人员类别，%）"))
    return out


def _individual(result: TallyResult, part: PartResult) -> list[Flowable]:
    n = 2 if result.evaluation and result.evaluation.team else 1
    out: list[Flowable] = [h2(f"{_numeral(n - 1)}、{part.title}")]
    rows = part.rows
    keys = [k for k in ("excellent", "competent_or_better", "incompetent") if k in part.rate_labels]
    weighted = bool(result.settings.category_weights)
    if any(r.sub_rows for r in rows):
        out.append(para("每人按德、能、勤、绩、廉等分项测评，下表为各分项合计（人次）。", SMALL))
    out.append(para(f"名次按{part.ranked_by}排列（设置项 rank_by）；并列者名次相同。", SMALL))
    out.append(_counts_table(result, part, rows, "姓名", keys, rank=True, post=True,
                             weighted=weighted))
    out.append(para("分类别称职以上率、不称职率：", SMALL))
    out.append(_bucket_rates_table(result, rows, "姓名", [("competent_or_better", "称职以上"),
                                                         ("incompetent", "不称职")]))
    by_rank = sorted(rows, key=lambda r: (r.rank or len(rows) + 1,
                                          -(r.stats[ALL].rates["competent_or_better"] or 0.0)))
    unknown_in = result.settings.unknown_in_denominator
    basis = part.ranked_by.split("，")[0]
    for b in result.buckets:
        series = _bar_series(part, [r.stats[b.id] for r in by_rank], unknown_in)
        out.append(stacked([r.shown for r in by_rank], series, CONTENT_W,
                           title=f"领导干部测评结果（{b.label}，按全体{basis}排序）"))
    subs = [(r, s) for r in rows for s in r.sub_rows]
    if subs:
        out.append(h2("分项测评明细（全体）"))
        head = ["姓名", "项目", *[lv.label for lv in part.levels], "称职以上率", "不称职率",
                "得分"]
        data: list[list[object]] = [head]
        for r, s in subs:
            st = s.stats[ALL]
            data.append([para(r.shown, CELL), s.label, *[st.counts[lv.id] for lv in part.levels],
                         pct(st.rates["competent_or_better"]), pct(st.rates["incompetent"]),
                         num(st.score)])
        w = (CONTENT_W - 44 * mm) / (len(head) - 2)
        out.append(table(data, [32 * mm, 12 * mm] + [w] * (len(head) - 2)))
    return out


# ---------------------------------------------------------------- satisfaction


def satisfaction(result: TallyResult) -> list[Flowable]:
    sat = result.satisfaction
    assert sat is not None
    unknown_in = result.settings.unknown_in_denominator
    den = DENOMINATOR_LABELS[result.settings.denominator]
    out: list[Flowable] = [h1("选人用人工作民主评议结果"), para(
        f"满意率 = （满意 + 基本满意）÷ {den}（“不了解”{'计入' if unknown_in else '不计入'}基数；"
        "不了解率以全部为基数）。意见建议栏仅保存图像，不作统计。", SMALL)]
    part = sat.overall
    for i, row in enumerate(part.rows):
        s = row.stats[ALL]
        series = _bar_series(part, [s], unknown_in)
        slices = [Series(x.label, x.colour, [x.values[0]]) for x in series]
        chart = donut(slices, 46 * mm, centre=pct(s.rates["satisfied"]), centre_sub="满意率",
                      title="全体评价分布")
        data: list[list[object]] = [["类别"] + [lv.label for lv in part.levels]
                                    + [part.rate_labels[k] for k in part.rate_labels] + ["得分"]]
        for b in result.buckets:
            st = row.stats[b.id]
            data.append([b.label, *[st.counts[lv.id] for lv in part.levels],
                         *[pct(st.rates[k]) for k in part.rate_labels], num(st.score)])
        w = (CONTENT_W - 26 * mm) / (len(data[0]) - 1)
        out.append(keep(h2(f"{_numeral(i)}、{row.label}"), chart,
                        table(data, [26 * mm] + [w] * (len(data[0]) - 1))))
        cells = [row.stats[b.id] for b in result.buckets]
        out.append(gap(2))
        out.append(stacked([b.label for b in result.buckets],
                           _bar_series(part, cells, unknown_in), CONTENT_W,
                           title="分类别评价分布"))
    if sat.items:
        items = sat.items
        out.append(h2(f"{_numeral(len(part.rows))}、{items.title}"))
        out.append(_counts_table(result, items, items.rows, "姓名", list(items.rate_labels),
                                 rank=True, post=True))
        out.append(_bucket_rates_table(result, items.rows, "姓名", [("agree", "认同率"),
                                                                   ("disagree", "不认同率")]))
        by_rate = sorted(items.rows, key=lambda r: -(r.stats[ALL].rates["agree"] or 0.0))
        out.append(gap(2))
        out.append(stacked([r.shown for r in by_rate],
                           _bar_series(items, [r.stats[ALL] for r in by_rate], unknown_in),
                           CONTENT_W,
                           title="新选拔任用干部评议结果（全体）"))
    return out
