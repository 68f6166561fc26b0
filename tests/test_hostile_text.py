"""NUL and invisible characters in every text field of every route, against a real server on
SQLite and on PostgreSQL (where a NUL used to be a 500).

The routes and their fields are read from the app itself (every `APIRoute` of
`server.routes.routers()`, its query, path, form and JSON fields, the JSON models walked down to
their leaves), so a new route or field is covered without editing this file; a JSON model
field missing from `SAMPLES` fails the test. Each field in turn gets `a\\x00b`; the answer must
be 422 naming that field, and nothing may be stored. A second pass without the app-wide guard
shows the typed fields (`server.fields.Text`/`Name`) refuse NUL by themselves. Then
schemathesis sends generated API requests with a NUL or a zero-width, bidi or BOM character
put into one string: NUL is 422, the rest never a 5xx. Names typed with invisible characters
are stored without them."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from fastapi import params
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from sqlalchemy import func, select

from server.routes import routers
from tally import accounts, db
from tally.store import Store
from tests.server_helpers import (
    PASSWORD,
    LiveServer,
    add_users,
    app_for,
    layout_of,
    login,
    new_meeting,
    reading,
    tiny_image,
)
from tests.tally_helpers import any_store, pg_unreachable

NUL = "a\x00b"
INVISIBLE = ("\u200b", "\u200d", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad")
REC = Path("examples/recommendation.yaml").read_text(encoding="utf-8")
#: a valid value of every JSON model (each str leaf gets the NUL in turn)
SAMPLES: dict[str, dict[str, Any]] = {
    "MeetingCreate": {"name": "会", "forms": [{"yaml": REC, "source": "rec.yaml"}],
                      "expected": {"staff": 3}, "present": {"staff": 2}, "issued": 3},
    "FactsUpdate": {"expected": {"staff": 3}, "present": {"staff": 2}, "issued": 3},
    "DecisionIn": {"kind": "void", "text": "张三", "why": "污损"},
    "BatchOpen": {"device": "fi-7160", "station": "s2", "category": "staff"},
    "TokenCreate": {"label": "大屏"},
}
FORM_SAMPLES = {"username": "admin", "password": PASSWORD, "password2": PASSWORD,
                "role": "observer", "kind": "void", "copies": "1", "uri": "dir:/tmp/x",
                "category": "staff", "reading": "{}", "item": "1", "name": "会"}
#: tables a refused request must leave as they were
TABLES = (db.Meeting, db.Batch, db.Page, db.Decision, db.AuditEntry)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Probe:
    """One request with a NUL in one field."""

    method: str
    path: str
    where: str  # query | path | form | file | json
    field: str  # the field's name (JSON: its dotted path)
    query: dict[str, str]
    form: dict[str, str] | None
    files: dict[str, tuple[str, bytes, str]] | None
    json_body: Any | None

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.field}"


def _params(dependant: Any) -> tuple[list[Any], list[Any], list[Any]]:
    query, path, body = list(dependant.query_params), list(dependant.path_params), \
        list(dependant.body_params)
    for sub in dependant.dependencies:
        q, p, b = _params(sub)
        query, path, body = query + q, path + p, body + b
    return query, path, body


def _is_text(annotation: Any) -> bool:
    """str, an Annotated str, or an optional one."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_text(a) for a in typing.get_args(annotation))
    return annotation is str


def _model_text_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted paths of a model's text fields (lists as `.0`, dict keys as `.<key>`)."""
    out: set[str] = set()
    for name, f in model.model_fields.items():
        ann = f.annotation
        union = typing.get_origin(ann) in (typing.Union, types.UnionType)
        for arg in typing.get_args(ann) if union else (ann,):
            origin = typing.get_origin(arg)
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out |= _model_text_fields(arg, f"{prefix}{name}.")
            elif origin is list and isinstance(typing.get_args(arg)[0], type) and \
                    issubclass(typing.get_args(arg)[0], BaseModel):
                out |= _model_text_fields(typing.get_args(arg)[0], f"{prefix}{name}.0.")
            elif origin is dict and _is_text(typing.get_args(arg)[0]):
                out.add(f"{prefix}{name}.<key>")
        if _is_text(ann):
            out.add(f"{prefix}{name}")
    return out


