"""The bundle format `scantally.bundle/1`: a zip of typed members, a manifest, its signature.

Members (every one listed in `manifest.json` with its SHA-256 and size):
- `meeting.json`: the meeting (`MeetingDoc`: uid, facts, settings, forms with spec and layout,
  printed serials);
- `batches.jsonl`, `pages.jsonl`, `decisions.jsonl`, `audit.jsonl`: one row per line
  (`BatchRow`, `PageRow`, `DecisionRow`, `AuditRow`), with the station's ids;
- `anchor.json`: the station's newest signed anchor line (`tally.anchors`), as written;
- `images/<sha256>.img`: each page image (unless exported with --no-images), and always the
  reference image of every foreign form's page (the blank it registers by, named by its
  layout's `registration.image_sha256`), so the meeting is read and recounted at home;
- `fingerprints.jsonl` (a meeting of a foreign form): the ink fingerprint of each counted page
  (`FingerprintRow`, table sheet_fingerprints), each equal to its page's reading's, so a sheet
  fed again after the import is caught as a duplicate.
`signature.json` (`SignatureDoc`) holds the Ed25519 signature over the exact bytes of
`manifest.json`, the signer's public key (PEM), its id and fingerprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tally.db import iso_utc

BUNDLE_SCHEMA = "scantally.bundle/1"
SIGNATURE_SCHEMA = "scantally.bundle-signature/1"
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
MEETING = "meeting.json"
BATCHES = "batches.jsonl"
PAGES = "pages.jsonl"
DECISIONS = "decisions.jsonl"
AUDIT = "audit.jsonl"
ANCHOR = "anchor.json"
FINGERPRINTS = "fingerprints.jsonl"
#: members a bundle may hold beside ROW_MEMBERS and its images
OPTIONAL_MEMBERS = (FINGERPRINTS,)
IMAGE_PREFIX = "images/"
IMAGE_SUFFIX = ".img"
#: the members every bundle has, in the order they are written
ROW_MEMBERS = (MEETING, BATCHES, PAGES, DECISIONS, AUDIT, ANCHOR)
#: no member but an image is bigger than this (a 10,000-sheet meeting's pages.jsonl is ~30 MB)
MAX_DATA_MEMBER_BYTES = 512 * 1024 * 1024
MAX_IMAGE_BYTES = 64 * 1024 * 1024
_IMAGE_RE = re.compile(r"^images/([0-9a-f]{64})\.img$")


class BundleError(ValueError):
    """A bundle that cannot be written or must not be imported; the message names the file, the
    member or row, and what to do."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormDoc(_Row):
    form_id: str
    kind: str
    title: str
    spec_yaml: str
    layout: dict[str, Any]
    layout_hash: str


class MeetingDoc(_Row):
    uid: str
    #: the meeting's id at the station (its audit chain hashes it)
    origin_id: int
    name: str
    unit: str
    date: dt.date | None
    expected: dict[str, int]
    present: dict[str, int]
    issued: int | None
    serials_recorded: bool
    settings: dict[str, Any]
    created_at: str
    forms: list[FormDoc]
    serials: list[str]


class BatchRow(_Row):
    id: int
    station: str
    device: str
    operator: str
    category: str | None
    started_at: str
    ended_at: str | None


class PageRow(_Row):
    id: int
    batch_id: int
    sha256: str
    image_bytes: int
    source: str
    form_id: str | None
    page_no: int | None
    serial: str | None
    status: str
    reason: str
    reading: dict[str, Any]
    page_to_image: list[list[float]] | None
    state: str
    count_key: str | None
    duplicate_of: int | None
    ingested_at: str


class DecisionRow(_Row):
    id: int
    page_id: int
    field: str | None
    option: str | None
    kind: str
    text: str
    before: dict[str, Any]
    after: dict[str, Any]
    who: str
    why: str
    at: str


class AuditRow(_Row):
    seq: int
    at: str
    actor: str
    action: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class FingerprintRow(_Row):
    """A counted foreign page's ink fingerprint (`tally.fingerprints.SheetFingerprint`)."""

    page_id: int
    form_id: str
    page_no: int
    fingerprint: str


class Member(_Row):
    name: str
    sha256: str
    bytes: int


class ChainHead(_Row):
    seq: int
    hash: str


class MeetingRef(_Row):
    uid: str
    name: str
    origin_id: int


class StationRef(_Row):
    key_id: str
    fingerprint: str


class Counts(_Row):
    batches: int
    pages: int
    decisions: int
    audit_entries: int
    #: page images
    images: int
    #: foreign forms' reference images (always carried) and counted pages' fingerprints
    references: int = 0
    fingerprints: int = 0


class _Schemed(_Row):
    """A document that names its schema in a `schema` key (checked before anything else)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)
    MEMBER: ClassVar[str]

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def parse(cls, data: bytes) -> Self:
        import json

        want = cls.model_fields["schema_"].annotation.__args__[0]  # type: ignore[union-attr]
        doc = json.loads(data)
        got = doc.get("schema") if isinstance(doc, dict) else None
        if got != want:
            raise BundleError(f"{cls.MEMBER} is schema {got!r}, not {want!r}: not a Scantally "
                              "bundle, or one from a version this one cannot read")
        return cls.model_validate(doc)


class Manifest(_Schemed):
    MEMBER: ClassVar[str] = MANIFEST
    schema_: Literal["scantally.bundle/1"] = Field(alias="schema")
    created_at: str
    created_by: str
    meeting: MeetingRef
    station: StationRef
    audit_head: ChainHead
    counts: Counts
    with_images: bool
    members: list[Member]


class SignatureDoc(_Schemed):
    MEMBER: ClassVar[str] = SIGNATURE
    schema_: Literal["scantally.bundle-signature/1"] = Field(alias="schema")
    algorithm: Literal["ed25519"]
    key_id: str
    fingerprint: str
    public_key_pem: str
    manifest_sha256: str
    #: base64 Ed25519 signature over the exact bytes of manifest.json
    signature: str


def image_member(sha256: str) -> str:
    return f"{IMAGE_PREFIX}{sha256}{IMAGE_SUFFIX}"


def image_digest(name: str) -> str | None:
    """The SHA-256 an image member's name claims, None when `name` is not an image member."""
    m = _IMAGE_RE.match(name)
    return m.group(1) if m else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def when(text: str | None, what: str) -> dt.datetime | None:
    """An ISO-8601 UTC timestamp of a row back to a datetime; BundleError naming `what`."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BundleError(f"{what}: {text!r} is not an ISO-8601 timestamp") from None
    if iso_utc(moment) != text:
        raise BundleError(f"{what}: {text!r} is not a UTC timestamp as Scantally writes them")
    return moment


R = TypeVar("R", bound=BaseModel)


def parse_lines(data: bytes, model: type[R], member: str) -> list[R]:
    """One `model` per line of a JSONL member; BundleError naming the member and line."""
    out: list[R] = []
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "(line)"
            raise BundleError(f"{member} line {n}: {where}: {first['msg']}") from None
    return out


def jsonl(rows: list[Any]) -> bytes:
    """Rows (pydantic models) as JSON lines; canonical key order as the models declare."""
    return b"".join(r.model_dump_json().encode("utf-8") + b"\n" for r in rows)


def reference_digests(forms: list[FormDoc]) -> list[str]:
    """The reference images (SHA-256) the forms' foreign pages register by, sorted."""
    out = set()
    for f in forms:
        for page in f.layout.get("pages", []):
            reg = page.get("registration") or {}
            if reg.get("kind") == "reference" and reg.get("image_sha256"):
                out.add(str(reg["image_sha256"]))
    return sorted(out)
