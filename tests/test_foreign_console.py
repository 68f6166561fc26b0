"""A meeting of a learned (foreign) form created in the console from an upload, in Debian's
chromium (Playwright) against a real uvicorn: the spec with its folder's targets.json and
reference image makes the meeting through the same `create_meeting` as `meeting new --form`;
a spec uploaded without its reference, or with a reference that is not the learned one, is
refused on the page naming the file, and nothing is created."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tally.db import Meeting
from tally.meetings import meeting_layouts
from tally.references import reading_layouts
from tally.store import Store, open_store
from tests import foreign_helpers as F
from tests.server_helpers import CHROMIUM, PASSWORD, LiveServer, add_users, app_for, chromium

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")]


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def _meetings(store: Store) -> list[str]:
    with store.session(readonly=True) as s:
        return list(s.scalars(select(Meeting.name)))


def test_a_learned_form_is_uploaded_with_its_folder(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    spec = F.write_learned("evaluation", tmp_path / "learned")
    folder = spec.parent
    other = F.write_learned("satisfaction", tmp_path / "other")
    store: Store = open_store(tmp_path / "data")
    add_users(store)
    server = LiveServer(app_for(store)).start()
    try:
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(f"{server.url}/")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("会议列表")

        # the spec alone: refused, naming what to upload
        page.fill("input[name=name]", "外来表会议")
        page.set_input_files("input[name=forms]", str(spec))
        page.click("#new-meeting button[type=submit]")
        error = page.locator("#create-error")
        expect(error).to_contain_text("targets.json")
        print("refused:", error.inner_text())
        assert _meetings(store) == []

        # another form's reference under the same name: refused, the image named
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "reference.png").write_bytes((other.parent / "reference.png").read_bytes())
        page.fill("input[name=name]", "外来表会议")
        page.set_input_files("input[name=forms]", str(spec))
        page.set_input_files("#form-files", [str(folder / "targets.json"),
                                             str(bad / "reference.png")])
        page.click("#new-meeting button[type=submit]")
        expect(page.locator("#create-error")).to_contain_text("reference.png")
        text = page.locator("#create-error").inner_text()
        print("refused:", text)
        assert str(tmp_path) not in text and "scantally-form-" not in text  # no server path
        assert _meetings(store) == []

        # the spec with its folder: the meeting, its layout and reference kept in the store
        page.fill("input[name=name]", "外来表会议")
        page.set_input_files("input[name=forms]", str(spec))
        page.set_input_files("#form-files", [str(folder / "targets.json"),
                                             str(folder / "reference.png")])
        page.click("#new-meeting button[type=submit]")
        expect(page.locator("h1")).to_have_text("外来表会议")
    finally:
        server.stop()
    assert _meetings(store) == ["外来表会议"]
    with store.session(readonly=True) as s:
        mid = s.scalars(select(Meeting.id)).one()
        stored = meeting_layouts(s, mid)
        layouts = reading_layouts(store, s, mid)
    # the layout `meeting new --form` makes of the same folder
    boxes = [list(b.rect_mm) for b in next(iter(stored.values())).doc.pages[0].boxes]
    assert boxes == [b["rect_mm"] for b in F.foreign_layout_of("evaluation")["pages"][0]["boxes"]]
    layout = next(iter(layouts.values()))
    assert layout.foreign and layout.pages[1].reference is not None
