"""Helpers for the intake pipeline tests: ballots rendered as a scanner sends them, stores with a
meeting, and what the store holds afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from omr.sim.corpus import render_marked_page
from tally.db import Page
from tally.store import Store, open_store
from tests.tally_helpers import EXAMPLES, new_meeting

EVAL = EXAMPLES / "evaluation.yaml"
CHOICES = ("excellent", "competent", "basic", "incompetent")


def vote(n: int) -> dict[str, list[str]]:
    """The marks of ballot n (varied, so that readings differ)."""
    return {"category": [("leader", "middle", "staff")[n % 3]],
            "leader.P310012": [CHOICES[n % 4]]}


def serial(n: int) -> str:
    return f"T{n:05d}"


@lru_cache(maxsize=64)
def ballot(n: int, ext: str = ".jpg", quality: int = 90) -> bytes:
    """Ballot n of the evaluation form (serial T0000n), grey 200 dpi, encoded as `ext`."""
    image = render_marked_page(EVAL, vote(n), serial=serial(n))
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, data = cv2.imencode(ext, image, params)
    assert ok
    return data.tobytes()


def blank_back(n: int) -> bytes:
    """An empty back side as a scanner sees it: paper grey with sensor noise (each distinct)."""
    rng = np.random.default_rng(n)
    page = rng.integers(232, 245, (2339, 1654), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


@contextmanager
def meeting_store(tmp_path: Path, forms: tuple[str, ...] = ("evaluation",)
                  ) -> Iterator[tuple[Store, int]]:
    """A fresh SQLite store with one meeting "m1" of `forms`."""
    store = open_store(tmp_path / "data")
    try:
        yield store, new_meeting(store, "m1", forms)
    finally:
        store.close()


def pages(store: Store, meeting_id: int) -> list[dict[str, Any]]:
    """Every stored page of the meeting, in id order, as plain dicts."""
    with store.session(readonly=True) as s:
        rows = s.scalars(select(Page).where(Page.meeting_id == meeting_id).order_by(Page.id))
        return [{"id": p.id, "source": p.source, "serial": p.serial, "status": p.status,
                 "state": p.state, "reason": p.reason, "sha256": p.sha256,
                 "batch": p.batch_id, "reading": p.reading} for p in rows]


def counted_serials(store: Store, meeting_id: int) -> list[str]:
    """Serials of the pages that count, sorted (a sheet counted twice shows up twice)."""
    return sorted(p["serial"] for p in pages(store, meeting_id) if p["state"] == "counted")
