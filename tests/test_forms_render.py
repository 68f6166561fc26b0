"""forms.render: printed PDFs checked on their rasters (pdfium) and their text and fonts.

Each example is rendered through the CLI and the library; every page's QR code is decoded with
zxing-cpp, every box of the layout JSON is found on the raster to within 0.3 mm, and the CJK
font is checked to be embedded, with the Chinese labels extractable as text.
"""

from __future__ import annotations

import copy
import ctypes
import re
import string
import time
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import segno
import zxingcpp

from forms.code import parse_payload
from forms.render import SERIAL_ALPHABET, random_serials
from forms.spec import FormSpec
from tests.forms_helpers import (
    EXAMPLE_NAMES,
    ROOT,
    compiled,
    geometry_problems,
    one_copy_pdf,
    page_texts,
    raster,
    run_form,
    squash,
)

GEOMETRY_DPI = 600  # a pixel is 0.042 mm: well under the 0.3 mm tolerance
QR_DPI = 200


def _decode(pdf: bytes, index: int, dpi: int = QR_DPI) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(raster(pdf, index, dpi), formats=zxingcpp.BarcodeFormat.QRCode)


def _page_count(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_page_qr_decodes_to_form_hash_page_and_serial(name: str, tmp_path: Path) -> None:
    spec, _, doc = compiled(name)
    out = tmp_path / "ballots.pdf"
    result = run_form("render", ROOT / "examples" / f"{name}.yaml", "--copies", "2",
                      "--serial-start", "41", "-o", out)
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    pages = len(doc["pages"])
    assert _page_count(pdf) == 2 * pages
    texts = page_texts(pdf)
    for index in range(2 * pages):
        copy_no, page_no = divmod(index, pages)
        found = _decode(pdf, index)
        assert len(found) == 1, f"page {index + 1} of the PDF: {len(found)} QR codes"
        code = parse_payload(found[0].text)
        assert code is not None, found[0].text
        assert code.form_id == spec.id
        assert code.layout_hash == doc["form"]["hash"][:12]
        assert code.page == page_no + 1
        assert code.serial == f"{41 + copy_no:06d}"
        assert f"No.{code.serial}" in texts[index]
        # omr re-encodes a text with segno when the decoder gives no version: same symbol size
        modules = 17 + 4 * int(found[0].extra["Version"])
        assert modules == segno.make_qr(found[0].text, error="q", boost_error=False
                                        ).symbol_size(border=0)[0]


def test_default_serials_are_random_unique_tokens_and_listed(tmp_path: Path) -> None:
    out, listed = tmp_path / "ballots.pdf", tmp_path / "serials.txt"
    result = run_form("render", ROOT / "examples" / "satisfaction.yaml", "--copies", "3",
                      "-o", out, "--serials-out", listed)
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    serials = []
    for index in range(3):
        code = parse_payload(_decode(pdf, index, 150)[0].text)
        assert code is not None
        serials.append(code.serial)
    assert len(set(serials)) == 3
    for serial in serials:
        assert re.fullmatch(f"[{SERIAL_ALPHABET}]{{10}}", serial), serial
    # the list says which tokens were printed (sorted), not in which order
    assert listed.read_text().split() == sorted(serials)

    many = random_serials(400)
    assert len(set(many)) == 400
    assert many != sorted(many), "tokens must not come in handing-out order"
    assert set("".join(many)) == set(SERIAL_ALPHABET)  # all 32 symbols in use
    assert not any(s.isdigit() for s in many)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_layout_box_sits_on_a_printed_box(name: str) -> None:
    _, _, doc = compiled(name)
    pdf = one_copy_pdf(name)
    for index, page in enumerate(doc["pages"]):
        problems = geometry_problems(raster(pdf, index, GEOMETRY_DPI), GEOMETRY_DPI, page)
        assert not problems, f"page {index + 1}: " + "; ".join(problems[:8])


def test_geometry_check_sees_a_box_moved_by_a_third_of_a_millimetre() -> None:
    _, _, doc = compiled("evaluation")
    page = copy.deepcopy(doc["pages"][0])
    img = raster(one_copy_pdf("evaluation"), 0, GEOMETRY_DPI)
    page["boxes"][7]["rect_mm"][0] += 0.35
    page["fiducials_mm"][1][1] -= 0.35
    page["code_mm"][1] += 0.35
    problems = geometry_problems(img, GEOMETRY_DPI, page)
    assert any(p.startswith(f"box {page['boxes'][7]['field']}") for p in problems)
    assert any(p.startswith("fiducial 1 top") for p in problems)
    assert any(p.startswith("QR symbol top") for p in problems)


def _printed_strings(spec: FormSpec) -> list[str]:
    """Every label of the spec that the sheet must print as text."""
    day = spec.header.date
    out = [spec.title, spec.header.unit, spec.header.meeting,
           f"{day.year}年{day.month}月{day.day}日", spec.instructions]
    if spec.categories and spec.categories.mode == "sheet":
        out += [spec.categories.title, *(c.label for c in spec.categories.options)]
    if spec.recommendation:
        for pos in spec.recommendation.positions:
            out.append(pos.title)
            out += [c.name for c in pos.candidates] + [c.profile for c in pos.candidates]
    if spec.evaluation and spec.evaluation.team:
        team = spec.evaluation.team
        out += [team.title, *(d.label for d in team.dimensions), *(lv.label for lv in team.levels)]
    if spec.evaluation and spec.evaluation.individual:
        part = spec.evaluation.individual
        out += [part.title, *(lv.label for lv in part.all_levels), *(r.label for r in part.rows)]
        out += [p.name for p in part.leaders] + [p.post for p in part.leaders]
    if spec.satisfaction:
        sat = spec.satisfaction
        out += [q.label for q in sat.overall] + [lv.label for lv in sat.levels]
        out += [sat.items_title, *(lv.label for lv in sat.item_levels)]
        out += [p.name for p in sat.items] + [p.post for p in sat.items]
        if sat.comment:
            out.append(sat.comment.label)
    return [s for s in out if s]


def _fonts_of_text(pdf: bytes) -> set[tuple[str, bool, bytes]]:
    """(base font name, embedded?, first 4 bytes of the font program) of every text object."""
    document = pdfium.PdfDocument(pdf)
    out = set()
    try:
        for page in document:
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], max_depth=4):
                font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
                size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
                name = ctypes.create_string_buffer(size)
                pdfium_c.FPDFFont_GetBaseFontName(font, name, size)
                length = ctypes.c_size_t()
                pdfium_c.FPDFFont_GetFontData(font, None, 0, ctypes.byref(length))
                data = (ctypes.c_uint8 * max(length.value, 1))()
                pdfium_c.FPDFFont_GetFontData(font, data, length, ctypes.byref(length))
                out.add((name.value.decode(), bool(pdfium_c.FPDFFont_GetIsEmbedded(font)),
                         bytes(data[:4])))
    finally:
        document.close()
    return out


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_cjk_font_is_embedded_and_labels_extract_as_text(name: str) -> None:
    spec, _, _ = compiled(name)
    pdf = one_copy_pdf(name)
    # every font the PDF names is a subset of the bundled font, with its TrueType program
    base_fonts = set(re.findall(rb"/BaseFont\s*/([^\s/>\]]+)", pdf))
    assert base_fonts, "no font in the PDF"
    for font in base_fonts:
        assert re.fullmatch(rb"[A-Z]{6}\+WenQuanYiMicroHei-0", font), font
    descriptors = len(re.findall(rb"/Type\s*/FontDescriptor", pdf))
    assert len(re.findall(rb"/FontFile2\s+\d+ 0 R", pdf)) == descriptors >= 1
    # and every piece of text is drawn in it, embedded (TrueType outlines, sfnt 0x00010000)
    assert _fonts_of_text(pdf) == {("WenQuanYiMicroHei-0", True, b"\x00\x01\x00\x00")}

    text = squash("".join(page_texts(pdf)))
    missing = [s for s in _printed_strings(spec) if squash(s) not in text]
    assert not missing, f"not extractable as text: {missing}"
    if spec.kind == "evaluation" and spec.evaluation and spec.evaluation.individual:
        for label in ("优秀", "称职", "基本称职", "不称职"):
            assert label in text
    assert any(ch not in string.printable for ch in text)


