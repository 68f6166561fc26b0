"""The test deck (L&A): printed from every example form, rendered to 200 dpi images with
pypdfium2, read through `scantally ingest`, and checked figure by figure; a planted mismatch;
test mode's banner; going official, then a test sheet refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from forms.layout import compile_layout
from forms.load import load_spec
from tally.db import AuditEntry, Meeting, Page
from tally.store import open_store
from tally.testdeck.deckfile import read_deck
from tally.testdeck.plan import plan_form
from tally.testmode import deck_serials, is_test_serial
from tests.forms_helpers import page_texts
from tests.tally_helpers import EXAMPLES, cli, layout_of, pg_schema, pg_unreachable

DPI = 200
#: the three scanner forms and the card-reader form (its sheet has fiducials and a QR code
#: too, so its printed deck is read on the scanner path like the others)
FORMS = ("evaluation", "recommendation", "satisfaction", "evaluation-cardreader")
PG_SKIP = pg_unreachable()


def rasterise(pdf: Path, folder: Path) -> list[Path]:
    """Every page of the deck as a grey PNG at DPI, as a scanner would deliver it."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = pdfium.PdfDocument(pdf.read_bytes())
    out = []
    try:
        for i in range(len(doc)):
            img = np.array(doc[i].render(scale=DPI / 72, grayscale=True).to_numpy(),
                           dtype=np.uint8).squeeze()
            path = folder / f"sheet-{i:03d}.png"
            cv2.imwrite(str(path), img)
            out.append(path)
    finally:
        doc.close()
    return out


def new_test_meeting(data: Path, name: str, forms: tuple[str, ...], db: str | None = None
                     ) -> None:
    args = ["meeting", "new", "--name", name]
    for f in forms:
        args += ["--form", str(EXAMPLES / f"{f}.yaml")]
    r = cli(*args, data=data, db=db)
    assert r.returncode == 0, r.stderr
    assert "测试模式" in r.stdout


def print_deck(tmp: Path, data: Path, name: str, db: str | None = None) -> tuple[Path, Path]:
    pdf, expected = tmp / f"{name}-deck.pdf", tmp / f"{name}-expected.json"
    r = cli("testdeck", name, "-o", str(pdf), "--expected", str(expected), data=data, db=db)
    assert r.returncode == 0, r.stderr
    return pdf, expected


def test_deck_plan_covers_every_option_overmarks_blank_and_cancel() -> None:
    for name in FORMS:
        fields = compile_layout(load_spec(EXAMPLES / f"{name}.yaml")).fields
        sheets = plan_form(fields, deck_serials(40))
        for f in fields:  # every option of every field (另推 boxes, categories) marked once
            valid = {o for s in sheets if s.purpose == "coverage"
                     for o in s.marks.get(f.id, [])}
            assert valid == set(f.options), (name, f.id)
            for s in sheets:
                if s.purpose == "coverage":
                    assert len(s.marks.get(f.id, [])) <= max(f.max, 1)
        over = next(s for s in sheets if s.purpose == "overmark_all")
        assert all(len(over.marks[f.id]) > f.max for f in fields)
        assert next(s for s in sheets if s.purpose == "blank").marks == {}
        cancel = next(s for s in sheets if s.purpose == "cancel")
        assert len(cancel.cancelled) == 1
        assert all(is_test_serial(s.serial) for s in sheets)
    assert not is_test_serial("000001") and not is_test_serial("ABCDEFGHJK")


def test_deck_of_every_example_form_is_read_and_matches(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("keys", "new", data=data).returncode == 0
    new_test_meeting(data, "L&A", FORMS)
    pdf, expected = print_deck(tmp_path, data, "L&A")
    deck = read_deck(expected)
    assert [f.form_id for f in deck.forms] == ["jt2026-eval", "jt2026-rec", "jt2026-sat",
                                                "jt2026-eval-omr"]
    images = rasterise(pdf, tmp_path / "scans")
    assert len(images) == deck.sheets
    r = cli("ingest", "--meeting", "L&A", str(tmp_path / "scans"), data=data)
    assert r.returncode == 0, r.stderr
    signoff = tmp_path / "signoff.pdf"
    r = cli("testdeck", "check", "L&A", "--expected", str(expected), "-o", str(signoff),
            data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(deck.figures)} of {len(deck.figures)} figures agree" in r.stdout
    text = "".join(page_texts(signoff.read_bytes()))
    for needle in ("测试票检验记录", "一致", "监票人", "计票人", "站点密钥指纹", "测试模式",
                   "计票结果校验码"):
        assert needle in text, needle
    assert "不一致" not in text.split("逐项核对")[0]
    with open_store(data) as store, store.session() as s:
        mid = s.scalars(select(Meeting.id).where(Meeting.name == "L&A")).one()
        pages = s.scalars(select(Page).where(Page.meeting_id == mid)).all()
        # the cancelled mark of each form went to review, as the deck says it must
        assert sorted(p.serial for p in pages if p.status == "review") == sorted(
            x.serial for f in deck.forms for x in f.sheets if x.purpose == "cancel")
        check = s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == mid,
                                                   AuditEntry.action == "testdeck.check")).one()
        assert check.payload["ok"] is True and check.payload["mismatches"] == 0
        result_hash = check.payload["result_sha256"]
    assert result_hash in text
    tally = json.loads(cli("tally", "L&A", "--json", data=data).stdout)
    assert tally["sha256"] == result_hash


