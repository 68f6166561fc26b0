"""intake.devices: every URI form opens a working source over its real transport; bad URIs say
why."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from intake.devices import ACCEPTED_FORMS, open_source
from scanner.errors import DeviceIO, NoDocuments
from scanner.escl import EsclSource
from scanner.escl_sim import EsclSimulator
from scanner.folder import FolderSource
from scanner.source import SheetSource


def _png(level: int) -> bytes:
    ok, enc = cv2.imencode(".png", np.full((40, 30), level, np.uint8))
    assert ok
    return enc.tobytes()


def test_dir_uri_opens_a_folder(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(_png(200))
    (tmp_path / "a.png").write_bytes(_png(100))
    with open_source(f"dir:{tmp_path}") as source:
        assert isinstance(source, FolderSource) and isinstance(source, SheetSource)
        assert not source.watch
        assert [int(s.front.decode().image[0, 0]) for s in source] == [100, 200]
    with open_source(f"dir://{tmp_path}?watch=1&poll_s=0.2&settle_s=0.1") as watched:
        assert isinstance(watched, FolderSource) and watched.path == tmp_path
        assert (watched.watch, watched.poll_s, watched.settle_s) == (True, 0.2, 0.1)
    with open_source(f"dir:{tmp_path}?watch=yes", settle_s=3.0) as overridden:
        assert isinstance(overridden, FolderSource)
        assert overridden.watch and overridden.settle_s == 3.0  # keyword beats the query


def test_escl_uri_scans_from_the_simulator() -> None:
    with EsclSimulator([_png(10), _png(20), _png(30)]) as sim:
        source = open_source(sim.uri + "?dpi=300&duplex=0", busy_backoff_s=0.01)
        assert isinstance(source, EsclSource) and source.dpi == 300 and not source.duplex
        with source:
            assert [int(s.front.decode().image[0, 0]) for s in source] == [10, 20, 30]
        assert sim.last_settings["XResolution"] == "300"


@pytest.mark.skipif(shutil.which("scanimage") is None, reason="scanimage not installed")
def test_sane_uri_scans_from_the_test_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dll.conf").write_text("test\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(tmp_path))
    with open_source("sane:test:0?source=ADF&dpi=75&max_sheets=2", backend="scanimage") as source:
        assert source.uri == "sane:test:0"
        sheets = list(source)
    assert [s.sequence for s in sheets] == [1, 2] and sheets[0].dpi == 75
    assert sheets[0].front is not None and sheets[0].front.decode().image.ndim == 2


def test_serial_uri_goes_to_the_card_reader_driver() -> None:
    sim_module = pytest.importorskip("hardware.sim", reason="hardware.sim is not available")
    bitmaps = [np.eye(12, 80, k=i, dtype=bool) for i in range(3)]
    with sim_module.CardReaderSim(bitmaps, protocol="sekonic") as sim:
        source = open_source(sim.uri + "&baud=38400")
        try:
            got = []
            with pytest.raises(NoDocuments):  # the card reader's hopper runs dry
                got.extend(source)
        finally:
            source.close()
    assert [np.array_equal(s.bitmap, b) for s, b in zip(got, bitmaps, strict=True)] == [True] * 3


def test_serial_port_that_does_not_exist_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceIO, match="cannot open serial port"):
        open_source(f"serial://{tmp_path}/ttyNOPE?protocol=sekonic&baud=38400")
    with pytest.raises(ValueError, match="settings in the URI"):
        open_source(f"serial://{tmp_path}/ttyNOPE", baud=9600)


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("", "it is empty"),
        ("scanner", "unknown kind of device"),
        ("ftp://127.0.0.1/scans", "unknown kind of device"),
        ("dir:", "it names nothing"),
        ("sane:", "it names nothing"),
        ("sane:?dpi=200", "give the SANE device name"),
        ("dir:/no/such/folder/anywhere", "does not exist"),
        ("escl:///eSCL", "needs a host"),
        ("escl://127.0.0.1:99999/eSCL", "out of range"),
        ("escl://127.0.0.1:8080/eSCL?resolution=300", "unknown parameter 'resolution'"),
        ("escl://127.0.0.1:8080/eSCL?duplex=maybe", "duplex='maybe' is not a valid bool"),
        ("sane:test:0?dpi=high", "dpi='high' is not a valid int"),
        ("sane:test:0?dpi=200&dpi=300", "given twice"),
        ("dir:.?watch", "unreadable query"),
    ],
)
def test_bad_uris_raise_value_error_naming_the_uri_and_the_forms(uri: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_source(uri)
    message = str(caught.value)
    assert problem in message
    assert repr(uri) in message and ACCEPTED_FORMS in message


def test_bad_serial_uri_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="card-reader URI"):
        open_source("serial://ttyUSB0")


# -- scantally devices -------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("scanimage") is None, reason="scanimage not installed")
def test_cli_devices_lists_sane_scanners_and_the_uri_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from server.cli import app

    (tmp_path / "dll.conf").write_text("test\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["devices"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "sane:test:0" in result.output and "frontend-tester" in result.output
    for form in ("dir:PATH[?watch=1]", "escl://HOST:PORT/eSCL", "serial:///dev/ttyUSB0"):
        assert form in result.output

    checked = CliRunner().invoke(app, ["devices", "--check", "sane:test:0"])
    assert checked.exit_code == 0, checked.output
    assert "sources: Flatbed, Automatic Document Feeder" in checked.output


def test_cli_devices_check_escl_and_bad_uris() -> None:
    from typer.testing import CliRunner

    from server.cli import app

    with EsclSimulator([_png(10)]) as sim:
        ok = CliRunner().invoke(app, ["devices", "--check", sim.uri], env={"COLUMNS": "200"})
        assert ok.exit_code == 0, ok.output
        assert "Scantally eSCL simulator" in ok.output and "feeder: ScannerAdfLoaded" in ok.output
        assert not any(method == "POST" for method, _, _ in sim.requests)  # looked, not scanned
        uri = sim.uri
    refused = CliRunner().invoke(app, ["devices", "--check", uri], env={"COLUMNS": "200"})
    assert refused.exit_code == 2 and "cannot connect" in refused.output
    bad = CliRunner().invoke(app, ["devices", "--check", "bogus"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "accepted forms" in bad.output
