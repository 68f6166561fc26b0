"""`scantally ingest FILES` through the intake pipeline: pages of multi-page PDFs and TIFFs are
counted (each stored as a PNG of the page), a bad file keeps the decoder's own reason, a ZIP or
BMP in a folder is read and anything else is named as skipped; pages of a file are found from
its structure one at a time, never decoded into one list."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from scanner.folder import FileSource
from scanner.pages import plan_pages
from tally.store import open_store
from tests.intake_helpers import ballot, counted_serials, meeting_store, pages, serial
from tests.tally_helpers import cli


def _multi(kind: str, *pngs: bytes) -> bytes:
    frames = [Image.open(io.BytesIO(p)).convert("L") for p in pngs]
    out = io.BytesIO()
    if kind == "PDF":
        frames[0].save(out, "PDF", save_all=True, append_images=frames[1:], resolution=200.0)
    else:
        frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:],
                       compression="tiff_lzw", dpi=(200, 200))
    return out.getvalue()


def test_ingest_counts_the_pages_of_pdfs_and_tiffs_and_names_what_it_skips(
        tmp_path: Path) -> None:
    with meeting_store(tmp_path):
        pass
    data = tmp_path / "data"
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    (scans / "01.pdf").write_bytes(_multi("PDF", ballot(1, ".png"), ballot(2, ".png")))
    (scans / "02.tiff").write_bytes(_multi("TIFF", ballot(3, ".png"), ballot(4, ".png")))
    Image.open(io.BytesIO(ballot(5, ".png"))).save(scans / "sub" / "05.bmp")
    with zipfile.ZipFile(scans / "06.zip", "w") as archive:
        archive.writestr("06.png", ballot(6, ".png"))
    (scans / "07-cut.jpg").write_bytes(ballot(7)[:4000])
    (scans / "notes.txt").write_text("not a scan")
    r = cli("ingest", "-m", "m1", str(scans), "--json", "--workers", "2", data=data)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    skipped = [x for x in lines if x.get("outcome") == "skipped"]
    assert [Path(x["source"]).name for x in skipped] == ["notes.txt"]
    assert "not a scan" in skipped[0]["message"]
    summary = lines[-1]["summary"]
    assert summary["ok"] == 6 and summary["unreadable"] == 1 and summary["refused"] == 0
    cut = next(x for x in lines if x.get("source", "").endswith("07-cut.jpg#1"))
    assert cut["outcome"] == "unreadable"
    assert "JPEG image is damaged or incomplete" in cut["message"]  # the decoder's own words
    with open_store(data) as store:
        mid = 1
        assert counted_serials(store, mid) == [serial(n) for n in range(1, 7)]
        stored = {p["source"].rsplit("/", 1)[-1]: p for p in pages(store, mid)}
        for name in ("01.pdf#1", "01.pdf#2", "02.tiff#1", "02.tiff#2"):
            image = store.images.get(stored[name]["sha256"])
            assert image.startswith(b"\x89PNG"), name  # a page of a multi-page file, as PNG


def test_the_pages_of_a_long_tiff_come_one_at_a_time(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((40, 30), k % 256, np.uint8)) for k in range(300)]
    path = tmp_path / "long.tiff"
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:])
    planned = plan_pages("long.tiff", path=path)
    assert iter(planned) is planned  # a generator: no list of pages, nothing decoded yet
    first = next(planned)
    assert first.source == "long.tiff#1" and first.data is None and first.path == str(path)
    assert not first.whole and first.error is None
    sheets = iter(FileSource([(path, "long.tiff")]))
    taken = [next(sheets) for _ in range(3)]  # the source runs no further ahead than asked
    assert [s.source for s in taken] == ["long.tiff#1", "long.tiff#2", "long.tiff#3"]
    assert all(s.front is not None and s.front.data is None for s in taken)  # not even bytes
    last = list(planned)[-1]
    page = last.decode()  # the worker decodes just this frame
    assert last.source == "long.tiff#300" and page.image is not None
    assert int(page.image[0, 0]) == 299 % 256
