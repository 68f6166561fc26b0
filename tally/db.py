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
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SHA256_HEX_LEN = 64
#: page states fixed at ingest (see `tally.ingest`)
PAGE_STATES = ("counted", "duplicate", "uncounted", "refused")
#: review decision kinds (see `tally.review`)
DECISION_KINDS = ("marked", "empty", "writein", "cancel", "void", "unvoid", "accept", "dismiss",
                  "enter", "confirm")


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
    #: sheets issued (发出) per form id, when the forms were handed out in different numbers
    issued_by_form: Mapped[dict[str, int]] = mapped_column(CanonicalJSON, default=dict)
    #: True once the printed serial set is recorded (`PrintedSerial`)
    serials_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a `tally.model.Settings` as JSON
    settings: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    #: in test mode (测试模式) until `tally.testmode.go_official`; meetings made before the
    #: column existed are official (migration 0005_test_mode), so nothing counted changes
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
    #: the form it was printed on; None: recorded without a form (any form of the meeting)
    form_id: Mapped[str | None] = mapped_column(String(40))


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
        #: a meeting's pages in id order (the tally's read, its newest page, its page count)
        #: without touching other meetings' rows in a department store (migration 0004_cadre)
        Index("ix_pages_meeting_id_id", "meeting_id", "id"),
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
    #: counted | duplicate | uncounted | refused (see `PAGE_STATES`): `refused` is a page that
    #: read but that ingest would not count (`refusal` says why, `reason` in words)
    state: Mapped[str] = mapped_column(String(16))
    #: ingest's refusal code for a `refused` page (`tally.ingest.Refusal`), else None
    refusal: Mapped[str | None] = mapped_column(String(40))
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


# -- the per-cadre analysis (综合分析, `tally.cadre`) ------------------------------------------

class CadrePerson(Base):
    """One person as a meeting's form lists them (candidate, leader or item): derived from the
    stored specs by `tally.cadre.people`, never edited. `person_key` is the spec's `person_id`
    when it has one (joined across meetings), else a key local to the meeting."""

    __tablename__ = "cadre_people"
    __table_args__ = (
        Index("ix_cadre_people_person_key", "person_key"),
        Index("ix_cadre_people_meeting_id", "meeting_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    form_id: Mapped[str] = mapped_column(String(40))
    #: candidate | leader | item
    role: Mapped[str] = mapped_column(String(16))
    #: the person's id in the spec (a field id, local to the form)
    local_id: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[str | None] = mapped_column(String(40))
    person_key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(60))
    post: Mapped[str] = mapped_column(String(80), default="")
    #: 民主推荐 | 民主测评 | 满意度评议 (see `tally.cadre.stages`)
    stage: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)


class CadreMeeting(Base):
    """A meeting whose people are indexed, with its cached per-person figures: valid while the
    meeting's audit head is still `audit_seq` (any page, decision or change moves it)."""

    __tablename__ = "cadre_meetings"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    indexed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    #: the audit head the cached figures were computed at (None: not computed yet)
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    #: the code version of the figures (a change recomputes them)
    figures_version: Mapped[int | None] = mapped_column(Integer)
    #: `tally.cadre.model.MeetingFigures` as JSON
    figures: Mapped[dict[str, Any] | None] = mapped_column(CanonicalJSON)


class CadreEntry(Base):
    """A figure entered by hand for a stage without ballots (谈话推荐 counts …): one link of its
    own hash chain (who, when, why, the values), append-only; a later entry for the same
    person, stage, year and meeting label supersedes an earlier one."""

    __tablename__ = "cadre_entries"
    __table_args__ = (
        UniqueConstraint("seq", name="uq_cadre_entries_seq"),
        Index("ix_cadre_entries_person_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[str] = mapped_column(String(40))
    #: the person's name and post as entered (for people on no ballot)
    name: Mapped[str] = mapped_column(String(60), default="")
    post: Mapped[str] = mapped_column(String(80), default="")
    stage: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    meeting_label: Mapped[str] = mapped_column(String(120))
    #: value name -> number (e.g. votes 12, of 30)
    values: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    who: Mapped[str] = mapped_column(String(80))
    why: Mapped[str] = mapped_column(Text, default="")
    #: ISO-8601 UTC text, hashed as stored
    at: Mapped[str] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
class IntakeJob(Base):
    """An intake job of the web console (an upload, a device, an API batch), kept while it runs
    so that a server killed mid-job finds it on restart: taken up again or marked failed, its
    batch closed, its staged files removed (`intake.jobs`). Progress is saved as it goes; this
    row decides no figure (the pages and the audit log do)."""

    __tablename__ = "intake_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    #: upload | device | api
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(400), default="")
    operator: Mapped[str] = mapped_column(String(80), default="")
    #: the server process running it: "host:pid:start-time" (another station's jobs are its own)
    owner: Mapped[str] = mapped_column(String(200), default="")
    #: running | done | stopped | failed
    state: Mapped[str] = mapped_column(String(16))
    #: an upload's staging folder and its files, [[path, name], …] in order
    staging: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[list[list[str]]] = mapped_column(CanonicalJSON, default=list)
    files_total: Mapped[int | None] = mapped_column(Integer)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    #: pages per outcome so far, and the newest re-feed / refused lines
    counts: Mapped[dict[str, int]] = mapped_column(CanonicalJSON, default=dict)
    refeed: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    refused: Mapped[list[str]] = mapped_column(CanonicalJSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    #: what a restart did with the job, for the operator
    note: Mapped[str] = mapped_column(Text, default="")
    #: 1, then +1 each time a restart takes it up again
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
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
