"""scanner.escl against scanner.escl_sim over a real HTTP socket on 127.0.0.1 (no mocks).

Every injected fault maps to its typed error, names the sheets to re-feed, and after the
operator clears it and iterates again, every sheet is delivered exactly once.
"""

from __future__ import annotations

import time

import cv2
import httpx
import numpy as np
import pytest

from scanner.errors import Busy, CoverOpen, DeviceIO, Jammed, NoDocuments
from scanner.escl import EsclSource, http_base_url
from scanner.escl_sim import EsclSimulator
from scanner.pages import EncodedPage
from scanner.source import Sheet, SheetSource


def _page(label: int, ext: str = ".jpg") -> bytes:
    """An encoded page carrying `label` black bars, readable back with `_label`."""
    page = np.full((160, 100), 255, np.uint8)
    for i in range(label):
        page[8 + 7 * i : 12 + 7 * i, 10:90] = 0
    ok, enc = cv2.imencode(ext, page)
    assert ok
    return enc.tobytes()


def _label(page: EncodedPage | None) -> int:
    """The label of a page as the source handed it over (encoded): decoded here."""
    assert page is not None
    image = page.decode().image
    assert image is not None
    dark = image[:, 50] < 128
    return int(np.count_nonzero(dark[1:] & ~dark[:-1]) + dark[0])


def _stack(n: int) -> list[bytes]:
    return [_page(i + 1) for i in range(n)]


def _source(sim: EsclSimulator, **options: object) -> EsclSource:
    options.setdefault("busy_backoff_s", 0.01)
    options.setdefault("timeout_s", 5.0)
    return EsclSource(sim.uri, **options)  # type: ignore[arg-type]


def _scan_until_error(source: EsclSource, got: list[Sheet]) -> Exception | None:
    try:
        for sheet in source:
            got.append(sheet)
    except Exception as exc:
        return exc
    return None


def test_capabilities_and_status_are_parsed() -> None:
    with EsclSimulator(_stack(2)) as sim, _source(sim) as source:
        caps = source.capabilities()
        assert caps.make_and_model == "Scantally eSCL simulator"
        assert caps.sources == ["Platen", "Feeder"] and caps.adf_duplex
        assert caps.color_modes == ["BlackAndWhite1", "Grayscale8", "RGB24"]
        assert "image/jpeg" in caps.formats and "application/pdf" in caps.formats
        assert caps.resolutions_dpi == [100, 150, 200, 300, 600]
        assert caps.max_width_mm == pytest.approx(215.9) and caps.max_height_mm == pytest.approx(
            355.6
        )
        status = source.status()
        assert (status.state, status.adf_state) == ("Idle", "ScannerAdfLoaded")


def test_simplex_stack_delivers_every_page_in_order() -> None:
    pages = _stack(5)
    with EsclSimulator(pages) as sim, _source(sim, dpi=300) as source:
        assert isinstance(source, SheetSource)
        sheets = list(source)
        assert [s.sequence for s in sheets] == [1, 2, 3, 4, 5]
        assert [_label(s.front) for s in sheets] == [1, 2, 3, 4, 5]
        assert [s.front.data for s in sheets] == pages
        assert all(s.back is None and s.front.error is None for s in sheets)
        assert sheets[0].source == f"{sim.uri}#1" and sheets[0].dpi == 300
        settings = sim.last_settings
        assert settings["InputSource"] == "Feeder" and settings["Duplex"] == "false"
        assert settings["XResolution"] == "300" and settings["ColorMode"] == "Grayscale8"
        assert settings["Width"] == "2480" and settings["Height"] == "3508"  # A4 in 1/300 in
        assert not any(method == "DELETE" for method, _, _ in sim.requests)  # ended normally
        assert sim.requests[-1] == ("GET", "/eSCL/ScannerStatus", 200)  # end checked, not assumed


def test_duplex_pairs_front_and_back() -> None:
    with EsclSimulator(_stack(6)) as sim, _source(sim, duplex=True) as source:
        sheets = list(source)
    assert sim.last_settings["Duplex"] == "true"
    assert [(_label(s.front), _label(s.back)) for s in sheets] == [(1, 2), (3, 4), (5, 6)]
    assert [s.sequence for s in sheets] == [1, 2, 3]


def test_odd_duplex_stack_keeps_the_last_front() -> None:
    with EsclSimulator(_stack(3)) as sim, _source(sim, duplex=True) as source:
        sheets = list(source)
    assert [_label(s.front) for s in sheets] == [1, 3] and sheets[1].back is None
    assert "without this sheet's back side" in (sheets[1].warning or "")