def test_multipage_footer_and_page_of_each_code() -> None:
    _, _, doc = compiled("evaluation-long")
    pdf = one_copy_pdf("evaluation-long")
    texts = page_texts(pdf)
    assert len(doc["pages"]) == 2 == len(texts)
    for k, text in enumerate(texts, 1):
        assert re.search(rf"第\s*{k}\s*页\s*共\s*2\s*页", text), text[-80:]
        code = parse_payload(_decode(pdf, k - 1)[0].text)
        assert code is not None and code.page == k
    assert "（续）" in texts[1]  # the continuation page says what it continues


def test_a3_renders_on_a3_paper_with_its_boxes_in_place() -> None:
    _, _, doc = compiled("evaluation", "A3")
    assert doc["page_size_mm"] == [297.0, 420.0]
    pdf = one_copy_pdf("evaluation", "A3")
    document = pdfium.PdfDocument(pdf)
    try:
        width_pt, height_pt = document[0].get_size()
    finally:
        document.close()
    assert (round(width_pt / 72 * 25.4, 1), round(height_pt / 72 * 25.4, 1)) == (297.0, 420.0)
    for index, page in enumerate(doc["pages"]):
        problems = geometry_problems(raster(pdf, index, 300), 300, page)
        assert not problems, "; ".join(problems[:8])
        code = parse_payload(_decode(pdf, index)[0].text)
        assert code is not None and code.page == page["page"]


def test_five_thousand_copies_render(tmp_path: Path) -> None:
    out, listed = tmp_path / "ballots.pdf", tmp_path / "serials.txt"
    started = time.perf_counter()
    result = run_form("render", ROOT / "examples" / "evaluation.yaml", "--copies", "5000",
                      "-o", out, "--serials-out", listed)
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    print(f"\n5,000 copies of examples/evaluation.yaml rendered in {seconds:.1f} s")
    pdf = out.read_bytes()
    assert _page_count(pdf) == 5000
    serials = listed.read_text().split()
    assert len(set(serials)) == 5000
    for index in (0, 4999):
        code = parse_payload(_decode(pdf, index, 150)[0].text)
        assert code is not None and code.serial in serials