def _mark_box(image: Path, layout: dict, field: str, option: str) -> None:
    """Ink one more box on a scanned deck sheet (a planted extra mark)."""
    rect = next(b["rect_mm"] for p in layout["pages"] for b in p["boxes"]
                if b["field"] == field and b["option"] == option)
    px = DPI / 25.4
    img = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
    x, y, w, h = (round(v * px) for v in rect)
    img[y + 3:y + h - 3, x + 3:x + w - 3] = 0
    cv2.imwrite(str(image), img)


def test_a_planted_mismatch_fails_the_check_naming_the_figure(tmp_path: Path) -> None:
    data = tmp_path / "data"
    new_test_meeting(data, "planted", ("evaluation",))
    pdf, expected = print_deck(tmp_path, data, "planted")
    deck = read_deck(expected)
    images = rasterise(pdf, tmp_path / "scans")
    first = deck.forms[0].sheets[0]
    assert first.purpose == "coverage" and first.marks["team.politics"] == ["good"]
    _mark_box(images[0], layout_of("evaluation"), "team.politics", "poor")  # now 2 marks: void
    images[1].unlink()  # and one sheet never fed
    r = cli("ingest", "--meeting", "planted", str(tmp_path / "scans"), data=data)
    assert r.returncode == 0, r.stderr
    signoff = tmp_path / "signoff.pdf"
    r = cli("testdeck", "check", "planted", "--expected", str(expected), "-o",
            str(signoff), data=data)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "不一致 (MISMATCH)" in r.stdout
    err = " ".join(r.stderr.split())
    want = {(f.item, f.bucket): f.value for f in deck.figures}
    sheets = len(deck.forms[0].sheets)
    assert f"收回 (全体): expected {sheets}, counted {sheets - 1}" in err
    void = want[("team.politics:void", "_all")]
    label = "领导班子·思想政治建设·无效（超选/多选） (全体)"
    assert f"{label}: expected {void}, counted {void + 1}" in err
    assert "领导班子·思想政治建设·好 (全体)" in err
    text = "".join(page_texts(signoff.read_bytes()))
    assert "不一致" in text and "不一致的数字" in text


def test_an_edited_expected_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    new_test_meeting(data, "edited", ("satisfaction",))
    _, expected = print_deck(tmp_path, data, "edited")
    doc = json.loads(expected.read_text(encoding="utf-8"))
    doc["figures"][0]["value"] += 1
    expected.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = cli("testdeck", "check", "edited", "--expected", str(expected), "-o",
            str(tmp_path / "s.pdf"), data=data)
    assert r.returncode == 2 and "the file was edited" in " ".join(r.stderr.split())
    assert not (tmp_path / "s.pdf").exists()


def _signed_off(signoff: Path, data: Path, elsewhere: Path) -> None:
    """The sign-off page has its signature beside it: checked here, refused once either file
    is changed, and refused elsewhere until that store trusts the station's key."""
    sig = signoff.with_name(signoff.name + ".sig")
    doc = json.loads(sig.read_text(encoding="utf-8"))
    assert doc["sha256"] == hashlib.sha256(signoff.read_bytes()).hexdigest()
    r = cli("keys", "verify", str(signoff), data=data)
    assert r.returncode == 0 and "this station's key" in r.stdout, r.stderr
    pdf = signoff.read_bytes()
    signoff.write_bytes(pdf[:-10] + b"%%EOF edit")
    r = cli("keys", "verify", str(signoff), data=data)
    assert r.returncode == 2 and "is not the file that was signed" in r.stderr
    signoff.write_bytes(pdf)
    text = sig.read_text(encoding="utf-8")
    k = text.index('"signature": "') + 20
    sig.write_text(text[:k] + ("A" if text[k] != "A" else "B") + text[k + 1:], encoding="utf-8")
    r = cli("keys", "verify", str(signoff), data=data)
    assert r.returncode == 2 and "does not verify" in r.stderr
    sig.write_text(text, encoding="utf-8")
    r = cli("keys", "verify", str(signoff), data=elsewhere)
    assert r.returncode == 2 and "not this station's nor trusted here" in r.stderr
    assert cli("keys", "trust", str(data / "station.pub"), "--label", "hall",
               data=elsewhere).returncode == 0
    r = cli("keys", "verify", str(signoff), data=elsewhere)
    assert r.returncode == 0 and "trusted key (hall)" in " ".join(r.stdout.split()), r.stderr


