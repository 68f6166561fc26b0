"""Test mode marks what leaves the hall: a test-mode meeting's xlsx opens on a 测试模式 sheet
(and says it on every 说明 sheet and as the workbook's title), its CSV files are named and
headed 测试模式, the report file names carry it; once official, none of it. Test-range serials
never count in an official meeting: a printed set holding one is refused, and a test sheet
cannot be keyed in by hand there either."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tally.db import Page
from tally.ingest import close_batch, ingest_json, open_batch
from tally.manual import HandMarks, enter
from tally.meetings import MeetingError, update_meeting
from tally.report.meeting import meeting_report
from tally.review.errors import ReviewError
from tally.store import Store, open_store
from tally.testmode import BANNER, BANNER_LINE, deck_serials, go_official
from tests.tally_helpers import layout_of, new_meeting, reading, tiny_image

REC = layout_of("recommendation")
MARKS = {"pos.director": ["P310012"], "category": ["leader"]}


def _feed(store: Store, mid: int, serials: list[str], salt: str) -> list[str]:
    batch = open_batch(store, mid, operator="tester")
    out = [ingest_json(store, batch, reading(REC, x, marked=MARKS), tiny_image(n, salt)).outcome
           for n, x in enumerate(serials)]
    close_batch(store, batch)
    return out


def _exports(store: Store, mid: int) -> tuple[str, bytes, str, bytes]:
    xname, xlsx = meeting_report(store, mid, "xlsx")
    cname, zipped = meeting_report(store, mid, "csv")
    return xname, xlsx, cname, zipped


def test_test_mode_exports_say_so_and_official_ones_do_not(tmp_path: Path) -> None:
    with open_store(tmp_path / "data") as store:
        mid = new_meeting(store, "演练", test_mode=True)
        assert _feed(store, mid, deck_serials(3), "t") == ["ok"] * 3
        xname, xlsx, cname, zipped = _exports(store, mid)
        assert xname.startswith(f"{BANNER}-") and cname.startswith(f"{BANNER}-")
        wb = load_workbook(io.BytesIO(xlsx))
        assert wb.sheetnames[0] == BANNER and wb.properties.title == BANNER_LINE
        assert wb[BANNER]["A1"].value == BANNER_LINE
        notes = wb["说明"]
        assert (notes["A1"].value, notes["B1"].value) == (BANNER, BANNER_LINE)
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            names = z.namelist()
            assert names and all(n.split("/")[-1].startswith(f"{BANNER}-") for n in names)
            tables = [list(csv.reader(io.StringIO(z.read(n).decode("utf-8-sig"))))
                      for n in names]
            assert all(rows[0] == [BANNER_LINE] and len(rows) >= 2 for rows in tables)
            assert any(len(rows) > 2 for rows in tables)  # the header, then figures

        go_official(store, mid, actor="张监票", why="deck matched")
        _feed(store, mid, ["A2B3C4", "D5E6F7"], "o")
        xname, xlsx, cname, zipped = _exports(store, mid)
        assert BANNER not in xname and BANNER not in cname
        wb = load_workbook(io.BytesIO(xlsx))
        assert BANNER not in wb.sheetnames and wb.properties.title != BANNER_LINE
        assert wb["说明"]["A1"].value != BANNER
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            for n in z.namelist():
                assert BANNER not in n
                first = next(csv.reader(io.StringIO(z.read(n).decode("utf-8-sig"))))
                assert first != [BANNER_LINE]


def test_an_official_printed_set_refuses_test_serials(tmp_path: Path) -> None:
    with open_store(tmp_path / "data") as store:
        trial = new_meeting(store, "演练", test_mode=True)  # a deck's serials are fine there
        update_meeting(store, trial, actor="tester", add_serials=["A2B3C4", *deck_serials(2)])
        with pytest.raises(MeetingError, match=r"'TD00001' \(2 in all\) is of the test-deck"):
            new_meeting(store, "正式", serials=["A2B3C4", *deck_serials(2)])
        mid = new_meeting(store, "正式", serials=["A2B3C4"])
        with pytest.raises(MeetingError, match="test-deck range"):
            update_meeting(store, mid, actor="tester", add_serials=["D5E6F7", "TD00009"])


def test_a_test_sheet_cannot_be_keyed_in_by_hand_in_an_official_meeting(tmp_path: Path
                                                                         ) -> None:
    with open_store(tmp_path / "data") as store:
        mid = new_meeting(store, "正式")  # official, no printed set recorded
        assert _feed(store, mid, ["TD00001"], "x") == ["refused"]  # test_sheet, uncounted
        with store.session(readonly=True) as s:
            page = s.scalars(select(Page).where(Page.meeting_id == mid)).one()
        assert page.state == "uncounted"
        hand = HandMarks(form_id=page.form_id or "", serial="TD00001", page_no=1,
                         marks=MARKS)
        with pytest.raises(ReviewError, match="test-deck serial and this meeting is official"):
            enter(store, mid, page.id, hand, who="李录入", why="code smudged")
