"""server.auth + tally.accounts: logins, sessions, CSRF, first-run set-up, roles, the account
log, display tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tally import accounts, audit
from tally.accounts import AccountEvent, DisplayToken, User, WebSession
from tally.db import AuditEntry, Meeting
from tally.store import Store, open_store
from tests.server_helpers import PASSWORD, add_users, app_for, client_for, login, new_meeting


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "data")
    add_users(s)
    yield s
    s.close()


def count(store: Store, model: type) -> int:
    with store.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_login_sets_a_strict_httponly_cookie_and_stores_only_its_hash(store: Store) -> None:
    with TestClient(app_for(store)) as c:
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"username": "operator", "password": PASSWORD,
                                   "csrf_token": csrf, "next": "/meetings/1"},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/meetings/1"
        cookie = next(h for h in r.headers.get_list("set-cookie")
                      if h.startswith("scantally_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        token = cookie.split(";")[0].split("=", 1)[1]
        with store.session(readonly=True) as s:
            hashes = list(s.scalars(select(WebSession.token_sha256)))
        assert hashes == [accounts.token_hash(token)] and token not in hashes
        assert c.get("/api/me").json()["role"] == "operator"


def test_wrong_password_and_unknown_user_look_the_same(store: Store) -> None:
    with TestClient(app_for(store)) as c:
        for user, pw in (("operator", "wrong password!"), ("nobody", PASSWORD)):
            page = c.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            r = c.post("/login", data={"username": user, "password": pw, "csrf_token": csrf})
            assert r.status_code == 401 and "用户名或密码不正确" in r.text
        assert count(store, WebSession) == 0


def test_login_redirects_only_to_local_paths(store: Store) -> None:
    with TestClient(app_for(store)) as c:
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf,
                                   "next": "//evil.example/x"}, follow_redirects=False)
        assert r.headers["location"] == "/"


def test_logout_ends_the_session_and_is_logged(store: Store) -> None:
    with client_for(store, "observer") as (c, csrf):
        r = c.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert c.get("/api/me").status_code == 401
    assert count(store, WebSession) == 0
    with store.session(readonly=True) as s:
        actions = [e.action for e in s.scalars(select(AccountEvent).order_by(AccountEvent.seq))]
        assert actions[-2:] == ["session.login", "session.logout"]
        assert accounts.check_account_log(s) == []


def test_forged_csrf_is_refused_and_nothing_is_stored(store: Store) -> None:
    with client_for(store, "operator") as (c, csrf):
        spec = Path("examples/recommendation.yaml").read_bytes()
        for token in ("", "forged", csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
            r = c.post("/meetings", data={"name": "m", "csrf_token": token},
                       files=[("forms", ("r.yaml", spec, "text/yaml"))])
            assert r.status_code == 403 and "CSRF" in r.text
            r = c.post("/api/meetings", json={"name": "m", "forms": [{"yaml": spec.decode()}]},
                       headers={"X-CSRF-Token": token} if token else {})
            assert r.status_code == 403
        assert count(store, Meeting) == 0 and count(store, AuditEntry) == 0
        # another session's token is no good either
        with TestClient(c.app) as other:
            other_csrf = login(other, "admin")
        r = c.post("/api/meetings", json={"name": "m", "forms": [{"yaml": spec.decode()}]},
                   headers={"X-CSRF-Token": other_csrf})
        assert r.status_code == 403 and count(store, Meeting) == 0
        r = c.post("/api/meetings", json={"name": "m", "forms": [{"yaml": spec.decode()}]},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201


def test_first_run_setup_creates_one_admin_with_the_one_time_token(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    app = app_for(store, setup_token="s3cret-setup")
    with TestClient(app) as c:
        assert "scantally user add" in c.get("/login").text
        assert c.get("/setup?token=wrong").status_code == 403
        page = c.get("/setup?token=s3cret-setup")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"token": "s3cret-setup", "username": "chief", "password": PASSWORD,
                "password2": PASSWORD, "csrf_token": csrf}
        assert c.post("/setup", data={**form, "password2": "different!"}).status_code == 400
        assert c.post("/setup", data={**form, "csrf_token": "x"}).status_code == 403
        assert count(store, User) == 0
        r = c.post("/setup", data=form, follow_redirects=False)
        assert r.status_code == 303
        assert c.post("/setup", data=form).status_code == 403  # used up
        login(c, "chief")
        assert c.get("/api/me").json()["role"] == "admin"
    with store.session(readonly=True) as s:
        assert [u.role for u in s.scalars(select(User))] == ["admin"]


def test_roles_admin_manages_users_operator_cannot(store: Store) -> None:
    with client_for(store, "operator") as (c, csrf):
        assert c.get("/users").status_code == 403
        r = c.post("/users", data={"username": "x", "password": PASSWORD, "role": "admin",
                                   "csrf_token": csrf})
        assert r.status_code == 403
    with client_for(store, "admin") as (c, csrf):
        r = c.post("/users", data={"username": "scrutineer", "password": PASSWORD,
                                   "role": "observer", "csrf_token": csrf},
                   follow_redirects=False)
        assert r.status_code == 303
        assert "scrutineer" in c.get("/users").text
        with store.session(readonly=True) as s:
            uid = s.scalar(select(User.id).where(User.username == "scrutineer"))
        assert c.post(f"/users/{uid}/disable", data={"csrf_token": csrf},
                      follow_redirects=False).status_code == 303
    with TestClient(app_for(store)) as c2:
        page = c2.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c2.post("/login", data={"username": "scrutineer", "password": PASSWORD,
                                    "csrf_token": token})
        assert r.status_code == 401


def test_observer_sees_but_cannot_change(store: Store) -> None:
    mid = new_meeting(store)
    with client_for(store, "observer") as (c, csrf):
        assert c.get(f"/meetings/{mid}").status_code == 200
        assert c.get(f"/api/meetings/{mid}/tally").status_code == 200
        r = c.patch(f"/api/meetings/{mid}/facts", json={"issued": 5},
                    headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403 and "operator" in r.json()["detail"]


def test_display_tokens_open_one_meetings_hall_only(store: Store) -> None:
    m1, m2 = new_meeting(store, "m1"), new_meeting(store, "m2")
    token, row = accounts.create_display_token(store, m1, actor="operator", label="hall")
    with TestClient(app_for(store)) as c:
        assert c.get(f"/hall/{m1}/data?token={token}").status_code == 200
        assert c.get(f"/hall/{m1}?token={token}").status_code == 200
        r = c.get(f"/hall/{m2}/data?token={token}")
        assert r.status_code == 403 and "another meeting" in r.json()["detail"]
        for path in (f"/meetings/{m1}", f"/api/meetings/{m1}", f"/api/meetings/{m1}/tally",
                     f"/meetings/{m1}/review", "/api/me"):
            r = c.get(f"{path}?token={token}")
            assert r.status_code == 403, path
        assert c.get(f"/hall/{m1}/data?token=not-a-token").status_code == 403
        assert c.get(f"/hall/{m1}/data").status_code == 401
        accounts.revoke_display_token(store, m1, row.id, actor="operator")
        assert c.get(f"/hall/{m1}/data?token={token}").status_code == 403
    with store.session(readonly=True) as s:
        assert [t.token_sha256 for t in s.scalars(select(DisplayToken))] == \
            [accounts.token_hash(token)]
        actions = [e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.meeting_id == m1).order_by(AuditEntry.seq))]
        assert actions == ["meeting.create", "display_token.create", "display_token.revoke"]
        assert audit.check_meeting(s, m1) == []


def test_hall_token_made_in_the_console_is_shown_once_and_logged(store: Store) -> None:
    mid = new_meeting(store)
    with client_for(store, "operator") as (c, csrf):
        r = c.post(f"/meetings/{mid}/tokens", data={"label": "大屏", "csrf_token": csrf})
        url = re.search(r'id="new-hall-url"[^>]*>([^<]+)<', r.text).group(1)
        assert f"/hall/{mid}?token=" in url
        assert url.split("token=")[1] not in c.get(f"/meetings/{mid}").text
    with store.session(readonly=True) as s:
        entry = audit.head(s, mid)
        assert entry.action == "display_token.create" and entry.actor == "operator"
