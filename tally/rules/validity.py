"""Per-ballot validity: which blocks/rows count, which are void (无效) or blank (弃权).

Rules (DOMAIN.md):
- a recommendation block (`pos.<id>`): 1..quota marks → valid; more than the quota → void on
  this ballot (the other blocks still count); no mark → 弃权;
- a rated row (`team.*`, `leader.*`, `q.*`, `item.*`): exactly one mark → valid; two or more →
  that row void; none → 弃权;
- the whole ballot: voided by a reviewer (`Ballot.void`) → 无效, nothing on it counts;
  otherwise 有效 when at least one block is valid, 无效 when none is valid but one is void
  (e.g. every block over its quota), 弃权 when nothing is marked at all. 收回 = 有效 + 无效 + 弃权;
- 另推 lines: a marked box with an empty line, or a written name without a marked box, is
  reported for review (the mark still counts toward the quota; an unmarked name is no vote);
- doubtful marks not yet reviewed, or a page of the sheet missing, are reported for review;
  the figures use what is marked and the result is `provisional`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from forms.layout import FieldInfo
from forms.text import name_key
from tally.model import Ballot
from tally.rules.result import UNMARKED, SheetNote, TallyInputError

BlockStatus = Literal["valid", "void", "abstain"]
_CATEGORY_LABEL = {"category": "参加人员类别"}
BallotStatus = Literal["valid", "invalid", "abstain"]
VOTE_GROUPS = ("recommendation", "team", "individual", "overall", "items")


@dataclass(frozen=True)
class BlockVerdict:
    status: BlockStatus
    marks: tuple[str, ...]


@dataclass(frozen=True)
class BallotVerdict:
    serial: str
    bucket: str | None  # None when the form has no categories
    status: BallotStatus
    whole_void: bool
    #: field id -> verdict (empty when the ballot is voided as a whole)
    blocks: dict[str, BlockVerdict]
    #: write-in names per field for marked 另推 boxes: field -> option -> name ("" if empty)
    writeins: dict[str, dict[str, str]]
    notes: list[SheetNote] = field(default_factory=list)
    pending_review: bool = False


def vote_fields(fields: list[FieldInfo]) -> list[FieldInfo]:
    """The fields that carry votes (every field but the category block)."""
    return [f for f in fields if f.group in VOTE_GROUPS]


def judge(ballot: Ballot, form_id: str, fields: dict[str, FieldInfo],
          has_categories: bool) -> BallotVerdict:
    """Apply the rules above to one ballot. `fields`: the layout's vote fields by id."""
    if ballot.form_id != form_id:
        raise TallyInputError(
            f"sheet {ballot.serial}: it is of form '{ballot.form_id}', not '{form_id}'; "
            "tally each form's ballots separately"
        )
    marks = ballot.marks()
    _check_marks(ballot, marks, fields)
    _check_writeins(ballot, fields)
    bucket = (ballot.category or UNMARKED) if has_categories else None
    notes: list[SheetNote] = []
    pending = ballot.pending_review
    if pending:
        doubt = sorted({f for p in ballot.pages for f in p.doubtful})
        names = [fields[f].label if f in fields else _CATEGORY_LABEL.get(f, f) for f in doubt]
        listed = f"：{'、'.join(names)}" if doubt else ""
        notes.append(SheetNote(serial=ballot.serial, kind="review", code="doubtful",
                               reason=f"有存疑标记尚未复核{listed}",
                               field=doubt[0] if len(doubt) == 1 else None))
    pages = {p.page for p in ballot.pages}
    missing = sorted({f.page for f in fields.values()} - pages)
    if missing and not ballot.void:
        pages_text = "、".join(map(str, missing))
        notes.append(SheetNote(serial=ballot.serial, kind="review", code="page_missing",
                               reason=f"缺少第 {pages_text} 页，该页各栏按弃权计"))
    if ballot.void:
        reason = ballot.void_reason or "复核人员作废"
        notes.append(SheetNote(serial=ballot.serial, kind="void", code="voided", reason=reason))
        return BallotVerdict(ballot.serial, bucket, "invalid", True, {}, {}, notes, pending)

    blocks: dict[str, BlockVerdict] = {}
    writeins: dict[str, dict[str, str]] = {}
    for fid, info in fields.items():
        marked = set(marks.get(fid, ()))
        chosen = tuple(o for o in info.options if o in marked)
        if not chosen:
            status: BlockStatus = "abstain"
        elif len(chosen) > info.max:
            status = "void"
        else:
            status = "valid"
        blocks[fid] = BlockVerdict(status, chosen)
        if status == "void":
            what = "限推" if info.group == "recommendation" else "限选"
            notes.append(SheetNote(serial=ballot.serial, kind="void_block", code="block_void",
                                   reason=f"{info.label}：划了 {len(chosen)} 项，超过{what} "
                                          f"{info.max} 项，该栏无效（其他栏照常计票）",
                                   field=fid))
        if info.group == "recommendation":
            writeins[fid] = _writein_notes(ballot, fid, info, chosen, status, notes)

    statuses = {b.status for b in blocks.values()}
    if "valid" in statuses:
        verdict: BallotStatus = "valid"
    elif "void" in statuses:
        verdict = "invalid"
        notes.append(SheetNote(serial=ballot.serial, kind="void", code="all_blocks_void",
                               reason="各栏均无效（超过限选人数或多选），无有效栏目"))
    else:
        verdict = "abstain"
    return BallotVerdict(ballot.serial, bucket, verdict, False, blocks, writeins, notes, pending)


