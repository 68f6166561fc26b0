"""`export_meeting`: one meeting of a store as a signed bundle file, written whole or not at all.

The meeting must pass its audit check first (a store that fails `verify` is not sent on). A
fresh anchor is written just before the rows are read, so the bundle's anchor covers them; the
rows, chain and images are read in one read-only transaction; images are read through the image
store, which checks each against its hash. The zip is written to a temp file beside the target,
fsynced and renamed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tally import anchors, audit, keys
from tally.db import (
    AuditEntry,
    Batch,
    Decision,
    Meeting,
    MeetingForm,
    Page,
    PrintedSerial,
    iso_utc,
    utc_now,
)
from tally.exchange.archive import BundleWriter
from tally.exchange.bundle import (
    ANCHOR,
    AUDIT,
    BATCHES,
    BUNDLE_SCHEMA,
    DECISIONS,
    FINGERPRINTS,
    MANIFEST,
    MEETING,
    PAGES,
    SIGNATURE,
    SIGNATURE_SCHEMA,
    AuditRow,
    BatchRow,
    BundleError,
    ChainHead,
    Counts,
    DecisionRow,
    FingerprintRow,
    FormDoc,
    Manifest,
    MeetingDoc,
    MeetingRef,
    PageRow,
    SignatureDoc,
    StationRef,
    image_member,
    jsonl,
    reference_digests,
    sha256_hex,
)
from tally.files import fsync_dir
from tally.fingerprints import SheetFingerprint
from tally.images import ImageError
from tally.store import Store

#: progress(stage, done, total): stage "rows" or "images"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    bytes: int
    manifest_sha256: str
    key_id: str
    audit_head: ChainHead
    counts: Counts


@dataclass(frozen=True)
class Snapshot:
    meeting: MeetingDoc
    batches: list[BatchRow]
    pages: list[PageRow]
    decisions: list[DecisionRow]
    audit: list[AuditRow]
    fingerprints: list[FingerprintRow]


def _ts(value: object) -> str:
    return iso_utc(value) or ""  # type: ignore[arg-type]


def snapshot(s: Session, meeting_id: int) -> Snapshot:
    """The meeting's rows, as typed bundle rows, from one read of the session."""
    m = s.get(Meeting, meeting_id)
    if m is None:
        raise BundleError(f"no meeting #{meeting_id}")
    forms = s.scalars(select(MeetingForm).where(MeetingForm.meeting_id == meeting_id)
                      .order_by(MeetingForm.id)).all()
    serials = sorted(s.scalars(select(PrintedSerial.serial)
                               .where(PrintedSerial.meeting_id == meeting_id)))
    doc = MeetingDoc(
        uid=m.uid, origin_id=m.id, name=m.name, unit=m.unit, date=m.date, expected=m.expected,
        present=m.present, issued=m.issued, serials_recorded=m.serials_recorded,
        settings=m.settings, created_at=_ts(m.created_at),
        forms=[FormDoc(form_id=f.form_id, kind=f.kind, title=f.title, spec_yaml=f.spec_yaml,
                       layout=f.layout, layout_hash=f.layout_hash) for f in forms],
        serials=serials)
    batches = [BatchRow(id=b.id, station=b.station, device=b.device, operator=b.operator,
                        category=b.category, started_at=_ts(b.started_at),
                        ended_at=iso_utc(b.ended_at))
               for b in s.scalars(select(Batch).where(Batch.meeting_id == meeting_id)
                                  .order_by(Batch.id))]
    pages = [PageRow(id=p.id, batch_id=p.batch_id, sha256=p.sha256, image_bytes=p.image_bytes,
                     source=p.source, form_id=p.form_id, page_no=p.page_no, serial=p.serial,
                     status=p.status, reason=p.reason, reading=p.reading,
                     page_to_image=p.page_to_image, state=p.state, count_key=p.count_key,
                     duplicate_of=p.duplicate_of, ingested_at=_ts(p.ingested_at))
             for p in s.scalars(select(Page).where(Page.meeting_id == meeting_id)
                                .order_by(Page.id))]
    decisions = [DecisionRow(id=d.id, page_id=d.page_id, field=d.field, option=d.option,
                             kind=d.kind, text=d.text, before=d.before, after=d.after,
                             who=d.who, why=d.why, at=_ts(d.at))
                 for d in s.scalars(select(Decision).where(Decision.meeting_id == meeting_id)
                                    .order_by(Decision.id))]
    chain = [AuditRow(seq=e.seq, at=e.at, actor=e.actor, action=e.action, payload=e.payload,
                      prev_hash=e.prev_hash, hash=e.hash)
             for e in s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == meeting_id)
                                .order_by(AuditEntry.seq))]
    prints = [FingerprintRow(page_id=f.page_id, form_id=f.form_id, page_no=f.page_no,
                             fingerprint=f.fingerprint)
              for f in s.scalars(select(SheetFingerprint)
                                 .where(SheetFingerprint.meeting_id == meeting_id)
                                 .order_by(SheetFingerprint.page_id))]
    return Snapshot(doc, batches, pages, decisions, chain, prints)


