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

from collections.abc import Callable, Iterable

from tally.rules.result import ALL, ALL_LABEL, N_, Notice, WarningLine, WarningRule

#: the line of notices about no cadre or row
MEETING_SUBJECT = N_("本次会议")
#: the wording, as message ids of the server's catalogues (the Chinese the reports print);
#: `line_text` fills them in another language
_RULE_WORDS = {">=": N_("{rate}达到预警线 {threshold}"), "<": N_("{rate}低于预警线 {threshold}")}
_HEAD = N_("{subject}：{count} 条")
_HEAD_N = N_("{subject}：{count} 条（全体 n={n}）")
_LINE = N_("{head}：{rules}")
_FIGURE = {">=": N_("{rule} {count} 条（{where}；最高 {worst}{n}）"),
           "<": N_("{rule} {count} 条（{where}；最低 {worst}{n}）")}
_N_ONE = N_("；n={n}")
_N_RANGE = N_("；n={low}–{high}")
_OTHER_TIMES = N_("{rule}（{count} 条）")
_SCOPE_ITEMS = N_("{bucket}（{items}）")
_TOTAL = N_("合计")
#: the separators of a list of scopes' items, and of a line's rules and of the bucket's parts
_LIST_SEP = N_("、")
_PART_SEP = N_("；")

Lookup = Callable[[str], str]


def _same(message: str) -> str:
    return message
#: figure warning code -> (rate name, direction)
_RULES = {
    "incompetent_high": ("不称职率", ">="), "competent_low": ("称职以上率", "<"),
    "poor_high": ("差评率", ">="), "favourable_low": ("好评率", "<"),
    "dissatisfied_high": ("不满意率", ">="), "disagree_high": ("不认同率", ">="),
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _figure_words(code: str, threshold: float | None, lookup: Lookup = _same) -> str:
    name, op = _RULES[code]
    return lookup(_RULE_WORDS[op]).format(rate=lookup(name), threshold=_pct(threshold))


def _rule_words(n: Notice) -> str:
    if n.code not in _RULES:
        return n.message if n.about is None and n.subject is None else n.code
    return _figure_words(n.code, n.threshold)


def _scope(n: Notice, labels: dict[str, str]) -> str:
    where = ALL_LABEL if n.bucket in (None, ALL) else labels.get(n.bucket, n.bucket)
    if n.subject and n.about and n.subject != n.about and n.subject.startswith(n.about + "·"):
        return f"{where}·{n.subject[len(n.about) + 1:]}"
    return where


def compact_scopes(scopes: list[str], lookup: Lookup = _same) -> str:
    """"全体、全体·德、全体·能、中层正职·德" -> "全体（合计、德、能）；中层正职（德）" (in
    `lookup`'s language: the bucket 全体 and 合计 translated, the spec's labels as they are)."""
    by_bucket: dict[str, list[str]] = {}
    for scope in scopes:
        bucket, _, item = scope.partition("·")
        by_bucket.setdefault(bucket, []).append(item or _TOTAL)

    def shown(bucket: str) -> str:
        return lookup(bucket) if bucket == ALL_LABEL else bucket

    return lookup(_PART_SEP).join(
        shown(b) if items == [_TOTAL] else lookup(_SCOPE_ITEMS).format(
            bucket=shown(b), items=lookup(_LIST_SEP).join(
                lookup(x) if x == _TOTAL else x for x in items))
        for b, items in by_bucket.items())


def summarize(notices: Iterable[Notice], labels: dict[str, str]) -> list[WarningLine]:
    """One `WarningLine` per subject (see the module docstring); `labels`: bucket -> label."""
    groups: dict[tuple[str | None, str], dict[tuple[str, str], list[Notice]]] = {}
    notices = list(notices)
    for n in notices:
        subject = n.about or MEETING_SUBJECT
        key = (n.part if n.about else None, subject)
        rule_key = (n.code, _rule_words(n) if n.code in _RULES else n.message)
        groups.setdefault(key, {}).setdefault(rule_key, []).append(n)
    # the template of a rule's words that is a notice's own (reconciliation, review)
    templates = {(n.code, n.message): (n.template, n.params) for n in notices
                 if n.code not in _RULES}
    lines: list[WarningLine] = []
    for (part, subject), rules in groups.items():
        out: list[WarningRule] = []
        for (code, words), hits in rules.items():
            values = [h.value for h in hits if h.value is not None]
            op = _RULES.get(code, ("", ">="))[1]
            worst = (max(values) if op == ">=" else min(values)) if values else None
            ns = [h.n for h in hits if h.n is not None]
            scopes = list(dict.fromkeys(_scope(h, labels) for h in hits))
            template, params = templates.get((code, words), (None, {}))
            out.append(WarningRule(
                code=code, severity=hits[0].severity, rule=words, count=len(hits),
                scopes=scopes, worst=worst, threshold=hits[0].threshold,
                n_min=min(ns) if ns else None, n_max=max(ns) if ns else None,
                template=template, params=dict(params)))
        total = sum(r.count for r in out)
        n_all = next((h.n for hits in rules.values() for h in hits
                      if h.bucket in (None, ALL) and h.n is not None), None)
        line = WarningLine(part=part, subject=subject, count=total, n=n_all, rules=out,
                           message="")
        lines.append(line.model_copy(update={"message": line_text(line)}))
    return lines


def _rule_text(r: WarningRule, lookup: Lookup | None) -> str:
    """A rule's words: as recorded (`lookup` None), else by its template in `lookup`'s
    language (its text parameters translated when they are messages, as 全体)."""
    if lookup is None:
        return r.rule
    if r.code in _RULES:
        return _figure_words(r.code, r.threshold, lookup)
    if r.template is None:
        return lookup(r.rule)
    shown = {k: lookup(v) if isinstance(v, str) else v for k, v in r.params.items()}
    try:
        return lookup(r.template).format(**shown)
    except (KeyError, IndexError, ValueError):  # a translation naming a wrong parameter
        return r.rule


def line_text(line: WarningLine, lookup: Lookup | None = None) -> str:
    """A summary line in words: the Chinese the result records and the reports print (`lookup`
    None), or in the language of `lookup` (a message id -> its translation)."""
    words = lookup or _same
    subject = words(line.subject) if line.subject == MEETING_SUBJECT else line.subject
    head = (words(_HEAD).format(subject=subject, count=line.count) if line.n is None
            else words(_HEAD_N).format(subject=subject, count=line.count, n=line.n))
    parts = []
    for r in line.rules:
        rule = _rule_text(r, lookup)
        known = _RULES.get(r.code)
        if known is None:
            parts.append(rule if r.count == 1 else
                         words(_OTHER_TIMES).format(rule=rule, count=r.count))
            continue
        n = ("" if r.n_min is None else words(_N_ONE).format(n=r.n_min) if r.n_min == r.n_max
             else words(_N_RANGE).format(low=r.n_min, high=r.n_max))
        parts.append(words(_FIGURE[known[1]]).format(
            rule=rule, count=r.count, where=compact_scopes(r.scopes, words),
            worst=_pct(r.worst), n=n))
    return words(_LINE).format(head=head, rules=words(_PART_SEP).join(parts))
