"""Uploading scans: accepted images, PDFs and ZIPs are read and ingested in the background; bad
uploads (not images, ZIP bombs, path traversal, links, nested ZIPs, oversized bodies) are refused
with a message naming the file, and nothing at all is stored."""

from __future__ import annotations

import io
import stat
import time
import zipfile
from pathlib import Path
from typing import Any

import cv2
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from omr.sim.corpus import render_marked_page
from server.uploads import MiB, UploadLimits
from tally.db import AuditEntry, Batch, Page
from tally.store import Store, open_store
from tests.server_helpers import add_users, client_for, new_meeting, tiny_image

EVAL = Path("examples/evaluation.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "data")
    add_users(s)
    yield s
    s.close()


def sheet_png(serial: str, marks: dict[str, list[str]]) -> bytes:
    image = render_marked_page(EVAL, marks, serial=serial)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return cv2.imencode(".png", image)[1].tobytes()


def as_pdf(png: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("L").save(buf, "PDF", resolution=200.0)
    return buf.getvalue()


def zip_of(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def nothing_stored(store: Store) -> None:
    with store.session(readonly=True) as s:
        for model in (Batch, Page):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 1  # meeting.create
    uploads = store.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    images = store.data_dir / "images"
    assert not images.exists() or not any(p.is_file() for p in images.rglob("*"))


def upload(c: TestClient, csrf: str, mid: int, files: list[tuple[str, bytes]]) -> Any:
    return c.post(f"/api/meetings/{mid}/uploads", headers={"X-CSRF-Token": csrf},
                  files=[("files", (name, data, "application/octet-stream"))
                         for name, data in files])


def wait_job(c: TestClient, mid: int, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = next(j for j in c.get(f"/api/meetings/{mid}/jobs").json() if j["id"] == job_id)
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still running")


def test_images_pdf_and_zip_are_read_and_counted(store: Store) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    vote = {"category": ["staff"], "leader.P310012": ["excellent"]}
    a, b, c_, d = (sheet_png(s, vote) for s in ("S0001", "S0002", "S0003", "S0004"))
    with client_for(store, "operator") as (c, csrf):
        r = upload(c, csrf, mid, [("a.png", a), ("b.pdf", as_pdf(b)),
                                  ("stack.zip", zip_of({"x/c.png": c_, "d.png": d,
                                                       "__MACOSX/._d.png": b"junk"}))])
        assert r.status_code == 202, r.text
        job = wait_job(c, mid, r.json()["id"])
        assert job["state"] == "done", job
        assert job["counts"] == {"ok": 4}, job
        assert job["files_total"] == 4
        tally = c.get(f"/api/meetings/{mid}/tally").json()[0]
        assert tally["reconciliation"]["returned"] == 4
        # a re-upload of the same images is recognised, not counted again
        r = upload(c, csrf, mid, [("again.png", a)])
        assert wait_job(c, mid, r.json()["id"])["counts"] == {"already": 1}
    with store.session(readonly=True) as s:
        sources = sorted(s.scalars(select(Page.source)))
    assert sources == ["a.png#1", "b.pdf#1", "stack.zip/d.png#1", "stack.zip/x/c.png#1"]
    assert not any((store.data_dir / "uploads").iterdir())


def test_console_upload_form_redirects_to_the_progress(store: Store) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    with client_for(store, "operator") as (c, csrf):
        r = c.post(f"/meetings/{mid}/batches", data={"csrf_token": csrf},
                   files=[("files", ("blank.png", tiny_image(1), "image/png"))],
                   follow_redirects=False)
        assert r.status_code == 303 and "job=" in r.headers["location"]
        job = wait_job(c, mid, r.headers["location"].split("job=")[1].split("#")[0])
        assert job["counts"] == {"unreadable": 1}
        assert job["refeed"] and job["refeed"][0].startswith("blank.png#1: ")


BAD = {
    "not an image": ([("notes.txt", b"hello, not a scan")], "'notes.txt' is not an image"),
    "renamed text": ([("scan.jpg", b"%!PS-Adobe-3.0 not a jpeg")], "'scan.jpg' is not an image"),
    "empty": ([("a.png", b"")], "is empty"),
    "traversal": ([("s.zip", zip_of({"../../etc/cron.d/x.png": tiny_image(1)}))],
                  "climbs out of the archive"),
    "absolute": ([("s.zip", zip_of({"/tmp/x.png": tiny_image(1)}))], "absolute path"),
    "windows drive": ([("s.zip", zip_of({"C:\\x.png": tiny_image(1)}))], "absolute path"),
    "link": ([("s.zip", zip_of({"a.png": tiny_image(1)}, link="b.png"))], "symbolic link"),
    "nested": ([("s.zip", zip_of({"inner.zip": zip_of({"a.png": tiny_image(1)})}))],
               "is itself a ZIP"),
    "text in zip": ([("s.zip", zip_of({"a.png": tiny_image(1), "readme.txt": b"hi"}))],
                    "member 'readme.txt' is not an image"),
    "bomb": ([("s.zip", zip_of({"big.png": b"\x89PNG\r\n\x1a\n" + bytes(30 * MiB)}))],
             "ZIP bomb"),
    "damaged": ([("s.zip", b"PK\x03\x04" + b"\x00" * 40)], "damaged ZIP"),
    "one bad among good": ([("a.png", tiny_image(1)), ("evil.exe", b"MZ\x90\x00")],
                           "'evil.exe' is not an image"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_uploads_are_refused_and_nothing_is_stored(store: Store, case: str) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    files, message = BAD[case]
    with client_for(store, "operator") as (c, csrf):
        r = upload(c, csrf, mid, files)
        assert r.status_code == 422, r.text
        assert message in r.json()["detail"] and "Nothing was stored" in r.json()["detail"]
        page = c.post(f"/meetings/{mid}/batches", data={"csrf_token": csrf},
                      files=[("files", (n, d, "application/octet-stream")) for n, d in files],
                      headers={"Accept": "text/html"})
        assert page.status_code == 422 and "Nothing was stored" in page.text
    nothing_stored(store)


def test_zip_over_the_unpacked_limit_is_refused(store: Store) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    members = {f"{k}.png": b"\x89PNG\r\n\x1a\n" + bytes(700 * 1024) for k in range(3)}
    limits = UploadLimits(max_zip_bytes=MiB, max_zip_ratio=10_000)
    with client_for(store, "operator", limits=limits) as (c, csrf):
        r = upload(c, csrf, mid, [("s.zip", zip_of(members))])
        assert r.status_code == 422 and "would unpack to" in r.json()["detail"]
    nothing_stored(store)


def test_oversized_uploads_get_413_by_header_and_by_stream(store: Store) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    limits = UploadLimits(max_request_bytes=256 * 1024)
    big = b"\x89PNG\r\n\x1a\n" + bytes(400 * 1024)
    with client_for(store, "operator", limits=limits) as (c, csrf):
        r = upload(c, csrf, mid, [("big.png", big)])
        assert r.status_code == 413 and "too large" in r.json()["detail"]

        def chunks():  # no Content-Length: counted as it streams in
            body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; "
                    b"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n" + big
                    + b"\r\n--XyZ--\r\n")
            for k in range(0, len(body), 64 * 1024):
                yield body[k:k + 64 * 1024]

        r = c.post(f"/api/meetings/{mid}/uploads", content=chunks(),
                   headers={"X-CSRF-Token": csrf,
                            "Content-Type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == 413
        # small bodies elsewhere are limited too (2 MiB)
        r = c.post("/api/meetings", content=b"{" + b" " * (3 * MiB) + b"}",
                   headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
        assert r.status_code == 413
    nothing_stored(store)


def test_bad_batch_category_stores_nothing(store: Store) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    with client_for(store, "operator") as (c, csrf):
        r = c.post(f"/api/meetings/{mid}/uploads", headers={"X-CSRF-Token": csrf},
                   data={"category": "martians"},
                   files=[("files", ("a.png", tiny_image(1), "image/png"))])
        assert r.status_code == 400 and "martians" in r.json()["detail"]
    nothing_stored(store)


def test_device_batch_reads_a_source_and_reports_refeeds(store: Store) -> None:
    from scanner.errors import Jammed
    from scanner.images import encode_png
    from scanner.pages import EncodedPage
    from scanner.source import Sheet

    mid = new_meeting(store, forms=("evaluation",))
    png = sheet_png("D0001", {"category": ["leader"], "leader.P310012": ["competent"]})
    image = render_marked_page(EVAL, {"category": ["leader"]}, serial="D0002")

    class FakeScanner:
        uri = "fake://scanner"
        kind = "images"
        close_wakes = False

        def __iter__(self):
            # a scanner hands pages over encoded: its own PNG, and a page it had only as pixels
            # encoded losslessly (each is decoded once, by a worker)
            yield Sheet(1, "fake#1", front=EncodedPage("fake#1", data=png, fmt="PNG"))
            yield Sheet(2, "fake#2", front=EncodedPage("fake#2", data=encode_png(image),
                                                       fmt="PNG"))
            raise Jammed("paper jam in the feeder", device="fake", refeed=[3])

        def close(self) -> None:
            pass

    opened: list[str] = []

    def open_source(uri: str) -> FakeScanner:
        if uri == "bad://":
            raise ValueError("unknown scheme 'bad'")
        opened.append(uri)
        return FakeScanner()

    with client_for(store, "operator", open_source=open_source) as (c, csrf):
        r = c.post(f"/meetings/{mid}/device", data={"uri": "bad://", "csrf_token": csrf})
        assert r.status_code == 503 and "unknown scheme" in r.json()["detail"]
        r = c.post(f"/meetings/{mid}/device", data={"uri": "fake://scanner", "csrf_token": csrf},
                   follow_redirects=False)
        assert r.status_code == 303
        job = wait_job(c, mid, r.headers["location"].split("job=")[1].split("#")[0])
        assert job["state"] == "stopped" and job["counts"] == {"ok": 2}, job
        assert "Re-feed sheet(s) 3" in job["error"]
    assert opened == ["fake://scanner"]


def test_device_batch_from_a_real_folder_source(store: Store, tmp_path: Path) -> None:
    mid = new_meeting(store, forms=("evaluation",))
    folder = tmp_path / "scans"
    folder.mkdir()
    for serial in ("F0001", "F0002"):
        (folder / f"{serial}.png").write_bytes(
            sheet_png(serial, {"category": ["middle"], "leader.P310012": ["basic"]}))
    with client_for(store, "operator") as (c, csrf):
        r = c.post(f"/meetings/{mid}/device", data={"uri": f"dir:{folder}", "csrf_token": csrf},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        job = wait_job(c, mid, r.headers["location"].split("job=")[1].split("#")[0])
        assert job["state"] == "done" and job["counts"] == {"ok": 2}, job
        r = c.post(f"/meetings/{mid}/device", data={"uri": f"dir:{tmp_path}/nope",
                                                     "csrf_token": csrf})
        assert r.status_code == 503 and "cannot open the device" in r.json()["detail"]
