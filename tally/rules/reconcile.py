"""Meeting reconciliation: 应到 / 实到 / 发出 / 收回 / 有效 / 无效 / 弃权, and its alarms.

- 实到 per category is `MeetingFacts.present`, else the ballots returned in that category; the
  overall figures are `MeetingFacts.expected/present["_all"]` when given, else the sums;
- participation = 实到 / 应到; a warning below `Settings.participation_warn_rate` (2/3);
- more sheets returned than issued (发出) → an alarm: the vote is void and must be held again;
- more sheets returned than people present (实到) → a warning;
- more people present (实到) than expected (应到) in a category → a warning (a figure mistyped,
  or sheets counted under the wrong category);
- a form whose category is assigned per batch with sheets under 未标明类别 → a warning: a batch
  was ingested without its category (they count in the total only);
- sheets with doubtful marks not yet reviewed → a warning (the figures are provisional).
"""

from __future__ import annotations

from tally.model import MeetingFacts, Settings
from tally.rules.result import ALL, N_, UNMARKED, Notice, Reconciliation, ReconRow
from tally.rules.tallies import Tallies


def _text(template: str, **params: str | int | float) -> dict[str, object]:
    """A notice's message, its template and parameters (the server translates by them)."""
    return {"message": template.format(**params), "template": template, "params": params}


def reconcile(t: Tallies, facts: MeetingFacts, settings: Settings,
              labels: dict[str, str], *, categories_by_batch: bool = False
              ) -> tuple[Reconciliation, list[Notice], list[Notice]]:
    """Returns the reconciliation, the alarms and the warnings. `categories_by_batch`: the
    form's voter category is assigned per batch (not marked on the sheet)."""
    alarms: list[Notice] = []
    warnings: list[Notice] = []
    rows = [_row(t, facts, settings, b, labels[b]) for b in [*t.buckets, ALL]]
    for row in rows:
        where = "全体" if row.bucket == ALL else f"“{row.label}”"
        if row.participation_low and row.expected:
            warnings.append(Notice(
                severity="warning", code="participation_low", bucket=row.bucket,
                value=row.participation, threshold=settings.participation_warn_rate,
                **_text(N_("{where}实到 {present} 人、应到 {expected} 人，到会率 {rate}，低于 "
                           "{threshold}"), where=where, present=row.present,
                        expected=row.expected, rate=_pct(row.participation),
                        threshold=_pct(settings.participation_warn_rate)),
            ))
        by_category = row.bucket != ALL or not t.buckets  # per category (the meeting if none)
        if by_category and row.expected is not None and row.present > row.expected:
            warnings.append(Notice(
                severity="warning", code="present_exceeds_expected", bucket=row.bucket,
                value=row.present, threshold=row.expected,
                **_text(N_("{where}实到 {present} 人，多于应到 {expected} 人，请核对应到、实到"
                           "人数或选票的类别"), where=where, present=row.present,
                        expected=row.expected),
            ))
        if row.returned > row.present:
            warnings.append(Notice(
                severity="warning", code="returned_exceeds_present", bucket=row.bucket,
                value=row.returned, threshold=row.present,
                **_text(N_("{where}收回 {returned} 张，多于实到 {present} 人，请核查"),
                        where=where, returned=row.returned, present=row.present),
            ))
    unmarked = t.ballots.get(UNMARKED, 0) if UNMARKED in t.buckets else 0
    if categories_by_batch and unmarked:
        warnings.append(Notice(
            severity="warning", code="batch_without_category", bucket=UNMARKED, value=unmarked,
            **_text(N_("{n} 张选票所在批次未指定参加人员类别（本表按批次分类），只计入全体，"
                       "未计入任何类别：请按类别重新读入该批次"), n=unmarked),
        ))
    returned = t.ballots[ALL]
    vote_void = facts.issued is not None and returned > facts.issued
    if vote_void:
        alarms.append(Notice(
            severity="alarm", code="returned_exceeds_issued", bucket=ALL, value=returned,
            threshold=facts.issued,
            **_text(N_("收回选票 {returned} 张，多于发出的 {issued} 张：本次投票无效，必须重新"
                       "组织投票"), returned=returned, issued=facts.issued or 0),
        ))
    if t.pending[ALL]:
        warnings.append(Notice(
            severity="warning", code="pending_review", bucket=ALL, value=t.pending[ALL],
            **_text(N_("{n} 张选票有存疑标记尚未复核，以上为临时结果"), n=t.pending[ALL]),
        ))
    not_returned = None if facts.issued is None else max(facts.issued - returned, 0)
    recon = Reconciliation(issued=facts.issued, returned=returned, not_returned=not_returned,
                           vote_void=vote_void, rows=rows)
    return recon, alarms, warnings


def _row(t: Tallies, facts: MeetingFacts, settings: Settings, bucket: str,
         label: str) -> ReconRow:
    returned = t.ballots[bucket]
    if bucket == ALL and t.buckets:
        expected = facts.expected.get(ALL)
        if expected is None and facts.expected:
            expected = sum(facts.expected.values())
        present = facts.present.get(ALL)
        if present is None:
            present = sum(facts.present.get(b, t.ballots[b]) for b in t.buckets)
    else:
        expected = facts.expected.get(bucket)
        present = facts.present.get(bucket, returned)
    participation = present / expected if expected else None
    return ReconRow(
        bucket=bucket, label=label, expected=expected, present=present, returned=returned,
        valid=t.valid_ballots[bucket], invalid=t.invalid_ballots[bucket],
        abstain=t.abstain_ballots[bucket], pending_review=t.pending[bucket],
        participation=participation,
        participation_low=participation is not None
        and participation < settings.participation_warn_rate,
    )


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"
