"""Helpers for the tally rules/report tests: small specs and ballots built by hand."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from forms.layout import compile_layout
from forms.load import load_spec, parse_spec
from forms.spec import FormSpec
from tally.model import Ballot, BallotPage

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

HEADER = """schema: scantally.form/1
id: {id}
kind: {kind}
title: 测试表
header: {{unit: 测试单位, meeting: 测试会议, date: 2026-11-20}}
"""
CATEGORIES = """categories:
  mode: sheet
  options:
    - {id: leader, label: 班子成员}
    - {id: middle, label: 中层干部}
    - {id: staff, label: 其他人员}
"""


def small_spec(kind: str, body: str, *, categories: bool = True, form_id: str = "") -> FormSpec:
    text = HEADER.format(id=form_id or f"t-{kind}", kind=kind)
    text += (CATEGORIES if categories else "") + body
    return parse_spec(text, f"<{kind} test spec>")


def example(name: str) -> FormSpec:
    return load_spec(EXAMPLES / f"{name}.yaml")


@lru_cache(maxsize=16)
def _pages(spec_json: str) -> tuple[dict[str, int], int]:
    spec = FormSpec.model_validate_json(spec_json)
    compiled = compile_layout(spec)
    return {f.id: f.page for f in compiled.fields}, len(compiled.pages)


def field_pages(spec: FormSpec) -> tuple[dict[str, int], int]:
    return _pages(spec.model_dump_json(by_alias=True))


def make_ballot(spec: FormSpec, serial: str, category: str | None,
                marks: dict[str, str | tuple[str, ...]], *, void: bool = False,
                void_reason: str = "", writeins: dict[str, dict[str, str]] | None = None,
                doubtful: dict[str, tuple[str, ...]] | None = None,
                drop_pages: tuple[int, ...] = ()) -> Ballot:
    """A ballot of `spec` with `marks` (field -> option or options) on the right pages."""
    where, n_pages = field_pages(spec)
    per_page: dict[int, dict[str, tuple[str, ...]]] = {p: {} for p in range(1, n_pages + 1)}
    for fid, opts in marks.items():
        per_page[where[fid]][fid] = (opts,) if isinstance(opts, str) else tuple(opts)
    doubt: dict[int, dict[str, tuple[str, ...]]] = {p: {} for p in per_page}
    for fid, opts in (doubtful or {}).items():
        doubt[where[fid]][fid] = opts
    pages = tuple(
        BallotPage(page=p, status="review" if doubt[p] else "ok", marks=per_page[p],
                   doubtful=doubt[p])
        for p in sorted(per_page) if p not in drop_pages
    )
    return Ballot(serial=serial, form_id=spec.id, category=category, pages=pages, void=void,
                  void_reason=void_reason, writeins=writeins or {})