def _report_pages(data: Path, name: str, out: Path, db: str | None = None) -> list[str]:
    r = cli("report", name, "-o", str(out), data=data, db=db)
    assert r.returncode == 0, r.stderr
    return page_texts(out.read_bytes())


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])])
def test_going_official_clears_the_test_phase_and_refuses_test_sheets(
        backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        with pg_schema() as url:
            _going_official(tmp_path, url)
    else:
        _going_official(tmp_path, None)


def _going_official(tmp_path: Path, db: str | None) -> None:
    data = tmp_path / "data"
    assert cli("keys", "new", data=data).returncode == 0
    new_test_meeting(data, "official", ("satisfaction",), db)
    pdf, expected = print_deck(tmp_path, data, "official", db)
    images = rasterise(pdf, tmp_path / "scans")
    assert cli("ingest", "--meeting", "official", str(tmp_path / "scans"), data=data,
               db=db).returncode == 0
    assert cli("testdeck", "check", "official", "--expected", str(expected), "-o",
               str(tmp_path / "s.pdf"), data=data, db=db).returncode == 0
    _signed_off(tmp_path / "s.pdf", data, tmp_path / "elsewhere")
    texts = _report_pages(data, "official", tmp_path / "test-report.pdf", db)
    assert texts and all("测试模式" in t for t in texts)  # the banner on every page
    store = open_store(data, db)
    with store.session() as s:
        digests = set(s.scalars(select(Page.sha256)))
    assert digests and all(store.images.path(d).exists() for d in digests)

    r = cli("meeting", "official", "official", "--why", "deck matched", "--who", "张监票",
            data=data, db=db)
    assert r.returncode == 0, r.stderr
    assert f"cleared {len(images)} page(s)" in " ".join(r.stdout.split())
    assert not any(store.images.path(d).exists() for d in digests)  # the images too
    with store.session() as s:
        m = s.scalars(select(Meeting).where(Meeting.name == "official")).one()
        assert m.test_mode is False
        assert s.scalars(select(Page).where(Page.meeting_id == m.id)).all() == []
        entry = s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == m.id,
                                                   AuditEntry.action == "meeting.official")
                          ).one()
        assert entry.actor == "张监票" and entry.payload["why"] == "deck matched"
        assert entry.payload["cleared"]["pages"] == len(images)
        assert len(entry.payload["removed"]["page"]) == len(images)
        assert entry.payload["deck_check"]["ok"] is True
    r = cli("verify", "official", data=data, db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli("meeting", "official", "official", data=data, db=db).returncode == 2

    # a test sheet fed now is refused (test_sheet), kept in the ledger, never counted
    r = cli("ingest", "--meeting", "official", str(images[0]), "--json", data=data, db=db)
    assert r.returncode == 2
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert lines[0]["outcome"] == "refused" and "test_sheet" in lines[0]["message"]
    with store.session() as s:
        page = s.scalars(select(Page).where(Page.meeting_id == m.id)).one()
        assert page.state == "uncounted" and page.count_key is None
        assert page.reading["reason_code"] == "test_sheet"
    tally = json.loads(cli("tally", "official", "--json", data=data, db=db).stdout)
    assert tally["reconciliation"]["returned"] == 0
    show = cli("meeting", "show", "official", "--json", data=data, db=db)
    info = json.loads(show.stdout)
    assert info["test_mode"] is False and info["test_sheets_refused"] == 1
    assert info["pages"] == {"uncounted/unreadable": 1}
    r = cli("verify", "official", data=data, db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    texts = _report_pages(data, "official", tmp_path / "report.pdf", db)
    assert not any("测试模式" in t for t in texts)
    assert cli("testdeck", "official", "-o", str(tmp_path / "again.pdf"), data=data,
               db=db).returncode == 2
    store.close()
