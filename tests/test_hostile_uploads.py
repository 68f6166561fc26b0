"""Hostile uploads against a real `scantally serve` process (2 OMR workers), as an operator.

The 10,000-frame blank G4 TIFF (~8 MB) and the 5,000-page PDF (~1.5 MB) of issue 15 are refused
up front by their page count (`max_tiff_frames`, `max_pdf_pages`, 1,000 each by default),
before any page is decoded, with a message naming the file and the setting; nothing is
stored. A file of exactly the cap passes the check and one frame more does not. A 400-frame
TIFF and a 200-page PDF are accepted and streamed: every page read one by one and ending in a
visible state, the job done, its batch closed, its staged files gone. Throughout, the RSS summed
over the server's whole process tree (server, forkserver, workers) stays under RSS_BOUND =
640 MiB (measured on a loaded 2-core machine: ~160 MiB while refusing, peaks of 410 MiB on the
TIFF and 440 MiB on the PDF with two workers reading A4 pages at 200 dpi; 1,000 frames
streamed at 408 MiB, in 157 s), and no worker is left behind when the server stops.
"""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from intake.limits import IntakeLimits
from scanner.pages import plan_pages
from server.uploads import UploadRefused, stage_uploads
from tally.db import Batch, Page
from tally.store import open_store
from tests.process_helpers import (
    MiB,
    PeakRss,
    Served,
    blank_pdf,
    g4_tiff,
    operator_client,
    serve,
    wait_job,
)
from tests.server_helpers import add_users, new_meeting
from tests.tally_helpers import SCANTALLY

#: the whole process tree of the server, at any moment of the uploads below
RSS_BOUND = 640 * MiB
CAP = IntakeLimits().max_tiff_frames


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    folder = tmp_path_factory.mktemp("hostile")
    started = time.monotonic()
    files = {"tiff10k": g4_tiff(folder / "blank-10000.tiff", 10_000),
             "pdf5k": blank_pdf(folder / "blank-5000.pdf", 5_000),
             "tiff_cap": g4_tiff(folder / f"blank-{CAP}.tiff", CAP),
             "tiff_over": g4_tiff(folder / f"blank-{CAP + 1}.tiff", CAP + 1),
             "tiff400": g4_tiff(folder / "blank-400.tiff", 400),
             "pdf200": blank_pdf(folder / "blank-200.pdf", 200)}
    print(f"generated in {time.monotonic() - started:.1f} s: " + ", ".join(
        f"{p.name} {p.stat().st_size / MiB:.1f} MiB" for p in files.values()))
    yield files


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int, Path]]:
    data = tmp_path_factory.mktemp("serve") / "data"
    store = open_store(data)
    add_users(store)
    meeting_id = new_meeting(store, forms=("evaluation",))
    store.close()
    with serve(data, "--read-threads", "2") as served:
        yield served, meeting_id, data
        below = [p.pid for p in served.tree()[1:]]
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in below if psutil.pid_exists(p)],
                                     timeout=20)
    assert not alive, f"processes left behind by the server: {alive}"


def _upload(client: httpx.Client, meeting_id: int, path: Path) -> httpx.Response:
    with path.open("rb") as fh:
        return client.post(f"/api/meetings/{meeting_id}/uploads",
                           files=[("files", (path.name, fh, "application/octet-stream"))])


def _counts(data: Path) -> tuple[int, int, int]:
    store = open_store(data)
    try:
        with store.session(readonly=True) as s:
            return (s.scalar(select(func.count()).select_from(Batch)) or 0,
                    s.scalar(select(func.count()).select_from(Batch)
                             .where(Batch.ended_at.is_(None))) or 0,
                    s.scalar(select(func.count()).select_from(Page)) or 0)
    finally:
        store.close()


def _staging_empty(data: Path) -> bool:
    uploads = data / "uploads"
    return not uploads.exists() or not any(uploads.iterdir())


def test_the_default_caps_refuse_the_issues_files_by_their_count(
        hostile: dict[str, Path], tmp_path: Path) -> None:
    """Staging alone (no server): what the upload route runs on every file."""
    for key, setting in (("tiff10k", "max_tiff_frames"), ("pdf5k", "max_pdf_pages")):
        path = hostile[key]
        with path.open("rb") as fh, pytest.raises(UploadRefused) as refused:
            stage_uploads([(path.name, fh)], tmp_path / key, IntakeLimits())
        text = str(refused.value)
        assert path.name in text and setting in text and "Nothing was stored" in text
    with hostile["tiff_cap"].open("rb") as fh:  # at the cap: accepted
        staged = stage_uploads([("cap.tiff", fh)], tmp_path / "cap", IntakeLimits())
    assert [f.fmt for f in staged] == ["TIFF"]
    with hostile["tiff_over"].open("rb") as fh, pytest.raises(UploadRefused) as over:
        stage_uploads([("over.tiff", fh)], tmp_path / "over", IntakeLimits())
    assert f"more than {CAP:,} frames" in str(over.value)


