"""open_card_reader over real ptys, both protocols: URIs, typed errors, re-feeds, stacks."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hardware.reader import ACCEPTED_FORM, open_card_reader, parse_reader_uri
from hardware.sim import CardReaderSim, Faults, run_stack
from omr.grid import bitmap_to_marks, marks_to_bitmap
from scanner.errors import (
    CoverOpen,
    DeviceError,
    DeviceIO,
    DoubleFeed,
    Jammed,
    NoDocuments,
    TimingMarkError,
)
from scanner.source import SheetSource
from tests.omr_helpers import grid_layout

PROTOCOLS = ["sekonic", "framed"]


def stack(count: int, rows: int = 12, cols: int = 80, seed: int = 7) -> list[np.ndarray]:
    """Distinct random sheets (sheet i has i+1 marks in its last column, so none repeat)."""
    rng = np.random.default_rng(seed)
    sheets = []
    for i in range(count):
        bitmap = rng.random((rows, cols)) < 0.25
        bitmap[:, -1] = False
        bitmap[: (i % rows) + 1, -1] = True
        bitmap[0, 0] = bool(i // rows % 2)
        sheets.append(bitmap)
    return sheets


def assert_delivered_once_in_order(sheets: list, expected: list[np.ndarray]) -> None:
    assert [s.sequence for s in sheets] == list(range(1, len(expected) + 1))
    assert len(sheets) == len(expected)
    for sheet, bitmap in zip(sheets, expected, strict=True):
        assert sheet.bitmap is not None
        assert sheet.bitmap.dtype == bool
        np.testing.assert_array_equal(sheet.bitmap, bitmap, err_msg=f"sheet {sheet.sequence}")


# -- URIs and ports -------------------------------------------------------------------------


def test_uri_parsing_defaults_and_values() -> None:
    settings = parse_reader_uri("serial:///dev/ttyUSB0?protocol=sekonic&baud=38400")
    assert (settings.device, settings.protocol, settings.baud) == ("/dev/ttyUSB0", "sekonic", 38400)
    assert settings.rows is None and settings.cols is None and settings.rtscts
    settings = parse_reader_uri(
        "serial:///dev/ttyS1?protocol=framed&baud=115200&rows=48&cols=80&timeout_s=0.5&rtscts=0"
    )
    assert (settings.protocol, settings.baud, settings.rows, settings.cols) == (
        "framed",
        115200,
        48,
        80,
    )
    assert settings.timeout_s == 0.5 and not settings.rtscts
    assert parse_reader_uri("serial:///dev/ttyUSB0").baud == 38400


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("usb:///dev/ttyUSB0", "scheme"),
        ("serial://dev/ttyUSB0", "absolute path"),
        ("serial:///dev/ttyUSB0?protocol=kodak", "protocol"),
        ("serial:///dev/ttyUSB0?baud=fast", "baud"),
        ("serial:///dev/ttyUSB0?rows=0", "rows"),
        ("serial:///dev/ttyUSB0?colour=red", "colour"),
        ("serial:///dev/ttyUSB0?baud=9600&baud=38400", "twice"),
        ("serial:///dev/ttyUSB0?timeout_s=-1", "timeout_s"),
        ("serial:///dev/ttyUSB0?rtscts=yes", "rtscts"),
    ],
)
def test_malformed_uri_is_a_value_error_naming_it(uri: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_card_reader(uri)
    message = str(caught.value)
    assert uri in message and problem in message and ACCEPTED_FORM in message


def test_missing_port_is_device_io_naming_it() -> None:
    with pytest.raises(DeviceIO) as caught:
        open_card_reader("serial:///dev/ttyNOSUCHREADER9?protocol=sekonic")
    assert "/dev/ttyNOSUCHREADER9" in str(caught.value)
    assert caught.value.device == "/dev/ttyNOSUCHREADER9"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silent_port_fails_at_open(protocol: str) -> None:
    master, slave = os.openpty()  # a port with nothing behind it
    try:
        port = os.ttyname(slave)
        with pytest.raises(DeviceIO) as caught:
            open_card_reader(f"serial://{port}?protocol={protocol}&timeout_s=0.3")
        assert port in str(caught.value) and "no ACK" in str(caught.value)
    finally:
        os.close(master)
        os.close(slave)


def test_port_in_use_is_device_io() -> None:
    with CardReaderSim(stack(1)) as sim, open_card_reader(sim.uri):
        with pytest.raises(DeviceIO) as caught:
            open_card_reader(sim.uri)
        assert sim.port in str(caught.value)


# -- reading stacks --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_clean_stack(protocol: str) -> None:
    bitmaps = stack(5)
    with CardReaderSim(bitmaps, protocol=protocol) as sim:
        reader = open_card_reader(sim.uri + "&baud=38400&cols=80")
        assert isinstance(reader, SheetSource)
        sheets, errors = run_stack(reader)
        reader.close()
    assert_delivered_once_in_order(sheets, bitmaps)
    assert len(errors) == 1 and isinstance(errors[0], NoDocuments) and errors[0].refeed == []
    assert sheets[0].device_info["protocol"] == protocol
    assert sheets[0].device_info["timing_marks"] == 12
    assert sheets[2].source == f"{sim.uri}&baud=38400&cols=80#3"
    assert sim.delivered == [1, 2, 3, 4, 5]


STATUS_FAULTS = [
    ("jam_at", Jammed, "1", [3]),
    ("card_remains_at", Jammed, "2", [3]),
    ("feed_error_at", Jammed, "3", [3]),
    ("double_feed_at", DoubleFeed, "6", [3, 4]),
    ("timing_mark_error_at", TimingMarkError, "@", [3]),
    ("cover_open_at", CoverOpen, "D", [3]),
    ("comm_error_at", DeviceIO, "Q", [3]),
    ("empty_at", NoDocuments, "B", []),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("fault", "error", "status", "refeed"), STATUS_FAULTS)
def test_status_fault_maps_to_typed_error_and_refeed_recovers(
    protocol: str, fault: str, error: type[DeviceError], status: str, refeed: list[int]
) -> None:
    bitmaps = stack(5)
    with (
        CardReaderSim(bitmaps, protocol=protocol, faults=Faults(**{fault: {3}})) as sim,
        open_card_reader(sim.uri) as reader,
    ):
        sheets, errors = run_stack(reader, stacks=2 if error is NoDocuments else 1)
    assert type(errors[0]) is error
    assert errors[0].status == status and errors[0].refeed == refeed
    assert errors[0].device == sim.port
    assert isinstance(errors[-1], NoDocuments) and len(errors) == 2
    assert_delivered_once_in_order(sheets, bitmaps)
    assert sim.fired == [(fault, 3)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_garbage_on_the_line_is_device_io_with_a_clear_message(protocol: str) -> None:
    bitmaps = stack(4)
    with (
        CardReaderSim(bitmaps, protocol=protocol, faults=Faults(garbage_at={2})) as sim,
        open_card_reader(sim.uri) as reader,
    ):
        sheets, errors = run_stack(reader)
    error = errors[0]
    assert type(error) is DeviceIO and error.refeed == [2]
    message = str(error)
    assert sim.port in message
    assert "\\xff\\xfe#~" in message and "(noise)" in message  # what arrived, in full
    assert "received" in message and "sheet 2" in message
    assert_delivered_once_in_order(sheets, bitmaps)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silence_is_a_timeout(protocol: str) -> None:
    bitmaps = stack(3)
    with (
        CardReaderSim(bitmaps, protocol=protocol, faults=Faults(silent_at={2})) as sim,
        open_card_reader(sim.uri + "&timeout_s=0.3") as reader,
    ):
        sheets, errors = run_stack(reader)
    assert type(errors[0]) is DeviceIO and errors[0].refeed == [2]
    assert "no " in errors[0].message and "0.3 s" in errors[0].message
    assert sim.port in str(errors[0])
    assert_delivered_once_in_order(sheets, bitmaps)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_short_answer_is_device_io(protocol: str) -> None:
    bitmaps = stack(3)
    with (
        CardReaderSim(bitmaps, protocol=protocol, faults=Faults(short_data_at={1})) as sim,
        open_card_reader(sim.uri + "&timeout_s=0.3") as reader,
    ):
        sheets, errors = run_stack(reader)
    assert type(errors[0]) is DeviceIO and errors[0].refeed == [1]
    assert "short" in errors[0].message and "expected" in errors[0].message
    assert_delivered_once_in_order(sheets, bitmaps)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_many_faults_in_one_stack(protocol: str) -> None:
    bitmaps = stack(30)
    faults = Faults(
        jam_at={2, 17},
        double_feed_at={5},
        timing_mark_error_at={9},
        cover_open_at={12},
        garbage_at={20},
        empty_at={25},
        card_remains_at={30},
    )
    if protocol == "framed":
        faults.corrupt_frame_at = {7: 1, 22: 4}
        faults.lose_frame_at = {14, 26}
        faults.duplicate_frame_at = {3, 29}
    with (
        CardReaderSim(bitmaps, protocol=protocol, faults=faults) as sim,
        open_card_reader(sim.uri) as reader,
    ):
        sheets, errors = run_stack(reader, stacks=2)
    kinds = [(type(e).__name__, e.refeed) for e in errors]
    expected = [
        ("Jammed", [2]),
        ("DoubleFeed", [5, 6]),
        ("TimingMarkError", [9]),
        ("CoverOpen", [12]),
        ("Jammed", [17]),
        ("DeviceIO", [20]),
        ("NoDocuments", []),
        ("Jammed", [30]),
        ("NoDocuments", []),
    ]
    if protocol == "framed":
        expected[4:4] = [("DeviceIO", [14])]
        expected[7:7] = [("DeviceIO", [22])]
        expected[9:9] = [("DeviceIO", [26])]
    assert kinds == expected
    assert_delivered_once_in_order(sheets, bitmaps)
    assert sorted(sim.delivered) == list(range(1, 31))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_next_stack_after_hopper_empty(protocol: str) -> None:
    first, second = stack(3, seed=1), stack(2, seed=2)
    with CardReaderSim(first, protocol=protocol) as sim, open_card_reader(sim.uri) as reader:
        sheets, errors = run_stack(reader)
        assert [type(e) for e in errors] == [NoDocuments]
        sim.load(second)
        more, errors = run_stack(reader)
    assert_delivered_once_in_order(sheets + more, first + second)


def test_closed_reader_refuses_to_read() -> None:
    with CardReaderSim(stack(2)) as sim:
        reader = open_card_reader(sim.uri)
        reader.close()
        with pytest.raises(DeviceIO, match="closed"):
            reader.read_sheet()


# -- end to end: layout -> card -> reader -> marks --------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_marks_survive_the_reader(protocol: str) -> None:
    layout = {
        "schema": "scantally.layout/1",
        "pages": [
            {
                "page": 1,
                "boxes": [
                    {
                        "field": "chair",
                        "option": o,
                        "rect_mm": [10, 10 + 7 * r, 5, 4],
                        "grid": [r, 2],
                    }
                    for r, o in enumerate(["Ada", "Grace", "Edsger"])
                ]
                + [
                    {
                        "field": "q1",
                        "option": str(v),
                        "rect_mm": [20 + 7 * v, 40, 5, 4],
                        "grid": [5, 1 + v],
                    }
                    for v in range(5)
                ],
            }
        ],
    }
    votes = [
        {"chair": ["Grace"], "q1": ["4"]},
        {"chair": [], "q1": ["0", "1"]},
        {"chair": ["Ada", "Edsger"], "q1": []},
    ]
    typed = grid_layout(layout)
    bitmaps = [marks_to_bitmap(v, typed, 1, rows=8, cols=10) for v in votes]
    with (
        CardReaderSim(bitmaps, protocol=protocol) as sim,
        open_card_reader(sim.uri + "&rows=8&cols=10") as reader,
    ):
        sheets, _ = run_stack(reader)
    read = [bitmap_to_marks(s.bitmap, typed) for s in sheets]
    assert [{f: m["marked"] for f, m in r.items()} for r in read] == votes
