"""`compute`: ballots + form + meeting facts + settings -> `TallyResult` (with its sha256).

The same inputs always give the same result and the same hash: figures depend only on the
ballots (their marks, categories, review decisions), never on their order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from forms.layout import FieldInfo, compile_layout
from forms.people import display_names
from forms.spec import FormSpec
from tally.model import Ballot, MeetingFacts, Settings
from tally.rules.alerts import figure_warnings
from tally.rules.evaluation import evaluation_figures
from tally.rules.recommendation import recommendation_figures
from tally.rules.reconcile import reconcile
from tally.rules.result import (
    ALL,
    ALL_LABEL,
    UNMARKED,
    UNMARKED_LABEL,
    Bucket,
    FormInfo,
    MeetingResult,
    Notice,
    TallyInputError,
    TallyResult,
)
from tally.rules.satisfaction import satisfaction_figures
from tally.rules.tallies import Tallies, count
from tally.rules.validity import BallotVerdict, judge, vote_fields
from tally.rules.warnsummary import summarize


def compute(ballots: list[Ballot], spec: FormSpec | Mapping[str, FormSpec],
            facts: MeetingFacts | None = None,
            settings: Settings | None = None) -> TallyResult | MeetingResult:
    """Tally `ballots` (distinct sheets of form `spec`) by the rules of DOMAIN.md.

    `spec` may also be a mapping form id -> spec (a meeting that hands out several forms):
    with one form that form's `TallyResult`, with several a `MeetingResult` (see
    `compute_meeting`). Raises `TallyInputError` for a ballot of another form, an unknown field
    or option, or a serial given twice (the store counts a sheet once).
    """
    if isinstance(spec, Mapping):
        if len(spec) == 1:
            return compute_form(ballots, next(iter(spec.values())), facts, settings)
        return compute_meeting(ballots, spec, facts, settings)
    return compute_form(ballots, spec, facts, settings)


def compute_meeting(ballots: list[Ballot], specs: Mapping[str, FormSpec],
                    facts: MeetingFacts | None = None,
                    settings: Settings | None = None) -> MeetingResult:
    """One `TallyResult` per form of the meeting (the same facts and settings for each)."""
    unknown = sorted({b.form_id for b in ballots} - set(specs))
    if unknown:
        raise TallyInputError(
            f"sheets of form '{unknown[0]}', which is not one of this meeting's forms "
            f"({', '.join(sorted(specs))}); add the form to the meeting or remove the sheets"
        )
    forms = [compute_form([b for b in ballots if b.form_id == fid], specs[fid], facts, settings)
             for fid in sorted(specs)]
    body = MeetingResult(forms=forms)
    return body.model_copy(update={"sha256": result_sha256(body.model_dump(mode="json"))})


def compute_form(ballots: list[Ballot], spec: FormSpec, facts: MeetingFacts | None = None,
                 settings: Settings | None = None) -> TallyResult:
    """`compute` for one form (with its own 发出 when the facts give one per form)."""
    facts = (facts or MeetingFacts()).for_form(spec.id)
    settings = settings or Settings()
    fields = form_fields(spec)
    seen: set[str] = set()
    for b in ballots:
        if b.serial in seen:
            raise TallyInputError(f"sheet {b.serial} is given twice; pass each sheet once")
        seen.add(b.serial)
    has_categories = spec.categories is not None
    verdicts = [judge(b, spec.id, fields, has_categories) for b in ballots]
    t = count(verdicts, list(fields), verdict_buckets(spec, verdicts))
    return result_of(spec, verdicts, t, facts, settings)


def form_fields(spec: FormSpec) -> dict[str, FieldInfo]:
    """The vote fields of `spec` by id (what `judge` and `count` need)."""
    return {f.id: f for f in vote_fields(layout_fields(spec))}


def verdict_buckets(spec: FormSpec, verdicts: Iterable[BallotVerdict]) -> list[str]:
    """The category buckets of the tallies, in report order, given the ballots' verdicts."""
    return _buckets(spec, {v.bucket for v in verdicts if v.bucket is not None})


