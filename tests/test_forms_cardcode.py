"""forms.cardcode and its print: a card-reader form prints each sheet's serial as solid reader
cells that decode back to the serial; every 1- and 2-cell error is caught; serials that cannot
be coded are refused with a message; the printed cells sit in their reader cells."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest

from forms import geometry as g
from forms.cardcode import CODE_BITS, MAX_CHARS, SerialCodeError, decode_serial, encode_serial
from forms.render import random_serials, render_pdf
from omr.grid import card_serial, grid_size, serial_code_cells
from omr.layout import FormLayout
from tests.forms_helpers import ROOT, compiled, mean_darkness, raster, run_form

DPI = 200


def test_serials_round_trip() -> None:
    serials = [*random_serials(200), "000001", "999999", "7", "ZZZZZZZZZZ", "0000000000"]
    for serial in serials:
        bits = encode_serial(serial)
        assert len(bits) == CODE_BITS
        assert decode_serial(bits) == serial


def test_every_one_and_two_bit_error_is_caught() -> None:
    bits = encode_serial("8ZZNEWTNN5")
    for k in range(CODE_BITS):
        one = list(bits)
        one[k] = not one[k]
        assert decode_serial(one) is None, k
    for a, b in itertools.combinations(range(CODE_BITS), 2):
        two = list(bits)
        two[a], two[b] = not two[a], not two[b]
        assert decode_serial(two) is None, (a, b)


def test_random_damage_is_caught_or_harmless() -> None:
    """A scribble over several code cells: beyond two cells the CRC-16 lets about 1 in 65,536
    through as another valid code (the printed scheme cannot do better, and must not change:
    sheets already printed carry it), so the downstream check is what keeps such a card out -
    a serial not printed for the meeting is refused (`tally.ingest`, ``unknown_serial``).
    Seeded, so the figure is reproducible; 20,000 scribbles."""
    rng = random.Random(5)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    serials = ["".join(rng.choice(alphabet) for _ in range(10)) for _ in range(200)]
    wrong = 0
    for serial in serials:
        bits = encode_serial(serial)
        for _ in range(100):
            damaged = list(bits)
            for k in rng.sample(range(CODE_BITS), rng.randint(3, 8)):
                damaged[k] = True
            if damaged != bits and decode_serial(damaged) not in (None, serial):
                wrong += 1
    assert wrong <= 2  # expected 0.3 at the CRC's rate


def test_an_empty_or_full_code_is_not_a_serial() -> None:
    assert decode_serial([False] * CODE_BITS) is None
    assert decode_serial([True] * CODE_BITS) is None
    assert decode_serial([True] * (CODE_BITS - 1)) is None


@pytest.mark.parametrize(("serial", "message"), [
    ("", "1-10 characters"),
    ("12345678901", "1-10 characters"),
    ("abc", "'a' cannot be printed"),
    ("12-34", "'-' cannot be printed"),
])
def test_serials_that_cannot_be_coded_are_refused(serial: str, message: str) -> None:
    with pytest.raises(SerialCodeError, match=message):
        encode_serial(serial)


def test_a_card_form_refuses_sequential_serials_too_long_for_its_code(tmp_path: Path) -> None:
    out = tmp_path / "cards.pdf"
    result = run_form("render", ROOT / "examples" / "evaluation-cardreader.yaml", "--copies",
                      "3", "--serial-start", str(10**MAX_CHARS - 2), "-o", out)
    assert result.exit_code == 2
    assert "at most 10 characters" in result.output and not out.exists()


def test_the_printed_code_reads_back_from_the_raster() -> None:
    _, layout, doc = compiled("evaluation-cardreader")
    serials = ["000417", "8ZZNEWTNN5"]
    pdf = render_pdf(layout, doc["form"]["hash"], serials)
    page = doc["pages"][0]
    code = page["serial_code"]
    assert len(code["grid"]) == len(code["rects_mm"]) == CODE_BITS
    rows, cols = grid_size(FormLayout.parse(doc))
    assert rows == len(page["timing_mm"]) and cols == max(g.SERIAL_CODE_COLS) + 1
    # every code cell sits in its reader cell, clear of the boxes, the content and the marks
    first_row = round(page["timing_mm"][0][1] / g.GRID_ROW_PITCH_MM - 0.5)
    for (row, col), (x, y, w, h) in zip(code["grid"], code["rects_mm"], strict=True):
        assert int((x + w / 2) // g.GRID_COL_PITCH_MM) == col
        assert int((y + h / 2) // g.GRID_ROW_PITCH_MM) - first_row == row
    boxes = {tuple(b["grid"]) for b in page["boxes"]}
    assert not boxes & {tuple(c) for c in code["grid"]}
    for index, serial in enumerate(serials):
        img = raster(pdf, index, DPI)
        darkness = [mean_darkness(img, DPI, tuple(r), inset_mm=0.5) for r in code["rects_mm"]]
        bits = [d > 0.5 for d in darkness]
        assert all(d > 0.9 or d < 0.05 for d in darkness), "code cells are solid or blank"
        assert bits == encode_serial(serial)
        # as a card reader sends it: a bitmap of its grid with the marks it saw
        bitmap = np.zeros((rows, 80), bool)
        for bit, (row, col) in zip(bits, serial_code_cells(FormLayout.parse(doc)), strict=True):
            bitmap[row, col] = bit
        assert card_serial(bitmap, FormLayout.parse(doc)) == serial


def test_forms_without_a_timing_track_print_no_code() -> None:
    _, _, doc = compiled("evaluation")
    assert all("serial_code" not in p for p in doc["pages"])
    assert serial_code_cells(FormLayout.parse(doc)) == []
