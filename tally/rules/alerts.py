"""Figure warnings (预警), for all ballots and for each voter category.

- leaders (and their sub-rows): 不称职率 ≥ `incompetent_warn_rate`; 称职以上率 <
  `competent_or_better_warn_rate`;
- team dimensions, likewise: 差评率 ≥ `incompetent_warn_rate`; 好评率 <
  `competent_or_better_warn_rate`;
- satisfaction questions: 不满意率 ≥ `dissatisfied_warn_rate`; items: 不认同率 ≥ the same.
A rate that cannot be computed (no ballots in the bucket) raises no warning.
"""

from __future__ import annotations

from collections.abc import Iterator

from tally.model import Settings
from tally.rules.result import (
    ALL,
    N_,
    EvaluationResult,
    Notice,
    PartResult,
    RowResult,
    SatisfactionResult,
)

# (rate key, ">=" or "<", threshold setting, code)
_RULES: dict[str, list[tuple[str, str, str, str]]] = {
    "individual": [("incompetent", ">=", "incompetent_warn_rate", "incompetent_high"),
                   ("competent_or_better", "<", "competent_or_better_warn_rate",
                    "competent_low")],
    "team": [("poor", ">=", "incompetent_warn_rate", "poor_high"),
             ("favourable", "<", "competent_or_better_warn_rate", "favourable_low")],
    "overall": [("dissatisfied", ">=", "dissatisfied_warn_rate", "dissatisfied_high")],
    "items": [("disagree", ">=", "dissatisfied_warn_rate", "disagree_high")],
}


#: the warning's text (message ids of the server's catalogues: it translates by them)
_AT_OR_ABOVE = N_("{subject}（{where}，n={n}）{rate} {value}，达到预警线 {threshold}")
_BELOW = N_("{subject}（{where}，n={n}）{rate} {value}，低于预警线 {threshold}")


def figure_warnings(ev: EvaluationResult | None, sat: SatisfactionResult | None,
                    settings: Settings, labels: dict[str, str]) -> list[Notice]:
    parts = [p for p in ([ev.team, ev.individual] if ev else []) + (
        [sat.overall, sat.items] if sat else []) if p is not None]
    out: list[Notice] = []
    for part in parts:
        for row, subject, about in _rows(part):
            for key, op, setting, code in _RULES[part.id]:
                threshold = float(getattr(settings, setting))
                for bucket, stats in row.stats.items():
                    value = stats.rates.get(key)
                    if value is None:
                        continue
                    hit = value >= threshold if op == ">=" else value < threshold
                    if not hit:
                        continue
                    where = "全体" if bucket == ALL else labels.get(bucket, bucket)
                    n = _people(row, stats.denominator)
                    template = _AT_OR_ABOVE if op == ">=" else _BELOW
                    params: dict[str, str | int | float] = {
                        "subject": subject, "where": where, "n": n,
                        "rate": part.rate_labels[key], "value": f"{value * 100:.1f}%",
                        "threshold": f"{threshold * 100:.1f}%"}
                    out.append(Notice(
                        severity="warning", code=code, part=part.id, row=row.field or row.id,
                        subject=subject, about=about, bucket=bucket, value=value,
                        threshold=threshold, n=n, message=template.format(**params),
                        template=template, params=params,
                    ))
    return out


def _people(row: RowResult, denominator: int) -> int:
    """A cadre's pooled sub-rows count each sheet once per sub-row: n in sheets."""
    return denominator // max(1, len(row.sub_rows))


def _rows(part: PartResult) -> Iterator[tuple[RowResult, str, str]]:
    """Each row and sub-row with its subject ("张伟（副局长）·德") and the row it is about."""
    for row in part.rows:
        yield row, row.shown, row.shown
        for sub in row.sub_rows:
            yield sub, f"{row.shown}·{sub.label}", row.shown
