"""The JSON API: meetings, facts, figures, review decisions, station batches, hall tokens — and
schemathesis against the OpenAPI spec (logged in, with the CSRF header): no 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tally import audit
from tally.store import Store, open_store
from tests.server_helpers import (
    add_users,
    app_for,
    client_for,
    layout_of,
    login,
    new_meeting,
    reading,
    tiny_image,
)

EXAMPLES_PER_OPERATION = 20
#: streams never end, and logging out mid-run would log the fuzzer out
SKIP = {("GET", "/api/meetings/{meeting_id}/events"), ("GET", "/hall/{meeting_id}/events"),
        ("POST", "/logout"), ("POST", "/login")}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "data")
    add_users(s)
    yield s
    s.close()


def test_meeting_lifecycle_through_the_api(store: Store) -> None:
    spec = Path("examples/recommendation.yaml").read_text(encoding="utf-8")
    with client_for(store, "operator") as (c, csrf):
        h = {"X-CSRF-Token": csrf}
        bad = c.post("/api/meetings", headers=h, json={
            "name": "x", "forms": [{"yaml": spec.replace("kind: recommendation", "kind: vote"),
                                    "source": "rec.yaml"}]})
        assert bad.status_code == 400
        assert "rec.yaml" in bad.json()["detail"] and "field 'kind'" in bad.json()["detail"]
        r = c.post("/api/meetings", headers=h, json={
            "name": "推荐会", "forms": [{"yaml": spec}], "expected": {"staff": 3}, "issued": 2})
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        assert r.json()["forms"][0]["id"] == "jt2026-rec"
        # a station reads sheets itself and sends readings + images
        batch = c.post(f"/api/meetings/{mid}/batches", headers=h,
                       json={"station": "s2", "device": "fi-7160"}).json()
        pages = f"/api/meetings/{mid}/batches/{batch['batch_id']}/pages"
        rec = layout_of("recommendation")
        outcomes = []
        for k, doc in enumerate([
                reading(rec, "A1", marked={"category": ["staff"], "pos.director": ["P310031"]}),
                reading(rec, "A2", marked={"category": ["staff"], "pos.director": ["writein1"]}),
                reading(rec, "A3", marked={"category": ["staff"]}),
                reading(rec, "A1", marked={"category": ["staff"]})]):
            r = c.post(pages, headers=h, data={"reading": json.dumps(doc)},
                       files={"image": ("p.png", tiny_image(k, "api"), "image/png")})
            outcomes.append(r.json()["outcome"])
        assert outcomes == ["ok", "ok", "ok", "duplicate"]
        r = c.post(pages, headers=h, data={"reading": json.dumps({"status": "weird"})},
                   files={"image": ("p.png", tiny_image(9, "api"), "image/png")})
        assert r.status_code == 422 and "weird" in r.json()["detail"]
        assert c.post(f"/api/meetings/{mid}/batches/{batch['batch_id']}/close",
                      headers=h).json()["state"] == "done"
        # more sheets back than issued: the alarm is in the figures and on the page
        tally = c.get(f"/api/meetings/{mid}/tally").json()[0]
        assert tally["reconciliation"]["vote_void"] is True
        page = c.get(f"/meetings/{mid}", headers={"Accept": "text/html"}).text
        assert 'data-alarm="vote_void"' in page and "本次投票无效" in page
        assert c.patch(f"/api/meetings/{mid}/facts", headers=h,
                       json={"issued": 5}).json()["issued"] == 5
        assert c.get(f"/api/meetings/{mid}/tally").json()[0]["reconciliation"]["vote_void"] \
            is False
        # the write-in is decided in review, signed by the logged-in user
        items = c.get(f"/api/meetings/{mid}/review").json()
        writein = next(i for i in items if i["kind"] == "writein")
        assert writein["crops"] and writein["crops"][0]["url"].startswith(f"/meetings/{mid}/")
        png = c.get(writein["crops"][0]["url"])
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        r = c.post(f"/api/meetings/{mid}/review/{writein['id']}", headers=h,
                   json={"kind": "writein", "text": "欧阳锋", "why": "照图像录入"})
        assert r.status_code == 200 and r.json()["who"] == "operator"
        r = c.post(f"/api/meetings/{mid}/review/{writein['id'].split(':')[0]}", headers=h,
                   json={"kind": "void"})
        assert r.status_code == 400 and "必须填写原因" in r.json()["detail"]  # zh-CN default
        # downloads
        for fmt, magic in (("pdf", b"%PDF"), ("xlsx", b"PK"), ("csv", b"PK")):
            r = c.get(f"/meetings/{mid}/report.{fmt}")
            assert r.status_code == 200 and r.content.startswith(magic), fmt
            assert "attachment" in r.headers["content-disposition"]
        r = c.post(f"/meetings/{mid}/forms/jt2026-rec/ballots", data={"copies": "3",
                                                                      "csrf_token": csrf})
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        token = c.post(f"/api/meetings/{mid}/tokens", headers=h, json={"label": "大屏"}).json()
        assert token["url"].endswith(f"/hall/{mid}?token={token['token']}")
    with store.session(readonly=True) as s:
        assert audit.check_meeting(s, mid) == []
        m = s.get(__import__("tally.db", fromlist=["Meeting"]).Meeting, mid)
        assert m.serials_recorded  # the 3 printed serials were recorded
        actions = [e.action for e in s.scalars(
            __import__("sqlalchemy").select(audit.AuditEntry)
            .where(audit.AuditEntry.meeting_id == mid).order_by(audit.AuditEntry.seq))]
    assert actions[0] == "meeting.create" and "review.decide" in actions
    assert actions.count("meeting.update") == 2 and actions[-1] == "display_token.create"


def test_the_api_answers_no_5xx_to_generated_requests(store: Store) -> None:
    new_meeting(store, "m1")
    app = app_for(store)
    with TestClient(app) as c:
        csrf = login(c, "admin")
        cookie = c.cookies.get("scantally_session")
    headers = {"X-CSRF-Token": csrf, "Cookie": f"scantally_session={cookie}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP:
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.text[:300]}")

        run()
    assert calls > 200
    assert failures == []


@pytest.mark.postgres
def test_the_console_runs_on_postgresql(tmp_path: Path) -> None:
    from tests.tally_helpers import pg_schema, pg_unreachable

    if (why := pg_unreachable()) is not None:
        pytest.skip(why)
    spec = Path("examples/satisfaction.yaml").read_text(encoding="utf-8")
    with pg_schema() as url:
        store = open_store(tmp_path / "data", url)
        add_users(store)
        with client_for(store, "operator") as (c, csrf):
            r = c.post("/api/meetings", headers={"X-CSRF-Token": csrf},
                       json={"name": "pg", "forms": [{"yaml": spec}], "issued": 3})
            assert r.status_code == 201, r.text
            mid = r.json()["id"]
            token = c.post(f"/api/meetings/{mid}/tokens", headers={"X-CSRF-Token": csrf},
                           json={}).json()["token"]
        with TestClient(app_for(store)) as hall:
            agg = hall.get(f"/hall/{mid}/data?token={token}").json()
            assert agg["issued"] == 3 and agg["forms"][0]["donuts"]
        store.close()