def test_503_bursts_are_retried_and_nothing_is_lost() -> None:
    with EsclSimulator(_stack(6), busy_every=2, busy_count=3) as sim, _source(sim) as source:
        sheets = list(source)
    assert [_label(s.front) for s in sheets] == [1, 2, 3, 4, 5, 6]
    assert sum(status == 503 for _, _, status in sim.requests) == 9  # pages 2, 4, 6: 3 each
    assert sim.delivered == [0, 1, 2, 3, 4, 5]


def test_busy_for_too_long_raises_busy() -> None:
    with EsclSimulator(_stack(3), busy_every=2, busy_count=50) as sim:
        got: list[Sheet] = []
        with _source(sim, busy_retries=3) as source:
            error = _scan_until_error(source, got)
    assert isinstance(error, Busy)
    assert error.refeed == [2] and error.device == sim.uri
    assert "after 3 retries" in str(error)
    assert [_label(s.front) for s in got] == [1]
    assert sum(status == 503 for _, _, status in sim.requests) == 4  # 1 try + 3 retries


def test_jam_then_refeed_delivers_every_sheet_exactly_once() -> None:
    with EsclSimulator(_stack(6), jam_at=4) as sim, _source(sim) as source:
        got: list[Sheet] = []
        error = _scan_until_error(source, got)
        assert isinstance(error, Jammed)
        assert error.refeed == [4] and error.status == "ScannerAdfJam"
        assert "Re-feed sheet(s) 4." in str(error)
        assert [_label(s.front) for s in got] == [1, 2, 3]
        assert any(method == "DELETE" for method, _, _ in sim.requests)  # job cancelled
        assert source.status().adf_state == "ScannerAdfJam"

        sim.clear()  # the operator clears the jam; sheets 4-6 are in the feeder again
        got.extend(source)
    assert [s.sequence for s in got] == [1, 2, 3, 4, 5, 6]
    assert [_label(s.front) for s in got] == [1, 2, 3, 4, 5, 6]


def test_duplex_jam_on_a_back_side_refeeds_the_whole_sheet() -> None:
    with EsclSimulator(_stack(6), jam_at=4) as sim, _source(sim, duplex=True) as source:
        got: list[Sheet] = []
        error = _scan_until_error(source, got)
        assert isinstance(error, Jammed) and error.refeed == [2]
        assert [(_label(s.front), _label(s.back)) for s in got] == [(1, 2)]  # no half sheet
        sim.clear()
        got.extend(source)
    assert [(_label(s.front), _label(s.back)) for s in got] == [(1, 2), (3, 4), (5, 6)]
    assert [s.sequence for s in got] == [1, 2, 3]
    assert sim.delivered == [0, 1, 2, 2, 3, 4, 5]  # sheet 2's front went through twice


def test_jam_reported_as_404_is_still_a_jam() -> None:
    with EsclSimulator(_stack(4), jam_at=3, error_status=404) as sim, _source(sim) as source:
        got: list[Sheet] = []
        error = _scan_until_error(source, got)
        assert isinstance(error, Jammed) and error.refeed == [3]
        sim.clear()
        got.extend(source)
    assert [_label(s.front) for s in got] == [1, 2, 3, 4]


def test_expected_sheets_names_every_sheet_to_refeed() -> None:
    sim = EsclSimulator(_stack(5), jam_at=3, error_status=500)
    with sim, _source(sim, expected_sheets=5) as source:
        error = _scan_until_error(source, [])
    assert isinstance(error, Jammed) and error.refeed == [3, 4, 5]


def test_door_open_before_the_job_and_mid_stack() -> None:
    with EsclSimulator(_stack(4), door_open_at=0) as sim, _source(sim) as source:
        error = _scan_until_error(source, [])
        assert isinstance(error, CoverOpen)
        assert error.refeed == [] and error.status == "ScannerAdfDoorOpen"  # nothing was fed
        sim.clear()
        assert [_label(s.front) for s in source] == [1, 2, 3, 4]

    with EsclSimulator(_stack(4), door_open_at=3) as sim, _source(sim) as source:
        got: list[Sheet] = []
        error = _scan_until_error(source, got)
        assert isinstance(error, CoverOpen) and error.refeed == [3]
        sim.clear()
        got.extend(source)
    assert [_label(s.front) for s in got] == [1, 2, 3, 4]


def test_empty_feeder_is_no_documents() -> None:
    with EsclSimulator([]) as sim, _source(sim) as source:
        error = _scan_until_error(source, [])
        assert isinstance(error, NoDocuments) and error.refeed == []
        sim.load(_stack(2))
        assert [_label(s.front) for s in source] == [1, 2]


