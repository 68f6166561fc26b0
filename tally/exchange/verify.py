"""`verify_bundle`: everything a bundle claims, checked before anything of it is written.

In order, each failure a `BundleError` that names what failed:
1. the signature over `manifest.json` with the public key inside, whose fingerprint must be
   the one the signature names; the signer must be trusted here (`tally.keys.is_trusted`);
2. the member list: every member listed, none extra, each one's size and SHA-256;
3. the rows: parsed as typed rows, then put under their station ids into a scratch in-memory
   database where the station's own check runs (`tally.audit.check_meeting`: every entry's
   hash re-computed, every link, every meeting/batch/page/decision row against its last
   record in the chain); the head must be the manifest's; the anchor must be signed by the
   signer and its head for this meeting must be in the chain;
4. the images: each one's bytes hash to its name, and every page has its image (when the
   bundle carries images).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from forms.load import SpecError, parse_spec
from tally import anchors, audit, keys
from tally.db import AuditEntry, Base, Meeting, MeetingForm, PrintedSerial, canonical_json
from tally.exchange.archive import BundleFile
from tally.exchange.bundle import (
    ANCHOR,
    AUDIT,
    BATCHES,
    DECISIONS,
    FINGERPRINTS,
    MANIFEST,
    MAX_DATA_MEMBER_BYTES,
    MAX_IMAGE_BYTES,
    MEETING,
    OPTIONAL_MEMBERS,
    PAGES,
    ROW_MEMBERS,
    SIGNATURE,
    AuditRow,
    BatchRow,
    BundleError,
    DecisionRow,
    FingerprintRow,
    Manifest,
    MeetingDoc,
    PageRow,
    SignatureDoc,
    image_digest,
    image_member,
    parse_lines,
    reference_digests,
    sha256_hex,
    when,
)
from tally.exchange.rows import batch_model, decision_model, page_model

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed every check: its typed content and who signed it."""

    path: Path
    manifest: Manifest
    manifest_bytes: bytes
    signature: SignatureDoc
    signer: keys.PublicKey
    meeting: MeetingDoc
    batches: list[BatchRow]
    pages: list[PageRow]
    decisions: list[DecisionRow]
    audit: list[AuditRow]
    audit_bytes: bytes
    anchor: dict[str, Any]
    fingerprints: list[FingerprintRow]

    @property
    def manifest_sha256(self) -> str:
        return self.signature.manifest_sha256


