"""Every PDF report carries the newest signed audit anchor: its number, the meeting's chain
head in it and the key, in the check table and (short) in every page's footer."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium

from tally import anchors, keys
from tally.ingest import close_batch, ingest_json, open_batch
from tally.report.meeting import meeting_report
from tally.store import open_store
from tests.tally_helpers import layout_of, new_meeting, reading, tiny_image

REC = layout_of("recommendation")


def test_the_pdf_report_prints_the_newest_anchor(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    try:
        key = keys.new_key(store.data_dir)
        mid = new_meeting(store)
        batch = open_batch(store, mid, station="A")
        for k in range(3):
            ingest_json(store, batch, reading(REC, f"S{k}", marked={
                "category": ["leader"], "pos.director": ["P310012"]}), tiny_image(k))
        close_batch(store, batch)  # anchored after this
        newest = anchors.last(store.data_dir)
        assert newest is not None and newest["reason"] == "batch.close"
        head = newest["chains"][anchors.meeting_chain(mid)]
        _, pdf = meeting_report(store, mid, "pdf")
    finally:
        store.close()
    doc = pdfium.PdfDocument(pdf)
    pages = [re.sub(r"\s+", " ", doc[i].get_textpage().get_text_range())
             for i in range(len(doc))]
    text = " ".join(pages)
    assert f"锚点 #{newest['seq']} · 审计链 #{head['seq']} {head['hash'][:16]} · 密钥 {key.id}" \
        in text
    short = f"锚点 #{newest['seq']} · #{head['seq']} {head['hash'][:12]}"
    assert all(short in page for page in pages), pages[-1][-300:]
