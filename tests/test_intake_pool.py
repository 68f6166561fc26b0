"""intake.pool / intake.run.read_files: files in, one reading per page out, in order; bad files
refused, never fatal; a worker that dies costs only its page."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from intake.pool import ReaderPool
from intake.run import read_files
from intake.work import PageRead, ReadSettings, annotation_name
from omr.layout import parse_layouts
from omr.reading import failed
from scanner.pages import EncodedPage
from tests import omr_helpers as H

DOC = H.layout("evaluation")
LAYOUTS = parse_layouts({DOC["form"]["id"]: DOC})


def _png_header(width_px: int, height_px: int) -> bytes:
    """A PNG that claims width x height pixels (8-bit grey) and holds almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width_px, height_px, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A stack of good and bad files, as an operator's folder might hold."""
    d = tmp_path_factory.mktemp("stack")
    sheet = H.blank_sheet("evaluation", "000042")
    H.draw_mark(sheet, H.box_rect(DOC, "category", "staff"), "tick")
    good = H.encode_jpeg(sheet, 200, quality=80)
    files = {
        "good": d / "good.jpg",
        "truncated": d / "truncated.jpg",
        "empty": d / "empty.jpg",
        "text": d / "notes.jpg",
        "bomb": d / "bomb.png",
        "noise": d / "noise.png",
        "other_form": d / "other.png",
        "duplex": d / "duplex.tiff",
        "corrupt_tiff": d / "corrupt.tif",
    }
    files["good"].write_bytes(good)
    files["truncated"].write_bytes(good[: len(good) // 3])
    files["empty"].write_bytes(b"")
    files["text"].write_bytes("选票 notes, not a scan\n".encode())
    files["bomb"].write_bytes(_png_header(30_000, 30_000))
    noise = np.random.default_rng(0).integers(0, 256, (1200, 900), dtype=np.uint8)
    Image.fromarray(noise).save(files["noise"])
    Image.fromarray(H.blank_sheet("satisfaction", "000007")).save(files["other_form"])
    back = np.full_like(sheet, 246)
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, "TIFF", save_all=True,
                                append_images=[Image.fromarray(back)], compression="tiff_lzw")
    files["duplex"].write_bytes(buf.getvalue())
    files["corrupt_tiff"].write_bytes(b"II*\x00" + b"\x08\x00\x00\x00" + b"\xff" * 40)
    return files


ORDER = ["good", "truncated", "empty", "text", "bomb", "noise", "other_form", "duplex",
         "corrupt_tiff", "good"]


def _check_stack(results: list, stack: dict[str, Path]) -> None:
    readings = [r for r, _ in results]
    sources = [r.source for r in readings]
    assert sources == [
        f"{stack['good']}#1", f"{stack['truncated']}#1", f"{stack['empty']}#1",
        f"{stack['text']}#1", f"{stack['bomb']}#1", f"{stack['noise']}#1",
        f"{stack['other_form']}#1", f"{stack['duplex']}#1", f"{stack['duplex']}#2",
        f"{stack['corrupt_tiff']}#1", f"{stack['good']}#1",
    ]
    by = dict(zip(["good", "truncated", "empty", "text", "bomb", "noise", "other_form",
                   "duplex1", "duplex2", "corrupt_tiff", "good_again"], readings, strict=True))
    for name in ("good", "good_again"):
        assert by[name].status == "ok" and by[name].serial == "000042"
        assert by[name].marks["category"].marked == ["staff"]
    for name in ("truncated", "empty", "text", "bomb", "noise", "corrupt_tiff"):
        assert by[name].status == "unreadable", name
        assert by[name].reason and by[name].marks == {}, name
    assert "empty" in by["empty"].reason
    assert "not an image" in by["text"].reason
    assert "30000x30000" in by["bomb"].reason and "limit" in by["bomb"].reason
    assert "QR code" in by["noise"].reason
    assert by["other_form"].status == "unknown_form"
    assert by["duplex1"].status == "ok" and by["duplex2"].status == "blank"
    assert by["duplex2"].reason == "blank back"
    data = [d for _, d in results]
    assert data[0] == stack["good"].read_bytes()  # a one-image file's bytes, for the store
    # a page of a multi-page file is stored as a lossless PNG of that page
    assert data[7] is not None and data[7].startswith(b"\x89PNG") and data[7] != data[8]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data[8]))), np.full_like(
        np.asarray(Image.open(io.BytesIO(data[7]))), 246))


def test_bad_files_never_stop_a_batch_in_process(stack: dict[str, Path]) -> None:
    _check_stack(list(read_files([stack[k] for k in ORDER], LAYOUTS, workers=1)), stack)


