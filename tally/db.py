"""The store's tables (SQLAlchemy 2 typed ORM). The Alembic migrations in `tally.migrations` build
exactly this schema; `tests/test_tally_store_schema.py` checks the two agree.

Rows that record what happened are append-only: a page row is never updated after ingest and a
review decision is never edited (a later decision supersedes an earlier one). Every row that
changes a figure has an entry in the hash-chained audit log (`AuditEntry`), so `tally.audit`
can tell an edited, inserted or deleted row from a genuine one.

Counting is guarded by unique constraints, not by locks in Python:
- `uq_page_image` (meeting, sha256): one stored page per image, whatever the number of re-feeds;
- `uq_page_count_key` (meeting, count_key): one counted page per printed sheet page, where
  `count_key` is "form|serial|page" on a countable page and NULL otherwise (NULLs never clash);
- `uq_audit_seq` (meeting, seq): one audit chain per meeting, appended by whoever commits first.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SHA256_HEX_LEN = 64
#: page states fixed at ingest (see `tally.ingest`)
PAGE_STATES = ("counted", "duplicate", "uncounted")
#: review decision kinds (see `tally.review`)
DECISION_KINDS = ("marked", "empty", "writein", "void", "unvoid", "accept", "dismiss")


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, UTF-8 kept. Hashes are taken on it."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_uid() -> str:
    """A new meeting uid (random UUID text)."""
    return str(uuid.uuid4())


def iso_utc(moment: dt.datetime | None) -> str | None:
    """A timestamp as ISO-8601 UTC text; naive values (SQLite gives those back) are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


class CanonicalJSON(TypeDecorator[Any]):
    """JSON kept as canonical text, so what was hashed at write time is what is read back."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else canonical_json(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meeting(Base):
    """One meeting (会议): its forms, the facts the team records, and the settings of the count."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    unit: Mapped[str] = mapped_column(String(200), default="")
    date: Mapped[dt.date | None] = mapped_column(Date)
    #: 应到人数 per voter category id
    expected: Mapped[dict[str, int]] = mapped_column(CanonicalJSON, default=dict)
    #: 实到人数 per voter category id (empty: taken from the ballots returned)
    present: Mapped[dict[str, int]] = mapped_column(CanonicalJSON, default=dict)
    #: sheets issued (发出)
    issued: Mapped[int | None] = mapped_column(Integer)
    #: True once the printed serial set is recorded (`PrintedSerial`)
    serials_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a `tally.model.Settings` as JSON
    settings: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    #: the meeting's identity in every store it travels to (`tally.exchange`): a UUID made
    #: when the meeting is created, kept by export and import
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid)


class MeetingForm(Base):
    """A form used at the meeting: the spec as written and the layout it compiles to."""

    __tablename__ = "meeting_forms"
    __table_args__ = (UniqueConstraint("meeting_id", "form_id", name="uq_meeting_form"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    form_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(60))
    spec_yaml: Mapped[str] = mapped_column(Text)
    layout: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    layout_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))


class PrintedSerial(Base):
    """One serial printed for the meeting (`scantally form render --serials-out`)."""

    __tablename__ = "printed_serials"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(16), primary_key=True)


class Batch(Base):
    """One stack fed at one station: who, where, when, and the category if assigned per batch."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    station: Mapped[str] = mapped_column(String(80), default="")
    device: Mapped[str] = mapped_column(String(120), default="")
    operator: Mapped[str] = mapped_column(String(80), default="")
    category: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Page(Base):
    """One scanned page: its image (by SHA-256), its reading, and how it counts. Never updated."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("meeting_id", "sha256", name="uq_page_image"),
        UniqueConstraint("meeting_id", "count_key", name="uq_page_count_key"),
        Index("ix_page_meeting_serial", "meeting_id", "serial"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    image_bytes: Mapped[int] = mapped_column(Integer)
    #: where the page came from ("stack/0001.png#1")
    source: Mapped[str] = mapped_column(String(500), default="")
    form_id: Mapped[str | None] = mapped_column(String(40))
    page_no: Mapped[int | None] = mapped_column(Integer)
    serial: Mapped[str | None] = mapped_column(String(16))
    #: the reading's status: ok | review | unreadable | unknown_form | blank
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: the reading JSON as the engine gave it
    reading: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    #: the registration the engine found: 3x3 homography, page millimetres -> image pixels
    page_to_image: Mapped[list[list[float]] | None] = mapped_column(CanonicalJSON)
    #: counted | duplicate | uncounted (see `PAGE_STATES`)
    state: Mapped[str] = mapped_column(String(16))
    #: "form|serial|page" for a counted page, NULL otherwise (see the module docstring)
    count_key: Mapped[str | None] = mapped_column(String(80))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("pages.id"))
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Decision(Base):
    """A reviewer's decision on a page, a mark or a write-in line. Never edited: the latest wins."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    #: None for a decision about the whole sheet (void, accept, dismiss)
    field: Mapped[str | None] = mapped_column(String(80))
    option: Mapped[str | None] = mapped_column(String(40))
    #: one of `DECISION_KINDS`
    kind: Mapped[str] = mapped_column(String(16))
    #: the write-in name typed from the image (kind "writein"); "" otherwise
    text: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    after: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    who: Mapped[str] = mapped_column(String(80))
    why: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class AuditEntry(Base):
    """One link of a meeting's hash chain (see `tally.audit`)."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("meeting_id", "seq", name="uq_audit_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    #: 1, 2, 3 … within the meeting
    seq: Mapped[int] = mapped_column(Integer)
    #: ISO-8601 UTC text, hashed as stored
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    prev_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))


class ExchangeImport(Base):
    """A meeting imported from a signed bundle (`tally.exchange`): who signed it, the signed
    manifest as it was, the station's audit chain as it came (its own ids, re-provable from
    the manifest), and who imported it when. One per imported meeting."""

    __tablename__ = "exchange_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), unique=True)
    meeting_uid: Mapped[str] = mapped_column(String(36), index=True)
    #: SHA-256 of the manifest's bytes (what the signature covers)
    manifest_sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    manifest: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    signer_key_id: Mapped[str] = mapped_column(String(16))
    signer_fingerprint: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    signer_public_pem: Mapped[str] = mapped_column(Text)
    #: the meeting's id and audit head at the station
    origin_meeting_id: Mapped[int] = mapped_column(Integer)
    origin_head_seq: Mapped[int] = mapped_column(Integer)
    origin_head_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    #: the station's audit chain of the meeting, one JSON line per entry, as in the bundle
    origin_audit: Mapped[str] = mapped_column(Text)
    with_images: Mapped[bool] = mapped_column(Boolean)
    imported_by: Mapped[str] = mapped_column(String(80))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