def test_garbage_xml_is_device_io_naming_the_url() -> None:
    sim = EsclSimulator(_stack(2), garbage_xml=True)
    with sim, _source(sim) as source, pytest.raises(DeviceIO) as caught:
        list(source)
    assert f"{sim.base_url}/ScannerCapabilities sent malformed XML" in str(caught.value)


def test_jam_with_an_unreadable_status_is_device_io_with_refeed() -> None:
    sim = EsclSimulator(_stack(4), jam_at=2, garbage_xml="ScannerStatus")
    got: list[Sheet] = []
    with sim, _source(sim) as source:
        error = _scan_until_error(source, got)
    assert isinstance(error, DeviceIO) and error.refeed == [2]
    assert "answered HTTP 409, and its status cannot be read" in str(error)
    assert "ScannerStatus sent malformed XML" in str(error)
    assert [_label(s.front) for s in got] == [1]


def test_job_without_location_is_device_io() -> None:
    sim = EsclSimulator(_stack(2), no_location=True)
    with sim, _source(sim) as source, pytest.raises(DeviceIO, match="sent no Location"):
        list(source)


def test_connection_refused_is_device_io() -> None:
    sim = EsclSimulator(_stack(2))
    sim.start()
    uri = sim.uri
    sim.stop()
    with EsclSource(uri, timeout_s=2.0) as source, pytest.raises(DeviceIO) as caught:
        list(source)
    assert "cannot connect to http://127.0.0.1:" in str(caught.value)
    assert caught.value.device == uri


def test_device_vanishing_mid_stack_is_device_io_with_refeed() -> None:
    with EsclSimulator(_stack(5), vanish_at=3) as sim, _source(sim) as source:
        got: list[Sheet] = []
        error = _scan_until_error(source, got)
    assert isinstance(error, DeviceIO) and error.refeed == [3]
    assert "dropped" in str(error) and "/NextDocument" in str(error)
    assert [_label(s.front) for s in got] == [1, 2]


def test_undecodable_page_is_delivered_with_an_error() -> None:
    pages = [_page(1), b"\xff\xd8\xff\xe0 not really a jpeg", _page(3, ".png")]
    with EsclSimulator(pages) as sim, _source(sim) as source:
        sheets = list(source)
    assert [s.sequence for s in sheets] == [1, 2, 3]
    assert sheets[1].front is not None and sheets[1].front.data == pages[1]  # as delivered
    bad = sheets[1].front.decode()
    assert bad.image is None and "JPEG image is damaged" in (bad.error or "")
    assert _label(sheets[2].front) == 3


def test_relative_location_header_is_resolved() -> None:
    with EsclSimulator(_stack(2), relative_location=True) as sim, _source(sim) as source:
        assert [_label(s.front) for s in source] == [1, 2]


def test_unsuitable_settings_are_refused_before_scanning() -> None:
    with EsclSimulator(_stack(2), duplex_supported=False) as sim:
        with _source(sim, duplex=True, dpi=250) as source, pytest.raises(DeviceIO) as caught:
            list(source)
        assert "cannot scan duplex" in str(caught.value) and "250 dpi" in str(caught.value)
        assert not any(method == "POST" for method, _, _ in sim.requests)


def test_pace_models_a_100_sheets_per_minute_feeder() -> None:
    with EsclSimulator(_stack(3), sheets_per_min=100) as sim, _source(sim) as source:
        started = time.perf_counter()
        arrivals = [time.perf_counter() - started for _ in source]
    assert len(arrivals) == 3
    assert arrivals[-1] >= 3 * 0.6 - 0.05  # a sheet every 600 ms
    assert arrivals[-1] < 3 * 0.6 + 0.5  # and the client keeps up with the feeder
    assert arrivals[1] - arrivals[0] == pytest.approx(0.6, abs=0.15)


def test_an_early_stop_cancels_the_job() -> None:
    with EsclSimulator(_stack(4)) as sim, _source(sim) as source:
        for sheet in source:
            assert sheet.sequence == 1
            break
        assert any(method == "DELETE" for method, _, _ in sim.requests)
        assert httpx.get(f"{sim.base_url}/ScannerStatus").status_code == 200


def test_http_base_url_forms() -> None:
    assert http_base_url("escl://127.0.0.1:8080/eSCL") == "http://127.0.0.1:8080/eSCL"
    assert http_base_url("escls://scanner.local/eSCL/") == "https://scanner.local/eSCL"
    assert http_base_url("http://10.0.0.5:80") == "http://10.0.0.5:80/eSCL"
    with pytest.raises(ValueError, match="expected escl://HOST:PORT/eSCL"):
        http_base_url("ftp://127.0.0.1/eSCL")
