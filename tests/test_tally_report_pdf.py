"""The PDF report of each example meeting: CJK font embedded, every key number equal to the JSON.

Set SCANTALLY_REPORT_LOOK=/tmp/report-look to keep the rendered PNG pages for a person to look at.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageDraw

from tally.model import MeetingFacts, Settings
from tally.report.fmt import DENOMINATOR_LABELS, num, pct
from tally.report.meta import AppendixItem, MeetingInfo
from tally.report.pdf import render_report
from tally.report.synthetic import synthetic_ballots, synthetic_facts
from tally.rules import compute
from tally.rules.result import ALL, PartResult, TallyResult
from tests.rules_helpers import example

EXAMPLES = ["recommendation", "evaluation", "satisfaction", "evaluation-long"]


def crop_png() -> bytes:
    img = Image.new("L", (360, 90), 255)
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 50, 50), outline=0, width=2)
    d.line((24, 36, 32, 46, 48, 22), fill=0, width=3)
    d.rectangle((80, 20, 110, 50), outline=0, width=2)
    d.line((84, 24, 106, 46), fill=0, width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class Rendered:
    def __init__(self, name: str, settings: Settings) -> None:
        self.spec = example(name)
        self.ballots = synthetic_ballots(self.spec, 48, seed=11)
        facts = synthetic_facts(self.spec, self.ballots, seed=11)
        self.result: TallyResult = compute(self.ballots, self.spec, facts, settings)
        void = next((n for n in self.result.sheets if n.kind == "void"), None)
        self.items = [AppendixItem(serial=void.serial if void else "X", reason="票面有署名",
                                   crops=[crop_png()])]
        self.pdf = render_report(self.result, self.spec,
                                 MeetingInfo(operator="张明", scrutineers=["李华", "赵强"],
                                             image_set_sha256="a1" * 32),
                                 appendix_items=self.items)
        self.doc = pdfium.PdfDocument(self.pdf)
        self.pages = [self.doc[i].get_textpage().get_text_range() for i in range(len(self.doc))]
        self.text = re.sub(r"\s+", " ", " ".join(self.pages))
        self.squeezed = re.sub(r"\s+", "", self.text)


SETTINGS = {
    "recommendation": Settings(),
    "evaluation": Settings(category_weights={"leader": 0.3, "middle": 0.4, "staff": 0.3}),
    "satisfaction": Settings(denominator="block_valid", unknown_in_denominator=False),
    "evaluation-long": Settings(sort="strokes"),
}


@pytest.fixture(scope="module", params=EXAMPLES)
def rendered(request) -> Rendered:
    return Rendered(request.param, SETTINGS[request.param])


def test_font_embedded_and_pages_numbered(rendered: Rendered):
    assert b"/FontFile2" in rendered.pdf and b"WenQuanYiMicroHei" in rendered.pdf
    n = len(rendered.doc)
    assert n >= 3
    for k, page in enumerate(rendered.pages, 1):
        assert re.search(rf"第\s*{k}\s*页\s*共\s*{n}\s*页", page), f"page {k} has no number"
    r = rendered.result
    assert r.sha256 in rendered.text and "a1" * 32 in rendered.text
    assert DENOMINATOR_LABELS[r.settings.denominator] in rendered.text
    assert f"{r.form.title}计票结果分析报告" in rendered.text


def test_reconciliation_equals_json(rendered: Rendered):
    for row in rendered.result.reconciliation.rows:
        expected = "—" if row.expected is None else row.expected
        line = (f"{row.label} {expected} {row.present} {pct(row.participation)} {row.returned} "
                f"{row.valid} {row.invalid} {row.abstain} {row.pending_review}")
        assert line in rendered.text


def test_figures_equal_json(rendered: Rendered):
    r = rendered.result
    checked = 0
    if r.recommendation:
        for p in r.recommendation.positions:
            for c in p.candidates:
                cells = " ".join(f"{c.votes[b.id]} {pct(c.rate[b.id])} {c.rank[b.id]}"
                                 for b in r.buckets)
                assert f"{c.name} {cells}" in rendered.text
                checked += 1
            for w in p.writeins:
                votes = " ".join(str(w.votes[b.id]) for b in r.buckets)
                assert f"{w.name} {votes} {pct(w.rate[ALL])}" in rendered.text
                checked += 1
    parts: list[PartResult] = []
    if r.evaluation:
        parts += [p for p in (r.evaluation.team, r.evaluation.individual) if p]
    if r.satisfaction:
        parts += [p for p in (r.satisfaction.overall, r.satisfaction.items) if p]
    for part in parts:
        for row in part.rows:
            checked += _check_row(rendered, r, part, row)
    assert checked >= 5


def _check_row(rendered: Rendered, r: TallyResult, part: PartResult, row) -> int:
    s = row.stats[ALL]
    counts = " ".join(str(s.counts[lv.id]) for lv in part.levels)
    if part.id == "overall":  # per bucket: counts, every rate, score
        for b in r.buckets:
            st = row.stats[b.id]
            line = " ".join([b.label, *[str(st.counts[lv.id]) for lv in part.levels],
                             *[pct(st.rates[k]) for k in part.rate_labels], num(st.score)])
            assert line in rendered.text
        return 1
    keys = list(part.rate_labels)
    if part.id == "individual":
        keys = [k for k in ("excellent", "competent_or_better", "incompetent") if k in keys]
    tail = " ".join([counts, *[pct(s.rates[k]) for k in keys], num(s.score)])
    if part.id == "individual" and r.settings.category_weights:
        tail += f" {num(row.category_weighted_score)}"
    assert tail in rendered.text, f"{row.label}: {tail}"
    assert row.label in rendered.text
    if part.id in ("individual", "items"):
        assert re.search(rf"\b{row.rank} {re.escape(row.label)}\b", rendered.text)
    return 1


def test_warnings_listed(rendered: Rendered):
    notices = [*rendered.result.alarms, *rendered.result.warnings]
    for n in notices:
        assert re.sub(r"\s+", "", n.message) in rendered.squeezed
    if not notices:
        assert "无预警事项" in rendered.text


def test_appendix_with_crop(rendered: Rendered):
    last = rendered.doc[len(rendered.doc) - 1]
    images = list(last.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
    assert len(images) >= 1
    assert rendered.items[0].serial in rendered.pages[-1] + rendered.pages[-2]
    for note in rendered.result.sheets:
        assert note.serial in rendered.text


def test_pages_render_to_png(rendered: Rendered, tmp_path: Path):
    out = Path(os.environ.get("SCANTALLY_REPORT_LOOK", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    for i in range(len(rendered.doc)):
        img = rendered.doc[i].render(scale=1.0).to_pil().convert("L")
        assert abs(img.size[0] - 595) <= 1 and abs(img.size[1] - 842) <= 1  # A4 at 72 dpi
        dark = sum(img.histogram()[:128])
        assert dark > 200, f"page {i + 1} looks empty"
        img.save(out / f"{rendered.result.form.id}-{i + 1}.png")


def test_void_vote_alarm_on_the_cover():
    spec = example("recommendation")
    ballots = synthetic_ballots(spec, 30, seed=2)
    result = compute(ballots, spec, MeetingFacts(issued=25), Settings())
    doc = pdfium.PdfDocument(render_report(result, spec, include_appendix=False))
    cover = re.sub(r"\s+", "", doc[0].get_textpage().get_text_range())
    assert "警报：收回选票30张，多于发出的25张：本次投票无效" in cover
    assert "附录" not in re.sub(r"\s+", "", doc[len(doc) - 1].get_textpage().get_text_range())