def _anchor_line(store: Store) -> str:
    """Anchor the store now and return that anchor's line as written in the anchor file."""
    written = anchors.write(store, "exchange.export")
    return json.dumps(written, ensure_ascii=False, sort_keys=True)


def export_meeting(store: Store, meeting_id: int, out: Path, *, images: bool = True,
                   who: str = "", progress: Progress | None = None) -> ExportResult:
    """Write the meeting as a signed bundle to `out` (see the module docstring)."""
    key = keys.load_key(store.data_dir)
    if key is None:
        raise BundleError(f"this station has no key to sign the bundle with ({store.data_dir}); "
                          f"make one with `scantally keys new --data {store.data_dir}` and hand "
                          "its station.pub to the department")
    with store.session(readonly=True) as s:
        problems = audit.check_meeting(s, meeting_id)
    if problems:
        raise BundleError(f"meeting #{meeting_id} fails its audit check ({problems[0]}"
                          f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}); "
                          "run `scantally verify` and restore the store before exporting")
    anchor_line = _anchor_line(store)
    with store.session(readonly=True) as s, s.begin():
        snap = snapshot(s, meeting_id)
    if not snap.audit:
        raise BundleError(f"meeting #{meeting_id} has no audit chain; it cannot be exported")
    head = ChainHead(seq=snap.audit[-1].seq, hash=snap.audit[-1].hash)
    digests = sorted({p.sha256 for p in snap.pages}) if images else []
    # a foreign form's blank: always carried, the meeting is read and recounted by it
    references = [d for d in reference_digests(snap.meeting.forms) if d not in digests]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            w = BundleWriter(fh)
            rows = (
                (MEETING, snap.meeting.model_dump_json(indent=1).encode("utf-8")),
                (BATCHES, jsonl(snap.batches)), (PAGES, jsonl(snap.pages)),
                (DECISIONS, jsonl(snap.decisions)), (AUDIT, jsonl(snap.audit)),
                (ANCHOR, (anchor_line + "\n").encode("utf-8")))
            if snap.fingerprints:
                rows += ((FINGERPRINTS, jsonl(snap.fingerprints)),)
            for n, (name, data) in enumerate(rows, 1):
                w.add(name, data)
                if progress:
                    progress("rows", n, len(rows))
            for n, digest in enumerate(digests, 1):
                try:
                    data = store.images.get(digest, what="export")
                except ImageError as exc:
                    raise BundleError(f"{exc}; or export with --no-images") from None
                w.add(image_member(digest), data, compress=False)
                if progress:
                    progress("images", n, len(digests))
            for digest in references:
                try:
                    data = store.images.get(digest, what="reference image")
                except ImageError as exc:
                    raise BundleError(f"{exc}: a foreign form's reference image is needed "
                                      "to read the meeting; restore the image store") from None
                w.add(image_member(digest), data, compress=False)
            manifest = Manifest(
                schema_=BUNDLE_SCHEMA, created_at=iso_utc(utc_now()) or "", created_by=who,
                meeting=MeetingRef(uid=snap.meeting.uid, name=snap.meeting.name,
                                   origin_id=snap.meeting.origin_id),
                station=StationRef(key_id=key.id, fingerprint=key.public.fingerprint),
                audit_head=head,
                counts=Counts(batches=len(snap.batches), pages=len(snap.pages),
                              decisions=len(snap.decisions), audit_entries=len(snap.audit),
                              images=len(digests), references=len(references),
                              fingerprints=len(snap.fingerprints)),
                with_images=images, members=w.members)
            manifest_bytes = manifest.to_json().encode("utf-8")
            signature = SignatureDoc(
                schema_=SIGNATURE_SCHEMA, algorithm="ed25519", key_id=key.id,
                fingerprint=key.public.fingerprint, public_key_pem=key.public.pem(),
                manifest_sha256=sha256_hex(manifest_bytes), signature=key.sign(manifest_bytes))
            w.add_unlisted(MANIFEST, manifest_bytes)
            w.add_unlisted(SIGNATURE, signature.to_json().encode("utf-8"))
            w.close()
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(out.parent)
    return ExportResult(out, out.stat().st_size, signature.manifest_sha256, key.id, head,
                        manifest.counts)
