"""Fixtures shared by the test modules (a module's own fixture of the same name wins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.store import Store
from tests.tally_helpers import any_store, backends


@pytest.fixture(params=backends())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on every backend: SQLite, and PostgreSQL when it answers."""
    with any_store(request.param, tmp_path) as s:
        yield s
