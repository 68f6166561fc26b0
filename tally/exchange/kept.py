"""What a department keeps of an import (`ExchangeImport`), checked again by `scantally verify`.

The row holds the signed manifest, its signature, the signer's public key and the station's
own audit chain as they came in the bundle. Editing any of it is found without the bundle: the
manifest's SHA-256 is cited by the meeting's `exchange.import` audit entry (itself in this
store's hash chain, so the row cannot be rewritten to match), the signature must verify the
manifest with the kept key of the cited fingerprint, and the station's chain must hash to the
manifest's audit member and end at the head the manifest names. No new chain is made; the
checks read what the import already wrote.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tally import keys
from tally.audit import Problem
from tally.db import AuditEntry, ExchangeImport
from tally.exchange.bundle import AUDIT, BundleError, Manifest, SignatureDoc, sha256_hex


def check_kept_import(s: Session, meeting_id: int) -> list[Problem]:
    """Problems with the meeting's kept import record ([] when it was not imported)."""
    row = s.scalars(select(ExchangeImport).where(ExchangeImport.meeting_id == meeting_id)).first()
    cited = s.scalars(select(AuditEntry).where(AuditEntry.meeting_id == meeting_id,
                                               AuditEntry.action == "exchange.import")
                      .order_by(AuditEntry.seq)).all()
    if row is None:
        return [Problem("exchange", f"meeting #{meeting_id}", f"audit entry #{cited[-1].seq} "
                        "records an import but the kept import record (signed manifest, the "
                        "station's chain) is gone: restore it from a backup")] if cited else []
    where = f"exchange import #{row.id} (meeting #{meeting_id})"
    problems: list[Problem] = []
    if not cited:
        return [Problem("exchange", where, "no exchange.import entry in the meeting's audit "
                        "chain cites it: the chain or the row was rewritten")]
    note = cited[-1].payload
    manifest_bytes = row.manifest.encode("utf-8")
    digest = sha256_hex(manifest_bytes)
    for name, kept, logged in (("manifest SHA-256", digest, note.get("manifest_sha256")),
                               ("row's manifest SHA-256", row.manifest_sha256,
                                note.get("manifest_sha256")),
                               ("signer fingerprint", row.signer_fingerprint,
                                note.get("signer_fingerprint"))):
        if kept != logged:
            problems.append(Problem("exchange", where, f"edited: the kept {name} {kept[:16]}… "
                                    f"is not the one the audit entry #{cited[-1].seq} cites "
                                    f"({str(logged)[:16]}…)"))
    try:
        public = keys.parse_public(row.signer_public_pem, where)
        sig = SignatureDoc.parse(row.signature.encode("utf-8"))
        manifest = Manifest.parse(manifest_bytes)
    except (BundleError, keys.KeyFileError, ValidationError, ValueError) as exc:
        return [*problems, Problem("exchange", where, f"unreadable kept record: {exc}")]
    if public.fingerprint != row.signer_fingerprint:
        problems.append(Problem("exchange", where, "the kept public key is not the signer's "
                                "(fingerprint differs)"))
    if sig.manifest_sha256 != digest or sig.fingerprint != row.signer_fingerprint:
        problems.append(Problem("exchange", where, "the kept signature names another manifest "
                                "or signer than the row"))
    if not public.verify(manifest_bytes, sig.signature):
        problems.append(Problem("exchange", where, "the kept signature does not verify the "
                                "kept manifest with the signer's key"))
    member = next((m for m in manifest.members if m.name == AUDIT), None)
    if member is None or sha256_hex(row.origin_audit.encode("utf-8")) != member.sha256:
        problems.append(Problem("exchange", where, "the station's audit chain kept is not the "
                                "one the signed manifest lists (edited)"))
    if (row.origin_head_seq, row.origin_head_hash) != (manifest.audit_head.seq,
                                                       manifest.audit_head.hash):
        problems.append(Problem("exchange", where, "the kept station head is not the signed "
                                "manifest's"))
    return problems
