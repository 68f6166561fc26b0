"""scanner.sane against Debian's SANE `test` backend (sane-utils), no scanner and no root needed.

SANE_CONFIG_DIR points at a temp folder whose dll.conf loads only `test`, so no real or network
scanner is ever probed. Faults come from the backend's own read-status-code / read-return-value.

Both drivers read stacks: scanimage (always; CI installs sane-utils) and python-sane when it is
importable. Faults run through scanimage only: after an error status the `test` backend now and
then deadlocks in sane_cancel(), which a child process survives (it is killed) but an in-process
python-sane call would not.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import psutil
import pytest

from scanner.errors import Busy, CoverOpen, DeviceIO, Jammed, NoDocuments
from scanner.sane import SaneSource, list_devices, sane_backend, status_error
from scanner.source import Sheet, SheetSource

pytestmark = pytest.mark.skipif(
    shutil.which("scanimage") is None,
    reason="scanimage not installed: apt-get install sane-utils (provides the SANE test backend)",
)

ADF = "Automatic Document Feeder"
_TEST_CONF = """\
number_of_devices 2
mode Gray
depth 8
hand-scanner false
three-pass false
resolution_min 1.0
resolution_max 1200.0
resolution_quant 1.0
resolution 50.0
test-picture "{picture}"
read-limit false
read-delay false
read-status-code "{status}"
fuzzy-parameters false
ppl-loss 0
non-blocking false
select-fd false
enable-test-options false
geometry_min 0.0
geometry_max 200.0
geometry_quant 1.0
tl_x 0.0
tl_y 0.0
br_x 80.0
br_y 100.0
"""


def _configure(folder: Path, status: str = "Default", picture: str = "Grid") -> None:
    (folder / "dll.conf").write_text("test\n")
    (folder / "test.conf").write_text(_TEST_CONF.format(status=status, picture=picture))


@pytest.fixture
def sane_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "sane.d"
    folder.mkdir()
    _configure(folder)
    monkeypatch.setenv("SANE_CONFIG_DIR", str(folder))  # only the test backend exists
    return folder


@pytest.fixture(params=["scanimage", "python-sane"])
def backend(request: pytest.FixtureRequest) -> str:
    if sane_backend(request.param) != request.param:
        pytest.skip(f"{request.param} not available (python-sane is optional: pip install it)")
    return str(request.param)


def _scan(source: SaneSource, got: list[Sheet]) -> Exception | None:
    try:
        for sheet in source:
            got.append(sheet)
    except Exception as exc:
        return exc
    return None


def test_list_devices_sees_only_the_test_backend(sane_dir: Path) -> None:
    names = [d.name for d in list_devices()]
    assert names == ["test:0", "test:1"]
    assert list_devices()[0].model == "frontend-tester"


def test_adf_stack_delivers_ten_grey_pages(sane_dir: Path, backend: str) -> None:
    with SaneSource("test:0", backend=backend, dpi=100, page_size_mm=(80, 100)) as source:
        assert isinstance(source, SheetSource) and source.uri == "sane:test:0"
        sheets = list(source)
    assert [s.sequence for s in sheets] == list(range(1, 11))  # the test ADF holds 10 sheets
    assert [s.source for s in sheets][:2] == ["sane:test:0#1", "sane:test:0#2"]
    for sheet in sheets:
        assert sheet.front is not None and sheet.back is None
        front = sheet.front.decode().image  # handed over encoded, decoded once by a worker
        assert front is not None and front.dtype == np.uint8
        assert front.ndim == 2
        height_px, width_px = front.shape
        assert abs(height_px - 100 / 25.4 * 100) <= 1.5 and abs(width_px - 80 / 25.4 * 100) <= 1.5
        dark = float((front < 128).mean())
        assert 0.2 < dark < 0.8  # the backend's black/white 10 mm grid, not a blank page
        assert sheet.dpi == 100 and sheet.front.error is None
    if backend == "scanimage":
        assert all(s.front and s.front.data and s.front.data[:4] == b"\x89PNG" for s in sheets)


def test_max_sheets_and_flatbed(sane_dir: Path, backend: str) -> None:
    with SaneSource("test:0", backend=backend, max_sheets=3) as source:
        assert len(list(source)) == 3
    with SaneSource("test:0", backend=backend, source="Flatbed", max_sheets=2) as source:
        assert [s.sequence for s in source] == [1, 2]


def test_duplex_pairs_pages_into_sheets(sane_dir: Path, backend: str) -> None:
    with SaneSource("test:0", backend=backend, source=ADF, duplex=True) as source:
        sheets = list(source)
    assert [s.sequence for s in sheets] == [1, 2, 3, 4, 5]
    assert all(s.front is not None and s.back is not None for s in sheets)
    assert all(s.front.decode().image is not None and s.back.decode().image is not None
               for s in sheets)


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        ("SANE_STATUS_JAMMED", Jammed, 6),
        ("SANE_STATUS_COVER_OPEN", CoverOpen, 8),
        ("SANE_STATUS_IO_ERROR", DeviceIO, 9),
        ("SANE_STATUS_NO_MEM", DeviceIO, 10),
        ("SANE_STATUS_ACCESS_DENIED", DeviceIO, 11),
    ],
)
def test_sane_statuses_map_to_typed_errors(
    sane_dir: Path, status: str, error_class: type[Exception], code: int
) -> None:
    options = {"read-return-value": status}
    got: list[Sheet] = []
    with SaneSource("test:0", backend="scanimage", options=options) as source:
        error = _scan(source, got)
    assert type(error) is error_class, error
    assert error.status == code and error.refeed == [1] and error.device == "sane:test:0"
    assert got == []


def test_no_docs_is_the_end_of_a_stack(sane_dir: Path) -> None:
    options = {"read-return-value": "SANE_STATUS_NO_DOCS"}
    with SaneSource("test:0", backend="scanimage", options=options) as source:
        error = _scan(source, [])
    assert isinstance(error, NoDocuments) and error.refeed == []


def test_busy_is_retried_then_reported(sane_dir: Path) -> None:
    options = {"read-return-value": "SANE_STATUS_DEVICE_BUSY"}
    source = SaneSource("test:0", backend="scanimage", options=options, busy_retries=2)
    source.busy_backoff_s = 0.01
    with source:
        error = _scan(source, [])
    assert isinstance(error, Busy) and error.status == 3 and error.refeed == []
    assert "still busy after 3 attempt(s)" in str(error) and "other program" in str(error)
    assert sane_backend("auto") == "scanimage"  # the killable driver comes first


def test_jam_from_test_conf_then_refeed_delivers_every_sheet_once(sane_dir: Path) -> None:
    _configure(sane_dir, status="SANE_STATUS_JAMMED")
    got: list[Sheet] = []
    with SaneSource("test:0", backend="scanimage", source="ADF") as source:
        error = _scan(source, got)
        assert isinstance(error, Jammed) and error.refeed == [1]
        assert "Re-feed sheet(s) 1." in str(error)
        _configure(sane_dir, status="Default")  # the operator cleared the jam and re-fed
        got.extend(source)
    assert [s.sequence for s in got] == list(range(1, 11))


def test_unknown_device_and_unoffered_source(sane_dir: Path, backend: str) -> None:
    with SaneSource("test:9", backend=backend) as source, pytest.raises(DeviceIO) as caught:
        list(source)
    assert "cannot open SANE device" in str(caught.value) and caught.value.device == "sane:test:9"

    with (
        SaneSource("test:0", backend=backend, source="ADF Duplex") as source,
        pytest.raises(DeviceIO, match="offers Flatbed, Automatic Document Feeder") as caught,
    ):
        list(source)
    assert "Choose one of the sources" in str(caught.value)


def test_a_stalled_scanner_times_out_and_is_stopped(sane_dir: Path) -> None:
    slow = {
        "read-limit": True,
        "read-limit-size": 1,
        "read-delay": True,
        "read-delay-duration": 200000,
    }
    source = SaneSource("test:0", backend="scanimage", options=slow, page_timeout_s=0.5)
    with source:
        error = _scan(source, [])
    assert isinstance(error, DeviceIO) and "no page came within 0.5 s" in str(error)
    assert error.refeed == [1]
    assert not [p for p in psutil.Process().children(recursive=True) if "scanimage" in p.name()]


def test_close_from_another_thread_stops_a_scan(sane_dir: Path) -> None:
    slow = {"read-delay": True, "read-delay-duration": 20000}
    source = SaneSource("test:0", backend="scanimage", options=slow, dpi=150)
    got: list[Sheet] = []

    def consume() -> None:
        for sheet in source:
            got.append(sheet)
            source.close()

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert 1 <= len(got) < 10  # stopped early, without an error


def test_status_codes_map_per_hardware_md() -> None:
    for normal in (0, 5, 7):
        assert status_error(normal, device="d", refeed=[1]) is None
    assert isinstance(status_error(3, device="d", refeed=[1]), Busy)
    assert isinstance(status_error(6, device="d", refeed=[4]), Jammed)
    assert isinstance(status_error(8, device="d", refeed=[4]), CoverOpen)
    for other in (1, 2, 4, 9, 10, 11, 99):
        error = status_error(other, device="d", refeed=[4], detail="x")
        assert type(error) is DeviceIO and error.refeed == [4] and error.status == other
