"""The intake pipeline over a folder (`dir:`) and SANE's test backend (`sane:test:0`), and the
console's device and upload jobs, which run through the same pipeline. No sheet is dropped: an
undecodable page is stored as unreadable with the decoder's reason."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from hardware.sim import CardReaderSim
from intake.devices import open_source
from intake.pipeline import IntakeOptions
from intake.run import scan
from omr.grid import marks_to_bitmap
from omr.layout import FormLayout
from server.events import EventBus
from server.intake import DeviceUnavailable, Intake, Job
from tests.intake_helpers import ballot, counted_serials, meeting_store, pages, serial
from tests.tally_helpers import layout_of
from tests.test_scanner_sane import _configure


def _two_page_tiff(a: bytes, b: bytes) -> bytes:
    first, second = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
    out = io.BytesIO()
    first.save(out, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw",
               dpi=(200, 200))
    return out.getvalue()


def _scan_folder(folder: Path) -> None:
    """01.png, 02.jpg, 03.tiff (two sheets), a truncated JPEG and a 'PNG' that is text."""
    folder.mkdir()
    (folder / "01.png").write_bytes(ballot(1, ".png"))
    (folder / "02.jpg").write_bytes(ballot(2))
    (folder / "03.tiff").write_bytes(_two_page_tiff(ballot(3, ".png"), ballot(4, ".png")))
    (folder / "04-cut.jpg").write_bytes(ballot(5)[:4000])
    (folder / "05-text.png").write_bytes(b"this is not a scan\n")


def test_a_folder_is_read_and_undecodable_files_are_stored_unreadable(tmp_path: Path) -> None:
    _scan_folder(tmp_path / "scans")
    with meeting_store(tmp_path) as (store, mid), open_source(f"dir:{tmp_path}/scans") as source:
        _, result = scan(store, mid, source, options=IntakeOptions(workers=1))
        stored = pages(store, mid)
        assert counted_serials(store, mid) == [serial(n) for n in range(1, 5)]
    assert result.ended == "end_of_stack" and result.error is None
    assert result.stats.outcomes == {"ok": 4, "unreadable": 2}
    assert [p["source"] for p in stored] == ["01.png#1", "02.jpg#1", "03.tiff#1", "03.tiff#2",
                                             "04-cut.jpg#1", "05-text.png#1"]
    cut, text = stored[4], stored[5]
    assert cut["status"] == text["status"] == "unreadable"
    assert "JPEG image is damaged or incomplete" in cut["reason"]
    assert "not an image or PDF" in text["reason"]
    assert [n for n, _ in result.unreadable] == [5, 6]


@pytest.mark.skipif(shutil.which("scanimage") is None, reason="needs sane-utils (scanimage)")
def test_the_sane_test_backend_sheets_are_stored_as_unreadable_none_lost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "sane.d"
    conf.mkdir()
    _configure(conf)
    monkeypatch.setenv("SANE_CONFIG_DIR", str(conf))  # only the test backend exists
    with meeting_store(tmp_path) as (store, mid), open_source("sane:test:0?dpi=100") as source:
        _, result = scan(store, mid, source, options=IntakeOptions(workers=1))
        stored = pages(store, mid)
    # the test backend's pages are byte-identical: tally keeps the image once and reports the
    # other nine as that same image; each of the ten is listed for re-scanning with the reason
    assert result.ended == "end_of_stack" and result.error is None
    assert result.stats.acquired == result.stats.ingested == 10
    assert result.stats.outcomes == {"unreadable": 1, "already": 9}
    assert [n for n, _ in result.unreadable] == list(range(1, 11))
    assert all("QR code unreadable" in why for _, why in result.unreadable)
    assert [(p["source"], p["status"]) for p in stored] == [("sane:test:0#1", "unreadable")]
    assert "QR code" in stored[0]["reason"]


def _wait(job: Job, timeout_s: float = 60) -> Job:
    deadline = time.monotonic() + timeout_s
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.state != "running", job.view()
    return job


def test_the_console_device_job_keeps_undecodable_sheets(tmp_path: Path) -> None:
    _scan_folder(tmp_path / "scans")
    with meeting_store(tmp_path) as (store, mid):
        intake = Intake(store, EventBus(), read_threads=1)
        job = _wait(intake.start_device(mid, f"dir:{tmp_path}/scans", operator="op",
                                        category=None))
        assert job.state == "done" and job.error == ""
        # five files: 03.tiff holds two sheets (a folder job counted sheets as files before)
        assert dict(job.outcomes.counts) == {"ok": 4, "unreadable": 2} and job.files_done == 5
        assert any("04-cut.jpg#1" in line for line in job.outcomes.refeed)
        assert len(pages(store, mid)) == 6


def test_the_console_takes_a_card_reader(tmp_path: Path) -> None:
    layout = layout_of("evaluation-cardreader")
    rows = len(layout["pages"][0]["timing_mm"])
    votes = [{"category": ["staff"], "team.politics": ["good"]}, {"category": ["leader"]}]
    with (meeting_store(tmp_path, ("evaluation-cardreader",)) as (store, mid),
          CardReaderSim([marks_to_bitmap(v, FormLayout.parse(layout), 1, rows, 80, serial=f"S{n}")
                         for n, v in enumerate(votes)]) as sim):
        intake = Intake(store, EventBus(), read_threads=1)
        job = _wait(intake.start_device(mid, sim.uri, operator="op", category=None))
        assert job.state == "done" and dict(job.outcomes.counts) == {"ok": 2}, job.view()
        assert [p["reading"]["marks"]["category"]["marked"] for p in pages(store, mid)] == \
            [["staff"], ["leader"]]


def test_the_console_refuses_a_card_reader_without_a_card_form(tmp_path: Path) -> None:
    layout = layout_of("evaluation-cardreader")
    with meeting_store(tmp_path) as (store, mid), CardReaderSim(
            [marks_to_bitmap({}, FormLayout.parse(layout), 1, 41, 80)]) as sim:
        intake = Intake(store, EventBus(), read_threads=1)
        with pytest.raises(DeviceUnavailable, match="card reader: no form of this meeting"):
            intake.start_device(mid, sim.uri, operator="op", category=None)
        assert intake.jobs(mid) == [] and pages(store, mid) == []
