"""Every route of the app, enumerated from the app itself: anonymous and wrong-role requests are
refused, display tokens open only their own meeting's hall routes, and no route is left without
a guard (a new route that forgets one fails here)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.auth import RANK
from tally import accounts
from tally.store import Store, open_store
from tests.server_helpers import add_users, app_for, login, new_meeting

#: routes anyone may call (no data behind them)
PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
          ("GET", "/setup"), ("POST", "/setup"), ("GET", "/lang/{code}"),
          ("GET", "/fonts/cjk-full.ttf"), ("GET", "/openapi.json"), ("GET", "/docs"),
          ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app: Any) -> Iterator[tuple[str, str, Any]]:
    """(method, path, APIRoute or None) for every route, included routers expanded."""
    for r in app.routes:
        if hasattr(r, "effective_route_contexts"):
            for ctx in r.effective_route_contexts():
                for m in sorted(getattr(ctx.original_route, "methods", None) or ()):
                    yield m, ctx.path, ctx.original_route
        elif getattr(r, "methods", None):
            for m in sorted(r.methods - {"HEAD"}):
                yield m, r.path, r


def guards(route: Any) -> set[str]:
    """Names of the auth dependencies of a route (require_<role>, hall_access)."""
    names: set[str] = set()

    def walk(dep: Any) -> None:
        for d in dep.dependencies:
            name = getattr(d.call, "__name__", "")
            if name.startswith("require_"):
                names.add(name)
            walk(d)

    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        walk(dependant)
        if "hall_access" in (route.endpoint.__code__.co_names or ()):
            names.add("hall_access")
    return names


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    store: Store = open_store(tmp_path_factory.mktemp("routes") / "data")
    add_users(store)
    m1, m2 = new_meeting(store, "m1"), new_meeting(store, "m2")
    token, _ = accounts.create_display_token(store, m1, actor="test")
    yield {"store": store, "m1": m1, "m2": m2, "token": token}
    store.close()


def fill(path: str, meeting: int) -> str:
    values = {"meeting_id": meeting, "job_id": "nojob", "token_id": 1, "user_id": 1,
              "page_id": 1, "batch_id": 1, "form_id": "jt2026-rec", "item_id": "1:sheet",
              "fmt": "pdf", "code": "en", "person_key": "GB3101-0031"}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def call(c: TestClient, method: str, url: str, csrf: str = "") -> Any:
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"} if csrf else {
        "Accept": "application/json"}
    return c.request(method, url, headers=headers, follow_redirects=False)


def refused(r: Any) -> bool:
    return r.status_code in (401, 403) or (
        r.status_code in (302, 303) and r.headers["location"].startswith("/login"))


def test_every_route_is_guarded(world: dict[str, Any]) -> None:
    app = app_for(world["store"])
    seen = 0
    for method, path, route in routes(app):
        if (method, path) in PUBLIC or path.startswith("/static"):
            continue
        seen += 1
        found = guards(route)
        assert found, f"{method} {path} has no auth guard (require_<role> or hall_access)"
    assert seen > 30


def test_anonymous_requests_are_refused_everywhere(world: dict[str, Any]) -> None:
    app = app_for(world["store"])
    with TestClient(app) as c:
        page = c.get("/login")
        pre_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        for method, path, _route in routes(app):
            if (method, path) in PUBLIC or path.startswith("/static"):
                continue
            url = fill(path, world["m1"])
            # with a valid pre-login CSRF token the request reaches the auth check
            r = call(c, method, url, pre_csrf if method in UNSAFE else "")
            assert refused(r), f"anonymous {method} {url}: {r.status_code} {r.text[:200]}"
            if method in UNSAFE:
                assert call(c, method, url).status_code == 403  # and without: CSRF refuses
        # a browser asking for a page is sent to the login page
        r = c.get(f"/meetings/{world['m1']}", headers={"Accept": "text/html"},
                  follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ["observer", "operator"])
def test_wrong_roles_are_refused(world: dict[str, Any], role: str) -> None:
    app = app_for(world["store"])
    checked = 0
    with TestClient(app) as c:
        csrf = login(c, role)
        for method, path, route in routes(app):
            needs = [n.removeprefix("require_") for n in guards(route) if n.startswith("require_")]
            if not needs or RANK[role] >= max(RANK[n] for n in needs):
                continue
            checked += 1
            r = call(c, method, fill(path, world["m1"]), csrf)
            assert r.status_code == 403, f"{role} {method} {path}: {r.status_code} {r.text[:200]}"
    assert checked >= (20 if role == "observer" else 4)


def test_display_token_works_only_on_its_meetings_hall_routes(world: dict[str, Any]) -> None:
    app = app_for(world["store"])
    token = world["token"]
    with TestClient(app) as c:
        for method, path, route in routes(app):
            if (method, path) in PUBLIC or path.startswith("/static"):
                continue
            own = fill(path, world["m1"]) + f"?token={token}"
            other = fill(path, world["m2"]) + f"?token={token}"
            if "hall_access" in guards(route):
                if path.endswith("/events"):
                    continue  # a stream: checked below without reading forever
                ok = call(c, method, own)
                assert ok.status_code in (200, 404), f"{path}: {ok.status_code}"
                assert call(c, method, other).status_code == 403, path
            else:
                r = call(c, method, own)
                assert r.status_code == 403, f"token on {method} {path}: {r.status_code}"
        r = c.get(f"/hall/{world['m2']}/events?token={token}")
        assert r.status_code == 403


def test_api_docs_list_the_api(world: dict[str, Any]) -> None:
    with TestClient(app_for(world["store"])) as c:
        doc = c.get("/openapi.json").json()
    assert "/api/meetings/{meeting_id}/review/{item_id}" in doc["paths"]
    assert "/hall/{meeting_id}/data" in doc["paths"]


def test_security_headers(world: dict[str, Any]) -> None:
    with TestClient(app_for(world["store"])) as c:
        r = c.get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_unknown_meeting_is_404_not_500(world: dict[str, Any], tmp_path: Path) -> None:
    with TestClient(app_for(world["store"])) as c:
        login(c, "admin")
        for url in ("/meetings/999", "/api/meetings/999/tally", "/meetings/999/report.pdf",
                    "/api/meetings/999/review"):
            assert c.get(url, headers={"Accept": "application/json"}).status_code == 404, url
