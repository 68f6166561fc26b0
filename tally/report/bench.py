"""The report benchmark: tally + PDF + xlsx of a synthetic evaluation meeting.

`bench_report(n_sheets=1000, n_cadres=30)` times each step in this process (fonts registered
and the layout compiled in a warm-up first, as in a running station) and returns the timings in
seconds plus the sizes: wall-clock (`time.perf_counter`, `*_s`) and this process's CPU time
(`time.process_time`, `total_cpu_s`), which other load on a shared machine does not inflate.
"""

from __future__ import annotations

import time

from tally.model import Settings
from tally.report.meta import MeetingInfo
from tally.report.pdf import render_report
from tally.report.synthetic import cadre_spec, synthetic_ballots, synthetic_facts
from tally.report.xlsx import render_xlsx
from tally.rules.compute import compute_form as compute


def bench_report(n_sheets: int = 1000, n_cadres: int = 30, *, seed: int = 7) -> dict[str, float]:
    spec = cadre_spec(n_cadres)
    ballots = synthetic_ballots(spec, n_sheets, seed=seed)
    facts = synthetic_facts(spec, ballots, seed=seed)
    settings = Settings(category_weights={"leader": 0.3, "middle": 0.4, "staff": 0.3})
    info = MeetingInfo(operator="操作员", scrutineers=["监票人甲", "监票人乙"])
    warm = compute(ballots[:5], spec, facts, settings)  # font + layout caches, as in a station
    render_report(warm, spec, info)

    c0 = time.process_time()
    t0 = time.perf_counter()
    result = compute(ballots, spec, facts, settings)
    t1 = time.perf_counter()
    pdf = render_report(result, spec, info)
    t2 = time.perf_counter()
    xlsx = render_xlsx(result, spec, ballots)
    t3 = time.perf_counter()
    c3 = time.process_time()
    return {
        "n_sheets": float(n_sheets), "n_cadres": float(n_cadres),
        "compute_s": t1 - t0, "pdf_s": t2 - t1, "xlsx_s": t3 - t2, "total_s": t3 - t0,
        "total_cpu_s": c3 - c0,
        "pdf_bytes": float(len(pdf)), "xlsx_bytes": float(len(xlsx)),
    }


if __name__ == "__main__":
    for k, v in bench_report().items():
        print(f"{k:12s} {v:,.3f}")