def _parse(what: str, make: Callable[[], Any]) -> Any:
    try:
        return make()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(document)"
        raise BundleError(f"{what}: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise BundleError(f"{what}: {exc}") from None


def check_signature(bundle: BundleFile, data_dir: Path) -> tuple[Manifest, bytes, SignatureDoc,
                                                                  keys.PublicKey]:
    """Step 1 (see the module docstring)."""
    where = bundle.path
    manifest_bytes = bundle.read(MANIFEST, 64 * 1024 * 1024)
    sig = _parse(f"{where}: {SIGNATURE}", lambda: SignatureDoc.parse(bundle.read(SIGNATURE,
                                                                                 1 << 20)))
    try:
        signer = keys.parse_public(sig.public_key_pem, f"{where}: {SIGNATURE} public key")
    except keys.KeyFileError as exc:
        raise BundleError(str(exc)) from None
    if signer.fingerprint != sig.fingerprint or signer.id != sig.key_id:
        raise BundleError(f"{where}: the signature names key {sig.key_id} (fingerprint "
                          f"{sig.fingerprint}) but carries key {signer.id}: the signature "
                          "file was altered; refused")
    if sha256_hex(manifest_bytes) != sig.manifest_sha256 or not signer.verify(
            manifest_bytes, sig.signature):
        raise BundleError(f"{where}: the signature of key {signer.id} does not match the "
                          "manifest: the manifest or its signature was altered after the "
                          "station signed it; refused — ask the station for a new export")
    try:
        trusted = keys.is_trusted(data_dir, signer)
    except keys.KeyFileError as exc:
        raise BundleError(str(exc)) from None
    if not trusted:
        raise BundleError(f"{where} is signed by key {signer.id} (fingerprint "
                          f"{signer.fingerprint}), which this store does not trust; if that "
                          "is the station's key (compare the fingerprint with the station's "
                          "`scantally keys show`), trust it with `scantally keys trust "
                          "STATION.pub` and import again")
    manifest = _parse(f"{where}: {MANIFEST}", lambda: Manifest.parse(manifest_bytes))
    if manifest.station.fingerprint != signer.fingerprint:
        raise BundleError(f"{where}: the manifest names station key {manifest.station.key_id} "
                          f"but is signed by {signer.id}; refused")
    return manifest, manifest_bytes, sig, signer


def check_members(bundle: BundleFile, manifest: Manifest,
                  progress: Progress | None = None) -> None:
    """Step 2, and step 4's image hashes (an image member's digest must be its name)."""
    listed = {m.name: m for m in manifest.members}
    present = set(bundle.infos) - {MANIFEST, SIGNATURE}
    extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
    if extra:
        raise BundleError(f"{bundle.path}: member {extra[0]} is not in the signed manifest: "
                          "added after the station signed the bundle; refused")
    if missing:
        raise BundleError(f"{bundle.path}: member {missing[0]} is in the signed manifest but "
                          "not in the file: the bundle is incomplete; copy it again")
    for name in ROW_MEMBERS:
        if name not in listed:
            raise BundleError(f"{bundle.path}: the manifest lists no {name}: not a whole "
                              "bundle")
    total = len(listed)
    for n, (name, m) in enumerate(sorted(listed.items()), 1):
        claimed = image_digest(name)
        if claimed is None and name not in ROW_MEMBERS and name not in OPTIONAL_MEMBERS:
            raise BundleError(f"{bundle.path}: member {name} is not a member of "
                              "scantally.bundle/1; refused")
        limit = MAX_IMAGE_BYTES if claimed else MAX_DATA_MEMBER_BYTES
        if bundle.size(name) != m.bytes or m.bytes > limit:
            raise BundleError(f"{bundle.path}: member {name} is {bundle.size(name):,} bytes, "
                              f"the signed manifest says {m.bytes:,}: it was changed after "
                              "signing; refused")
        actual = bundle.digest(name)
        if actual != m.sha256:
            what = f"image {claimed[:12]}…" if claimed else name
            raise BundleError(f"{bundle.path}: {what} does not match the signed manifest "
                              f"(SHA-256 {actual[:16]}…, signed {m.sha256[:16]}…): it was "
                              "changed after the station signed the bundle; refused")
        if claimed is not None and actual != claimed:
            raise BundleError(f"{bundle.path}: image member {name} hashes to {actual[:16]}…, "
                              "not to its name: the station's image store was damaged; refused")
        if progress:
            progress("hashes", n, total)


def _scratch_check(meeting: MeetingDoc, batches: list[BatchRow], pages: list[PageRow],
                   decisions: list[DecisionRow], chain: list[AuditRow],
                   anchor: dict[str, Any], where: Path) -> None:
    """Step 3: the station's rows under the station's ids, checked as the station checks."""
    engine = create_engine("sqlite://")
    try:
        Base.metadata.create_all(engine)
        mid = meeting.origin_id
        with Session(engine) as s, s.begin():
            s.add(Meeting(id=mid, uid=meeting.uid, name=meeting.name, unit=meeting.unit,
                          date=meeting.date, expected=meeting.expected,
                          present=meeting.present, issued=meeting.issued,
                          serials_recorded=meeting.serials_recorded, settings=meeting.settings,
                          created_at=when(meeting.created_at, f"{where}: {MEETING} created_at")))
            s.add_all(MeetingForm(meeting_id=mid, form_id=f.form_id, kind=f.kind, title=f.title,
                                  spec_yaml=f.spec_yaml, layout=f.layout,
                                  layout_hash=f.layout_hash) for f in meeting.forms)
            s.add_all(PrintedSerial(meeting_id=mid, serial=x) for x in meeting.serials)
            s.add_all(batch_model(b, mid, b.id, where) for b in batches)
            s.flush()
            s.add_all(page_model(p, mid, p.id, p.batch_id, p.duplicate_of, where) for p in pages)
            s.flush()
            s.add_all(decision_model(d, mid, d.id, d.page_id, where) for d in decisions)
            s.add_all(AuditEntry(meeting_id=mid, seq=e.seq, at=e.at, actor=e.actor,
                                 action=e.action, payload=e.payload, prev_hash=e.prev_hash,
                                 hash=e.hash) for e in chain)
            s.flush()
            problems = audit.check_meeting(s, mid)
            if problems:
                raise BundleError(f"{where}: the station's audit check fails on the bundle's "
                                  f"rows: {problems[0]}"
                                  + (f" (and {len(problems) - 1} more)" if len(problems) > 1
                                     else "") + "; refused")
            trouble = anchors.check_chain(s, [anchor], anchors.meeting_chain(mid))
            if trouble:
                raise BundleError(f"{where}: the station's signed anchor disagrees with the "
                                  f"bundle's audit chain: {trouble[0]}; refused")
    except BundleError:
        raise
    except Exception as exc:  # a row the tables refuse (a clash of ids, a bad value)
        raise BundleError(f"{where}: the bundle's rows do not fit together ({exc}); "
                          "refused") from None
    finally:
        engine.dispose()


def _check_anchor(anchor: dict[str, Any], signer: keys.PublicKey, where: Path) -> None:
    if not isinstance(anchor, dict) or anchor.get("schema") != anchors.SCHEMA:
        raise BundleError(f"{where}: {ANCHOR} is not an audit anchor")
    body = {k: v for k, v in anchor.items() if k != "sig"}
    if anchor.get("key") != signer.id or not isinstance(anchor.get("sig"), str) or \
            not signer.verify(canonical_json(body).encode("utf-8"), anchor["sig"]):
        raise BundleError(f"{where}: the anchor in the bundle is not signed by the bundle's "
                          f"signer {signer.id}: altered; refused")


def verify_bundle(path: Path, data_dir: Path, progress: Progress | None = None
                  ) -> VerifiedBundle:
    """Every check of the module docstring; the bundle's content when all pass."""
    path = Path(path)
    with BundleFile(path) as bundle:
        manifest, manifest_bytes, sig, signer = check_signature(bundle, data_dir)
        check_members(bundle, manifest, progress)
        meeting = _parse(f"{path}: {MEETING}",
                         lambda: MeetingDoc.model_validate_json(bundle.read(MEETING)))
        batches = parse_lines(bundle.read(BATCHES), BatchRow, f"{path}: {BATCHES}")
        pages = parse_lines(bundle.read(PAGES), PageRow, f"{path}: {PAGES}")
        decisions = parse_lines(bundle.read(DECISIONS), DecisionRow, f"{path}: {DECISIONS}")
        audit_bytes = bundle.read(AUDIT)
        chain = parse_lines(audit_bytes, AuditRow, f"{path}: {AUDIT}")
        try:
            anchor = json.loads(bundle.read(ANCHOR, 1 << 20))
        except ValueError:
            raise BundleError(f"{path}: {ANCHOR} is not JSON") from None
        names = set(bundle.infos)
        prints = (parse_lines(bundle.read(FINGERPRINTS), FingerprintRow,
                              f"{path}: {FINGERPRINTS}") if FINGERPRINTS in names else [])
    if meeting.uid != manifest.meeting.uid or meeting.origin_id != manifest.meeting.origin_id:
        raise BundleError(f"{path}: {MEETING} is meeting {meeting.uid}, the manifest names "
                          f"{manifest.meeting.uid}; refused")
    counts = (len(batches), len(pages), len(decisions), len(chain))
    claimed = (manifest.counts.batches, manifest.counts.pages, manifest.counts.decisions,
               manifest.counts.audit_entries)
    if counts != claimed:
        raise BundleError(f"{path}: the bundle holds {counts} batches/pages/decisions/audit "
                          f"entries, the manifest says {claimed}; refused")
    if not chain or (chain[-1].seq, chain[-1].hash) != (manifest.audit_head.seq,
                                                        manifest.audit_head.hash):
        raise BundleError(f"{path}: the audit chain does not end at the signed head "
                          f"#{manifest.audit_head.seq}: entries were cut; refused")
    for f in meeting.forms:
        try:
            parse_spec(f.spec_yaml, f"{path}: form {f.form_id}")
        except SpecError as exc:
            raise BundleError(f"{exc}; this Scantally cannot read the form: update it") from None
    _check_anchor(anchor, signer, path)
    _scratch_check(meeting, batches, pages, decisions, chain, anchor, path)
    if manifest.with_images:
        for p in pages:
            if image_member(p.sha256) not in names:
                raise BundleError(f"{path}: page #{p.id} ({p.source}) has no image "
                                  f"{p.sha256[:12]}… in the bundle; refused")
    for digest in reference_digests(meeting.forms):
        if image_member(digest) not in names:
            raise BundleError(f"{path}: the reference image {digest[:12]}… of a foreign form "
                              "is not in the bundle: its sheets could not be read here; "
                              "refused — export the meeting again with this Scantally")
    _check_fingerprints(prints, pages, meeting, path)
    return VerifiedBundle(path, manifest, manifest_bytes, sig, signer, meeting, batches, pages,
                          decisions, chain, audit_bytes, anchor, prints)


def _check_fingerprints(prints: list[FingerprintRow], pages: list[PageRow],
                        meeting: MeetingDoc, where: Path) -> None:
    """Each fingerprint row names a page of the bundle, of its form and page number, and is the
    fingerprint that page's reading (checked by the audit chain) carries."""
    by_id = {p.id: p for p in pages}
    seen: set[int] = set()
    for n, f in enumerate(prints, 1):
        p = by_id.get(f.page_id)
        what = f"{where}: {FINGERPRINTS} line {n}"
        if p is None or f.page_id in seen:
            raise BundleError(f"{what}: page #{f.page_id} is not a page of the bundle (or is "
                              "listed twice); refused")
        seen.add(f.page_id)
        if (p.form_id, p.page_no) != (f.form_id, f.page_no) or \
                (p.reading or {}).get("fingerprint") != f.fingerprint:
            raise BundleError(f"{what}: the fingerprint of page #{p.id} ({p.source}) is not "
                              "its reading's: altered; refused")
