"""The review queue names people by identity (a doubtful mark on one of two 张伟 says which),
and the review page suggests the write-in names already typed in the meeting (login only)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from tally.db import AuditEntry
from tally.ingest import close_batch, ingest_json, open_batch
from tally.meetings import FormText, create_meeting
from tally.review.decisions import decide, writein_names
from tally.review.queue import review_queue
from tally.store import open_store
from tests.server_helpers import add_users, client_for
from tests.tally_helpers import reading, tiny_image

REC = Path("tests/specs/people/recommendation.yaml")


def test_namesakes_at_review_and_write_in_suggestions(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = create_meeting(store, name="同名复核", forms=[FormText.read(REC)], actor="t").id
    layout = layout_to_dict(compile_layout(load_spec(REC)))
    batch = open_batch(store, mid, operator="t")
    docs = [reading(layout, "S0001", marked={"category": ["staff"]},
                    doubtful={"pos.deputy": ["P410011"]}),
            reading(layout, "S0002", marked={"category": ["staff"], "pos.deputy": ["writein1"]},
                    doubtful={"pos.director": ["P410001"]}),
            reading(layout, "S0003", marked={"category": ["staff"], "pos.deputy": ["writein1"]},
                    doubtful={"pos.director": ["P410001"]})]
    pages = [ingest_json(store, batch, d, tiny_image(n, "people")).page_id
             for n, d in enumerate(docs)]
    with store.session(readonly=True) as s:
        labels = {i.id: i.label for i in review_queue(s, mid)}
    assert labels[f"{pages[0]}:pos.deputy:P410011"].endswith("张伟（规划科副科长）")
    assert labels[f"{pages[1]}:pos.director:P410001"].endswith("张伟（办公室副主任）")
    for p, name in ((pages[1], "欧阳锋"), (pages[2], "欧阳锋")):
        decide(store, mid, f"{p}:pos.deputy:writein1", "writein", who="operator", why="照图",
               text=name)
    with store.session(readonly=True) as s:
        assert writein_names(s, mid) == ["欧阳锋"]
    with client_for(store, "operator") as (client, _):
        page = client.get(f"/meetings/{mid}/review").text
        assert '<datalist id="writein-names"><option value="欧阳锋"></datalist>' in page
        assert "张伟（规划科副科长）" in page
        entry = client.get(f"/meetings/{mid}/pages/{pages[0]}/enter").text  # keying by hand
        assert 'list="writein-names"' in entry and '<option value="欧阳锋">' in entry
    with client_for(store) as (anonymous, _):
        r = anonymous.get(f"/meetings/{mid}/review", follow_redirects=False)
        assert r.status_code in (303, 401) and "欧阳锋" not in r.text
    store.close()


def test_an_admin_ends_test_mode_from_the_console(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    mid = create_meeting(store, name="测试阶段", forms=[FormText.read(REC)], actor="t",
                         test_mode=True).id
    layout = layout_to_dict(compile_layout(load_spec(REC)))
    batch = open_batch(store, mid, operator="t")
    ingest_json(store, batch, reading(layout, "S0001", marked={"category": ["staff"]}),
                tiny_image(1, "tm"))
    close_batch(store, batch)
    with client_for(store, "operator") as (client, csrf):
        assert 'id="go-official"' not in client.get(f"/meetings/{mid}").text  # admins only
        r = client.post(f"/meetings/{mid}/official", data={"csrf_token": csrf, "why": "x"})
        assert r.status_code == 403
    with client_for(store, "admin") as (client, csrf):
        assert 'id="go-official"' in client.get(f"/meetings/{mid}").text
        r = client.post(f"/meetings/{mid}/official", data={"csrf_token": csrf, "why": ""})
        assert r.status_code == 422  # the reason is required
        r = client.post(f"/meetings/{mid}/official", data={"csrf_token": csrf,
                                                           "why": "测试票核对无误"},
                        follow_redirects=False)
        assert r.status_code == 303
        page = client.get(f"/meetings/{mid}").text
        assert 'id="test-mode"' not in page and 'id="go-official"' not in page
        ledger = client.get(f"/meetings/{mid}/ledger.json").json()
        assert ledger["fed"] == 0  # the test sheet went with the test phase
    with store.session(readonly=True) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == mid,
                                                          AuditEntry.action == "meeting.official")))
    assert len(entries) == 1 and entries[0].actor == "admin"
    store.close()
