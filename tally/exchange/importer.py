"""`import_bundle`: a verified bundle into this store, in one transaction, or not at all.

After `verify_bundle` passes, the images go to the content-addressed image store (each file
durable before any row names it, as at ingest), then ONE transaction writes the meeting under
new ids (same uid), its forms, serials, batches, pages and decisions, the `ExchangeImport`
record (the signed manifest and the station's chain as they came) and a fresh audit chain for
this store: one entry per row with its full record (`tally.audit.RECORDS`), so `verify` checks
every row here as it does at the station, and a last `exchange.import` entry citing the bundle
(manifest SHA-256, signer, the station's chain head). The same figures follow from the same
rows: the result hash is the station's. After the commit the meeting's per-person figures are
computed and cached (`tally.cadre.warm`), so a cadre's view in the department only reads.

A meeting already here with the bundle's uid: the same signer and the same chain head is
"already imported" (nothing changes); anything else is refused, naming what differs.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tally import anchors, audit
from tally.cadre.warm import warm_meeting
from tally.db import (
    AuditEntry,
    ExchangeImport,
    Meeting,
    MeetingForm,
    Page,
    PrintedSerial,
    iso_utc,
    utc_now,
)
from tally.exchange.archive import BundleFile
from tally.exchange.bundle import (
    MAX_IMAGE_BYTES,
    AuditRow,
    BundleError,
    image_member,
    reference_digests,
    sha256_hex,
    when,
)
from tally.exchange.rows import batch_model, decision_model, page_model
from tally.exchange.verify import VerifiedBundle, verify_bundle
from tally.files import fsync_dir, write_atomic
from tally.fingerprints import SheetFingerprint
from tally.store import Store

Progress = Callable[[str, int, int], None]
Outcome = Literal["imported", "already"]
#: threads writing image files at import (each fsync waits on the disk, not on Python)
IMAGE_WRITERS = 4


@dataclass(frozen=True)
class ImportResult:
    outcome: Outcome
    meeting_id: int
    meeting_name: str
    meeting_uid: str
    signer_key_id: str
    pages: int
    images: int
    message: str


def _chain_of(text: str) -> list[AuditRow]:
    return [AuditRow.model_validate_json(line) for line in text.splitlines() if line.strip()]


def describe_difference(old: ExchangeImport, new: VerifiedBundle) -> str:
    """What differs between the bundle imported before and this one, for the refusal."""
    if old.signer_fingerprint != new.signer.fingerprint:
        return (f"it was imported on {iso_utc(old.imported_at)} by {old.imported_by} from "
                f"station key {old.signer_key_id} (fingerprint {old.signer_fingerprint}); "
                f"this bundle is signed by key {new.signer.id} (fingerprint "
                f"{new.signer.fingerprint}): another station's copy of the meeting")
    before, after = _chain_of(old.origin_audit), new.audit
    k = next((i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a.hash != b.hash),
             None)
    old_members = {m["name"]: m["sha256"] for m in json.loads(old.manifest)["members"]}
    changed = sorted(m.name for m in new.manifest.members
                     if not m.name.startswith("images/") and old_members.get(m.name)
                     not in (None, m.sha256))
    members = f"; members that differ: {', '.join(changed)}" if changed else ""
    if k is None and len(after) > len(before):
        added = after[len(before):]
        actions = sorted({e.action for e in added})
        return (f"the station's audit chain goes on past the copy imported here: entries "
                f"#{added[0].seq}-#{added[-1].seq} ({', '.join(actions)}) were added after "
                f"the import of {iso_utc(old.imported_at)}{members}")
    if k is None:
        return (f"the bundle's audit chain ends at #{after[-1].seq}, the imported one at "
                f"#{before[-1].seq}: the bundle is older than the copy here{members}")
    a, b = before[k], after[k]
    return (f"the audit chains part at entry #{a.seq}: here {a.action} at {a.at} by {a.actor}, "
            f"in the bundle {b.action} at {b.at} by {b.actor}{members}")


def _existing(s: Session, uid: str) -> tuple[Meeting | None, ExchangeImport | None]:
    m = s.scalars(select(Meeting).where(Meeting.uid == uid)).first()
    if m is None:
        return None, None
    imp = s.scalars(select(ExchangeImport).where(ExchangeImport.meeting_id == m.id)).first()
    return m, imp


def _already(m: Meeting, b: VerifiedBundle, note: str) -> ImportResult:
    return ImportResult("already", m.id, m.name, m.uid, b.signer.id, len(b.pages), 0,
                        f"meeting {m.name!r} (uid {m.uid}) already imported {note}; "
                        "nothing changed")


def _check_existing(s: Session, b: VerifiedBundle) -> ImportResult | None:
    """None when the meeting is new here; "already" when it is this very content; else
    BundleError naming what differs."""
    m, imp = _existing(s, b.meeting.uid)
    if m is None:
        return None
    head = (b.manifest.audit_head.seq, b.manifest.audit_head.hash)
    if imp is None:  # made in this store: only this store's own unchanged chain is "the same"
        own = audit.head(s, m.id)
        if own is not None and (own.seq, own.hash) == head and m.id == b.meeting.origin_id:
            return _already(m, b, "(it was made in this store)")
        raise BundleError(f"{b.path}: meeting uid {m.uid} is meeting #{m.id} {m.name!r}, made "
                          "in this store, and the bundle's audit chain is not this store's: "
                          "refused")
    if imp.signer_fingerprint == b.signer.fingerprint and \
            (imp.origin_head_seq, imp.origin_head_hash) == head:
        note = f"on {iso_utc(imp.imported_at)} by {imp.imported_by}"
        if b.manifest.with_images and not imp.with_images:
            note += " (without images: the images in this bundle were not added)"
        return _already(m, b, note)
    raise BundleError(f"{b.path}: meeting {m.name!r} (uid {m.uid}) is already here (meeting "
                      f"#{m.id}) from another bundle: {describe_difference(imp, b)}; refused "
                      "— nothing was changed")


def _record_entry(meeting_id: int, seq: int, prev: str, at: str, actor: str,
                  action: str, payload: dict[str, Any]) -> AuditEntry:
    return AuditEntry(meeting_id=meeting_id, seq=seq, at=at, actor=actor, action=action,
                      payload=payload, prev_hash=prev,
                      hash=audit.entry_hash(meeting_id, seq, at, actor, action, payload, prev))


def _write(s: Session, b: VerifiedBundle, name: str, who: str) -> Meeting:
    where = b.path
    doc = b.meeting
    m = Meeting(uid=doc.uid, name=name, unit=doc.unit, date=doc.date, expected=doc.expected,
                present=doc.present, issued=doc.issued, serials_recorded=doc.serials_recorded,
                settings=doc.settings, created_at=when(doc.created_at, "meeting created_at"))
    s.add(m)
    s.flush()
    s.add_all(MeetingForm(meeting_id=m.id, form_id=f.form_id, kind=f.kind, title=f.title,
                          spec_yaml=f.spec_yaml, layout=f.layout, layout_hash=f.layout_hash)
              for f in doc.forms)
    s.add_all(PrintedSerial(meeting_id=m.id, serial=x) for x in doc.serials)
    batches = {r.id: batch_model(r, m.id, None, where) for r in b.batches}
    s.add_all(batches.values())
    s.flush()
    pages: dict[int, Page] = {}
    pending: list[tuple[int, Page]] = []
    for r in b.pages:  # a duplicate points at an earlier page: flush that one first
        if r.duplicate_of is not None and r.duplicate_of not in pages:
            s.flush()
            pages.update(pending)
            pending = []
        original = pages[r.duplicate_of].id if r.duplicate_of is not None else None
        row = page_model(r, m.id, None, batches[r.batch_id].id, original, where)
        s.add(row)
        pending.append((r.id, row))
    s.flush()
    pages.update(pending)
    decisions = [decision_model(r, m.id, None, pages[r.page_id].id, where) for r in b.decisions]
    s.add_all(decisions)
    s.add_all(SheetFingerprint(page_id=pages[f.page_id].id, meeting_id=m.id, form_id=f.form_id,
                               page_no=f.page_no, fingerprint=f.fingerprint)
              for f in b.fingerprints)
    s.flush()
    at = iso_utc(utc_now()) or ""
    actor = who[:80] or "import"
    entries: list[AuditEntry] = []
    rows: list[tuple[str, Any]] = ([("meeting", m)] + [("batch", x) for x in batches.values()]
                                   + [("page", x) for x in pages.values()]
                                   + [("decision", x) for x in decisions])
    prev = audit.GENESIS_HASH
    for kind, row in rows:
        payload = {"kind": kind, "id": row.id, "record": audit.RECORDS[kind][1](s, row)}
        e = _record_entry(m.id, len(entries) + 1, prev, at, actor, f"{kind}.import", payload)
        entries.append(e)
        prev = e.hash
    note = {"kind": "exchange_import", "bundle": str(b.path.name),
            "manifest_sha256": b.manifest_sha256, "signer_key_id": b.signer.id,
            "signer_fingerprint": b.signer.fingerprint, "uid": doc.uid,
            "origin": {"meeting_id": doc.origin_id, "name": doc.name,
                       "head_seq": b.manifest.audit_head.seq,
                       "head_hash": b.manifest.audit_head.hash},
            "exported_at": b.manifest.created_at, "exported_by": b.manifest.created_by,
            "with_images": b.manifest.with_images}
    entries.append(_record_entry(m.id, len(entries) + 1, prev, at, actor, "exchange.import",
                                 note))
    s.add_all(entries)
    s.add(ExchangeImport(
        meeting_id=m.id, meeting_uid=doc.uid, manifest_sha256=b.manifest_sha256,
        manifest=b.manifest_bytes.decode("utf-8"), signature=b.signature.to_json(),
        signer_key_id=b.signer.id, signer_fingerprint=b.signer.fingerprint,
        signer_public_pem=b.signer.pem(), origin_meeting_id=doc.origin_id,
        origin_head_seq=b.manifest.audit_head.seq, origin_head_hash=b.manifest.audit_head.hash,
        origin_audit=b.audit_bytes.decode("utf-8"), with_images=b.manifest.with_images,
        imported_by=actor))
    s.flush()
    return m


def _store_images(store: Store, b: VerifiedBundle, progress: Progress | None) -> int:
    """Every image (and every foreign form's reference image) into the image store, each file
    fsynced by a few writer threads (the disk groups their flushes) and each folder once at the
    end, all before any row names them."""
    digests = sorted({p.sha256 for p in b.pages}) if b.manifest.with_images else []
    digests = sorted(set(digests) | set(reference_digests(b.meeting.forms)))
    folders: set[Path] = set()
    pending: deque[Future[Path]] = deque()
    with BundleFile(b.path) as bundle, ThreadPoolExecutor(IMAGE_WRITERS) as pool:
        for n, digest in enumerate(digests, 1):
            data = bundle.read(image_member(digest), MAX_IMAGE_BYTES)
            if sha256_hex(data) != digest:  # changed since it was verified
                raise BundleError(f"{b.path}: image {digest[:12]}… changed while importing; "
                                  "refused")
            target = store.images.path(digest)
            folders.add(target.parent)
            if not (target.exists() and store.images.check(digest) is None):
                pending.append(pool.submit(write_atomic, target, data, sync_dir=False))
            while len(pending) > 2 * IMAGE_WRITERS:
                pending.popleft().result()
            if progress:
                progress("images", n, len(digests))
        for f in pending:
            f.result()
    for folder in sorted(folders):
        fsync_dir(folder)
    return len(digests)


def import_bundle(store: Store, path: Path, *, who: str, name: str | None = None,
                  progress: Progress | None = None) -> ImportResult:
    """Verify the bundle at `path` and write it into `store` (see the module docstring).
    `name`: store the meeting under another name (names are unique within a store)."""
    b = verify_bundle(Path(path), store.data_dir, progress)
    target = name or b.meeting.name
    with store.session(readonly=True) as s:
        known = _check_existing(s, b)
        if known is not None:
            return known
        clash = s.scalars(select(Meeting).where(Meeting.name == target)).first()
    if clash is not None:
        raise BundleError(f"a meeting named {target!r} is here already (meeting #{clash.id}, "
                          f"uid {clash.uid}), another meeting than the bundle's (uid "
                          f"{b.meeting.uid}); import it under another name with --name")
    images = _store_images(store, b, progress)

    def work(s: Session) -> ImportResult:
        known = _check_existing(s, b)  # a concurrent import of the same bundle won
        if known is not None:
            return known
        m = _write(s, b, target, who)
        return ImportResult("imported", m.id, m.name, m.uid, b.signer.id, len(b.pages), images,
                            f"meeting {m.name!r} imported as #{m.id}: {len(b.pages)} page(s), "
                            f"{len(b.decisions)} decision(s), {images} image(s), signed by "
                            f"key {b.signer.id}")

    if progress:
        progress("writing", 0, 1)
    result = store.write(work)
    if result.outcome == "imported":
        anchors.write(store, "exchange.import")
    if progress:
        progress("writing", 1, 1)
    if result.outcome == "imported":
        # derived data, after the commit: the cadre view of a department store only reads
        if progress:
            progress("per-person figures", 0, 1)
        warm_meeting(store, result.meeting_id)
        if progress:
            progress("per-person figures", 1, 1)
    return result
