"""Summary tables of a result, shared by the workbook's summary sheets and the CSV files.

Cells hold the JSON result's own numbers (counts as int, rates as fractions), never rounded, so
a spreadsheet or CSV reader gets exactly the figures of `scantally tally --json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tally.rules.result import ALL, PartResult, RowResult, TallyResult

Cell = str | int | float | None


@dataclass
class SummaryTable:
    name: str  # ASCII: the CSV file name and a stable id
    title: str  # Chinese: the sheet name
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    #: columns whose values are fractions to show as percentages
    percent_cols: set[int] = field(default_factory=set)


def summary_tables(result: TallyResult) -> list[SummaryTable]:
    out = [reconciliation_table(result)]
    if result.recommendation:
        out += recommendation_tables(result)
    if result.evaluation:
        for part in (result.evaluation.team, result.evaluation.individual):
            if part:
                out.append(part_table(result, part, f"evaluation_{part.id}",
                                      "班子测评" if part.id == "team" else "个人测评"))
    if result.satisfaction:
        out.append(part_table(result, result.satisfaction.overall, "satisfaction_overall",
                              "总体评价"))
        if result.satisfaction.items:
            out.append(part_table(result, result.satisfaction.items, "satisfaction_items",
                                  "干部评议"))
    out.append(warning_summary_table(result))
    out.append(warnings_table(result))
    return out


def reconciliation_table(result: TallyResult) -> SummaryTable:
    t = SummaryTable("reconciliation", "票数核对",
                     ["类别ID", "类别", "应到", "实到", "到会率", "收回", "有效", "无效", "弃权",
                      "待复核"], percent_cols={4})
    for r in result.reconciliation.rows:
        t.rows.append([r.bucket, r.label, r.expected, r.present, r.participation, r.returned,
                       r.valid, r.invalid, r.abstain, r.pending_review])
    return t


def recommendation_tables(result: TallyResult) -> list[SummaryTable]:
    assert result.recommendation is not None
    buckets = result.buckets
    head = ["职位ID", "职位", "候选人ID", "姓名"]
    for b in buckets:
        head += [f"{b.label}·得票数", f"{b.label}·得票率", f"{b.label}·名次"]
    votes = SummaryTable("recommendation", "推荐得票", head,
                         percent_cols={5 + 3 * i for i in range(len(buckets))})
    blocks = SummaryTable("recommendation_blocks", "栏目统计",
                          ["职位ID", "职位", "类别ID", "类别", "收回", "有效票", "有效",
                           "无效（超过限推）",
                           "弃权", "整票作废", "计算基数"])
    votes.header += ["职务", "显示名"]
    w_head = ["职位ID", "职位", "另推人选"] + [f"{b.label}·得票数" for b in buckets]
    writeins = SummaryTable("writeins", "另推人选", [*w_head, "同名候选人ID"])
    for p in result.recommendation.positions:
        for c in p.candidates:
            row: list[Cell] = [p.id, p.title, c.id, c.name]
            for b in buckets:
                row += [c.votes[b.id], c.rate[b.id], c.rank[b.id]]
            votes.rows.append([*row, c.post, c.shown])
        for b in buckets:
            k = p.blocks[b.id]
            blocks.rows.append([p.id, p.title, b.id, b.label, k.ballots, k.valid_ballots,
                                k.valid, k.void, k.abstain, k.ballot_void, k.denominator])
        for w in p.writeins:
            writeins.rows.append([p.id, p.title, w.name, *[w.votes[b.id] for b in buckets],
                                  w.same_as_candidate])
    return [votes, blocks, writeins]


def part_table(result: TallyResult, part: PartResult, name: str, title: str) -> SummaryTable:
    levels = part.levels
    rates = list(part.rate_labels)
    head = ["对象ID", "对象", "项目", "类别ID", "类别", "收回", "有效", "无效（多选）", "弃权",
            "整票作废", "计算基数"]
    head += [f"{lv.label}·票数" for lv in levels] + [f"{lv.label}·占比" for lv in levels]
    head += [part.rate_labels[k] for k in rates] + ["得分", "类别加权得分", "名次", "职务"]
    first_share = 11 + len(levels)
    t = SummaryTable(name, title, head,
                     percent_cols=set(range(first_share, first_share + len(levels) + len(rates))))
    for row in part.rows:
        _part_rows(t, result, row, row.shown, "", levels, rates, row.post)
        for sub in row.sub_rows:
            _part_rows(t, result, sub, row.shown, sub.label, levels, rates, row.post)
    return t


def _part_rows(t: SummaryTable, result: TallyResult, row: RowResult, subject: str, item: str,
               levels, rates: list[str], post: str) -> None:
    """One line per bucket; `subject` is the name shown ("张伟（副局长）" beside a namesake)."""
    for b in result.buckets:
        s = row.stats[b.id]
        cells: list[Cell] = [row.person_id or row.id, subject, item, b.id, b.label, s.ballots,
                             s.valid, s.void, s.abstain, s.ballot_void, s.denominator]
        cells += [s.counts[lv.id] for lv in levels] + [s.shares[lv.id] for lv in levels]
        cells += [s.rates[k] for k in rates]
        cells += [s.score, row.category_weighted_score if b.id == ALL else None,
                  row.rank if b.id == ALL else None, post]
        t.rows.append(cells)


def warnings_table(result: TallyResult) -> SummaryTable:
    t = SummaryTable("warnings", "预警", ["级别", "代码", "对象", "类别", "数值", "预警线", "说明",
                                          "n（计算基数）"])
    for n in [*result.alarms, *result.warnings]:
        t.rows.append(["警报" if n.severity == "alarm" else "预警", n.code, n.subject or "",
                       result.bucket_label(n.bucket) if n.bucket else "", n.value, n.threshold,
                       n.message, n.n])
    return t


def warning_summary_table(result: TallyResult) -> SummaryTable:
    """The warning summary: one row per subject and rule (`TallyResult.warning_summary`)."""
    t = SummaryTable("warning_summary", "预警汇总",
                     ["对象", "对象预警条数", "全体n", "规则", "条数", "出现范围", "最不利值",
                      "最小n", "最大n", "汇总说明"])
    for line in result.warning_summary:
        for r in line.rules:
            t.rows.append([line.subject, line.count, line.n, r.rule, r.count, "、".join(r.scopes),
                           r.worst, r.n_min, r.n_max, line.message])
    return t
