"""What became of the pages of a run: counts per outcome, the sheets to re-feed, the refusals.

One `Outcomes` per run (a CLI ingest or scan, a console job), fed with every `IngestResult`;
`summary()` is the figures every front end prints (`scantally ingest`, `scantally scan`, the
console's job view).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tally.ingest import IngestResult

#: summary key -> what a person reads, in the order shown
SUMMARY_LABELS = {"read": "pages read", "ok": "ok, counted", "review": "counted, to review",
                  "unreadable": "unreadable (re-feed)", "blank": "blank pages",
                  "unknown_serial": "unknown serial (held)",
                  "duplicates": "duplicate sheets (not counted)",
                  "already_stored": "same image already stored", "refused": "refused"}


@dataclass
class Outcomes:
    counts: Counter[str] = field(default_factory=Counter)
    #: "source: message" of each page stored unreadable (to re-feed)
    refeed: list[str] = field(default_factory=list)
    #: the message of each page refused (nothing stored)
    refused: list[str] = field(default_factory=list)

    @classmethod
    def restored(cls, counts: Mapping[str, int], refeed: Iterable[str],
                 refused: Iterable[str]) -> Outcomes:
        """The outcomes of a job as its row in the store kept them."""
        return cls(Counter(counts), list(refeed), list(refused))

    def resume(self, kept: int, refeed: Iterable[str]) -> None:
        """A run taken up again after a restart: the pages stored before are `kept` (not read
        again), those of them stored unreadable are still to re-feed; the rest starts anew."""
        self.counts.clear()
        if kept:
            self.counts["kept"] = kept
        self.refeed, self.refused = list(refeed), []

    def note(self, result: IngestResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome == "unreadable":
            self.refeed.append(f"{result.source}: {result.message}")
        elif result.outcome == "refused":
            self.refused.append(result.message)

    @property
    def pages(self) -> int:
        return sum(self.counts.values())

    def summary(self, batch_id: int) -> dict[str, int]:
        c = self.counts
        return {"batch": batch_id, "read": self.pages, "ok": c["ok"], "review": c["review"],
                "unreadable": c["unreadable"], "blank": c["blank"],
                "unknown_serial": c["unknown_serial"], "duplicates": c["duplicate"],
                "already_stored": c["already"], "refused": c["refused"]}
