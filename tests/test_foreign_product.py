"""A learned (foreign) form through the whole product: meeting, ingest, scan, review crops,
tally, report; a sheet fed twice caught by its ink; a mixed stack of two foreign forms.

The deck: our example forms printed without corner marks, QR code or serial (as another
printer would), learned back from the blank (`tests.foreign_helpers.write_learned`), marked by
simulated hands and scanned with the usual degradations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest

from intake.pipeline import PageDone
from intake.run import scan
from omr.engine import read_page
from omr.fingerprint import SAME_SHEET_MAX_DISTANCE, distance
from scanner.folder import FileSource, scan_files
from tally.meetings import FormText, create_meeting
from tally.references import reading_layouts
from tally.review.crops import render_crop
from tally.store import open_store
from tests import foreign_helpers as F
from tests import omr_helpers as H
from tests.tally_helpers import cli

Votes = list[tuple[str, str]]
#: the scanner's variations, sheet by sheet
SCANS = [dict(angle_deg=0.4, shift_mm=(1.0, 2.0)), dict(angle_deg=-1.2, scale=1.01),
         dict(angle_deg=1.8, shift_mm=(-3.0, 1.0), blur_px=0.7),
         dict(angle_deg=-0.5, scale=0.99, noise=4), dict(angle_deg=0.9, jpeg_quality=80)]


def eval_votes(n: int) -> Votes:
    """Sheet n of the evaluation deck: its category, every team row, four leaders."""
    fields = {f["id"]: f["options"] for f in F.foreign_layout_of("evaluation")["fields"]}
    out = [("category", fields["category"][n % len(fields["category"])])]
    team = [f for f in fields if f.startswith("team.")]
    leaders = [f for f in fields if f.startswith("leader.")][:4]
    for i, f in enumerate(team + leaders):
        out.append((f, fields[f][(n + i) % len(fields[f])]))
    return out


def sat_votes(n: int) -> Votes:
    fields = {f["id"]: f["options"] for f in F.foreign_layout_of("satisfaction")["fields"]}
    return [(f, opts[(n + i) % len(opts)]) for i, (f, opts) in enumerate(fields.items())
            if i % 2 == 0]


def write_scan(path: Path, name: str, votes: Votes, n: int, **kwargs: object) -> None:
    page = F.marked_sheet(name, votes, seed=n + 1)
    grey = H.scan(page, dpi=F.DPI, seed=n, **(kwargs or SCANS[n % len(SCANS)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), grey)


@dataclass(frozen=True)
class Deck:
    root: Path
    eval_spec: Path
    sat_spec: Path
    #: evaluation sheets: the first three to `ingest`, the last two to `scan --device dir:`
    ingest_dir: Path
    scan_dir: Path
    eval_truth: list[Votes]
    #: sheet 0 scanned again (other file bytes, other angle and blur)
    rescan: Path
    #: two satisfaction sheets, two evaluation sheets and a recommendation sheet (not loaded)
    mixed_dir: Path


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Deck:
    root = tmp_path_factory.mktemp("foreign")
    eval_spec = F.write_learned("evaluation", root / "eval-form")
    sat_spec = F.write_learned("satisfaction", root / "sat-form")
    truth = [eval_votes(n) for n in range(5)]
    for n, votes in enumerate(truth):
        write_scan(root / ("ingest" if n < 3 else "scan") / f"e{n}.png", "evaluation", votes, n)
    write_scan(root / "rescan.jpg", "evaluation", truth[0], 0, angle_deg=-1.5, scale=1.015,
               shift_mm=(-2.0, 3.0), blur_px=0.8, noise=4, jpeg_quality=75)
    mixed = root / "mixed"
    write_scan(mixed / "m0.png", "satisfaction", sat_votes(0), 0)
    write_scan(mixed / "m1.png", "evaluation", eval_votes(7), 1)
    write_scan(mixed / "m2.png", "recommendation", [], 2)
    write_scan(mixed / "m3.png", "satisfaction", sat_votes(1), 3)
    write_scan(mixed / "m4.png", "evaluation", eval_votes(8), 4)
    return Deck(root, eval_spec, sat_spec, root / "ingest", root / "scan", truth,
                root / "rescan.jpg", mixed)


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_learned_form_goes_through_meeting_ingest_scan_tally_and_report(deck: Deck,
                                                                         tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli("meeting", "new", "--name", "learned", "--form", str(deck.eval_spec), data=data)
    assert r.returncode == 0, r.stderr
    r = cli("ingest", "--meeting", "learned", str(deck.ingest_dir), "--json", data=data)
    assert r.returncode == 0, r.stderr
    pages = [x for x in _lines(r.stdout) if "outcome" in x]
    assert [p["outcome"] for p in pages] == ["ok"] * 3, pages
    r = cli("scan", "--meeting", "learned", "--device", f"dir:{deck.scan_dir}", "--json",
            data=data)
    assert r.returncode == 0, r.stderr
    scanned = [x for x in _lines(r.stdout) if "outcome" in x]
    assert [p["outcome"] for p in scanned] == ["ok"] * 2, scanned
    # every serial is the source and page: five sheets, five serials
    assert len({p["serial"] for p in pages + scanned}) == 5

    # the same paper fed again: other bytes, same ink -> a duplicate, never counted
    r = cli("ingest", "--meeting", "learned", str(deck.rescan), "--json", data=data)
    again = _lines(r.stdout)[0]
    assert again["outcome"] == "duplicate", again
    assert again["duplicate_of"] == pages[0]["page_id"]

    r = cli("tally", "learned", "--json", data=data)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["reconciliation"]["returned"] == 5
    counts: dict[tuple[str, str], int] = {}
    for votes in deck.eval_truth:
        for field, option in votes:
            counts[(field, option)] = counts.get((field, option), 0) + 1
    rows = {row["field"]: row for part in ("team", "individual")
            for row in result["evaluation"][part]["rows"]}
    for (field, option), n in counts.items():
        if field != "category":
            assert rows[field]["stats"]["_all"]["counts"][option] == n, (field, option)
    for cat in {v[0][1] for v in deck.eval_truth}:
        row = next(x for x in result["reconciliation"]["rows"] if x["bucket"] == cat)
        assert row["returned"] == sum(v[0][1] == cat for v in deck.eval_truth)
    warning = next(w for w in result["warnings"] if w["code"] == "no_printed_serials")
    assert "无法识别伪造" in warning["message"]

    r = cli("recount", "learned", data=data)  # re-read from the store: its reference too
    assert r.returncode == 0, r.stderr
    assert "no difference" in r.stdout

    pdf_path = tmp_path / "report.pdf"
    r = cli("report", "learned", "-o", str(pdf_path), data=data)
    assert r.returncode == 0, r.stderr
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    assert "无法识别伪造" in text.replace("\n", "").replace("\r", "")


def test_the_review_crop_of_a_foreign_page_shows_its_box(deck: Deck, tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    try:
        mid = create_meeting(store, name="crop", forms=[FormText.read(deck.eval_spec)],
                             actor="tester").id
        done: list[PageDone] = []
        scan(store, mid, FileSource(scan_files([deck.ingest_dir])[0]), on_page=done.append)
        assert done and all(p.result.outcome == "ok" for p in done), done
        layout = F.foreign_layout_of("evaluation")
        boxes = {(b["field"], b["option"]): b["rect_mm"] for b in layout["pages"][0]["boxes"]}
        first = done[0].result
        assert first.page_id is not None
        marked = dict(deck.eval_truth[0])
        with store.session(readonly=True) as s:
            for field in ("team.politics", "category"):
                options = next(f["options"] for f in layout["fields"] if f["id"] == field)
                other = next(o for o in options if o != marked[field])
                inks = []
                for option in (marked[field], other):
                    x, y, w, h = boxes[(field, option)]
                    png = render_crop(store, s, first.page_id, (x, y, w, h), px_per_mm=8)
                    crop = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
                    inner = crop[crop.shape[0] // 4: -crop.shape[0] // 4,
                                 crop.shape[1] // 4: -crop.shape[1] // 4]
                    inks.append(float((inner < 128).mean()))
                # the crop is the box through the page's registration: the tick is inside the
                # marked box, nothing inside the empty one
                assert inks[0] > 0.05 and inks[1] < 0.01, (field, inks)
    finally:
        store.close()


def test_a_rescan_is_near_in_ink_and_another_hand_is_not(deck: Deck, tmp_path: Path) -> None:
    """The figures behind `SAME_SHEET_MAX_DISTANCE`, on this deck."""
    store = open_store(tmp_path / "data")
    try:
        create_meeting(store, name="fp", forms=[FormText.read(deck.eval_spec)], actor="t")
        with store.session(readonly=True) as s:
            layouts = reading_layouts(store, s, 1)
    finally:
        store.close()

    def read(path: Path) -> str:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        fp = read_page(grey, layouts, source=f"{path.name}#1").fingerprint
        assert fp
        return fp

    first, again = read(deck.ingest_dir / "e0.png"), read(deck.rescan)
    assert distance(first, again) <= SAME_SHEET_MAX_DISTANCE
    # the same choices as sheet 0, ticked by other hands (the simulator's jitter only)
    for n in (1, 2):
        other = tmp_path / f"o{n}.png"
        page = F.marked_sheet("evaluation", deck.eval_truth[0], seed=10 + n)
        cv2.imwrite(str(other), H.scan(page, dpi=F.DPI, seed=n, **SCANS[0]))
        assert distance(first, read(other)) > SAME_SHEET_MAX_DISTANCE


def test_a_mixed_stack_of_two_learned_forms_sorts_itself(deck: Deck, tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli("meeting", "new", "--name", "mixed", "--form", str(deck.eval_spec), "--form",
            str(deck.sat_spec), data=data)
    assert r.returncode == 0, r.stderr
    r = cli("ingest", "--meeting", "mixed", str(deck.mixed_dir), "--json", data=data)
    assert r.returncode == 0, r.stderr
    pages = {Path(x["source"]).name.split("#")[0]: x for x in _lines(r.stdout) if "outcome" in x}
    sat = F.foreign_layout_of("satisfaction")["form"]["id"]
    ev = F.foreign_layout_of("evaluation")["form"]["id"]
    assert {k: (v["outcome"], v["form"]) for k, v in pages.items() if k != "m2.png"} == {
        "m0.png": ("ok", sat), "m1.png": ("ok", ev), "m3.png": ("ok", sat),
        "m4.png": ("ok", ev)}
    # a sheet of a form the meeting does not have: not counted, said to be another form
    assert pages["m2.png"]["outcome"] == "unreadable"
    assert "not a sheet of this meeting" in pages["m2.png"]["message"]
    r = cli("tally", "mixed", "--json", data=data)
    assert r.returncode == 0, r.stderr


def test_a_foreign_spec_without_its_folder_is_refused_with_the_reason(deck: Deck,
                                                                      tmp_path: Path) -> None:
    bare = tmp_path / "form.yaml"
    bare.write_text(deck.eval_spec.read_text(encoding="utf-8"), encoding="utf-8")
    r = cli("meeting", "new", "--name", "x", "--form", str(bare), data=tmp_path / "data")
    assert r.returncode != 0
    assert "targets.json" in r.stderr + r.stdout


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium")
def test_the_review_page_shows_the_crop_of_a_foreign_box(deck: Deck, tmp_path: Path) -> None:
    """In chromium: the review item of a filled-in box of a learned form shows its crop, cut
    from the stored scan through the page's registration."""
    from playwright.sync_api import expect, sync_playwright

    from tests.server_helpers import PASSWORD, LiveServer, add_users, app_for

    votes = [("category", "middle"), ("team.politics", "good")]
    page = F.marked_sheet("evaluation", votes[:1], seed=1)
    layout = F.foreign_layout_of("evaluation")
    H.draw_mark(page, H.box_rect(layout, *votes[1]), "fill", dpi=F.DPI, seed=5)
    scans = tmp_path / "scans"
    scans.mkdir()
    cv2.imwrite(str(scans / "filled.png"), H.scan(page, dpi=F.DPI, angle_deg=0.6, seed=2))
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = create_meeting(store, name="复核裁图", forms=[FormText.read(deck.eval_spec)],
                         actor="tester").id
    done: list[PageDone] = []
    scan(store, mid, FileSource(scan_files([scans])[0]), on_page=done.append)
    assert [d.result.outcome for d in done] == ["review"], done
    server = LiveServer(app_for(store, read_threads=1)).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            console = browser.new_page()
            console.set_default_timeout(30_000)
            console.goto(f"{server.url}/")
            console.fill("input[name=username]", "operator")
            console.fill("input[name=password]", PASSWORD)
            console.click("button[type=submit]")
            console.click("text=复核裁图")
            console.click("a[href$='/review']")
            item = console.locator("section.item").first
            crop = item.locator(".crops img").first
            expect(crop).to_be_visible()
            assert crop.evaluate("img => img.complete && img.naturalWidth > 0")
            src = crop.get_attribute("src")
            assert src
            png = console.request.get(f"{server.url}{src}" if src.startswith("/") else src)
            assert png.ok
            image = cv2.imdecode(np.frombuffer(png.body(), np.uint8), cv2.IMREAD_GRAYSCALE)
            browser.close()
    finally:
        server.stop()
        store.close()
    # the box's crop: the fill in its middle, paper about it
    h, w = image.shape
    middle = image[h // 3: 2 * h // 3, w // 3: 2 * w // 3]
    assert float((middle < 100).mean()) > 0.8, float((middle < 100).mean())
    assert float((image > 180).mean()) > 0.15


def test_a_learned_form_of_two_pages_joins_its_pages_by_their_order_in_the_file(
        tmp_path: Path) -> None:
    """evaluation-long printed without our marks, each page learned from its own blank; each
    sheet scanned as one two-page TIFF (a duplex scan): its pages are one ballot."""
    from PIL import Image

    spec = F.write_learned("evaluation-long", tmp_path / "form", pages=2)
    fields = {f["id"]: (f["page"], f["options"]) for f in H.layout("evaluation-long")["fields"]}
    on = {p: [f for f, (page, _) in fields.items() if page == p] for p in (1, 2)}
    assert on[1] and on[2]
    scans = tmp_path / "scans"
    scans.mkdir()
    truth = []
    for n in range(3):
        votes = [(f, fields[f][1][(n + i) % len(fields[f][1])])
                 for p in (1, 2) for i, f in enumerate(on[p][:5])]
        truth.append(votes)
        pages = [Image.fromarray(H.scan(F.marked_sheet("evaluation-long", votes, seed=n + 1,
                                                       page=p), dpi=F.DPI, seed=n,
                                        **SCANS[(n + p) % len(SCANS)]))
                 for p in (1, 2)]
        pages[0].save(scans / f"sheet{n}.tiff", save_all=True, append_images=pages[1:],
                      dpi=(F.DPI, F.DPI))
    data = tmp_path / "data"
    r = cli("meeting", "new", "--name", "long", "--form", str(spec), data=data)
    assert r.returncode == 0, r.stderr
    r = cli("ingest", "--meeting", "long", str(scans), "--json", data=data)
    assert r.returncode == 0, r.stderr
    pages = [x for x in _lines(r.stdout) if "outcome" in x]
    assert [p["outcome"] for p in pages] == ["ok"] * 6, pages
    assert sorted(p["page"] for p in pages) == [1, 1, 1, 2, 2, 2]
    # one serial per sheet, shared by its two pages
    by_file = {}
    for p in pages:
        by_file.setdefault(p["source"].split("#")[0], set()).add(p["serial"])
    assert len(by_file) == 3 and all(len(s) == 1 for s in by_file.values())
    r = cli("tally", "long", "--json", data=data)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["reconciliation"]["returned"] == 3
    rows = {sub["field"]: sub for row in result["evaluation"]["individual"]["rows"]
            for sub in row["sub_rows"]}
    for votes in truth:
        for field, option in votes:
            n = sum((field, option) in v for v in truth)
            assert rows[field]["stats"]["_all"]["counts"][option] == n, (field, option)


def test_form_learn_adds_the_next_page_of_a_form(tmp_path: Path) -> None:
    for p in (1, 2):
        cv2.imwrite(str(tmp_path / f"blank{p}.png"), F.foreign_blank_page("evaluation-long", p))
    out = tmp_path / "form"
    r = cli("form", "learn", str(tmp_path / "blank1.png"), "-o", str(out), "--dpi", "200",
            data=tmp_path / "data")
    assert r.returncode == 0, r.stderr
    r = cli("form", "learn", str(tmp_path / "blank2.png"), "-o", str(out), "--dpi", "200",
            "--add-page", data=tmp_path / "data")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "targets.json").read_text(encoding="utf-8"))
    pages = [t["page"] for t in doc["targets"]]
    assert pages.count(1) == pages.count(2) == 120
    assert [t["n"] for t in doc["targets"]] == list(range(1, 241))
    assert [p["image"] for p in doc["later_pages"]] == ["reference-p2.png"]
    assert (out / "overlay-p2.png").is_file()
    assert "121-240" in r.stdout