def test_bad_files_never_stop_a_batch_in_a_pool(stack: dict[str, Path]) -> None:
    done: list[int] = []
    results = list(read_files([stack[k] for k in ORDER], LAYOUTS, workers=2,
                              progress=done.append))
    _check_stack(results, stack)
    assert done == list(range(1, len(ORDER) + 1))


def test_a_missing_file_is_one_unreadable_page(tmp_path: Path, stack: dict[str, Path]) -> None:
    results = list(read_files([tmp_path / "gone.jpg", stack["good"]], LAYOUTS, workers=1,
                              keep_image=False))
    assert [r.status for r, _ in results] == ["unreadable", "ok"]
    assert "cannot open the file" in results[0][0].reason
    assert results[1][1] is None  # keep_image=False


def test_annotated_pages_are_written(tmp_path: Path, stack: dict[str, Path]) -> None:
    out = tmp_path / "annotated"
    results = list(read_files([stack["good"], stack["noise"]], LAYOUTS, workers=1,
                              annotate_dir=out))
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(annotation_name(r.source) for r, _ in results)
    image = np.asarray(Image.open(out / annotation_name(results[0][0].source)))
    assert image.ndim == 3 and image.shape[2] == 3
    assert annotation_name("a/x.jpg#2") != annotation_name("b/x.jpg#2")


def test_every_page_of_a_pdf_is_read(tmp_path: Path) -> None:
    from forms.layout import compile_layout
    from forms.load import load_spec
    from forms.render import render_pdf

    compiled = compile_layout(load_spec(H.EXAMPLES / "evaluation.yaml"))
    pdf = tmp_path / "deck.pdf"
    pdf.write_bytes(render_pdf(compiled, DOC["form"]["hash"], ["000001", "000002"]))
    results = list(read_files([pdf], LAYOUTS, workers=1))
    assert [(r.source, r.status, r.serial) for r, _ in results] == [
        (f"{pdf}#1", "blank", "000001"), (f"{pdf}#2", "blank", "000002")]


def _dies_on_boom(page: EncodedPage, settings: ReadSettings) -> PageRead:
    """A task that kills its worker process on one page (as a crash in a C library would)."""
    if page.source.startswith("boom.jpg"):
        os._exit(3)
    return PageRead(failed(page.source, "blank", "fine"), None, 0.0)


def test_a_worker_that_dies_costs_only_its_page() -> None:
    pages = [EncodedPage(f"{name}#1", data=b"x") for name in ("a.jpg", "boom.jpg", "b.jpg",
                                                               "c.jpg")]
    with ReaderPool(ReadSettings(LAYOUTS), workers=2) as pool:
        results = [r.reading for r in pool.map(pages, _dies_on_boom)]
    assert [r.source for r in results] == ["a.jpg#1", "boom.jpg#1", "b.jpg#1", "c.jpg#1"]
    assert [r.status for r in results] == ["blank", "unreadable", "blank", "blank"]
    assert "crashed" in results[1].reason and results[1].reason_code == "worker_crashed"


def _dies_mid_message(page: EncodedPage, settings: ReadSettings) -> PageRead:
    """A task whose worker is killed half-way through sending its result: it takes the result
    pipe's write lock, writes the header of a message and no body, and dies (SIGKILL) - as a
    worker killed by the OOM killer while it sends a page's image back."""
    if page.source.startswith("jam.jpg"):
        import gc
        import multiprocessing.queues
        import signal

        queue = next(o for o in gc.get_objects()
                     if isinstance(o, multiprocessing.queues.SimpleQueue))
        queue._wlock.acquire()  # type: ignore[attr-defined]
        os.write(queue._writer.fileno(), struct.pack("!i", 100_000))  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGKILL)
    return PageRead(failed(page.source, "blank", "fine"), None, 0.0)


def test_a_worker_killed_while_sending_its_result_does_not_hang_the_pool() -> None:
    """Without `intake.pool._unjam` this waits for ever (the manager thread of the executor
    waits for the rest of the message, the other worker for the write lock)."""
    pages = [EncodedPage(f"{name}#1", data=b"x") for name in ("a.jpg", "jam.jpg", "b.jpg")]
    with ReaderPool(ReadSettings(LAYOUTS), workers=2) as pool:
        results = [r.reading for r in pool.map(pages, _dies_mid_message)]
    assert [r.source for r in results] == ["a.jpg#1", "jam.jpg#1", "b.jpg#1"]
    assert [r.status for r in results] == ["blank", "unreadable", "blank"]
    assert results[1].reason_code == "worker_crashed"
