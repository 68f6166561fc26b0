"""The warning summary: alarms and warnings aggregated per subject and rule, so that one stray
page (a category of one ballot trips every rule of every sub-row) gives a line per cadre, not
a hundred lines.

- a figure warning is grouped by what it is about (`Notice.about`: the cadre or row, its
  sub-rows aside) and its rule (`Notice.code`); other notices (reconciliation, review) by their
  code, one line for the meeting;
- each group says how many warnings it holds, where they fired (bucket · sub-row), the most
  extreme value and the n (denominator) behind them;
- lines keep the order of the notices' first appearance (alarms first), so the summary follows
  the report's order of cadres.
"""

from __future__ import annotations

from collections.abc import Iterable

from tally.rules.result import ALL, ALL_LABEL, Notice, WarningLine, WarningRule

#: the line of notices about no cadre or row
MEETING_SUBJECT = "本次会议"
_DIRECTION = {">=": "达到", "<": "低于"}
#: figure warning code -> (rate name, direction)
_RULES = {
    "incompetent_high": ("不称职率", ">="), "competent_low": ("称职以上率", "<"),
    "poor_high": ("差评率", ">="), "favourable_low": ("好评率", "<"),
    "dissatisfied_high": ("不满意率", ">="), "disagree_high": ("不认同率", ">="),
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _rule_words(n: Notice) -> str:
    known = _RULES.get(n.code)
    if known is None:
        return n.message if n.about is None and n.subject is None else n.code
    name, op = known
    return f"{name}{_DIRECTION[op]}预警线 {_pct(n.threshold)}"


def _scope(n: Notice, labels: dict[str, str]) -> str:
    where = ALL_LABEL if n.bucket in (None, ALL) else labels.get(n.bucket, n.bucket)
    if n.subject and n.about and n.subject != n.about and n.subject.startswith(n.about + "·"):
        return f"{where}·{n.subject[len(n.about) + 1:]}"
    return where


def compact_scopes(scopes: list[str]) -> str:
    """"全体、全体·德、全体·能、中层正职·德" -> "全体（合计、德、能）；中层正职（德）"."""
    by_bucket: dict[str, list[str]] = {}
    for scope in scopes:
        bucket, _, item = scope.partition("·")
        by_bucket.setdefault(bucket, []).append(item or "合计")
    return "；".join(b if items == ["合计"] else f"{b}（{'、'.join(items)}）"
                    for b, items in by_bucket.items())


def summarize(notices: Iterable[Notice], labels: dict[str, str]) -> list[WarningLine]:
    """One `WarningLine` per subject (see the module docstring); `labels`: bucket -> label."""
    groups: dict[tuple[str | None, str], dict[tuple[str, str], list[Notice]]] = {}
    for n in notices:
        subject = n.about or MEETING_SUBJECT
        key = (n.part if n.about else None, subject)
        rule_key = (n.code, _rule_words(n) if n.code in _RULES else n.message)
        groups.setdefault(key, {}).setdefault(rule_key, []).append(n)
    lines: list[WarningLine] = []
    for (part, subject), rules in groups.items():
        out: list[WarningRule] = []
        for (code, words), hits in rules.items():
            values = [h.value for h in hits if h.value is not None]
            op = _RULES.get(code, ("", ">="))[1]
            worst = (max(values) if op == ">=" else min(values)) if values else None
            ns = [h.n for h in hits if h.n is not None]
            scopes = list(dict.fromkeys(_scope(h, labels) for h in hits))
            out.append(WarningRule(
                code=code, severity=hits[0].severity, rule=words, count=len(hits),
                scopes=scopes, worst=worst, threshold=hits[0].threshold,
                n_min=min(ns) if ns else None, n_max=max(ns) if ns else None))
        total = sum(r.count for r in out)
        n_all = next((h.n for hits in rules.values() for h in hits
                      if h.bucket in (None, ALL) and h.n is not None), None)
        lines.append(WarningLine(part=part, subject=subject, count=total, n=n_all, rules=out,
                                 message=_line(subject, total, n_all, out)))
    return lines


def _line(subject: str, total: int, n: int | None, rules: list[WarningRule]) -> str:
    head = f"{subject}：{total} 条" + (f"（全体 n={n}）" if n is not None else "")
    parts = []
    for r in rules:
        known = _RULES.get(r.code)
        if known is None:
            parts.append(r.rule if r.count == 1 else f"{r.rule}（{r.count} 条）")
            continue
        where = compact_scopes(r.scopes)
        extreme = "最高" if known[1] == ">=" else "最低"
        n = "" if r.n_min is None else (f"；n={r.n_min}" if r.n_min == r.n_max
                                        else f"；n={r.n_min}–{r.n_max}")
        parts.append(f"{r.rule} {r.count} 条（{where}；{extreme} {_pct(r.worst)}{n}）")
    return head + "：" + "；".join(parts)