def test_huge_tiff_and_pdf_are_refused_up_front_with_rss_bounded(
        server: tuple[Served, int, Path], hostile: dict[str, Path]) -> None:
    served, meeting_id, data = server
    with operator_client(served.url) as client, PeakRss(served.tree_rss) as rss:
        base = served.tree_rss()
        for key, setting, count in (("tiff10k", "max_tiff_frames", "more than 1,000 frames"),
                                    ("pdf5k", "max_pdf_pages", "5,000 pages")):
            started = time.monotonic()
            r = _upload(client, meeting_id, hostile[key])
            took = time.monotonic() - started
            assert r.status_code == 422, r.text
            detail = r.json()["detail"]
            assert hostile[key].name in detail and setting in detail and count in detail
            print(f"{hostile[key].name}: refused in {took:.2f} s: {detail}")
    print(f"refusing: tree RSS base {base / MiB:.0f} MiB, peak {rss.peak / MiB:.0f} MiB")
    assert rss.peak < RSS_BOUND
    assert _counts(data)[0] == 0  # no batch opened, nothing stored
    assert _staging_empty(data)


@pytest.mark.slow
@pytest.mark.parametrize("key, pages", [("tiff400", 400), ("pdf200", 200)])
def test_a_file_within_the_caps_streams_page_by_page_with_rss_bounded(
        server: tuple[Served, int, Path], hostile: dict[str, Path], key: str,
        pages: int) -> None:
    served, meeting_id, data = server
    batches_before = _counts(data)[0]
    with operator_client(served.url) as client, PeakRss(served.tree_rss) as rss:
        started = time.monotonic()
        r = _upload(client, meeting_id, hostile[key])
        assert r.status_code == 202, r.text
        seen: list[int] = []

        def progress(job: dict) -> bool:
            seen.append(job["pages"])
            return job["state"] != "running"

        job = wait_job(client, meeting_id, r.json()["id"], timeout_s=300, until=progress)
        took = time.monotonic() - started
    print(f"{hostile[key].name}: {pages} pages streamed in {took:.0f} s "
          f"({pages * 60 / took:.0f} pages/min); tree RSS peak {rss.peak / MiB:.0f} MiB; "
          f"counts {job['counts']}")
    assert job["state"] == "done", job
    assert job["pages"] == pages and sum(job["counts"].values()) == pages
    # every page ends in a visible state: read (blank sheets: no code, so unreadable) or the
    # same image as one stored before; none is refused for want of an image
    assert set(job["counts"]) <= {"unreadable", "already", "blank"}, job["counts"]
    assert job["counts"].get("refused", 0) == 0
    assert len(set(seen)) > 3, "progress was seen page by page, not all at once"
    assert rss.peak < RSS_BOUND
    batches, open_batches, _ = _counts(data)
    assert batches == batches_before + 1 and open_batches == 0
    assert _staging_empty(data)


def test_ingest_streams_a_zip_member_and_refuses_a_file_over_the_cli_cap(
        tmp_path: Path) -> None:
    """`scantally ingest` applies the caps it is given (`--max-tiff-frames`): a TIFF over it is
    one page refused by its count, naming the file and the setting; a multi-page TIFF inside a
    ZIP is read page by page (planned from a temporary copy, not held as bytes per page)."""
    data = tmp_path / "data"
    store = open_store(data)
    new_meeting(store, name="m1", forms=("evaluation",))
    store.close()
    over = g4_tiff(tmp_path / "four.tiff", 4, width_px=800, height_px=1100)
    three = g4_tiff(tmp_path / "three.tiff", 3, width_px=800, height_px=1100)
    archive = tmp_path / "stack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(three, "inner/three.tiff")
    run = subprocess.run([str(SCANTALLY), "ingest", "--meeting", "m1", "--data", str(data),
                          "--max-tiff-frames", "3", "--json", str(over), str(archive)],
                         capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, run.stderr
    pages = [json.loads(line) for line in lines[:-1]]
    sources = [p["source"] for p in pages]
    assert sources == [f"{over}#1"] + [f"{archive}/inner/three.tiff#{k}" for k in (1, 2, 3)]
    refused = pages[0]
    assert refused["outcome"] == "unreadable"
    assert "more than 3 frames" in refused["message"] and "max_tiff_frames" in \
        refused["message"] and "four.tiff" in refused["message"]
    assert json.loads(lines[-1])["summary"]["read"] == 4


@pytest.mark.parametrize("compression", ["group4", "tiff_lzw", None])
def test_each_tiff_frame_is_opened_at_its_own_directory_and_decodes_to_its_pixels(
        tmp_path: Path, compression: str | None) -> None:
    """A page of a multi-frame TIFF is decoded without walking the frames before it (the
    planner notes each directory's offset); what comes out is that frame, from a file on disk
    (libtiff reads by descriptor) and from bytes in memory alike."""
    frames = []
    for k in range(6):
        frame = Image.new("1", (300, 200), 1)
        ImageDraw.Draw(frame).rectangle([10 + 40 * k, 10, 40 + 40 * k, 60], fill=0)
        frames.append(frame)
    path = tmp_path / "six.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression=compression)
    for where in ({"path": path}, {"data": path.read_bytes()}):
        planned = list(plan_pages("six.tiff", **where))  # type: ignore[arg-type]
        assert [p.ifd_offset is not None for p in planned] == [True] * 6
        for k, page in enumerate(planned):
            got = page.decode()
            assert got.image is not None, got.error
            assert np.array_equal(got.image, np.asarray(frames[k].convert("L"))), (where, k)
