"""Two stations, each with its own key and meeting, export; a department store on PostgreSQL
imports both: the same figures (result hash), `verify` passes, importing again changes nothing,
and a different bundle of the same meeting is refused naming what differs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tally import audit, keys
from tally.cadre.figures import FIGURES_VERSION
from tally.cadre.model import MeetingFigures
from tally.db import CadreMeeting, CadrePerson, ExchangeImport, Meeting, Page
from tally.exchange.bundle import AUDIT, Manifest, SignatureDoc, sha256_hex
from tally.results import meeting_results
from tally.review.decisions import decide
from tally.store import open_store
from tests.exchange_helpers import (
    Station,
    evaluation_station,
    recommendation_station,
    result_hash,
    rewrite_bundle,
    row_counts,
)
from tests.tally_helpers import cli, new_meeting, pg_schema, pg_unreachable

PG_SKIP = pg_unreachable()
needs_pg = pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")


@pytest.fixture(scope="module")
def stations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Station, Station, Path, Path]:
    root = tmp_path_factory.mktemp("stations")
    a, b = evaluation_station(root, "A"), recommendation_station(root, "B")
    bundles = []
    for st in (a, b):
        out = root / f"{st.data.name}.stb"
        r = cli("export", st.meeting, "-o", str(out), data=st.data)
        assert r.returncode == 0, r.stderr
        assert "exported" in r.stdout and out.is_file()
        bundles.append(out)
    return a, b, bundles[0], bundles[1]


def _trust(dept: Path, *stations: Station) -> None:
    for st in stations:
        r = cli("keys", "trust", str(st.pub), "--label", st.meeting, data=dept)
        assert r.returncode == 0 and "now trusted" in r.stdout, r.stderr


@pytest.mark.postgres
@needs_pg
def test_two_stations_into_a_department_postgres(stations: tuple[Station, Station, Path, Path],
                                                  tmp_path: Path) -> None:
    a, b, bundle_a, bundle_b = stations
    assert keys.load_key(a.data).id != keys.load_key(b.data).id  # type: ignore[union-attr]
    dept = tmp_path / "dept"
    with pg_schema() as url:
        _trust(dept, a, b)
        for bundle in (bundle_a, bundle_b):
            r = cli("import", str(bundle), "--json", data=dept, db=url)
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["outcome"] == "imported"
        for st in (a, b):
            assert result_hash(dept, st.meeting, url) == result_hash(st.data, st.meeting)
            v = cli("verify", st.meeting, "--json", data=dept, db=url)
            assert v.returncode == 0, v.stdout + v.stderr
            assert json.loads(v.stdout)["ok"] is True
        with open_store(dept, url) as store:
            before = row_counts(store)
            with store.session() as s:
                uids = {m.name: m.uid for m in s.scalars(select(Meeting))}
                imports = s.scalars(select(ExchangeImport)).all()
        for st in (a, b):  # the meeting keeps its identity across stores
            with st.open() as store, store.session() as s:
                assert s.scalars(select(Meeting.uid).where(Meeting.name == st.meeting)).one() \
                    == uids[st.meeting]
        assert {i.signer_key_id for i in imports} == {keys.load_key(a.data).id,  # type: ignore[union-attr]
                                                      keys.load_key(b.data).id}  # type: ignore[union-attr]
        for imp in imports:  # the station's own chain stays re-provable from what is kept
            sig = SignatureDoc.parse(imp.signature.encode("utf-8"))
            assert keys.parse_public(imp.signer_public_pem, "kept").verify(
                imp.manifest.encode("utf-8"), sig.signature)
            manifest = Manifest.parse(imp.manifest.encode("utf-8"))
            audit_member = next(m for m in manifest.members if m.name == AUDIT)
            assert sha256_hex(imp.origin_audit.encode("utf-8")) == audit_member.sha256
        again = cli("import", str(bundle_a), data=dept, db=url)
        assert again.returncode == 0 and "already imported" in " ".join(again.stdout.split())
        with open_store(dept, url) as store:
            assert row_counts(store) == before


def test_untrusted_signer_is_refused_naming_the_fingerprint(
        stations: tuple[Station, Station, Path, Path], tmp_path: Path) -> None:
    a, b, bundle_a, _ = stations
    dept = tmp_path / "dept"
    _trust(dept, b)  # the other station only
    r = cli("import", str(bundle_a), data=dept)
    text = " ".join(r.stderr.split())
    fingerprint = keys.load_key(a.data).public.fingerprint  # type: ignore[union-attr]
    assert r.returncode == 2 and "does not trust" in text and fingerprint in text
    with open_store(dept) as store:
        assert row_counts(store)["meetings"] == 0


def test_a_changed_meeting_or_another_stations_copy_is_refused_naming_what_differs(
        stations: tuple[Station, Station, Path, Path], tmp_path: Path) -> None:
    a, b, _, bundle_b = stations
    dept = tmp_path / "dept"
    _trust(dept, a, b)
    assert cli("import", str(bundle_b), data=dept).returncode == 0
    with open_store(dept) as store:
        before = row_counts(store)
    # station B goes on after its export (a sheet voided), exports again
    work = tmp_path / "b-later"
    shutil.copytree(b.data, work)
    with open_store(work) as store, store.session() as s:
        mid = s.scalars(select(Meeting.id).where(Meeting.name == b.meeting)).one()
        pid = s.scalars(select(Page.id).where(Page.meeting_id == mid, Page.serial == "R001")
                        ).one()
    with open_store(work) as store:
        decide(store, mid, str(pid), "void", who="监票人乙", why="found later: torn")
    later = tmp_path / "b-later.stb"
    assert cli("export", b.meeting, "-o", str(later), data=work).returncode == 0
    r = cli("import", str(later), data=dept)
    text = " ".join(r.stderr.split())
    assert r.returncode == 2 and "goes on past the copy imported here" in text
    assert "review.decide" in text and "decisions.jsonl" in text
    # the same content signed by station A's key: another station's copy of the meeting
    forged = rewrite_bundle(bundle_b, tmp_path / "forged.stb", {},
                            resign=keys.load_key(a.data))
    r = cli("import", str(forged), data=dept)
    text = " ".join(r.stderr.split())
    assert r.returncode == 2 and "another station's copy" in text
    assert keys.load_key(a.data).id in text  # type: ignore[union-attr]
    with open_store(dept) as store:
        assert row_counts(store) == before


def test_without_images_the_figures_still_agree(stations: tuple[Station, Station, Path, Path],
                                                tmp_path: Path) -> None:
    a, _, _, _ = stations
    light = tmp_path / "light.stb"
    assert cli("export", a.meeting, "-o", str(light), "--no-images", data=a.data).returncode == 0
    dept = tmp_path / "dept"
    _trust(dept, a)
    r = cli("import", str(light), "--json", data=dept)
    assert r.returncode == 0 and json.loads(r.stdout)["images"] == 0
    assert result_hash(dept, a.meeting) == result_hash(a.data, a.meeting)
    assert cli("verify", a.meeting, "--no-images", data=dept).returncode == 0
    # the import cached the meeting's per-person figures: a cadre's first view only reads
    with open_store(dept) as store, store.session(readonly=True) as s:
        mid = s.scalars(select(Meeting.id).where(Meeting.name == a.meeting)).one()
        row = s.get(CadreMeeting, mid)
        assert row is not None and row.figures is not None
        assert row.figures_version == FIGURES_VERSION
        assert row.audit_seq == audit.head(s, mid).seq  # type: ignore[union-attr]
        people = s.scalars(select(CadrePerson).where(CadrePerson.meeting_id == mid)).all()
        cached = MeetingFigures.model_validate(row.figures)
        assert people and {(p.form_id, p.role, p.local_id) for p in people} == {
            (x.form_id, x.role, x.local_id) for x in cached.appearances}
        assert {x.result_sha256 for x in cached.appearances} == {
            f.result.sha256 for f in meeting_results(store, mid).forms}
    full = cli("verify", a.meeting, data=dept)  # the images are not here: said so
    assert full.returncode == 2 and "missing" in full.stderr


def test_a_name_taken_here_needs_another_name(stations: tuple[Station, Station, Path, Path],
                                              tmp_path: Path) -> None:
    a, _, bundle_a, _ = stations
    dept = tmp_path / "dept"
    _trust(dept, a)
    with open_store(dept) as store:
        new_meeting(store, a.meeting, ("evaluation",))
    r = cli("import", str(bundle_a), data=dept)
    assert r.returncode == 2 and "--name" in r.stderr
    r = cli("import", str(bundle_a), "--name", "测评-甲队", data=dept)
    assert r.returncode == 0, r.stderr
    assert result_hash(dept, "测评-甲队") == result_hash(a.data, a.meeting)


def test_a_bundle_imported_into_the_store_it_came_from_changes_nothing(
        stations: tuple[Station, Station, Path, Path]) -> None:
    a, _, bundle_a, _ = stations
    with a.open() as store:
        before = row_counts(store)
    r = cli("import", str(bundle_a), data=a.data)
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "already imported (it was made in this store)" in text
    with a.open() as store:
        assert row_counts(store) == before
