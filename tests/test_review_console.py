"""The console's ledger, manual entry (entered by one login, confirmed by another), the sheet
found by serial and voided, the 涂改作废 choice, 发出 per form, and the hall's 待处理 count
(FastAPI TestClient against a real SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.hall import hall_aggregate
from tally.ballots import load_ballots
from tally.db import Meeting
from tally.results import meeting_results
from tally.store import Store, open_store
from tests.server_helpers import (
    add_users,
    client_for,
    ingest_readings,
    layout_of,
    new_meeting,
    reading,
)

REC = layout_of("recommendation")
REC_ID = REC["form"]["id"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, int, dict[str, int]]]:
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = new_meeting(store, "m1")
    torn = reading(REC, "S2", status="unreadable", source="s2-torn.png",
                   reason="two corner marks cut off")
    torn["marks"], torn["scores"] = {}, {}
    results = ingest_readings(store, mid, [
        reading(REC, "S1", marked={"pos.director": ["P310012"]}, source="s1.png"), torn,
        reading(REC, "S3", doubtful={"pos.director": ["P310027"]}, source="s3.png")])
    yield store, mid, {"S1": results[0].page_id, "S2": results[1].page_id,
                       "S3": results[2].page_id}
    store.close()


def test_ledger_manual_entry_and_confirmation_by_another_login(world) -> None:  # type: ignore[no-untyped-def]
    store, mid, pages = world
    with client_for(store, "operator") as (c, csrf):
        page = c.get(f"/meetings/{mid}")
        assert page.status_code == 200
        assert "选票台账" in page.text and "临时结果" in page.text and "s2-torn.png" in page.text
        assert f'data-enter="{pages["S2"]}"' in page.text
        ledger = c.get(f"/meetings/{mid}/ledger.json").json()
        assert ledger["fed"] == 3 and ledger["balanced"] and ledger["states"]["refused"] == 1
        assert hall_aggregate(meeting_results(store, mid)).pending == 2  # refused + review

        form = c.get(f"/meetings/{mid}/pages/{pages['S2']}/enter")
        assert form.status_code == 200 and 'name="mark:pos.director"' in form.text
        assert f"/meetings/{mid}/pages/{pages['S2']}/crop.png" in form.text
        post = {"csrf_token": csrf, "form": REC_ID, "page": "1", "serial": "S2",
                "mark:pos.director": "P310031", "mark:category": "leader"}
        refused = c.post(f"/meetings/{mid}/pages/{pages['S2']}/enter", data=post)
        assert refused.status_code == 400 and "手工录入必须填写原因" in refused.text
        r = c.post(f"/meetings/{mid}/pages/{pages['S2']}/enter",
                   data={**post, "why": "sheet torn, the reader refuses it"},
                   follow_redirects=False)
        assert r.status_code == 303
        shown = c.get(f"/meetings/{mid}/pages/{pages['S2']}/enter").text
        assert "待确认" in shown and 'id="confirm-hint"' in shown  # not for the same login
        same = c.post(f"/meetings/{mid}/pages/{pages['S2']}/confirm",
                      data={"csrf_token": csrf, "why": "ok"})
        assert same.status_code == 400 and "须由另一名用户登录" in same.text
    with store.session(readonly=True) as s:
        assert [b.serial for b in load_ballots(s, mid)] == ["S1", "S3"]

    with client_for(store, "admin") as (c, csrf):
        shown = c.get(f"/meetings/{mid}/pages/{pages['S2']}/enter").text
        assert 'id="confirm-form"' in shown
        r = c.post(f"/meetings/{mid}/pages/{pages['S2']}/confirm",
                   data={"csrf_token": csrf, "why": "checked against the image"},
                   follow_redirects=False)
        assert r.status_code == 303
        shown = c.get(f"/meetings/{mid}/pages/{pages['S2']}/enter").text
        assert "已确认" in shown and ">admin<" in shown and ">operator<" in shown
        ledger = c.get(f"/meetings/{mid}/ledger.json").json()
        assert ledger["states"]["manual"] == 1 and ledger["unresolved"] == 1  # S3 in review
    with store.session(readonly=True) as s:
        serials = sorted(b.serial for b in load_ballots(s, mid))
    assert serials == ["S1", "S2", "S3"]


def test_find_void_cancel_and_issued_per_form(world) -> None:  # type: ignore[no-untyped-def]
    store, mid, pages = world
    with client_for(store, "operator") as (c, csrf):
        review = c.get(f"/meetings/{mid}/review").text
        assert 'value="cancel"' in review and "涂改作废" in review and 'id="find-form"' in review
        assert "None 页码" not in review
        found = c.get(f"/meetings/{mid}/find", params={"serial": "S1"})
        assert found.status_code == 200 and 'id="sheet-pages"' in found.text
        assert 'id="void-form"' in found.text
        assert c.get(f"/meetings/{mid}/find", params={"serial": "NOPE"}).status_code == 404
        no_reason = c.post(f"/meetings/{mid}/pages/{pages['S1']}/void",
                           data={"csrf_token": csrf, "kind": "void", "serial": "S1"})
        assert no_reason.status_code == 400
        r = c.post(f"/meetings/{mid}/pages/{pages['S1']}/void",
                   data={"csrf_token": csrf, "kind": "void", "serial": "S1",
                         "why": "the voter signed it"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("serial=S1")
        found = c.get(f"/meetings/{mid}/find", params={"serial": "S1"}).text
        assert "the voter signed it" in found and ">operator<" in found
        item = f"{pages['S3']}:pos.director:P310027"
        r = c.post(f"/api/meetings/{mid}/review/{item}", headers={"X-CSRF-Token": csrf},
                   json={"kind": "cancel", "why": "涂改后划掉"})
        assert r.status_code == 200 and r.json()["after"]["cancelled"]
        r = c.post(f"/meetings/{mid}/facts", data={"csrf_token": csrf,
                                                   "issued": f"{REC_ID}=7"},
                   follow_redirects=False)
        assert r.status_code == 303
    with store.session(readonly=True) as s:
        assert s.get(Meeting, mid).issued_by_form == {REC_ID: 7}
        ballots = {b.serial: b for b in load_ballots(s, mid)}
    assert ballots["S1"].void and ballots["S1"].void_reason == "the voter signed it"
    assert not ballots["S3"].marks().get("pos.director")
    result = meeting_results(store, mid).forms[0].result
    assert result.reconciliation.issued == 7 and result.provisional  # S2 still refused
