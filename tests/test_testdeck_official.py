"""Test mode in the store: the migration leaves existing meetings official, going official
clears decisions and write-ins too and keeps `verify` whole (but still finds a row deleted by
hand), an open batch holds it back, test sheets are refused afterwards on every ingest path,
and the hall and the console say 测试模式 only while it lasts."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, delete, select, text

from tally.db import Decision, Meeting, Page
from tally.ingest import close_batch, ingest_json, open_batch
from tally.meetings import FormText, MeetingError, create_meeting
from tally.recount import verify
from tally.review.decisions import decide
from tally.review.queue import review_queue
from tally.store import MIGRATIONS_DIR, SQLITE_FILENAME, Store, open_store
from tally.testmode import deck_serials, go_official
from tests.server_helpers import add_users, client_for
from tests.tally_helpers import layout_of, new_meeting, reading, spec_path, tiny_image

REC = layout_of("recommendation")


def _feed(store: Store, mid: int, serials: list[str], salt: str,
          marks: dict[str, list[str]] | None = None) -> list[str]:
    batch = open_batch(store, mid, operator="tester")
    outcomes = []
    for n, serial in enumerate(serials):
        doc = reading(REC, serial, marked=marks or {"pos.director": ["P310012"],
                                                    "category": ["leader"]})
        outcomes.append(ingest_json(store, batch, doc, tiny_image(n, salt)).outcome)
    close_batch(store, batch)
    return outcomes


def _verified(store: Store, mid: int) -> list[str]:
    with store.session(readonly=True) as s:
        return [str(p) for p in verify(store, s, mid).problems]


def test_meetings_made_before_the_migration_stay_official(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / SQLITE_FILENAME}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004_cadre")  # the revision before test mode
        conn.execute(text("INSERT INTO meetings (id, name, unit, expected, present, "
                          "serials_recorded, settings, created_at) VALUES (1, 'old', '', "
                          "'{}', '{}', 0, '{}', '2026-01-01')"))
    engine.dispose()
    with open_store(tmp_path) as store:  # migrates to head
        mid = new_meeting(store, "new", test_mode=True)
        with store.session(readonly=True) as s:
            assert s.get(Meeting, 1).test_mode is False
            assert s.get(Meeting, mid).test_mode is True


def test_going_official_clears_decisions_and_writeins_and_verify_stays_whole(
        tmp_path: Path) -> None:
    with open_store(tmp_path / "d") as store:
        mid = new_meeting(store, "m", test_mode=True)
        _feed(store, mid, deck_serials(3), "test")
        marks = {"pos.deputy": ["writein1"], "category": ["middle"]}
        _feed(store, mid, ["REAL000001"], "real-in-test", marks)  # any sheet of the phase
        with store.session(readonly=True) as s:
            item = next(i for i in review_queue(s, mid) if i.option == "writein1")
        decide(store, mid, item.id, "writein", who="reviewer", text="张三")
        assert _verified(store, mid) == []

        report = go_official(store, mid, actor="leader", why="deck matched")
        assert (report.pages, report.decisions, report.writeins, report.batches) == (4, 1, 1, 2)
        assert report.images_deleted == 4 and report.deck_check is None
        with store.session(readonly=True) as s:
            assert s.scalars(select(Decision).where(Decision.meeting_id == mid)).all() == []
            assert s.scalars(select(Page).where(Page.meeting_id == mid)).all() == []
        assert _verified(store, mid) == []
        with pytest.raises(MeetingError, match="official already"):
            go_official(store, mid, actor="leader")

        # the real count: real sheets count, test sheets are refused and kept uncounted
        assert _feed(store, mid, ["REAL000002", "REAL000003"], "real") == ["ok", "ok"]
        assert _feed(store, mid, deck_serials(1), "late") == ["refused"]
        with store.session(readonly=True) as s:
            states = {p.serial: p.state for p in s.scalars(select(Page))}
        assert states == {"REAL000002": "counted", "REAL000003": "counted",
                          "TD00001": "uncounted"}
        assert _verified(store, mid) == []
        with store.transaction() as s:  # a row deleted by hand is still found
            s.execute(delete(Page).where(Page.serial == "REAL000003"))
        assert any("deleted" in p for p in _verified(store, mid))


def test_an_open_batch_holds_going_official_back(tmp_path: Path) -> None:
    with open_store(tmp_path / "d") as store:
        mid = new_meeting(store, "m", test_mode=True)
        batch = open_batch(store, mid, station="hall-1", operator="op")
        with pytest.raises(MeetingError, match="still being fed"):
            go_official(store, mid, actor="leader")
        assert go_official(store, mid, actor="leader", force=True).batches == 1
        # the batch that was open is gone: a test sheet through it is refused, not stored
        doc = reading(REC, "TD00001", marked={"pos.director": ["P310012"]})
        assert ingest_json(store, batch, doc, tiny_image(1, "x")).outcome == "refused"


def test_the_hall_and_the_console_say_test_mode_while_it_lasts(tmp_path: Path) -> None:
    with open_store(tmp_path / "d") as store:
        add_users(store)
        mid = create_meeting(store, name="hall", actor="t", test_mode=True,
                             forms=[FormText.read(spec_path("satisfaction"))]).id
        with client_for(store, "observer") as (c, _):
            assert "测试模式" in c.get(f"/hall/{mid}").text
            assert "测试模式" in c.get(f"/meetings/{mid}").text
        go_official(store, mid, actor="leader")
        with client_for(store, "observer") as (c, _):
            assert "测试模式" not in c.get(f"/hall/{mid}").text
            assert "测试模式" not in c.get(f"/meetings/{mid}").text


def test_a_deck_joins_a_recorded_printed_set_and_leaves_it_on_going_official(
        tmp_path: Path) -> None:
    from tally.meetings import printed_serials
    from tally.testdeck.make import make_deck, record_deck

    with open_store(tmp_path / "d") as store:
        mid = new_meeting(store, "m", test_mode=True, serials=["REALAAAAAA", "REALBBBBBB"])
        made = make_deck(store, mid, actor="printer")
        assert made.pdf.startswith(b"%PDF") and made.deck.sheets == 13
        assert record_deck(store, mid, made.deck, actor="printer") == 13
        with store.session(readonly=True) as s:
            assert len(printed_serials(s, mid) or ()) == 15
        # deck sheets are known sheets of the meeting, not forgeries held for review
        assert _feed(store, mid, deck_serials(2), "deck") == ["ok", "ok"]
        assert go_official(store, mid, actor="leader").test_serials == 13
        with store.session(readonly=True) as s:
            assert printed_serials(s, mid) == {"REALAAAAAA", "REALBBBBBB"}
        assert _verified(store, mid) == []
        with pytest.raises(MeetingError, match="is official"):
            make_deck(store, mid, actor="printer")
