"""scanner.folder: files and ZIPs become sheets in name order; nothing is dropped silently."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from scanner.errors import DeviceIO
from scanner.folder import FolderSource, natural_key
from scanner.pages import EncodedPage
from scanner.source import Sheet, SheetSource


def _page(label: int, height_px: int = 120, width_px: int = 90) -> np.ndarray:
    """A grey page whose label can be read back: `label` black bars on white."""
    page = np.full((height_px, width_px), 255, np.uint8)
    for i in range(label):
        page[10 + 8 * i : 14 + 8 * i, 10:80] = 0
    return page


def _label(page: EncodedPage | np.ndarray) -> int:
    """The label of a page: a source hands pages over encoded, so decode it here."""
    image = page.decode().image if isinstance(page, EncodedPage) else page
    assert image is not None
    column = image[:, 45] if image.ndim == 2 else image[:, 45, 0]
    dark = column < 128
    return int(np.count_nonzero(dark[1:] & ~dark[:-1]) + dark[0])


def _encode(ext: str, page: np.ndarray) -> bytes:
    ok, enc = cv2.imencode(ext, page)
    assert ok
    return enc.tobytes()


def _tiff(pages: list[np.ndarray]) -> bytes:
    frames = [Image.fromarray(p).convert("1") for p in pages]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", compression="group4", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def _collect(source: FolderSource) -> list[Sheet]:
    with source:
        return list(source)


def test_folder_yields_every_page_in_natural_order_with_errors_kept(tmp_path: Path) -> None:
    (tmp_path / "scan-10.png").write_bytes(_encode(".png", _page(5)))
    (tmp_path / "scan-2.jpg").write_bytes(_encode(".jpg", _page(2)))
    (tmp_path / "scan-1.tiff").write_bytes(_tiff([_page(1), _page(7)]))
    (tmp_path / "scan-3.png").write_bytes(b"")  # the scanner wrote nothing
    (tmp_path / "scan-4.JPG").write_bytes(_encode(".jpg", _page(4))[:300])  # cut short
    (tmp_path / "notes.txt").write_text("operator notes")
    (tmp_path / ".scan-5.jpg.part").write_bytes(b"partial")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "scan-0.png").write_bytes(_encode(".png", _page(3)))

    source = FolderSource(tmp_path)
    assert isinstance(source, SheetSource) and source.uri == f"dir:{tmp_path}"
    sheets = _collect(source)

    assert [s.source for s in sheets] == [
        "scan-1.tiff#1",
        "scan-1.tiff#2",
        "scan-2.jpg#1",
        "scan-3.png#1",
        "scan-4.JPG#1",
        "scan-10.png#1",
    ]
    assert [s.sequence for s in sheets] == [1, 2, 3, 4, 5, 6]
    decoded = [s.front.decode() for s in sheets]
    good = [s for s, d in zip(sheets, decoded, strict=True) if d.image is not None]
    assert [_label(s.front) for s in good] == [1, 7, 2, 5]
    assert decoded[2].data == (tmp_path / "scan-2.jpg").read_bytes()
    assert decoded[0].data is None and not sheets[0].front.whole  # a page of a multi-page TIFF
    assert (sheets[3].file, sheets[3].member, sheets[3].front.error) == (
        "scan-3.png", None, "file is empty (0 bytes); re-scan the sheet")
    assert [s.last_of_file for s in sheets] == [False, True, True, True, True, True]
    assert "damaged or incomplete" in (decoded[4].error or "")
    assert all(s.front.error is None for s in good)
    assert sorted(source.skipped) == [".scan-5.jpg.part", "notes.txt"]
    assert source.taken == ["scan-1.tiff", "scan-2.jpg", "scan-3.png", "scan-4.JPG", "scan-10.png"]


def test_zip_members_in_name_order_and_unsafe_members_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "batch.zip", "w") as archive:
        archive.writestr("b/scan-10.png", _encode(".png", _page(3)))
        archive.writestr("b/scan-9.png", _encode(".png", _page(2)))
        archive.writestr("a-first.jpg", _encode(".jpg", _page(1)))
        archive.writestr("../escape.png", _encode(".png", _page(4)))
        archive.writestr("/etc/abs.png", _encode(".png", _page(4)))
        noise = np.random.default_rng(1).integers(0, 256, (300, 300), dtype=np.uint8)
        archive.writestr("huge.png", _encode(".png", noise))  # ~90 kB: does not compress
        archive.writestr("inner.zip", b"PK\x05\x06" + b"\x00" * 18)
        archive.writestr("__MACOSX/b/._scan-9.png", b"resource fork")
        archive.writestr("readme.txt", "hello")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")

    sheets = _collect(FolderSource(tmp_path, max_member_bytes=20_000))
    by_source = {s.source: s for s in sheets}
    assert len(by_source) == len(sheets) == 8
    names = [s.source for s in sheets]
    assert names[:3] == [
        "batch.zip/../escape.png#1",
        "batch.zip//etc/abs.png#1",
        "batch.zip/a-first.jpg#1",
    ]
    assert names.index("batch.zip/b/scan-9.png#1") < names.index("batch.zip/b/scan-10.png#1")
    assert [
        _label(by_source[f"batch.zip/{n}#1"].front)
        for n in ("a-first.jpg", "b/scan-9.png", "b/scan-10.png")
    ] == [1, 2, 3]
    assert "outside the archive" in by_source["batch.zip/../escape.png#1"].front.error
    assert "absolute path" in by_source["batch.zip//etc/abs.png#1"].front.error
    assert "byte limit" in by_source["batch.zip/huge.png#1"].front.error
    assert "itself a ZIP" in by_source["batch.zip/inner.zip#1"].front.error
    scan_9 = by_source["batch.zip/b/scan-9.png#1"]
    assert (scan_9.file, scan_9.member, scan_9.front.error) == ("batch.zip", "b/scan-9.png", None)
    assert "ZIP file cannot be opened" in by_source["broken.zip#1"].front.error
    assert not (tmp_path.parent / "escape.png").exists()  # nothing was extracted anywhere


def test_pdf_pages_become_sheets_at_pdf_dpi(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(144, 216))  # 2 x 3 inches
    for _ in range(2):
        pdf.rect(36, 36, 72, 72, fill=1)
        pdf.showPage()
    pdf.save()
    (tmp_path / "stack.pdf").write_bytes(buf.getvalue())
    sheets = _collect(FolderSource(tmp_path, pdf_dpi=50))
    assert [s.source for s in sheets] == ["stack.pdf#1", "stack.pdf#2"]
    assert all(s.front.decode().image.shape == (150, 100) and s.front.decode().dpi == 50
               for s in sheets)


def test_watch_takes_a_file_only_once_its_size_is_stable(tmp_path: Path) -> None:
    source = FolderSource(tmp_path, watch=True, poll_s=0.02, settle_s=0.25)
    got: list[Sheet] = []
    consumer = threading.Thread(target=lambda: got.extend(source), daemon=True)
    consumer.start()

    full = _encode(".png", _page(3, 600, 400))
    slow = tmp_path / "scan-0002.png"
    with slow.open("wb") as handle:  # a scanner writing slowly: half, a pause, the rest
        handle.write(full[: len(full) // 2])
        handle.flush()
        time.sleep(0.12)
        handle.write(full[len(full) // 2 :])
    (tmp_path / "scan-0001.jpg").write_bytes(_encode(".jpg", _page(1)))

    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # long enough for a wrong re-read of the same files to show up
    started = time.monotonic()
    source.close()
    consumer.join(timeout=2)
    assert not consumer.is_alive() and time.monotonic() - started < 1.0
    assert sorted(s.source for s in got) == ["scan-0001.jpg#1", "scan-0002.png#1"]
    assert all(s.front.decode().image is not None for s in got), [s.front.error for s in got]
    assert sorted(_label(s.front) for s in got) == [1, 3]
    assert source.uri.endswith("?watch=1")


def test_watch_stops_on_an_external_event_and_takes_files_in_order(tmp_path: Path) -> None:
    for n in (3, 1, 2):
        (tmp_path / f"p{n}.png").write_bytes(_encode(".png", _page(n)))
    stop = threading.Event()
    source = FolderSource(tmp_path, watch=True, poll_s=0.02, settle_s=0.05, stop=stop)
    got: list[Sheet] = []
    for sheet in source:
        got.append(sheet)
        if len(got) == 3:
            stop.set()
    assert [_label(s.front) for s in got] == [1, 2, 3]


def test_iterating_again_continues_with_new_files_only(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(_encode(".png", _page(1)))
    source = FolderSource(tmp_path)
    first = list(source)
    (tmp_path / "b.png").write_bytes(_encode(".png", _page(2)))
    second = list(source)
    assert [s.source for s in first] == ["a.png#1"]
    assert [(s.source, s.sequence) for s in second] == [("b.png#1", 2)]


def test_missing_folder_is_refused_and_a_vanished_one_is_device_io(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderSource(tmp_path / "nope")
    folder = tmp_path / "share"
    folder.mkdir()
    source = FolderSource(folder, watch=True, poll_s=0.01)
    folder.rmdir()  # the network share went away
    with pytest.raises(DeviceIO, match="cannot list the scan folder"):
        next(iter(source))


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["scan-10.png", "scan-9.png", "Scan-1.png", "scan-010b.png", "a.png"]
    assert sorted(names, key=natural_key) == [
        "a.png",
        "Scan-1.png",
        "scan-9.png",
        "scan-10.png",
        "scan-010b.png",
    ]
