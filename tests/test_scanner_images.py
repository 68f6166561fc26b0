"""scanner.images: every file type decodes to exact pixels; every bad file becomes a clear error."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from scanner.images import Page, iter_bytes, iter_pages, sniff_format


def decode_bytes(data: bytes, name: str, **limits: float) -> list[Page]:
    """Every page of `data`, as a list (the pages come lazily, one at a time)."""
    return list(iter_bytes(data, name, **limits))  # type: ignore[arg-type]


def _sheet(height_px: int = 400, width_px: int = 300, seed: int = 0) -> np.ndarray:
    """A white grey page with a few black boxes, different for each seed."""
    page = np.full((height_px, width_px), 255, np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        x, y = int(rng.integers(0, width_px - 40)), int(rng.integers(0, height_px - 40))
        cv2.rectangle(page, (x, y), (x + 30, y + 30), 0, -1)
    return page


def _tiff(pages: list[np.ndarray], compression: str | None = "group4", dpi: int = 300) -> bytes:
    frames = [Image.fromarray(p).convert("1") for p in pages]
    buf = io.BytesIO()
    more = frames[1:]
    frames[0].save(
        buf, "TIFF", compression=compression, save_all=True, append_images=more, dpi=(dpi,) * 2
    )
    return buf.getvalue()


def _png_header_bomb(width_px: int, height_px: int) -> bytes:
    """A valid 1-bit PNG of zeros: ~110 kB on disk, width*height bytes once decoded."""
    packer = zlib.compressobj(9)
    rows = (b"\x00" + b"\x00" * ((width_px + 7) // 8)) * 1000
    idat = b"".join(packer.compress(rows) for _ in range(height_px // 1000)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width_px, height_px, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _pdf(n_pages: int, colour_page: int | None = None, password: str | None = None) -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(595.28, 841.89), encrypt=password)  # A4 in points
    for i in range(n_pages):
        if i == colour_page:
            pdf.setFillColorRGB(1, 0, 0)
        else:
            pdf.setFillColorRGB(0, 0, 0)
        pdf.rect(72, 72 + 40 * i, 72, 72, fill=1, stroke=0)  # 1 inch square, 1 inch from corner
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _only(pages: list[Page]) -> Page:
    assert len(pages) == 1, [p.source for p in pages]
    return pages[0]


def test_jpeg_grey_decodes_with_dpi_and_keeps_its_bytes(tmp_path: Path) -> None:
    page = _sheet()
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, "JPEG", quality=95, dpi=(300, 300))
    path = tmp_path / "scan-0001.jpg"
    path.write_bytes(buf.getvalue())
    got = _only(list(iter_pages(path)))
    assert got.error is None and got.image is not None
    assert got.source == f"{path}#1"
    assert got.image.shape == (400, 300) and got.image.dtype == np.uint8
    assert np.abs(got.image.astype(int) - page).mean() < 3  # lossy, but the same page
    assert got.dpi == pytest.approx(300)
    assert got.data == buf.getvalue()


def test_png_colour_is_rgb_and_dpi_comes_from_phys() -> None:
    rgb = np.zeros((50, 60, 3), np.uint8)
    rgb[:, :, 0] = 200  # red
    rgb[10:20, 10:20] = (0, 0, 255)  # a blue square
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", dpi=(200, 200))
    got = _only(decode_bytes(buf.getvalue(), "upload.png"))
    assert got.source == "upload.png#1"
    assert np.array_equal(got.image, rgb)  # RGB order, not OpenCV's BGR
    assert got.dpi == 200  # pHYs is in px/m (7874): rounded back to whole dpi


def test_png_without_dpi_and_16_bit_and_transparent_pages() -> None:
    ok, enc = cv2.imencode(".png", (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    assert ok
    deep = _only(decode_bytes(enc.tobytes(), "deep.png"))
    assert deep.dpi is None
    assert deep.image.dtype == np.uint8 and deep.image.shape == (64, 64)
    assert deep.image[0, 0] == 0 and deep.image[-1, -1] == (64 * 64 - 1) * 16 >> 8

    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black: reads as white paper
    rgba[5:, :, 3] = 255  # bottom half opaque black
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    flat = _only(decode_bytes(buf.getvalue(), "alpha.png")).image
    assert flat.shape == (10, 10, 3)
    assert (flat[:5] == 255).all() and (flat[5:] == 0).all()


def test_exif_orientation_is_applied() -> None:
    page = np.full((100, 40), 255, np.uint8)
    page[:10, :] = 0  # black band along the top edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    got = _only(decode_bytes(buf.getvalue(), "phone.jpg")).image
    assert got.shape == (40, 100)
    assert got[:, -10:].mean() < 30 and got[:, :-12].mean() > 220  # the band is now on the right


def test_multipage_ccitt_g4_tiff_decodes_every_page_exactly() -> None:
    pages = [_sheet(seed=i) for i in range(3)]
    data = _tiff(pages)
    probe = Image.open(io.BytesIO(data))
    assert probe.tag_v2[259] == 4  # Compression = CCITT T.6 (Group 4): really G4
    got = decode_bytes(data, "batch.tiff")
    assert [p.source for p in got] == ["batch.tiff#1", "batch.tiff#2", "batch.tiff#3"]
    for page, expected in zip(got, pages, strict=True):
        assert page.error is None
        assert page.image.dtype == np.uint8 and set(np.unique(page.image)) <= {0, 255}
        assert np.array_equal(page.image, expected)  # bitonal, lossless: bit for bit
        assert page.dpi == pytest.approx(300)
        assert page.data is None  # one file, several pages: no per-page bytes


def test_g4_min_is_white_like_most_scanners_write() -> None:
    page = _sheet()
    buf = io.BytesIO()
    Image.fromarray(page).convert("1").save(buf, "TIFF", compression="group4", tiffinfo={262: 0})
    assert Image.open(io.BytesIO(buf.getvalue())).tag_v2[262] == 0  # WhiteIsZero
    got = _only(decode_bytes(buf.getvalue(), "scanner.tif"))
    assert np.array_equal(got.image, page)  # black marks stay black (0)


def test_single_page_tiff_keeps_its_bytes() -> None:
    data = _tiff([_sheet()], compression="tiff_lzw", dpi=200)
    got = _only(decode_bytes(data, "one.tif"))
    assert got.data == data and got.dpi == pytest.approx(200)


@pytest.mark.parametrize("compression", ["group4", None])
def test_cut_short_tiff_reports_the_lost_pages(compression: str | None) -> None:
    data = _tiff([_sheet(seed=i) for i in range(3)], compression=compression)
    probe = Image.open(io.BytesIO(data))
    probe.seek(2)
    inside_page_3 = probe.tag_v2[273][0] + 5
    for cut in (len(data) // 2, inside_page_3):
        got = decode_bytes(data[:cut], "cut.tiff")
        readable = [p for p in got if p.ok]
        broken = [p for p in got if not p.ok]
        assert 1 <= len(readable) < 3, cut
        assert broken and all("cut short" in p.error for p in broken), [p.error for p in got]
        assert got[-1].source == f"cut.tiff#{len(got)}"  # numbering carries on, nothing dropped


def test_a_corrupt_page_in_the_middle_does_not_hide_the_others() -> None:
    pages = [_sheet(seed=i) for i in range(3)]
    data = bytearray(_tiff(pages))
    probe = Image.open(io.BytesIO(bytes(data)))
    probe.seek(1)
    for start, length in zip(probe.tag_v2[273], probe.tag_v2[279], strict=True):
        data[start : start + length] = b"\x00" * length  # page 2's G4 stream becomes garbage
    got = decode_bytes(bytes(data), "mid.tiff")
    assert [p.ok for p in got] == [True, False, True]
    assert "TIFF page 2" in got[1].error and "re-scan" in got[1].error
    assert np.array_equal(got[2].image, pages[2])


def test_pdf_every_page_rasterised_at_pdf_dpi(tmp_path: Path) -> None:
    path = tmp_path / "stack.pdf"
    path.write_bytes(_pdf(3, colour_page=1))
    got = list(iter_pages(path, pdf_dpi=100, name="stack.pdf"))
    assert [p.source for p in got] == ["stack.pdf#1", "stack.pdf#2", "stack.pdf#3"]
    assert all(p.error is None and p.dpi == 100 and p.data is None for p in got)
    height_px, width_px = got[0].image.shape  # black-only page comes out grey
    assert abs(height_px - 1169.3) < 1 and abs(width_px - 826.8) < 1  # A4 at 100 dpi
    assert got[1].image.shape == (height_px, width_px, 3)  # the page with red ink stays colour
    # the 1-inch square 1 inch from the bottom-left corner is 100 px wide at 100 dpi
    square = got[0].image[height_px - 172 : height_px - 100, 100:172]
    assert square.mean() < 10 and got[0].image[:900].mean() > 250
    assert tuple(got[1].image[height_px - 180, 130]) == (255, 0, 0)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "empty.jpg", "file is empty (0 bytes); re-scan the sheet"),
        (b"Subject: hello\r\n\r\nnot a scan", "mail.jpg", "not an image or PDF"),
        (b"\xff\xd8\xff\xe0 this is no JPEG at all", "bad.jpg", "JPEG image is damaged"),
        (b"%PDF-1.7\n1 0 obj garbage", "bad.pdf", "PDF cannot be opened"),
        (b"II*\x00", "stub.tif", "TIFF file is damaged"),
    ],
)
def test_bad_content_never_raises(data: bytes, name: str, words: str) -> None:
    got = _only(decode_bytes(data, name))
    assert got.image is None and not got.ok
    assert words in got.error
    assert got.source == f"{name}#1"


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_images_are_reported_not_half_decoded(ext: str) -> None:
    ok, enc = cv2.imencode(ext, _sheet())
    assert ok
    data = enc.tobytes()
    got = _only(decode_bytes(data[: len(data) // 2], "half" + ext))
    assert got.image is None
    assert "damaged or incomplete" in got.error and "re-scan" in got.error


def test_password_protected_pdf() -> None:
    got = _only(decode_bytes(_pdf(1, password="secret"), "locked.pdf"))
    assert got.image is None and "password-protected" in got.error


def test_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = _png_header_bomb(30000, 30000)
    assert len(bomb) < 500_000  # small on disk, 900 Mpx once decoded
    started = time.perf_counter()
    got = _only(decode_bytes(bomb, "bomb.png"))
    assert time.perf_counter() - started < 1.0  # refused without decoding
    assert got.image is None
    assert "30000x30000 px, over the 150 Mpx limit" in got.error


def test_max_pixels_applies_to_every_tiff_page_and_pdf_page() -> None:
    data = _tiff([_sheet(400, 300), _sheet(60, 50)], compression=None)
    got = decode_bytes(data, "mixed.tiff", max_pixels=10_000)
    assert not got[0].ok and "300x400 px" in got[0].error and "TIFF page 1" in got[0].error
    assert got[1].ok and got[1].image.shape == (60, 50)
    pdf = _only(decode_bytes(_pdf(1), "big.pdf", pdf_dpi=600, max_pixels=10_000_000))
    assert not pdf.ok and "4961x7016 px at 600 dpi" in pdf.error


def test_over_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    with path.open("wb") as handle:  # sparse: 3 MiB on paper, nothing on disk
        handle.truncate(3 * 2**20)
    got = _only(list(iter_pages(path, max_file_bytes=2**20)))
    assert got.image is None and "file is 3 MiB, over the 1 MiB limit" in got.error


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        iter_pages(tmp_path / "nope.jpg")  # at once, not on the first page


def test_sniff_format_names_containers() -> None:
    assert sniff_format(b"\xff\xd8\xff\xdb") == "JPEG"
    assert sniff_format(b"\x89PNG\r\n\x1a\n....") == "PNG"
    assert sniff_format(b"MM\x00*\x00\x00\x00\x08") == "TIFF"
    assert sniff_format(b"%PDF-1.4") == "PDF"
    assert sniff_format(b"<html>") is None
