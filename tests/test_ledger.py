"""tally.ledger / tally.manual: every page fed in one state, fed = the sum of the states per
form and batch, through refused → re-fed, duplicates, dismissals, manual entry (two logins),
cancellations, voids of good sheets, lookup by serial, and the provisional flag."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tally import audit
from tally.ballots import load_ballots
from tally.ingest import SERIAL_OTHER_FORM, ingest_json, open_batch
from tally.ledger import Ledger, find_sheet, meeting_ledger
from tally.live import LiveResults
from tally.manual import HandMarks, confirm, enter, entry_form
from tally.meetings import FormText, create_meeting
from tally.results import meeting_results
from tally.review.decisions import decide
from tally.review.errors import ReviewError
from tally.review.queue import review_queue
from tally.store import Store, open_store
from tests.tally_helpers import (
    any_store,
    layout_of,
    new_meeting,
    pg_unreachable,
    reading,
    spec_path,
    tiny_image,
)

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]
REC = layout_of("recommendation")
EVAL = layout_of("evaluation")
REC_ID, EVAL_ID = REC["form"]["id"], EVAL["form"]["id"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def _ledger(store: Store, mid: int) -> Ledger:
    with store.session(readonly=True) as s:
        ledger = meeting_ledger(s, mid)
    # fed is every stored page, each in exactly one state, for the meeting, forms and batches
    assert ledger.balanced, ledger
    assert sum(r.fed for r in ledger.by_form) == ledger.fed
    assert sum(r.fed for r in ledger.by_batch) == ledger.fed
    assert len({p.page_id for p in ledger.pages}) == ledger.fed
    return ledger


def _unreadable(serial: str | None, source: str) -> dict:
    doc = reading(REC, serial, status="unreadable", source=source,
                  reason="two corner marks cut off; re-feed the sheet")
    doc["marks"], doc["scores"] = {}, {}
    doc["reason_code"] = "not_read"
    return doc


def _provisional(store: Store, mid: int) -> bool:
    return meeting_results(store, mid).forms[0].result.provisional


def test_refused_then_refed_duplicate_and_dismissed_balance(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid, operator="alice")
    ingest_json(store, batch, reading(REC, "S1", marked={"pos.director": ["P310012"]}),
                tiny_image(1))
    refused = ingest_json(store, batch, _unreadable("S2", "s2-jam.png"), tiny_image(2))
    lost = ingest_json(store, batch, _unreadable(None, "torn.png"), tiny_image(3))
    ledger = _ledger(store, mid)
    assert ledger.fed == 3 and ledger.states["counted"] == 1 and ledger.states["refused"] == 2
    by_id = {p.page_id: p for p in ledger.pages}
    assert by_id[refused.page_id].serial == "S2" and by_id[refused.page_id].code == "not_read"
    assert "corner" in by_id[refused.page_id].reason and by_id[refused.page_id].unresolved
    assert ledger.refused_serials() == {"S2"}  # it came back: not 未收回, but not counted yet
    result = meeting_results(store, mid).forms[0].result
    assert result.provisional and any(w.code == "pages_unresolved" and w.value == 2
                                      for w in result.warnings)

    again = open_batch(store, mid, operator="bob")  # the jammed sheet re-fed in a second batch
    ingest_json(store, again, reading(REC, "S2", marked={"pos.director": ["P310027"]}),
                tiny_image(4))
    ingest_json(store, again, reading(REC, "S1", source="s1-again.png"), tiny_image(5))
    ledger = _ledger(store, mid)
    by_id = {p.page_id: p for p in ledger.pages}
    assert by_id[refused.page_id].state == "duplicate" and by_id[refused.page_id].code == "refed"
    assert ledger.states == {"counted": 2, "duplicate": 2, "refused": 1, "dismissed": 0,
                             "manual": 0, "blank": 0}
    assert [r.fed for r in ledger.by_batch] == [3, 2]
    assert _provisional(store, mid)  # the torn page is still waiting

    with pytest.raises(ReviewError, match="reason"):
        decide(store, mid, f"{lost.page_id}:unreadable", "dismiss", who="alice")
    decide(store, mid, f"{lost.page_id}:unreadable", "dismiss", who="alice",
           why="sheet torn in half, both halves handed to the team")
    ledger = _ledger(store, mid)
    gone = next(p for p in ledger.pages if p.page_id == lost.page_id)
    assert (gone.state, gone.who, gone.unresolved) == ("dismissed", "alice", False)
    assert "torn" in gone.why and ledger.unresolved == 0
    assert not _provisional(store, mid)


@pytest.mark.parametrize("backend", BACKENDS)
def test_manual_entry_needs_a_second_login_and_then_counts(backend: str, tmp_path: Path) -> None:
    with any_store(backend, tmp_path) as store:
        _manual_entry(store)


def _manual_entry(store: Store) -> None:
    mid = new_meeting(store)
    live = LiveResults(store, mid)
    batch = open_batch(store, mid)
    page = ingest_json(store, batch, _unreadable("S7", "s7.png"), tiny_image(7)).page_id
    with store.session(readonly=True) as s:
        form = entry_form(s, mid, page)
    assert form.form_id == REC_ID and {"pos.director", "pos.deputy"} <= {
        f.id for f in form.fields}
    director = next(f for f in form.fields if f.id == "pos.director")
    assert ("P310012", "王建国") in director.options

    hand = HandMarks(REC_ID, "S7", 1, {"category": ["middle"], "pos.director": ["P310012"],
                                       "pos.deputy": ["writein1"]},
                     {"pos.deputy": {"writein1": "李四"}})
    with pytest.raises(ReviewError, match="reason"):
        enter(store, mid, page, hand, who="alice", why="")
    with pytest.raises(ReviewError, match="serial"):
        enter(store, mid, page, HandMarks(REC_ID, "S8", 1, {}), who="alice", why="wet")
    enter(store, mid, page, hand, who="alice", why="sheet soaked, the reader jams on it")
    ledger = _ledger(store, mid)
    entered = next(p for p in ledger.pages if p.page_id == page)
    assert (entered.state, entered.code, entered.unresolved) == (
        "manual", "awaiting_confirmation", True)
    with store.session(readonly=True) as s:
        assert load_ballots(s, mid) == []  # an entry counts only once confirmed
    assert _provisional(store, mid)
    assert live.refresh().forms[0].result.sha256 == \
        meeting_results(store, mid).forms[0].result.sha256

    with pytest.raises(ReviewError, match="second, different login"):
        confirm(store, mid, page, who="alice", why="checked")
    confirm(store, mid, page, who="bob", why="checked against the image")
    with pytest.raises(ReviewError, match="already confirmed"):
        confirm(store, mid, page, who="carol", why="again")
    ledger = _ledger(store, mid)
    done = next(p for p in ledger.pages if p.page_id == page)
    assert (done.state, done.unresolved, done.who) == ("manual", False, "alice / bob")
    with store.session(readonly=True) as s:
        [ballot] = load_ballots(s, mid)
        assert not audit.check_meeting(s, mid)
        actions = [e.action for e in s.scalars(audit.select(audit.AuditEntry).where(
            audit.AuditEntry.meeting_id == mid))]
    assert ballot.serial == "S7" and ballot.category == "middle"
    assert ballot.marks()["pos.director"] == ("P310012",)
    assert ballot.writeins == {"pos.deputy": {"writein1": "李四"}}
    assert {"manual.enter", "manual.confirm"} <= set(actions)
    result = meeting_results(store, mid).forms[0].result
    assert not result.provisional and result.reconciliation.returned == 1
    assert live.refresh().forms[0].result.sha256 == result.sha256  # the hall's figures too
    director_votes = next(c for p in result.recommendation.positions
                          for c in p.candidates if c.id == "P310012")
    assert director_votes.votes["_all"] == 1


def test_entry_of_a_sheet_refed_since_is_refused_and_the_scan_wins(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid)
    page = ingest_json(store, batch, _unreadable("S9", "s9.png"), tiny_image(9)).page_id
    enter(store, mid, page, HandMarks(REC_ID, "S9", 1, {"pos.director": ["P310027"]}),
          who="alice", why="cannot re-scan")
    ingest_json(store, batch, reading(REC, "S9", marked={"pos.director": ["P310012"]}),
                tiny_image(10))
    with pytest.raises(ReviewError, match="re-fed"):
        confirm(store, mid, page, who="bob", why="ok")
    ledger = _ledger(store, mid)
    assert next(p for p in ledger.pages if p.page_id == page).state == "duplicate"
    with store.session(readonly=True) as s:
        [ballot] = load_ballots(s, mid)
    assert ballot.marks()["pos.director"] == ("P310012",)


def test_cancellation_is_not_a_vote_and_needs_a_reason(store: Store) -> None:
    mid = new_meeting(store)
    page = ingest_json(store, open_batch(store, mid), reading(
        REC, "S1", marked={"pos.deputy": ["P310061"]},
        doubtful={"pos.director": ["P310012"]}), tiny_image(1)).page_id
    item = f"{page}:pos.director:P310012"
    with store.session(readonly=True) as s:
        queued = {i.id: i for i in review_queue(s, mid)}
    assert queued[item].choices == ("marked", "empty", "cancel")
    assert next(p for p in _ledger(store, mid).pages if p.page_id == page).unresolved
    with pytest.raises(ReviewError, match="reason"):
        decide(store, mid, item, "cancel", who="alice")
    with pytest.raises(ReviewError, match="reason"):  # counting a doubtful box changes it
        decide(store, mid, item, "marked", who="alice")
    d = decide(store, mid, item, "cancel", who="alice", why="涂改后划掉")
    assert d.kind == "cancel" and d.after["cancelled"] and not d.after["marked"]
    with store.session(readonly=True) as s:
        [ballot] = load_ballots(s, mid)
        assert not review_queue(s, mid)
    assert "pos.director" not in ballot.marks() or ballot.marks()["pos.director"] == ()
    result = meeting_results(store, mid).forms[0].result
    assert not result.provisional
    votes = {c.id: c.votes["_all"] for p in result.recommendation.positions
             for c in p.candidates}
    assert votes["P310012"] == 0 and votes["P310061"] == 1


def test_void_a_sheet_that_read_ok_and_find_it_by_serial(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid)
    ok = ingest_json(store, batch, reading(REC, "S5", marked={"pos.director": ["P310012"]}),
                     tiny_image(5)).page_id
    ingest_json(store, batch, reading(REC, "S5", source="again.png"), tiny_image(6))
    with pytest.raises(ReviewError, match="reason"):
        decide(store, mid, str(ok), "void", who="alice")
    decide(store, mid, str(ok), "void", who="alice", why="voter signed the sheet")
    result = meeting_results(store, mid).forms[0].result
    overall = next(r for r in result.reconciliation.rows if r.bucket == "_all")
    assert (overall.returned, overall.invalid, overall.valid) == (1, 1, 0)
    with store.session(readonly=True) as s:
        found = find_sheet(s, mid, "S5")
    assert [p.state for p in found.pages] == ["counted", "duplicate"]
    assert [(d.kind, d.who, d.why) for d in found.decisions] == [
        ("void", "alice", "voter signed the sheet")]
    with store.session(readonly=True) as s, pytest.raises(ValueError, match="no page"):
        find_sheet(s, mid, "NOPE")


def test_serials_issued_and_categories_per_form(store: Store) -> None:
    m = create_meeting(store, name="two", actor="t",
                       forms=[FormText.read(spec_path("recommendation")),
                              FormText.read(spec_path("evaluation"))],
                       serials_by_form={REC_ID: ["R1", "R2"], EVAL_ID: ["E1"]},
                       issued_by_form={REC_ID: 2, EVAL_ID: 1},
                       expected={"leader": 1})
    batch = open_batch(store, m.id)
    ingest_json(store, batch, reading(REC, "R1", marked={"category": ["leader"]}), tiny_image(1))
    ingest_json(store, batch, reading(REC, "R2", marked={"category": ["leader"]}), tiny_image(2))
    wrong = ingest_json(store, batch, reading(EVAL, "R1"), tiny_image(3))
    assert wrong.outcome == "refused" and wrong.page_id is not None
    ledger = _ledger(store, m.id)
    page = next(p for p in ledger.pages if p.page_id == wrong.page_id)
    assert (page.state, page.code, page.form_id) == ("refused", SERIAL_OTHER_FORM, EVAL_ID)
    assert f"{REC_ID!r}" in page.reason
    results = {f.form_id: f.result for f in meeting_results(store, m.id).forms}
    assert results[REC_ID].reconciliation.issued == 2
    assert results[EVAL_ID].reconciliation.issued == 1
    assert results[EVAL_ID].reconciliation.returned == 0 and results[EVAL_ID].provisional
    assert not results[REC_ID].provisional
    over = [w for w in results[REC_ID].warnings if w.code == "present_exceeds_expected"]
    assert [(w.bucket, w.value, w.threshold) for w in over] == [("leader", 2, 1)]
    decide(store, m.id, f"{wrong.page_id}:refused", "dismiss", who="t", why="photocopy")
    assert not meeting_results(store, m.id).forms[1].result.provisional


def test_a_batch_without_its_category_is_warned(store: Store, tmp_path: Path) -> None:
    text = spec_path("recommendation").read_text(encoding="utf-8").replace(
        "mode: sheet", "mode: batch")
    m = create_meeting(store, name="batchcat", actor="t",
                       forms=[FormText(text, "rec-batch.yaml")])
    from forms.layout import compile_layout
    from forms.layout_json import layout_to_dict
    from forms.load import parse_spec

    layout = layout_to_dict(compile_layout(parse_spec(text, "rec-batch.yaml")))
    ingest_json(store, open_batch(store, m.id, category="middle"),
                reading(layout, "B1", marked={"pos.director": ["P310012"]}), tiny_image(1))
    result = meeting_results(store, m.id).forms[0].result
    assert not [w for w in result.warnings if w.code == "batch_without_category"]
    ingest_json(store, open_batch(store, m.id),
                reading(layout, "B2", marked={"pos.director": ["P310012"]}), tiny_image(2))
    result = meeting_results(store, m.id).forms[0].result
    [warning] = [w for w in result.warnings if w.code == "batch_without_category"]
    assert warning.value == 1 and "类别" in warning.message


def _pdf_text(content: bytes) -> str:
    import re

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(content)
    return re.sub(r"\s+", "", "".join(doc[i].get_textpage().get_text_range()
                                      for i in range(len(doc))))


def test_the_report_shows_a_refused_sheet_until_it_is_resolved(store: Store) -> None:
    import io

    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    from forms.fonts import register_font
    from tally.report.ledger import ledger_section
    from tally.report.meeting import meeting_report
    from tally.review.crops import render_crop

    mid = new_meeting(store)
    batch = open_batch(store, mid, operator="alice")
    ingest_json(store, batch, reading(REC, "S1", marked={"pos.director": ["P310012"]}),
                tiny_image(1))
    torn = ingest_json(store, batch, _unreadable("S2", "s2-jam.png"), tiny_image(2)).page_id
    # nothing waits in review: only the refused page makes the figures provisional
    _, pdf = meeting_report(store, mid, "pdf", operator="alice")
    assert "临时结果" in _pdf_text(pdf)

    register_font()
    with store.session(readonly=True) as s:
        ledger = meeting_ledger(s, mid)
        crop = render_crop(store, s, torn, None)
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=(210 * mm, 297 * mm)).build(
        ledger_section(ledger, crops={torn: crop}))
    text = _pdf_text(buf.getvalue())
    assert "选票台账" in text and "送入2页" in text and "拒收待处理" in text and "S2" in text
    assert "临时结果" in text and "s2-jam.png" in text

    decide(store, mid, f"{torn}:unreadable", "dismiss", who="alice", why="voter took it back")
    _, pdf = meeting_report(store, mid, "pdf", operator="alice")
    assert "临时结果" not in _pdf_text(pdf)


def test_a_page_whose_code_was_not_read_is_entered_as_the_form_chosen(store: Store) -> None:
    m = create_meeting(store, name="nocode", actor="t",
                       forms=[FormText.read(spec_path("recommendation")),
                              FormText.read(spec_path("evaluation"))],
                       serials_by_form={REC_ID: ["R1"], EVAL_ID: ["E1"]})
    doc = _unreadable(None, "no-code.png")
    doc["form"], doc["page"] = None, None
    page = ingest_json(store, open_batch(store, m.id), doc, tiny_image(1)).page_id
    with store.session(readonly=True) as s:
        assert entry_form(s, m.id, page).form_id == REC_ID  # the first form by default
        chosen = entry_form(s, m.id, page, form_id=EVAL_ID)
    assert chosen.form_id == EVAL_ID and any(f.id.startswith("leader.") for f in chosen.fields)
    with pytest.raises(ReviewError, match="printed on form"):
        enter(store, m.id, page, HandMarks(EVAL_ID, "R1", 1, {}), who="a", why="no code")
    enter(store, m.id, page, HandMarks(EVAL_ID, "E1", 1, {"category": ["staff"]}),
          who="a", why="QR code torn off")
    confirm(store, m.id, page, who="b", why="checked")
    ledger = _ledger(store, m.id)
    [row] = [r for r in ledger.by_form if r.key == EVAL_ID]
    assert (row.fed, row.states["manual"], row.unresolved) == (1, 1, 0)
    assert meeting_results(store, m.id).forms[1].result.reconciliation.returned == 1
