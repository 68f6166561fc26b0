"""Helpers for the exchange and backup tests: stations that really ran a small meeting (their
own key, simulated sheets through `scantally ingest`, a review decision), and bundles altered
the way a hostile or careless hand would."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from tally import keys
from tally.db import AuditEntry, Decision, Meeting, Page, canonical_json
from tally.exchange.bundle import (
    ANCHOR,
    MANIFEST,
    SIGNATURE,
    Manifest,
    Member,
    SignatureDoc,
    StationRef,
    sha256_hex,
)
from tally.review.decisions import decide
from tally.store import Store, open_store
from tests.intake_helpers import ballot
from tests.tally_helpers import (
    cli,
    layout_of,
    new_meeting,
    reading,
    tiny_image,
    write_readings,
)


@dataclass(frozen=True)
class Station:
    data: Path
    meeting: str
    pub: Path

    def open(self) -> Store:
        return open_store(self.data)


def _ok(r: object) -> None:
    assert getattr(r, "returncode", 1) == 0, (getattr(r, "stdout", ""), getattr(r, "stderr", ""))


def evaluation_station(root: Path, name: str, sheets: int = 20) -> Station:
    """A station with its key that read `sheets` simulated evaluation ballots through the real
    intake (OMR) and voided one sheet at review."""
    data = root / f"station-{name}"
    keys.new_key(data)
    meeting = f"民主测评-{name}"
    with open_store(data) as store:
        new_meeting(store, meeting, ("evaluation",))
    scans = root / f"scans-{name}"
    scans.mkdir()
    for n in range(1, sheets + 1):
        (scans / f"sheet-{n:03d}.jpg").write_bytes(ballot(n))
    _ok(cli("ingest", "-m", meeting, str(scans), "--station", name, "--workers", "2",
            data=data))
    with open_store(data) as store, store.session() as s:
        mid = s.scalars(select(Meeting.id).where(Meeting.name == meeting)).one()
        first = s.scalars(select(Page.id).where(Page.meeting_id == mid, Page.state == "counted")
                          .order_by(Page.id)).first()
    with open_store(data) as store:
        decide(store, mid, str(first), "void", who="监票人甲", why="torn sheet")
    return Station(data, meeting, data / keys.PUBLIC_FILENAME)


def recommendation_station(root: Path, name: str, sheets: int = 20) -> Station:
    """A station with its key that took `sheets` recommendation readings (one with a write-in,
    one doubtful, one re-fed twice) and decided them at review."""
    data = root / f"station-{name}"
    keys.new_key(data)
    meeting = f"民主推荐-{name}"
    with open_store(data) as store:
        new_meeting(store, meeting, ("recommendation",))
    rec = layout_of("recommendation")
    rows = [(reading(rec, f"R{k:03d}", marked={"category": [("leader", "middle", "staff")[k % 3]],
                                              "pos.director": [["P310012", "P310027"][k % 2]]}),
             tiny_image(k, name)) for k in range(sheets - 2)]
    rows.append((reading(rec, "R900", marked={"category": ["staff"], "pos.deputy": ["writein1"]},
                         doubtful={"pos.chief": ["P310131"]}), tiny_image(900, name)))
    rows.append((reading(rec, "R000"), tiny_image(901, name)))  # sheet R000 again: duplicate
    deck = write_readings(root / f"deck-{name}", rows)
    _ok(cli("ingest", "-m", meeting, "--readings", str(deck), "--station", name, data=data))
    with open_store(data) as store:
        with store.session() as s:
            mid = s.scalars(select(Meeting.id).where(Meeting.name == meeting)).one()
            pid = s.scalars(select(Page.id).where(Page.meeting_id == mid,
                                                  Page.serial == "R900")).one()
        decide(store, mid, f"{pid}:pos.deputy:writein1", "writein", who="监票人乙", text="赵六")
        decide(store, mid, f"{pid}:pos.chief:P310131", "empty", who="监票人乙", why="a dot")
    return Station(data, meeting, data / keys.PUBLIC_FILENAME)


def result_hash(data: Path, meeting: str, db: str | None = None) -> str:
    r = cli("tally", meeting, "--json", data=data, db=db)
    _ok(r)
    return json.loads(r.stdout)["sha256"]


def row_counts(store: Store) -> dict[str, int]:
    with store.session(readonly=True) as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
                for t in (Meeting, Page, Decision, AuditEntry)}


def rewrite_bundle(src: Path, dst: Path, changes: dict[str, Callable[[bytes], bytes]], *,
                   resign: keys.StationKey | None = None) -> Path:
    """A copy of a bundle with members changed; with `resign`, the manifest's hashes are made
    to fit and it is signed again by that key (a station's key in the wrong hands)."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    for name, change in changes.items():
        members[name] = change(members[name])
    if resign is not None:
        anchor = json.loads(members[ANCHOR])
        anchor["key"] = resign.id
        anchor["sig"] = resign.sign(canonical_json(
            {k: v for k, v in anchor.items() if k != "sig"}).encode("utf-8"))
        members[ANCHOR] = (json.dumps(anchor, ensure_ascii=False, sort_keys=True) + "\n"
                           ).encode("utf-8")
        manifest = Manifest.parse(members[MANIFEST])
        fixed = [Member(name=m.name, sha256=sha256_hex(members[m.name]),
                        bytes=len(members[m.name])) for m in manifest.members]
        manifest = manifest.model_copy(update={"members": fixed, "station": StationRef(
            key_id=resign.id, fingerprint=resign.public.fingerprint)})
        body = manifest.to_json().encode("utf-8")
        sig = SignatureDoc.parse(members[SIGNATURE]).model_copy(update={
            "key_id": resign.id, "fingerprint": resign.public.fingerprint,
            "public_key_pem": resign.public.pem(), "manifest_sha256": sha256_hex(body),
            "signature": resign.sign(body)})
        members[MANIFEST], members[SIGNATURE] = body, sig.to_json().encode("utf-8")
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return dst


def flip_byte(needle: bytes, replacement: bytes) -> Callable[[bytes], bytes]:
    """Change the first occurrence of `needle` (a byte or a few) to `replacement`."""
    def change(data: bytes) -> bytes:
        k = data.index(needle)
        return data[:k] + replacement + data[k + len(needle):]
    return change
