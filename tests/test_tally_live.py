"""tally.live: the incremental tally equals a fresh `meeting_results` after every step of a
randomised meeting (ingests, duplicates, unknown serials, review decisions of every kind,
settings and printed serials changed), and only rebuilds the ballots that changed."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tally.ingest import BatchContext, ingest_json, open_batch
from tally.live import LiveResults
from tally.meetings import update_meeting
from tally.model import Settings
from tally.results import MeetingResults, meeting_results
from tally.review.decisions import decide
from tally.review.errors import ReviewError
from tally.review.queue import review_queue
from tally.store import Store
from tests.tally_helpers import (
    any_store,
    layout_of,
    new_meeting,
    pg_unreachable,
    reading,
    tiny_image,
)

LAYOUTS = {"recommendation": layout_of("recommendation"),
           "evaluation-long": layout_of("evaluation-long")}
FORM_IDS = {name: layout["form"]["id"] for name, layout in LAYOUTS.items()}
PRINTED = [f"{k:06d}" for k in range(1, 41)]
WEIGHTS = {"leader": 0.3, "middle": 0.3, "staff": 0.4}
SERIALS = [*PRINTED, "900001", "900002", "900003"]  # the last three were never printed


def assert_same(live: MeetingResults, fresh: MeetingResults) -> None:
    assert [f.form_id for f in live.forms] == [f.form_id for f in fresh.forms]
    for a, b in zip(live.forms, fresh.forms, strict=True):
        assert a.result.model_dump() == b.result.model_dump(), a.form_id
        assert a.result.sha256 == b.result.sha256
        assert a.ballots == b.ballots
    assert (live.through_page_id, live.audit_seq, live.pages, live.facts) == (
        fresh.through_page_id, fresh.audit_seq, fresh.pages, fresh.facts)


def random_reading(rng: random.Random, name: str, serial: str, page: int) -> dict[str, Any]:
    layout = LAYOUTS[name]
    marked: dict[str, list[str]] = {}
    doubtful: dict[str, list[str]] = {}
    for f in layout["fields"]:
        if f["page"] != page:
            continue
        roll = rng.random()
        n = 0 if roll < 0.15 else 2 if roll > 0.9 else 1  # blanks and over-marks
        marked[f["id"]] = rng.sample(f["options"], min(n, len(f["options"])))
        if rng.random() < 0.05:
            rest = [o for o in f["options"] if o not in marked[f["id"]]]
            doubtful[f["id"]] = rng.sample(rest, 1)
    return reading(layout, serial, page, marked=marked, doubtful=doubtful,
                   source=f"{name}-{serial}-{page}-{rng.random():.6f}.png")


def run_meeting(store: Store, steps: int, seed: int) -> None:
    rng = random.Random(seed)
    mid = new_meeting(store, forms=tuple(LAYOUTS), serials=PRINTED,
                      expected={"leader": 10, "middle": 30, "staff": 60}, issued=40)
    live = LiveResults(store, mid)
    batches: list[BatchContext] = [open_batch(store, mid),
                                   open_batch(store, mid, category="leader"),
                                   open_batch(store, mid, category="staff")]
    images: list[bytes] = []
    kinds_seen: set[str] = set()
    assert_same(live.refresh(), meeting_results(store, mid))
    for step in range(steps):
        roll = rng.random()
        if roll < 0.55 or step < 10:
            name = rng.choice(list(LAYOUTS))
            pages = len(LAYOUTS[name]["pages"])
            doc = random_reading(rng, name, rng.choice(SERIALS), rng.randint(1, pages))
            if images and rng.random() < 0.08:
                image = rng.choice(images)  # the same image again: a duplicate
            else:
                image = tiny_image(step, f"live-{seed}")
                images.append(image)
            ingest_json(store, rng.choice(batches), doc, image)
            expect_rebuilt = 1
            kinds_seen.add("ingest")
        elif roll < 0.9:
            with store.session(readonly=True) as s:
                items = review_queue(s, mid, include_resolved=True)
            if not items:
                continue
            item = rng.choice(items)
            fresh = [k for k in item.choices if k not in kinds_seen]
            kind = rng.choice(fresh if fresh and rng.random() < 0.5 else item.choices)
            try:
                decide(store, mid, item.id, kind, who="复核员", why="random review",
                       text=rng.choice(["钱七", "孙八"]) if kind == "writein" else "")
            except ReviewError:
                continue
            expect_rebuilt = 1
            kinds_seen.add(kind)
        elif roll < 0.97:
            denominator = rng.choice(["attendees", "valid_ballots", "block_valid"])
            update_meeting(store, mid, actor="tester", present={"leader": rng.randint(5, 10)},
                           settings=Settings(denominator=denominator,
                                             unknown_in_denominator=rng.random() < 0.5,
                                             category_weights=rng.choice([{}, WEIGHTS])))
            expect_rebuilt = 0
        else:
            update_meeting(store, mid, actor="tester", add_serials=[rng.choice(SERIALS[-3:])])
            expect_rebuilt = len(SERIALS)
        result = live.refresh()
        assert live.last_rebuilt <= expect_rebuilt, (step, live.last_rebuilt)
        assert_same(result, meeting_results(store, mid))
    # the walk went through the interesting cases
    assert {"ingest", "marked", "empty", "void", "unvoid"} <= kinds_seen, kinds_seen
    assert {"accept", "dismiss"} & kinds_seen
    final = live.refresh()
    assert live.last_rebuilt == 0
    assert sum(f.result.reconciliation.returned for f in final.forms) > 20


def test_live_tally_equals_a_fresh_tally_at_every_step(tmp_path: Path) -> None:
    with any_store("sqlite", tmp_path) as store:
        run_meeting(store, steps=150, seed=7)


@pytest.mark.skipif(pg_unreachable() is not None, reason=str(pg_unreachable()))
def test_live_tally_on_postgresql(tmp_path: Path) -> None:
    with any_store("postgres", tmp_path) as store:
        run_meeting(store, steps=70, seed=11)


def test_a_live_tally_starts_afresh_after_a_refusal(tmp_path: Path) -> None:
    with any_store("sqlite", tmp_path) as store:
        mid = new_meeting(store)
        live = LiveResults(store, mid)
        batch = open_batch(store, mid)
        layout = LAYOUTS["recommendation"]
        for k in range(5):
            ingest_json(store, batch, reading(layout, f"{k:06d}",
                                              marked={"pos.director": ["P310012"]}),
                        tiny_image(k, "fresh"))
        assert live.refresh().forms[0].result.reconciliation.returned == 5
        assert live.last_rebuilt == 5
        assert live.refresh().forms[0].result.reconciliation.returned == 5
        assert live.last_rebuilt == 0
        with pytest.raises(LookupError, match="no meeting #999"):
            LiveResults(store, 999).refresh()
