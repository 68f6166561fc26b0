"""The Sekonic-style protocol: wire format, commands and driver checks, over real ptys."""

from __future__ import annotations

import numpy as np
import pytest
import serial

from hardware.protocol import decode_columns, encode_columns
from hardware.reader import open_card_reader
from hardware.sekonic import (
    SekonicReader,
    data_request,
    decode_data_block,
    encode_data_block,
)
from hardware.sim import CardReaderSim, Faults, run_stack
from scanner.errors import DeviceIO, Jammed, TimingMarkError


def sheet(rows: int, cols: int, *cells: tuple[int, int]) -> np.ndarray:
    bitmap = np.zeros((rows, cols), dtype=bool)
    for row, col in cells:
        bitmap[row, col] = True
    return bitmap


def test_mode_c_wire_format_is_as_documented() -> None:
    bitmap = sheet(6, 2, (0, 0), (5, 1))
    assert data_request(1, 2) == b"\x10C001002\r"
    assert encode_data_block(bitmap, 1, 2) == b"10\r02\r\x03"
    assert encode_data_block(bitmap, 2, 1) == b"02\r\x03"
    full = sheet(8, 1, *[(r, 0) for r in range(8)])
    assert encode_columns(full) == [b"FF"]
    assert encode_columns(sheet(4, 1, (3, 0))) == [b"8"]


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (4, 3), (6, 7), (12, 20), (48, 80), (50, 9)])
def test_mode_c_round_trip(rows: int, cols: int) -> None:
    rng = np.random.default_rng(rows * 1000 + cols)
    bitmap = rng.random((rows, cols)) < 0.3
    decoded = decode_data_block(encode_data_block(bitmap, 1, cols), rows, cols)
    np.testing.assert_array_equal(decoded, bitmap)


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (b"10\r02\r", "ETX"),
        (b"10\r02\x03", "CR-terminated"),
        (b"1x\r02\r\x03", "column 1"),
        (b"10\r2\r\x03", "column 2"),
        (b"10\r0a\r\x03", "uppercase hex"),
    ],
)
def test_malformed_data_block_is_rejected(block: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        decode_data_block(block, 6, 2)


def test_decode_columns_ignores_padding_rows() -> None:
    assert decode_columns([b"F"], 2).tolist() == [[True], [True]]


def test_simulator_answers_the_documented_commands() -> None:
    bitmap = sheet(6, 2, (0, 0), (5, 1))
    with CardReaderSim([bitmap]) as sim:
        port = serial.serial_for_url(sim.port, baudrate=38400, timeout=1)
        try:
            port.write(b"\x18\r")
            assert port.read(1) == b"\x06"
            port.write(b"\x10C001002\r")  # nothing fed yet
            assert port.read(1) == b"P"
            port.write(b"?\r")
            assert port.read(1) == b"0"
            port.write(b"\x05T\r")
            assert port.read(4) == b"006\r"
            port.write(b"\x10C001002\r")
            assert port.read(7) == b"10\r02\r\x03"
            port.write(b"\x10C002005\r")  # past the reader's last column
            assert port.read(1) == b"P"
            port.write(b"\x05\r")
            assert port.read(2) == b"P\r"
            port.write(b"?\r")
            assert port.read(1) == b"B"
        finally:
            port.close()
    assert sim.delivered == [1]


def test_last_error_and_timing_marks_through_the_driver() -> None:
    bitmaps = [sheet(8, 20, (1, 1)), sheet(8, 20, (2, 2))]
    with (
        CardReaderSim(bitmaps, faults=Faults(jam_at={2})) as sim,
        open_card_reader(sim.uri + "&cols=20") as reader,
    ):
        assert isinstance(reader, SekonicReader)
        assert reader.last_error() == "0"
        first = reader.read_sheet()
        assert reader.timing_marks() == 8
        with pytest.raises(Jammed):
            reader.read_sheet()
        assert reader.last_error() == "1"
        second = reader.read_sheet()
    assert (first.sequence, second.sequence) == (1, 2)
    assert second.bitmap is not None and second.bitmap[2, 2] and second.bitmap.sum() == 1


def test_wrong_timing_mark_count_is_a_timing_mark_error() -> None:
    bitmaps = [sheet(8, 20, (0, 0))]
    with (
        CardReaderSim(bitmaps) as sim,
        open_card_reader(sim.uri + "&rows=12&cols=20") as reader,
    ):
        with pytest.raises(TimingMarkError) as caught:
            reader.read_sheet()
        with pytest.raises(TimingMarkError):  # re-fed, still the wrong card type
            reader.read_sheet()
    assert caught.value.refeed == [1]
    assert "8 timing marks, expected 12" in caught.value.message
    assert sim.delivered == [] and sim.commands.count(b"?") == 2


def test_more_columns_than_the_reader_has_is_device_io() -> None:
    with (
        CardReaderSim([sheet(8, 20, (0, 0))]) as sim,
        open_card_reader(sim.uri + "&cols=80") as reader,
        pytest.raises(DeviceIO) as caught,
    ):
        reader.read_sheet()
    assert caught.value.status == "P"
    assert "80 columns" in caught.value.message and caught.value.refeed == [1]


def test_default_is_80_columns_of_48_rows() -> None:
    rng = np.random.default_rng(3)
    bitmaps = [rng.random((48, 80)) < 0.1 for _ in range(3)]
    with CardReaderSim(bitmaps) as sim, open_card_reader(sim.uri) as reader:
        sheets, errors = run_stack(reader)
    assert [s.bitmap.shape for s in sheets if s.bitmap is not None] == [(48, 80)] * 3
    assert all(np.array_equal(s.bitmap, b) for s, b in zip(sheets, bitmaps, strict=True))
    assert sheets[0].device_info == {"protocol": "sekonic", "timing_marks": 48}
    assert len(errors) == 1
