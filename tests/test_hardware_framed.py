"""The framed protocol: frame format, CRC, NAK-and-resend, lost and duplicate frames, on ptys."""

from __future__ import annotations

import numpy as np
import pytest
import serial

from hardware.framed import MAX_RESENDS, FramedReader, FrameError, encode_frame, parse_frame
from hardware.reader import open_card_reader
from hardware.sim import CardReaderSim, Faults, run_stack
from scanner.errors import DeviceIO, NoDocuments, TimingMarkError


def crc_ccitt_false_bitwise(data: bytes) -> int:
    """Reference CRC-16/CCITT-FALSE, written out bit by bit."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def stack(count: int, rows: int = 12, cols: int = 30, seed: int = 11) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sheets = []
    for i in range(count):
        bitmap = rng.random((rows, cols)) < 0.3
        bitmap[:, 0] = False
        bitmap[i % rows, 0] = True  # no two sheets alike
        sheets.append(bitmap)
    return sheets


def read_all(uri: str, **kwargs: int) -> tuple[list, list]:
    with open_card_reader(uri) as reader:
        return run_stack(reader, **kwargs)


def assert_in_order(sheets: list, expected: list[np.ndarray]) -> None:
    assert [s.sequence for s in sheets] == list(range(1, len(expected) + 1))
    for sheet, bitmap in zip(sheets, expected, strict=True):
        np.testing.assert_array_equal(sheet.bitmap, bitmap, err_msg=f"sheet {sheet.sequence}")


# -- the frame format -----------------------------------------------------------------------


def test_crc_is_ccitt_false() -> None:
    assert crc_ccitt_false_bitwise(b"123456789") == 0x29B1
    frame = encode_frame(42, "0", stack(1)[0])
    assert int(frame[-5:-1], 16) == crc_ccitt_false_bitwise(frame[1:-5])


def test_frame_layout_is_as_documented() -> None:
    bitmap = np.zeros((4, 1), dtype=bool)
    bitmap[0, 0] = True
    body = b"00001" + b"0" + b"004" + b"001" + b"1"
    assert (
        encode_frame(1, "0", bitmap)
        == b"\x02" + body + b"%04X" % crc_ccitt_false_bitwise(body) + b"\x03"
    )
    status_body = b"00007B000000"
    assert (
        encode_frame(7, "B")
        == b"\x02" + status_body + b"%04X" % crc_ccitt_false_bitwise(status_body) + b"\x03"
    )
    assert encode_frame(100_003, "1")[1:6] == b"00003"  # seq wraps at 100000


def test_frame_round_trip() -> None:
    bitmap = stack(1, rows=10, cols=7)[0]
    frame = parse_frame(encode_frame(99_999, "0", bitmap))
    assert (frame.seq, frame.status, frame.rows, frame.cols) == (99_999, "0", 10, 7)
    assert frame.bitmap is not None
    np.testing.assert_array_equal(frame.bitmap, bitmap)
    status = parse_frame(encode_frame(3, "@"))
    assert (status.seq, status.status, status.bitmap) == (3, "@", None)


def test_damaged_frames_are_rejected() -> None:
    good = encode_frame(5, "0", stack(1)[0])
    flipped = good[:20] + (b"A" if good[20:21] != b"A" else b"B") + good[21:]
    with pytest.raises(FrameError, match="CRC mismatch"):
        parse_frame(flipped)
    with pytest.raises(FrameError, match="STX"):
        parse_frame(good[:-1])
    with pytest.raises(FrameError):
        parse_frame(good[:15] + good[16:])  # a digit lost: CRC or length is wrong
    body = b"00005Z000000"
    with pytest.raises(FrameError, match="unknown status"):
        parse_frame(b"\x02" + body + b"%04X" % crc_ccitt_false_bitwise(body) + b"\x03")


def test_simulator_speaks_the_documented_exchange() -> None:
    bitmap = stack(1, rows=4, cols=1)[0]
    with CardReaderSim([bitmap], protocol="framed") as sim:
        port = serial.serial_for_url(sim.port, baudrate=38400, timeout=1)
        try:
            port.write(b"\x18")
            assert port.read(1) == b"\x06"
            frame = encode_frame(1, "0", bitmap)
            port.write(b"\x05")
            assert port.read(len(frame)) == frame
            port.write(b"\x15")  # NAK: the same frame again
            assert port.read(len(frame)) == frame
            port.write(b"\x06")
            port.write(b"\x05")
            assert port.read(18) == encode_frame(2, "B")  # status frames keep the next seq
            port.write(b"\x06")
        finally:
            port.close()
    assert sim.delivered == [1] and sim.naks == 1


# -- the driver -----------------------------------------------------------------------------


def test_one_corrupted_frame_is_resent_after_nak() -> None:
    bitmaps = stack(4)
    faults = Faults(corrupt_frame_at={2: 1})
    with (
        CardReaderSim(bitmaps, protocol="framed", faults=faults) as sim,
        open_card_reader(sim.uri) as reader,
    ):
        assert isinstance(reader, FramedReader)
        sheets, errors = run_stack(reader)
        assert reader.crc_resends == 1
    assert [type(e) for e in errors] == [NoDocuments]
    assert sim.naks == 1 and sim.fired == [("corrupt_frame_at", 2)]
    assert_in_order(sheets, bitmaps)


def test_resends_are_bounded() -> None:
    bitmaps = stack(3)
    faults = Faults(corrupt_frame_at={2: MAX_RESENDS + 1, 3: MAX_RESENDS})
    with CardReaderSim(bitmaps, protocol="framed", faults=faults) as sim:
        sheets, errors = read_all(sim.uri)
    assert type(errors[0]) is DeviceIO and errors[0].refeed == [2]
    assert f"failed its check {MAX_RESENDS + 1} times" in errors[0].message
    assert "CRC mismatch" in errors[0].message
    assert [type(e) for e in errors[1:]] == [NoDocuments]  # sheet 3 got through on its last try
    assert sim.naks == 2 * MAX_RESENDS
    assert_in_order(sheets, bitmaps)


@pytest.mark.parametrize(("lost", "refeed"), [({3}, [3]), ({2, 3}, [2, 3]), ({6}, [6])])
def test_lost_frames_are_named_and_nothing_read_is_dropped(
    lost: set[int], refeed: list[int]
) -> None:
    bitmaps = stack(6)
    with CardReaderSim(bitmaps, protocol="framed", faults=Faults(lose_frame_at=lost)) as sim:
        sheets, errors = read_all(sim.uri)
    gap = errors[0]
    assert type(gap) is DeviceIO and gap.refeed == refeed
    assert f"sheet(s) {', '.join(map(str, refeed))} lost on the line" in gap.message
    assert sim.port in str(gap)
    assert [type(e) for e in errors[1:]] == [NoDocuments]
    assert_in_order(sheets, bitmaps)
    assert sorted(sim.delivered) == [1, 2, 3, 4, 5, 6]


def test_duplicate_frame_is_dropped_and_counted_once() -> None:
    bitmaps = stack(4)
    faults = Faults(duplicate_frame_at={2, 4})
    with (
        CardReaderSim(bitmaps, protocol="framed", faults=faults) as sim,
        open_card_reader(sim.uri) as reader,
    ):
        assert isinstance(reader, FramedReader)
        sheets, errors = run_stack(reader)
        assert reader.duplicates_dropped == 2
    assert [type(e) for e in errors] == [NoDocuments]
    assert_in_order(sheets, bitmaps)
    assert [s.device_info["reader_seq"] for s in sheets] == [1, 2, 3, 4]
    assert sim.commands.count(b"\x05") == 4 + 2 + 1  # sheets, duplicates, the empty hopper


def test_frame_geometry_is_checked_before_ack() -> None:
    bitmaps = stack(2, rows=8, cols=30)
    with CardReaderSim(bitmaps, protocol="framed") as sim:
        with (
            open_card_reader(sim.uri + "&rows=12") as reader,
            pytest.raises(TimingMarkError) as caught,
        ):
            reader.read_sheet()
        assert "8 timing marks, expected 12" in caught.value.message
        assert caught.value.refeed == [1]
        with (
            open_card_reader(sim.uri + "&cols=40") as reader,
            pytest.raises(DeviceIO, match="30 columns, expected 40"),
        ):
            reader.read_sheet()
        with open_card_reader(sim.uri + "&rows=8&cols=30") as reader:
            sheets, _ = run_stack(reader)
    assert_in_order(sheets, bitmaps)  # the rejected sheet was not ACKed: still on the hopper
