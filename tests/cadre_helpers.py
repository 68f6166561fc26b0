"""Helpers for the cadre tests: example specs given stable person ids and another year, and
meetings over them with readings whose figures the test knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import parse_spec
from tally.meetings import FormText, create_meeting
from tally.store import Store
from tests.server_helpers import ingest_readings, reading
from tests.tally_helpers import spec_path

#: 赵志强: a candidate in the example recommendation, a leader in the example evaluation
ZHAO = "P310031"
ZHAO_PID = "GB3101-0031"


def person_id(local_id: str) -> str:
    return f"GB3101-{local_id[-4:]}"


def spec_text(kind: str, *, year: int, form_id: str, with_ids: bool = True) -> str:
    """The example spec of `kind` with every person given a person id, dated in `year`."""
    doc: dict[str, Any] = yaml.safe_load(spec_path(kind).read_text(encoding="utf-8"))
    doc["id"] = form_id
    doc["header"]["date"] = f"{year}-11-20"
    doc["header"]["meeting"] = f"{year}年度{doc['header']['meeting'][6:]}"
    people: list[dict[str, Any]] = []
    if kind == "recommendation":
        people = [c for p in doc["recommendation"]["positions"] for c in p["candidates"]]
    elif kind == "evaluation":
        people = doc["evaluation"]["individual"]["leaders"]
    else:
        people = doc["satisfaction"]["items"]
    for p in people:
        if with_ids:
            p["person_id"] = person_id(p["id"])
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def meeting_with(store: Store, name: str, kind: str, year: int,
                 marks: list[dict[str, list[str]]], *, with_ids: bool = True) -> int:
    """A meeting of one form with one sheet per `marks` entry (serials S0001 …)."""
    form_id = f"{kind[:3]}{year}{name[-1]}"
    text = spec_text(kind, year=year, form_id=form_id, with_ids=with_ids)
    mid = create_meeting(store, name=name, forms=[FormText(text, f"{name}.yaml")],
                         actor="tester").id
    layout = layout_to_dict(compile_layout(parse_spec(text, f"{name}.yaml")))
    results = ingest_readings(store, mid, [reading(layout, f"S{k:04d}", marked=m)
                                           for k, m in enumerate(marks, 1)], salt=name)
    assert all(r.outcome == "ok" for r in results), [r.message for r in results]
    return mid


def evaluation_marks(n: int, competent_every: int, category: str = "staff"
                     ) -> list[dict[str, list[str]]]:
    """`n` sheets: 赵志强 rated 优秀 on all but every `competent_every`-th (不称职 there)."""
    out = []
    for k in range(n):
        level = "incompetent" if k % competent_every == 0 else "excellent"
        out.append({"category": [category if k % 2 else "middle"],
                    f"leader.{ZHAO}": [level]})
    return out


def write_spec(tmp: Path, kind: str, year: int) -> Path:
    path = tmp / f"{kind}-{year}.yaml"
    path.write_text(spec_text(kind, year=year, form_id=f"{kind[:3]}{year}"), encoding="utf-8")
    return path
