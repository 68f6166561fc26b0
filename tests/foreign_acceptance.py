"""Acceptance run of issue 11: a simulated deck read through a learned (foreign) form.

    .venv/bin/python -m tests.foreign_acceptance CORPUS LEARNED_SPEC [--workers 2]

CORPUS is `scantally simulate` output (its truth.json); LEARNED_SPEC the same form learned from
a blank printed without our marks (`form render --without-marks`, `form learn`, its targets
named). Every page is read against the learned form only and scored with `omr.accuracy` against
the corpus truth (same field ids), as `scantally bench accuracy` does for native sheets. Pages
the truth calls refused for our QR code are expected to read here, since a foreign form has none.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from intake.run import read_files
from omr.accuracy import compare
from omr.sim.truth import load_truth
from server.cli.omr import load_layouts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("spec", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    truth = load_truth(args.corpus)
    layouts = load_layouts([args.spec])
    files = sorted({truth.image_path(p) for _, p in truth.pages()})
    readings = {}
    start = time.perf_counter()
    for reading, _ in read_files(files, layouts, args.workers, keep_image=False):
        name, _, index = reading.source.rpartition("#")
        readings[(Path(name).name, int(index or 1))] = reading
    wall = time.perf_counter() - start
    layout = next(iter(layouts.values()))
    report = compare(truth, readings, layout)
    statuses = Counter(r.status for r in readings.values())
    out = {k: v for k, v in vars(report).items() if k != "examples"}
    out |= {"seconds": round(wall, 1), "pages_per_s": round(len(readings) / wall, 1),
            "reading_statuses": dict(statuses), "examples": report.examples}
    print(json.dumps(_plain(out), ensure_ascii=False, indent=1, default=str))


def _plain(value: object) -> object:
    """JSON-ready: tuple keys (a status pair) joined with '->'."""
    if isinstance(value, dict):
        return {("->".join(map(str, k)) if isinstance(k, tuple) else str(k)): _plain(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    main()
