"""`scantally bench store` at a small size on the test PostgreSQL: the figures are produced and
sane (never their times), the store it builds is a real one (every meeting's audit chain checks
out, the cadre it names is in the meetings it says), and a store that is not empty is refused."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from tally import audit
from tally.cadre.view import cadre_view
from tally.db import CadreMeeting, CadrePerson, Meeting, Page
from tally.store import open_store
from tests.tally_helpers import SCANTALLY, pg_schema, pg_unreachable, pg_url

PG_SKIP = pg_unreachable()
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None,
                                                       reason=PG_SKIP or "")]


def run(*args: str) -> tuple[int, str, str]:
    import subprocess

    r = subprocess.run([str(SCANTALLY), "bench", "store", *args], capture_output=True,
                       text=True, check=False, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    return r.returncode, r.stdout, r.stderr


def test_bench_store_builds_a_real_store_and_prints_sane_figures(tmp_path: Path) -> None:
    with pg_schema() as url:
        code, out, err = run("--sheets", "2000", "--meetings", "5", "--pg", url, "--json")
        assert code == 0, err
        f = json.loads(out)
        assert (f["sheets"], f["meetings"], f["meeting_sheets"]) == (2000, 5, 400)
        assert f["build_s"] > 0 and f["store_bytes"] > 1_000_000 and f["cpu_ratio"] > 0
        for key in ("meeting_big", "meeting_alone", "cadre_cold", "import_refresh",
                    "cadre_imported", "cadre_warm"):
            assert f[key]["wall_s"] > 0 and f[key]["cpu_s"] >= 0
        assert f["ratio"] == pytest.approx(f["meeting_big"]["wall_s"]
                                           / f["meeting_alone"]["wall_s"])
        assert f["cadre_appearances"] >= 2 and f["cadre"].startswith("BJ")
        assert "pages" in f["page_index"]
        store = open_store(tmp_path / "data", url)
        try:
            with store.session(readonly=True) as s:
                assert s.scalar(select(func.count()).select_from(Page)) == 2000
                ids = list(s.scalars(select(Meeting.id)))
                assert len(ids) == 5
                for mid in ids:
                    assert audit.check_meeting(s, mid) == []
            # the cadre's meetings were refreshed as an import refreshes them: cached, current
            with store.session(readonly=True) as s:
                cad = {r.meeting_id for r in s.scalars(select(CadrePerson).where(
                    CadrePerson.person_key == f["cadre"]))}
                rows = list(s.scalars(select(CadreMeeting)
                                      .where(CadreMeeting.meeting_id.in_(cad))))
                assert len(rows) == f["cadre_appearances"]
                for row in rows:
                    assert row.figures is not None
                    assert row.audit_seq == audit.head(s, row.meeting_id).seq
            view = cadre_view(store, f["cadre"])
            assert len({a.meeting_id for a in view.appearances}) == f["cadre_appearances"]
            assert len(view.years) >= 2
            assert all(0 <= (a.figures.get("competent_or_better") or a.figures.get("rate")
                             or 0) <= 1 for a in view.appearances)
        finally:
            store.close()
        # the store for the meeting alone was a schema of its own, dropped after
        with psycopg.connect(pg_url()) as conn:
            left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE "
                                "'scantally_bench_one_%'").fetchone()
        assert left == (0,)
        code, _, err = run("--sheets", "100", "--meetings", "2", "--pg", url)
        assert code == 2 and "already holds 5 meetings" in err
        # measured again without building: the derived cadre tables are rebuilt from scratch
        code, out, err = run("--sheets", "2000", "--meetings", "5", "--pg", url, "--reuse",
                             "--json")
        assert code == 0, err
        again = json.loads(out)
        assert again["build_s"] == 0 and again["index_s"] > 0
        assert (again["cadre"], again["cadre_appearances"]) == (f["cadre"],
                                                                f["cadre_appearances"])
        code, _, err = run("--sheets", "3000", "--meetings", "5", "--pg", url, "--reuse")
        assert code == 2 and "not a bench store of 5 meetings and 3,000 sheets" in err