def _json_leaves(value: Any, path: str = "") -> Iterator[tuple[str, list[Any]]]:
    """(dotted path, key path) of every str leaf and dict key of a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            # a free mapping's keys (category -> count), not a model's field names
            yield f"{path}<key>" if path and isinstance(v, int) else "", [k, "<key>"]
            for dotted, keys in _json_leaves(v, f"{path}{k}."):
                yield dotted, [k, *keys]
    elif isinstance(value, list):
        for i, v in enumerate(value):
            for dotted, keys in _json_leaves(v, f"{path}{i}."):
                yield dotted, [i, *keys]
    elif isinstance(value, str):
        yield path.rstrip("."), []


def _with_nul(value: Any, keys: list[Any]) -> Any:
    value = json.loads(json.dumps(value))
    if keys[-1] == "<key>":
        parent = value
        for k in keys[:-2]:
            parent = parent[k]
        parent[NUL] = parent.pop(keys[-2])
        return value
    parent = value
    for k in keys[:-1]:
        parent = parent[k]
    parent[keys[-1]] = NUL
    return value


def _fill(path: str, ids: dict[str, str], nul_in: str | None = None) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(NUL) if m.group(1) == nul_in
                  else ids.get(m.group(1), "x"), path)


def probes(ids: dict[str, str]) -> list[Probe]:
    """One probe per text field of every route."""
    out: list[Probe] = []
    seen: set[tuple[str, str]] = set()
    for router in routers():
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            query, path, body = _params(route.dependant)
            for method in sorted(route.methods - {"HEAD"}):
                if (method, route.path) in seen:
                    continue
                seen.add((method, route.path))
                file_fields = [b for b in body if isinstance(b.field_info, params.File)]
                form_fields = [b for b in body if isinstance(b.field_info, params.Form)
                               and b not in file_fields]
                models = [b for b in body if not isinstance(b.field_info, params.Form)]
                form = {b.alias: FORM_SAMPLES.get(b.alias, "x") for b in form_fields} \
                    if form_fields or file_fields else None
                files = {b.alias: ("f.png", tiny_image(1), "image/png") for b in file_fields} \
                    or None
                sample = None
                if models and not form_fields and not file_fields:
                    model = models[0].field_info.annotation
                    sample = SAMPLES[model.__name__]
                    declared = _model_text_fields(model)
                    found = {d for d, _ in _json_leaves(sample) if d}
                    assert declared <= found, (route.path, declared - found)

                def probe(where: str, field: str, *, q: dict[str, str] | None = None,
                          p: str | None = None, f: dict[str, str] | None = None,
                          fl: dict[str, tuple[str, bytes, str]] | None = None,
                          j: Any = None, route: APIRoute = route, method: str = method,
                          form: dict[str, str] | None = form,
                          files: dict[str, tuple[str, bytes, str]] | None = files,
                          sample: Any = sample) -> Probe:
                    return Probe(method, _fill(route.path, ids, p), where, field, q or {},
                                 f if f is not None else form, fl if fl is not None else files,
                                 j if j is not None else sample)

                for qp in query:
                    if _is_text(qp.field_info.annotation):
                        out.append(probe("query", qp.alias, q={qp.alias: NUL}))
                for pp in path:
                    if _is_text(pp.field_info.annotation):
                        out.append(probe("path", pp.alias, p=pp.alias))
                for fp in form_fields:
                    if not _is_text(fp.field_info.annotation):
                        continue
                    out.append(probe("form", fp.alias, f={**(form or {}), fp.alias: NUL}))
                for fp in file_fields:
                    out.append(probe("file", fp.alias, fl={
                        **(files or {}), fp.alias: (f"{NUL}.png", tiny_image(1), "image/png")}))
                if sample is not None:
                    for dotted, keys in _json_leaves(sample):
                        if dotted:
                            out.append(probe("json", dotted, j=_with_nul(sample, keys)))
    return out


def _counts(store: Store) -> dict[str, int]:
    with store.session(readonly=True) as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
                for t in TABLES}


def _multipart(form: dict[str, str], files: dict[str, tuple[str, bytes, str]]
               ) -> tuple[bytes, str]:
    """A multipart body written by hand: httpx would percent-encode a NUL in a file name."""
    boundary = "scantally-hostile-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
             .encode() + v.encode() + b"\r\n" for k, v in form.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; '
              f'filename="{name}"\r\nContent-Type: {ctype}\r\n\r\n'.encode() + data
              + b"\r\n" for k, (name, data, ctype) in files.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def _send(c: httpx.Client, csrf: str, p: Probe) -> httpx.Response:
    h = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    if p.files is not None:
        body, ctype = _multipart(p.form or {}, p.files)
        return c.request(p.method, p.path, params=p.query, content=body,
                         headers={**h, "Content-Type": ctype})
    if p.json_body is not None:
        return c.request(p.method, p.path, params=p.query, headers=h, json=p.json_body)
    if p.form is not None:
        return c.request(p.method, p.path, params=p.query, headers=h, data=p.form,
                         files=p.files)
    return c.request(p.method, p.path, params=p.query, headers=h)


def _names_field(response: httpx.Response, p: Probe) -> bool:
    detail = response.json()["detail"]
    name = p.field.split(".")[0] if p.where == "json" else p.field
    return isinstance(detail, list) and any(
        name in [str(x) for x in d.get("loc", [])] or NUL in [str(x) for x in d.get("loc", [])]
        for d in detail)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres" and (why := pg_unreachable()) is not None:
        pytest.skip(why)
    with any_store(request.param, tmp_path) as s:
        add_users(s)
        yield s


def _meeting_ids(store: Store) -> dict[str, str]:
    mid = new_meeting(store, "m1")
    return {"meeting_id": str(mid), "form_id": "jt2026-rec", "item_id": "1",
            "batch_id": "1", "job_id": "x", "token_id": "1", "user_id": "1", "page_id": "1",
            "code": "en", "fmt": "csv"}


def test_a_nul_in_every_text_field_of_every_route_is_a_422(store: Store) -> None:
    ids = _meeting_ids(store)
    all_probes = probes(ids)
    routes = {(p.method, p.path) for p in all_probes}
    assert len(all_probes) >= 55 and len(routes) >= 25, (len(all_probes), len(routes))
    before = _counts(store)
    server = LiveServer(app_for(store)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            csrf = login(c, "admin")
            bad = []
            for p in all_probes:
                r = _send(c, csrf, p)
                if r.status_code != 422 or not _names_field(r, p):
                    bad.append(f"{p}: {r.status_code} {r.text[-300:]}")
            assert bad == []
            assert _counts(store) == before  # nothing stored, nothing logged
            # a NUL escaped inside the reading JSON of a station's page
            batch = c.post(f"/api/meetings/{ids['meeting_id']}/batches",
                           headers={"X-CSRF-Token": csrf}, json={"station": "s"}).json()
            doc = reading(layout_of("recommendation"), "N1", marked={"category": ["staff"]},
                          source="sheet\x00.png")
            r = c.post(f"/api/meetings/{ids['meeting_id']}/batches/{batch['batch_id']}/pages",
                       headers={"X-CSRF-Token": csrf}, data={"reading": json.dumps(doc)},
                       files={"image": ("p.png", tiny_image(3), "image/png")})
            assert r.status_code == 422 and "reading" in r.text, r.text
            assert c.get("/healthz").status_code == 200
    finally:
        server.stop()


def test_the_typed_fields_refuse_a_nul_without_the_guard(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import server.app

    async def no_guard() -> None:
        return None

    monkeypatch.setattr(server.app, "refuse_control_characters", no_guard)
    ids = _meeting_ids(store)
    #: fields that are deliberately not normalised or typed: they go through the guard only
    untyped = {"password", "password2", "files", "forms", "image"}
    body = [p for p in probes(ids) if p.where in ("form", "json") and p.field not in untyped]
    assert len(body) >= 30
    with _live(store) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        csrf = login(c, "admin")
        bad = [f"{p}: {r.status_code} {r.text[:200]}" for p in body
               if (r := _send(c, csrf, p)).status_code != 422 or not _names_field(r, p)]
    assert bad == []


class _live:
    def __init__(self, store: Store) -> None:
        self.server = LiveServer(app_for(store))

    def __enter__(self) -> LiveServer:
        return self.server.start()

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def test_invisible_characters_are_taken_out_of_names(store: Store) -> None:
    with _live(store) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        csrf = login(c, "admin")
        h = {"X-CSRF-Token": csrf}
        r = c.post("/api/meetings", headers=h, json={
            "name": "\u200b推荐\u202e会\ufeff", "forms": [{"yaml": REC}]})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "推荐会"
        mid = r.json()["id"]
        r = c.post("/api/meetings", headers=h, json={"name": "推\u200d荐会",
                                                     "forms": [{"yaml": REC}]})
        # the same name (the API answers in the user's language, zh-CN unless chosen)
        assert r.status_code == 400 and "已有名为 '推荐会' 的会议" in r.json()["detail"]
        r = c.post(f"/api/meetings/{mid}/tokens", headers=h, json={"label": "大\u200b屏"})
        assert r.status_code == 201
        r = c.post(f"/api/meetings/{mid}/batches", headers=h,
                   json={"station": "\u2066s2\u2069", "device": "d"})
        assert r.status_code == 201
    with store.session(readonly=True) as s:
        assert [t.label for t in s.scalars(select(accounts.DisplayToken))] == ["大屏"]
        assert [b.station for b in s.scalars(select(db.Batch))] == ["s2"]


#: streams never end; logging out mid-run would log the fuzzer out
SKIP = {("GET", "/api/meetings/{meeting_id}/events"), ("GET", "/hall/{meeting_id}/events"),
        ("POST", "/logout"), ("POST", "/login")}
EXAMPLES_PER_OPERATION = 15
#: uploaded files' contents: bytes, where a NUL is just a byte
BINARY = {"files", "image"}


def _strings(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _strings(v, (*path, i))]
    return []


def _inject(container: Any, path: tuple[Any, ...], char: str, at: int) -> None:
    for k in path[:-1]:
        container = container[k]
    text = container[path[-1]]
    container[path[-1]] = text[:at] + char + text[at:]


@pytest.mark.parametrize("backend", ["postgres"])
def test_schemathesis_with_nul_and_invisible_characters(backend: str, tmp_path: Path) -> None:
    if (why := pg_unreachable()) is not None:
        pytest.skip(why)
    with any_store(backend, tmp_path) as store:
        add_users(store)
        new_meeting(store, "m1")
        with _live(store) as server:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                csrf = login(c, "admin")
                cookie = c.cookies.get("scantally_session")
            headers = {"X-CSRF-Token": csrf, "Cookie": f"scantally_session={cookie}"}
            schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
            failures: list[str] = []
            sent = {"nul": 0, "invisible": 0}
            for result in schema.get_all_operations():
                op = result.ok()
                if (op.method.upper(), op.path) in SKIP:
                    continue

                @given(case=op.as_strategy(), data=st.data())
                @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                          derandomize=True, suppress_health_check=list(HealthCheck))
                def run(case: schemathesis.Case, data: st.DataObject) -> None:
                    places = [("query", p) for p in _strings(case.query or {})] + \
                        [("body", p) for p in _strings(case.body)
                         if isinstance(case.body, dict | list) and p[0] not in BINARY]
                    if not places:
                        return
                    where, path = data.draw(st.sampled_from(places))
                    # NUL as often as all the invisible characters together
                    char = data.draw(st.sampled_from(("\x00",) * len(INVISIBLE) + INVISIBLE))
                    target = case.query if where == "query" else case.body
                    text = target
                    for k in path:
                        text = text[k]
                    _inject(target, path, char, data.draw(st.integers(0, len(text))))
                    response = case.call(headers=headers)
                    kind = "nul" if char == "\x00" else "invisible"
                    sent[kind] += 1
                    if response.status_code >= 500 or (kind == "nul" and
                                                       response.status_code != 422):
                        failures.append(f"{case.method} {case.formatted_path} {where} "
                                        f"{path} {char!r}: {response.status_code} "
                                        f"{response.text[:200]}")

                run()
    print("schemathesis requests with a hostile character:", sent)
    assert sent["nul"] >= 15 and sent["invisible"] >= 15, sent
    assert failures == []


def test_a_reading_with_a_nul_is_refused_by_ingest(store: Store) -> None:
    """The road of `scantally ingest --readings` and of every station: refused, saying where."""
    from tally.ingest import ingest_json, open_batch
    from tally.meetings import MeetingError

    mid = new_meeting(store, "m1")
    batch = open_batch(store, mid, operator="tester")
    doc = reading(layout_of("recommendation"), "N1", marked={"category": ["staff"]},
                  reason="stain\x00")
    result = ingest_json(store, batch, doc, tiny_image(5))
    assert result.outcome == "refused" and "reason" in result.message
    assert "NUL" in result.message
    with pytest.raises(MeetingError, match="control character"):
        open_batch(store, mid, station="s\x00")
    assert _counts(store)["pages"] == 0