def _writein_notes(ballot: Ballot, fid: str, info: FieldInfo, chosen: tuple[str, ...],
                   status: BlockStatus, notes: list[SheetNote]) -> dict[str, str]:
    # matched on the normalised form: `张三` and `\u200d张三` (or NFD) are one name
    names = {k: name_key(v) for k, v in ballot.writeins.get(fid, {}).items()}
    out: dict[str, str] = {}
    for option in info.options:
        if not option.startswith("writein"):
            continue
        name = names.get(option, "")
        marked = option in chosen
        line = option.removeprefix("writein")
        if marked and not name:
            notes.append(SheetNote(serial=ballot.serial, kind="review", code="writein_mark_no_name",
                                   reason=f"{info.label}第{line}个另推栏已划票但未填写姓名",
                                   field=fid))
        elif name and not marked:
            notes.append(SheetNote(serial=ballot.serial, kind="review", code="writein_name_no_mark",
                                   reason=f"{info.label}第{line}个另推栏填写了“{name}”但未划票，"
                                          "不计票",
                                   field=fid))
        if marked and status == "valid":
            out[option] = name
    return out


def _check_marks(ballot: Ballot, marks: dict[str, tuple[str, ...]],
                 fields: dict[str, FieldInfo]) -> None:
    for fid, chosen in marks.items():
        if fid == "category":
            continue
        info = fields.get(fid)
        if info is None:
            raise TallyInputError(
                f"sheet {ballot.serial}: field '{fid}' is not on form '{ballot.form_id}'; "
                "was the sheet read with another form's layout?"
            )
        unknown = [o for o in chosen if o not in info.options]
        if unknown:
            raise TallyInputError(
                f"sheet {ballot.serial}: field '{fid}' has no option '{unknown[0]}' "
                f"(options: {', '.join(info.options)}); re-read the sheet with this form's layout"
            )


def _check_writeins(ballot: Ballot, fields: dict[str, FieldInfo]) -> None:
    for fid, lines in ballot.writeins.items():
        info = fields.get(fid)
        if info is None or info.group != "recommendation":
            raise TallyInputError(
                f"sheet {ballot.serial}: write-in names for '{fid}', which is not a position "
                "of this form; fix the review decision"
            )
        for option in lines:
            if not option.startswith("writein") or option not in info.options:
                raise TallyInputError(
                    f"sheet {ballot.serial}: '{fid}' has no write-in line '{option}'; "
                    "fix the review decision"
                )
