"""Score readings against a truth list in the field-report format (pure: no files).

`score(truth, readings, layouts)`: `truth` is the list of truth.json, `readings` maps
(image, page index within the file) to an `omr.reading.Reading`, `layouts` maps each entry's
"form" (as written in the truth) to its layout JSON. Per box the reading says marked (in
`marked`), to review (in `doubtful`) or empty (neither); per sheet it is read (ok, review,
blank) or refused (unreadable, unknown_form, or missing). The counts:

- lost votes: a clear mark read empty; phantoms: an empty box read marked;
- cancels counted: a cancelled (scribbled-out) box read marked; faint marks read empty are
  reported apart (a person should have decided);
- clear marks sent to review (count and share of the clear marks on read sheets); a marked
  write-in box goes to a person anyway (its name is entered there), so it is counted apart;
- sheets refused, split by whether the truth expected it, with the reasons.
Boxes of a refused sheet are not read, so they count in none of the box figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from omr.reading import REFUSED_STATUSES, Reading

TRUTH_LABELS = ("clear", "empty", "cancel", "faint")
EXAMPLES_KEPT = 12
#: write-in options of a recommendation position (`forms.layout`: writein1, writein2, ...)
WRITEIN_PREFIX = "writein"


@dataclass
class TruthScore:
    sheets: int = 0
    sheets_read: int = 0
    positions: int = 0
    truth: Counter = field(default_factory=Counter)  # label -> boxes on read sheets
    #: (truth label, read as marked|review|empty) -> boxes
    calls: Counter = field(default_factory=Counter)
    refused: int = 0
    refused_expected: int = 0  # the truth says refuse, and it was refused
    refused_unexpected: int = 0  # a readable sheet refused
    refuse_missed: int = 0  # the truth says refuse, and it was read anyway
    wrong_form: int = 0  # read as another form than the truth's
    reasons: Counter = field(default_factory=Counter)  # refusal reason -> unexpected sheets
    reasons_expected: Counter = field(default_factory=Counter)
    unknown_fields: int = 0  # truth fields the layout does not have
    writein_to_review: int = 0  # clear write-in boxes to review (not in clear_to_review)
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: per tag (e.g. scan kind or pen) -> measure -> count, when tags were given
    by_tag: dict[str, Counter] = field(default_factory=dict)

    def count(self, label: str, call: str) -> int:
        return int(self.calls[(label, call)])

    @property
    def lost(self) -> int:
        return self.count("clear", "empty")

    @property
    def phantom(self) -> int:
        return self.count("empty", "marked")

    @property
    def cancel_counted(self) -> int:
        return self.count("cancel", "marked")

    @property
    def faint_read_empty(self) -> int:
        return self.count("faint", "empty")

    @property
    def clear_to_review(self) -> int:
        return self.count("clear", "review") - self.writein_to_review

    @property
    def clear_review_rate(self) -> float:
        return self.clear_to_review / self.truth["clear"] if self.truth["clear"] else 0.0

    def note(self, kind: str, text: str) -> None:
        items = self.examples.setdefault(kind, [])
        if len(items) < EXAMPLES_KEPT:
            items.append(text)

    def tag(self, tags: list[str], measure: str) -> None:
        for t in tags:
            self.by_tag.setdefault(t, Counter())[measure] += 1

    def summary(self) -> dict:
        """The figures as plain JSON-ready values."""
        return {
            "sheets": self.sheets, "sheets_read": self.sheets_read, "positions": self.positions,
            "clear": self.truth["clear"], "empty": self.truth["empty"],
            "cancel": self.truth["cancel"], "faint": self.truth["faint"],
            "lost": self.lost, "phantom": self.phantom, "cancel_counted": self.cancel_counted,
            "cancel_to_review": self.count("cancel", "review"),
            "cancel_read_empty": self.count("cancel", "empty"),
            "faint_read_empty": self.faint_read_empty,
            "faint_to_review": self.count("faint", "review"),
            "faint_read_marked": self.count("faint", "marked"),
            "clear_to_review": self.clear_to_review,
            "clear_review_rate": round(self.clear_review_rate, 5),
            "empty_to_review": self.count("empty", "review"),
            "writein_to_review": self.writein_to_review,
            "refused": self.refused, "refused_expected": self.refused_expected,
            "refused_unexpected": self.refused_unexpected, "refuse_missed": self.refuse_missed,
            "wrong_form": self.wrong_form, "unknown_fields": self.unknown_fields,
            "reasons": dict(self.reasons), "reasons_expected": dict(self.reasons_expected),
            "examples": self.examples,
            "by_tag": {t: dict(c) for t, c in sorted(self.by_tag.items())},
        }


def box_call(reading: Reading, fld: str, option: str) -> str:
    """What the reading says of one box: marked, review or empty."""
    marks = reading.marks.get(fld)
    if marks is None:
        return "empty"
    if option in marks.marked:
        return "marked"
    if option in marks.doubtful:
        return "review"
    return "empty"


#: (truth label, call) pairs that are errors worth an example and a tag
_FAILURES = {("clear", "empty"): "lost", ("empty", "marked"): "phantom",
             ("cancel", "marked"): "cancel_counted", ("faint", "empty"): "faint_read_empty",
             ("clear", "review"): "clear_to_review", ("faint", "marked"): "faint_read_marked"}


def score(truth: list[dict], readings: dict[tuple[str, int], Reading],
          layouts: dict[str, dict], tags: dict[str, list[str]] | None = None) -> TruthScore:
    """Compare every truth entry with its reading; see the module docstring."""
    out = TruthScore()
    for entry in truth:
        out.sheets += 1
        image = entry["image"]
        reading = readings.get((image, int(entry.get("page_index", 1))))
        layout = layouts.get(entry["form"])
        expect_refuse = entry.get("refuse")
        sheet_tags = (tags or {}).get(image, [])
        if reading is None or reading.status in REFUSED_STATUSES:
            reason = reading.reason if reading is not None else "no reading for the image"
            out.refused += 1
            if expect_refuse:
                out.refused_expected += 1
                out.reasons_expected[_reason_kind(reason)] += 1
            else:
                out.refused_unexpected += 1
                out.reasons[_reason_kind(reason)] += 1
                out.note("refused", f"{image}: {reason}")
                out.tag(sheet_tags, "refused")
            continue
        if expect_refuse:
            out.refuse_missed += 1
            out.note("refuse_missed", f"{image}: expected refusal ({expect_refuse}), read "
                                      f"{reading.status}")
        if layout is not None and reading.form not in (None, layout["form"]["id"]):
            out.wrong_form += 1
            out.note("wrong_form", f"{image}: read as form {reading.form}")
            continue
        out.sheets_read += 1
        known = {f["id"]: set(f["options"]) for f in layout["fields"]} if layout else None
        for fld, options in entry["boxes"].items():
            if known is not None and fld not in known:
                out.unknown_fields += 1
                continue
            for option, label in options.items():
                if label not in TRUTH_LABELS:
                    raise ValueError(f"{image}: box {fld}/{option} has truth {label!r}; "
                                     f"use one of {', '.join(TRUTH_LABELS)}")
                call = box_call(reading, fld, option)
                out.positions += 1
                out.truth[label] += 1
                out.calls[(label, call)] += 1
                if (label, call) == ("clear", "review") and option.startswith(WRITEIN_PREFIX):
                    out.writein_to_review += 1
                    continue
                failure = _FAILURES.get((label, call))
                if failure:
                    out.note(failure, f"{image} {fld}/{option}")
                    out.tag(sheet_tags, failure)
    return out


def _reason_kind(reason: str) -> str:
    """A refusal reason without its numbers and names, so like reasons group together."""
    head = reason.split(";")[0].split("(")[0].strip()
    return "".join("#" if ch.isdigit() else ch for ch in head)[:90] or "(no reason given)"
