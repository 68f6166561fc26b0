"""Helpers for the tally store tests: stores on SQLite and PostgreSQL, meetings from the example
specs, synthetic readings that fit a layout, and small distinct page images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from tally.meetings import FormText, create_meeting
from tally.store import Store, open_store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PG_ENV = "SCANTALLY_TEST_PG"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
SCANTALLY = Path(sys.executable).with_name("scantally")


def pg_url() -> str:
    return os.environ.get(PG_ENV, PG_DEFAULT)


def pg_unreachable() -> str | None:
    """None when the test PostgreSQL answers, else why not (for a skip reason)."""
    import psycopg

    try:
        with psycopg.connect(pg_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: no server to test against
        return f"PostgreSQL at {pg_url()} ({PG_ENV}) is unreachable: {exc}"
    return None


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema for one test; yields a database URL whose search_path is that schema."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in pg_url() else "?"
    try:
        yield f"{pg_url()}{sep}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(pg_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def backends() -> list[Any]:
    """The store backends a test runs on (`pytest.fixture(params=backends())`): SQLite, and
    PostgreSQL, skipped with the reason when it does not answer."""
    import pytest

    skip = pg_unreachable()
    return ["sqlite", pytest.param("postgres", marks=[
        pytest.mark.postgres, pytest.mark.skipif(skip is not None, reason=skip or "")])]


@contextmanager
def any_store(backend: str, tmp_path: Path) -> Iterator[Store]:
    """An empty store on `backend` ("sqlite" or "postgres") with its data folder in tmp_path."""
    if backend == "sqlite":
        store = open_store(tmp_path / "data")
        try:
            yield store
        finally:
            store.close()
        return
    with pg_schema() as url:
        store = open_store(tmp_path / "data", url)
        try:
            yield store
        finally:
            store.close()


def spec_path(name: str) -> Path:
    return EXAMPLES / f"{name}.yaml"


def layout_of(name: str) -> dict[str, Any]:
    return layout_to_dict(compile_layout(load_spec(spec_path(name))))


def new_meeting(store: Store, name: str = "m1", forms: tuple[str, ...] = ("recommendation",),
                **kwargs: Any) -> int:
    texts = [FormText.read(spec_path(f)) for f in forms]
    return create_meeting(store, name=name, forms=texts, actor="tester", **kwargs).id


def reading(layout: dict[str, Any], serial: str | None, page: int = 1, *,
            marked: dict[str, list[str]] | None = None,
            doubtful: dict[str, list[str]] | None = None, status: str | None = None,
            source: str | None = None, reason: str = "") -> dict[str, Any]:
    """A reading of one page of `layout`: every field of the page, the given options marked."""
    marked, doubtful = marked or {}, doubtful or {}
    fields = [f for f in layout["fields"] if f["page"] == page]
    marks = {f["id"]: {"marked": list(marked.get(f["id"], [])),
                       "doubtful": list(doubtful.get(f["id"], []))} for f in fields}
    scores = {f["id"]: {o: (0.9 if o in marked.get(f["id"], []) else
                            0.4 if o in doubtful.get(f["id"], []) else 0.02)
                        for o in f["options"]} for f in fields}
    return {"source": source or f"sheet-{serial}-p{page}.png", "form": layout["form"]["id"],
            "page": page, "serial": serial,
            "status": status or ("review" if any(doubtful.values()) else "ok"),
            "reason": reason, "marks": marks, "scores": scores}


def tiny_image(n: int, salt: str = "") -> bytes:
    """A small PNG unique to (n, salt): the bits of a hash drawn as black squares."""
    bits = uuid.uuid5(uuid.NAMESPACE_OID, f"{salt}/{n}").int
    img = np.full((24, 24), 255, np.uint8)
    for k in range(64):
        if bits >> k & 1:
            r, c = divmod(k, 8)
            img[r * 3:r * 3 + 3, c * 3:c * 3 + 3] = 0
    ok, enc = cv2.imencode(".png", img)
    assert ok
    return enc.tobytes()


def write_readings(folder: Path, rows: list[tuple[dict[str, Any], bytes]],
                   name: str = "readings.jsonl") -> Path:
    """A --readings file with its images beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for k, (doc, image) in enumerate(rows):
        image_name = f"img-{k:05d}.png"
        (folder / image_name).write_bytes(image)
        lines.append(json.dumps({**doc, "image": image_name}, ensure_ascii=False))
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(*args: str, data: Path, db: str | None = None,
        **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `scantally ARGS… --data DATA [--db DB]` in a subprocess."""
    env = {**os.environ, "SCANTALLY_DATA": str(data), "COLUMNS": "200"}
    env.pop("SCANTALLY_DB", None)
    if db:
        env["SCANTALLY_DB"] = db
    return subprocess.run([str(SCANTALLY), *args], capture_output=True, text=True, env=env,
                          check=False, **kwargs)
