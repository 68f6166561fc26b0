"""tally.readings: a stored reading parsed once, at the store's edge, into the typed view the
ballots and the review queue read; the decoded JSON is not kept on the rows."""

from __future__ import annotations

from sqlalchemy import inspect

from omr.reading import Reading
from tally.ingest import ingest_json, open_batch
from tally.readings import (
    StoredPage,
    StoredReading,
    counted_pages,
    full_readings,
    reason_codes,
    stored_pages,
)
from tally.store import Store
from tests.tally_helpers import layout_of, new_meeting, reading, tiny_image

REC = layout_of("recommendation")


def test_parse_reads_marks_ink_and_code_as_the_json_says() -> None:
    doc = reading(REC, "S1", marked={"pos.deputy": ["writein1"]},
                  doubtful={"pos.director": ["P310012"]}, status="review")
    doc["writein_ink"] = ["pos.chief.writein1"]
    doc["reason_code"] = "doubtful_marks"
    r = StoredReading.parse(doc)
    assert r.marked["pos.deputy"] == ("writein1",) and r.doubtful["pos.deputy"] == ()
    assert r.doubtful["pos.director"] == ("P310012",) and r.marked["pos.director"] == ()
    assert set(r.marked) == set(r.doubtful) == set(doc["marks"])
    assert r.writein_ink == ("pos.chief.writein1",) and r.reason_code == "doubtful_marks"
    assert r.has_doubtful
    bare = StoredReading.parse({"marks": {"f": {"marked": ["a"]}}})  # a key missing: empty
    assert bare == StoredReading({"f": ("a",)}, {"f": ()})
    assert not bare.has_doubtful and bare.reason_code is None


def test_a_meetings_pages_come_typed_without_their_json(store: Store) -> None:
    mid = new_meeting(store)
    batch = open_batch(store, mid)
    docs = [reading(REC, "S1", marked={"pos.deputy": ["writein1"]}),
            reading(REC, "S2", doubtful={"pos.director": ["P310012"]}, status="review")]
    ids = [ingest_json(store, batch, d, tiny_image(n)).page_id for n, d in enumerate(docs)]
    refused = ingest_json(store, batch, {**reading(REC, None), "status": "unreadable",
                                         "reason": "no code", "reason_code": "not_read",
                                         "form": None, "page": None}, tiny_image(9))
    with store.session(readonly=True) as s:
        pages = counted_pages(s, mid)
        assert [p.row.id for p in pages] == ids
        for p, doc in zip(pages, docs, strict=True):
            assert {"reading", "page_to_image"} <= inspect(p.row).unloaded
            # what ingest stored: the reading as parsed, written back (its default code added)
            assert p.reading == StoredReading.parse(Reading.from_dict(doc).to_dict())
        assert pages[1].reading.doubtful["pos.director"] == ("P310012",)
        assert pages[1].reading.reason_code == "doubtful_marks"
        assert pages[0].reading.marked["pos.deputy"] == ("writein1",)
        by_id = stored_pages(s, [ids[1], 10**9])
        assert list(by_id) == [ids[1]] and by_id[ids[1]].reading == pages[1].reading
        assert StoredPage.of(s.get_one(type(pages[0].row), ids[0])).reading == pages[0].reading
        full = full_readings(s, ids)
        assert set(full) == set(ids) and isinstance(full[ids[1]], Reading)
        assert full[ids[1]].scores["pos.director"]["P310012"] == 0.4
        assert full[ids[1]].marks["pos.director"].doubtful == ["P310012"]
        assert refused.page_id is not None
        codes = reason_codes(s, mid, [refused.page_id, ids[0]])
        assert codes == {refused.page_id: "not_read", ids[0]: "ok"}
        assert reason_codes(s, mid + 1, [refused.page_id]) == {}  # another meeting's page
