"""Reading marks on foreign forms: the engine's principles hold on them too."""

from __future__ import annotations

import pytest

from omr.engine import read_page
from tests import foreign_helpers as F
from tests import omr_helpers as H

#: a light pencil's grey (about 0.25 of the printed black's darkness), and a noisy grey scan
LIGHT_PENCIL = 190


@pytest.mark.parametrize("seed", [1, 2])
def test_a_page_of_light_pencil_ticks_on_a_noisy_scan_is_counted(seed: int) -> None:
    """Ink no darker than the scan's grain is never a sure mark - judged against the faintest
    ink a person sees on the scan, not against the level a foreign form's boxes are measured
    at (the voter's own): a whole page of light pencil ticks is this voter's ink, not grain."""
    layout = F.foreign_form("evaluation")
    fields = {f["id"]: f["options"] for f in F.foreign_layout_of("evaluation")["fields"]}
    votes = [(f, opts[(seed + i) % len(opts)]) for i, (f, opts) in enumerate(fields.items())
             if f.startswith(("team.", "leader."))]
    page = F.marked_sheet("evaluation", votes, seed=seed, ink=LIGHT_PENCIL)
    grey = H.scan(page, dpi=F.DPI, seed=seed, angle_deg=0.5, noise=9, jpeg_quality=82)
    reading = read_page(grey, {layout.id: layout}, source=f"pencil-{seed}.jpg", dpi=F.DPI)
    marked = {(f, o) for f, m in reading.marks.items() for o in m.marked}
    doubtful = sorted(f"{f}/{o}" for f, m in reading.marks.items() for o in m.doubtful)
    assert reading.status == "ok", (reading.status, reading.reason, doubtful)
    assert marked == set(votes)