def result_of(spec: FormSpec, verdicts: Iterable[BallotVerdict], t: Tallies,
              facts: MeetingFacts | None = None,
              settings: Settings | None = None) -> TallyResult:
    """The figures of `spec` from its ballots' verdicts and their tallies (`count`, or tallies
    kept up to date verdict by verdict: `tally.live`)."""
    facts = (facts or MeetingFacts()).for_form(spec.id)
    settings = settings or Settings()
    buckets = t.buckets
    labels = _labels(spec)
    bucket_models = [Bucket(id=ALL, label=ALL_LABEL)] + [
        Bucket(id=b, label=labels.get(b, b), weight=settings.category_weights.get(b))
        for b in buckets
    ]
    all_labels = {b.id: b.label for b in bucket_models}
    recon, alarms, warnings = reconcile(
        t, facts, settings, all_labels,
        categories_by_batch=spec.categories is not None and spec.categories.mode == "batch")
    rec = ev = sat = None
    shown = display_names(spec)
    if spec.recommendation:
        rec = recommendation_figures(spec.recommendation, t, settings, shown)
    if spec.evaluation:
        ev = evaluation_figures(spec.evaluation, t, settings, shown)
    if spec.satisfaction:
        sat = satisfaction_figures(spec.satisfaction, t, settings, shown)
    warnings += figure_warnings(ev, sat, settings, all_labels)
    if spec.foreign is not None:  # no serial of ours on the sheet (`tally.fingerprints`)
        warnings.append(Notice(
            severity="warning", code="no_printed_serials", bucket=ALL,
            message="本表不是本系统印制的，没有序列号：同一张表重复扫描可按笔迹指纹识别，"
                    "但无法识别伪造或多出的表；请以实到人数与收回张数核对"))
    summary = summarize([*alarms, *warnings], all_labels)
    notes = sorted((n for v in verdicts for n in v.notes),
                   key=lambda n: (n.serial, n.kind, n.field or "", n.code))
    result = TallyResult(
        form=FormInfo(id=spec.id, kind=spec.kind, title=spec.title, unit=spec.header.unit,
                      meeting=spec.header.meeting, date=spec.header.date),
        settings=settings, buckets=bucket_models, reconciliation=recon,
        recommendation=rec, evaluation=ev, satisfaction=sat, alarms=alarms, warnings=warnings,
        warning_summary=summary, sheets=notes, provisional=t.pending[ALL] > 0,
    )
    return result.model_copy(update={"sha256": result_sha256(result.model_dump(mode="json"))})


def result_sha256(doc: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, UTF-8, no spaces) of `doc` minus `sha256`."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_result_sha256(doc: dict[str, Any]) -> bool:
    """True when a result's JSON (e.g. read back from `scantally tally --json`) is unchanged."""
    return doc.get("sha256") == result_sha256(doc)


@lru_cache(maxsize=16)
def _fields_cached(spec_json: str) -> tuple[FieldInfo, ...]:
    spec = FormSpec.model_validate_json(spec_json)
    return tuple(compile_layout(spec).fields)


def layout_fields(spec: FormSpec) -> list[FieldInfo]:
    """The layout's fields of `spec` (ids, labels, options, pages), compiled once per spec."""
    return list(_fields_cached(spec.model_dump_json(by_alias=True)))


def _buckets(spec: FormSpec, seen: set[str]) -> list[str]:
    if spec.categories is None:
        return []
    listed = [c.id for c in spec.categories.options]
    extra = sorted(seen - set(listed) - {UNMARKED})
    return listed + extra + ([UNMARKED] if UNMARKED in seen else [])


def _labels(spec: FormSpec) -> dict[str, str]:
    out = {UNMARKED: UNMARKED_LABEL}
    if spec.categories:
        out.update({c.id: c.label for c in spec.categories.options})
    return out
