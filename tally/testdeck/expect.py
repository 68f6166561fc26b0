"""The expected count of a deck, by the code that counts the real stack.

`expected_ballots` turns each planned sheet into the reading a correct reader makes of it
(sure marks `marked`, the cancelled mark `doubtful`, status ok / review / blank) and hands it to
the store's own `tally.ballots.stored_ballot`, exactly as a stored page would be; `figures`
counts ballots with `tally.rules` (`judge`, `count`) into named figures — per bucket (全体 and
each voter category): ballots returned, valid, invalid, abstaining and awaiting review; per
field its valid, void and abstaining blocks and the marks of each option. The machine's side of
a check (`tally.testdeck.check`) runs the same `figures` over the stored ballots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from forms.spec import FormSpec
from tally.ballots import is_writein, stored_ballot
from tally.db import Page
from tally.model import Ballot
from tally.readings import StoredPage, StoredReading
from tally.review.labels import option_label
from tally.rules.compute import form_fields
from tally.rules.result import ALL, ALL_LABEL, UNMARKED, UNMARKED_LABEL
from tally.rules.tallies import count
from tally.rules.validity import judge
from tally.testdeck.plan import PlannedSheet

#: the figures of a whole bucket, in report order
BALLOT_ITEMS = {"ballots": "收回", "valid_ballots": "有效票", "invalid_ballots": "无效票",
                "abstain_ballots": "弃权票", "pending": "待复核"}
BLOCK_ITEMS = {"valid": "有效", "void": "无效（超选/多选）", "abstain": "弃权"}


class FigureName(BaseModel):
    """Which number of a form's count: what (`item`) for which bucket, and its words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    form_id: str
    #: "ballots", "<field>:valid", "<field>=<option>", "<field>:unnamed_writeins", …
    item: str
    bucket: str
    label: str
    bucket_label: str

    @property
    def key(self) -> str:
        return f"{self.form_id}|{self.item}|{self.bucket}"


class Figure(FigureName):
    """One number of a form's count and its value."""

    value: int


def planned_reading(layout: dict[str, Any], sheet: PlannedSheet, page: int) -> dict[str, Any]:
    """The reading JSON a correct reader gives of one page of a planned sheet."""
    doubtful: dict[str, list[str]] = {}
    for fid, option in sheet.cancelled:
        doubtful.setdefault(fid, []).append(option)
    marks = {f["id"]: {"marked": [o for o in f["options"] if o in sheet.marks.get(f["id"], [])],
                       "doubtful": [o for o in f["options"] if o in doubtful.get(f["id"], [])]}
             for f in layout["fields"] if f["page"] == page}
    any_doubt = any(m["doubtful"] for m in marks.values())
    any_mark = any(m["marked"] for m in marks.values())
    status = "review" if any_doubt else "ok" if any_mark else "blank"
    return {"source": f"deck {sheet.serial} p{page}", "form": layout["form"]["id"],
            "page": page, "serial": sheet.serial, "status": status, "marks": marks}


def expected_ballots(layout: dict[str, Any], sheets: Iterable[PlannedSheet]) -> list[Ballot]:
    """The ballots the store builds from a correct reading of every sheet (no review yet)."""
    form_id = layout["form"]["id"]
    out: list[Ballot] = []
    for sheet in sheets:
        pages = []
        for p in layout["pages"]:
            doc = planned_reading(layout, sheet, p["page"])
            pages.append(StoredPage(Page(form_id=form_id, page_no=p["page"],
                                         serial=sheet.serial, status=doc["status"], batch_id=0,
                                         state="counted"), StoredReading.parse(doc)))
        out.append(stored_ballot(form_id, sheet.serial, pages, {}, None, {}).to_ballot())
    return out


def buckets_of(spec: FormSpec) -> list[tuple[str, str]]:
    """(bucket id, label) of every figure column: 全体, each category, 未标明类别."""
    if spec.categories is None:
        return [(ALL, ALL_LABEL)]
    return [(ALL, ALL_LABEL), *((c.id, c.label) for c in spec.categories.options),
            (UNMARKED, UNMARKED_LABEL)]


def figures(spec: FormSpec, ballots: Sequence[Ballot]) -> list[Figure]:
    """Every figure of `ballots` (sheets of form `spec`), counted by `tally.rules`."""
    fields = form_fields(spec)
    verdicts = [judge(b, spec.id, fields, spec.categories is not None) for b in ballots]
    buckets = buckets_of(spec)
    t = count(verdicts, list(fields), [b for b, _ in buckets[1:]])
    out: list[Figure] = []

    def add(item: str, label: str, bucket: tuple[str, str], value: int) -> None:
        out.append(Figure(form_id=spec.id, item=item, bucket=bucket[0], label=label,
                          bucket_label=bucket[1], value=int(value)))

    for bucket in buckets:
        b = bucket[0]
        add("ballots", BALLOT_ITEMS["ballots"], bucket, t.ballots[b])
        add("valid_ballots", BALLOT_ITEMS["valid_ballots"], bucket, t.valid_ballots[b])
        add("invalid_ballots", BALLOT_ITEMS["invalid_ballots"], bucket, t.invalid_ballots[b])
        add("abstain_ballots", BALLOT_ITEMS["abstain_ballots"], bucket, t.abstain_ballots[b])
        add("pending", BALLOT_ITEMS["pending"], bucket, t.pending[b])
        for fid, info in fields.items():
            ft = t.fields[fid]
            for what, label in BLOCK_ITEMS.items():
                add(f"{fid}:{what}", f"{info.label}·{label}", bucket, getattr(ft, what)[b])
            for option in info.options:
                add(f"{fid}={option}", f"{info.label}·{option_label(spec, fid, option)}",
                    bucket, ft.options[b][option])
            if any(is_writein(o) for o in info.options):
                add(f"{fid}:unnamed_writeins", f"{info.label}·另推未填姓名", bucket,
                    ft.unnamed_writeins[b])
    return out
