"""Accounts of the web console: users, login sessions, hall display tokens, and their log.

- `User`: a person with a role (admin / operator / observer) and an argon2 password hash.
- `WebSession`: a login; the browser holds a random token, the table only its SHA-256, so a
  copy of the database does not let anyone log in.
- `DisplayToken`: a read-only token for the hall screen of ONE meeting (stored hashed too).
- `AccountEvent`: a hash-chained log of account changes (user created, disabled or given
  another role, login, logout, and every refused login: who tried, from where, why), hashed
  like `tally.audit` entries. Each user's and session's full record is in it, so
  `check_accounts` finds a user or session row edited, added or deleted in the database.
  Changes tied to a meeting (a display token made or revoked) go to that meeting's own audit
  chain through `tally.audit` (checked by `check_display_tokens`).

Nothing here knows about HTTP: `server.auth` turns cookies and query tokens into these calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from forms.text import TextError, clean_name
from tally import audit
from tally.db import (
    SHA256_HEX_LEN,
    AuditEntry,
    Base,
    CanonicalJSON,
    Meeting,
    iso_utc,
    utc_now,
)

if TYPE_CHECKING:  # open_store watches the audit chain (tally.anchors), which needs these models
    from tally.store import Store

Role = Literal["admin", "operator", "observer"]
ROLES: tuple[Role, ...] = ("admin", "operator", "observer")
SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 8
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-@\u4e00-\u9fff]{1,80}$")
_hasher = PasswordHasher()
#: verified against when the user does not exist, so a wrong name takes as long as a wrong password
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """Bad account input; the message says what is wrong and what to do."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    created_by: Mapped[str] = mapped_column(String(80), default="")


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LEN), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DisplayToken(Base):
    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LEN), unique=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AccountEvent(Base):
    """One link of the account log's hash chain (same hashing as `tally.audit`, meeting 0)."""

    __tablename__ = "account_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON)
    prev_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))
    hash: Mapped[str] = mapped_column(String(SHA256_HEX_LEN))


@dataclass(frozen=True)
class Identity:
    """Who is logged in, detached from any database session."""

    user_id: int
    username: str
    display_name: str
    role: Role
    session_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random, URL-safe secret (256 bits)."""
    return secrets.token_urlsafe(32)


# -- the account log ----------------------------------------------------------------------------

def log_event(s: Session, actor: str, action: str, payload: dict[str, Any]) -> AccountEvent:
    last = s.scalars(select(AccountEvent).order_by(AccountEvent.seq.desc()).limit(1)).first()
    seq = last.seq + 1 if last else 1
    prev = last.hash if last else audit.GENESIS_HASH
    at = iso_utc(utc_now()) or ""
    actor = actor[:80]
    event = AccountEvent(seq=seq, at=at, actor=actor, action=action, payload=payload,
                         prev_hash=prev,
                         hash=audit.entry_hash(0, seq, at, actor, action, payload, prev))
    s.add(event)
    s.flush()
    return event


def check_account_log(s: Session) -> list[audit.Problem]:
    """The account log's chain checked the way `tally.audit.check_chain` checks a meeting's."""
    entries = s.scalars(select(AccountEvent).order_by(AccountEvent.seq)).all()
    problems: list[audit.Problem] = []
    prev_hash, prev_seq = audit.GENESIS_HASH, 0
    for e in entries:
        subject = f"account log entry #{e.seq} ({e.action})"
        if e.seq != prev_seq + 1:
            problems.append(audit.Problem("audit", subject, "entries before it are missing"))
        if audit.entry_hash(0, e.seq, e.at, e.actor, e.action, e.payload, e.prev_hash) != e.hash:
            problems.append(audit.Problem("audit", subject, "edited: does not match its hash"))
        elif e.prev_hash != prev_hash:
            problems.append(audit.Problem("audit", subject, "does not link to the one before"))
        prev_hash, prev_seq = e.hash, e.seq
    return problems


# -- users --------------------------------------------------------------------------------------

def _user_record(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name,
            "role": u.role, "disabled": u.disabled,
            "password_sha256": hashlib.sha256(u.password_hash.encode()).hexdigest()}


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > 256:
        raise AccountError("a password may have at most 256 characters")


def user_count(store: Store) -> int:
    with store.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(User)) or 0


def _clean(text: str, what: str) -> str:
    """A name typed by a person: no NUL or control character, NFC, no invisible characters."""
    try:
        return clean_name(text)
    except TextError as exc:
        raise AccountError(f"{what} {exc}") from None


def create_user(store: Store, username: str, password: str, role: str, *, actor: str,
                display_name: str = "", only_if_none: bool = False) -> User:
    """Add a user (argon2-hashed password), logged. `only_if_none`: refuse once any user exists
    (first-run set-up), checked in the same transaction."""
    username = username.strip()
    display_name = _clean(display_name, "the display name")
    if not _USERNAME_RE.match(username):
        raise AccountError("a user name has 1-80 letters, digits or . _ - @")
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    check_password(password)
    hashed = _hasher.hash(password)

    def work(s: Session) -> User:
        if only_if_none and s.scalar(select(func.count()).select_from(User)):
            raise AccountError("set-up is done already: an administrator exists; log in")
        if s.scalars(select(User.id).where(User.username == username)).first() is not None:
            raise AccountError(f"user {username!r} exists already; choose another name")
        u = User(username=username, display_name=display_name[:120], role=role,
                 password_hash=hashed, created_by=actor[:80])
        s.add(u)
        s.flush()
        log_event(s, actor, "user.create", _user_record(u))
        return u

    return store.write(work)


def list_users(store: Store) -> list[User]:
    with store.session(readonly=True) as s:
        return list(s.scalars(select(User).order_by(User.id)))


def set_disabled(store: Store, user_id: int, disabled: bool, *, actor: str) -> User:
    """Disable (or enable) a user; a disabled user's sessions end at once."""

    def work(s: Session) -> User:
        u = s.get(User, user_id)
        if u is None:
            raise AccountError(f"no user #{user_id}")
        if disabled and u.role == "admin" and s.scalar(
                select(func.count()).select_from(User)
                .where(User.role == "admin", User.disabled.is_(False), User.id != u.id)) == 0:
            raise AccountError("this is the last administrator; add another before disabling it")
        u.disabled = disabled
        if disabled:
            for row in s.scalars(select(WebSession).where(WebSession.user_id == u.id)):
                s.delete(row)
        s.flush()
        log_event(s, actor, "user.disable" if disabled else "user.enable", _user_record(u))
        return u

    return store.write(work)


def set_role(store: Store, user_id: int, role: str, *, actor: str) -> User:
    """Change a user's role (logged); open streams of the user close within a second."""
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")

    def work(s: Session) -> User:
        u = s.get(User, user_id)
        if u is None:
            raise AccountError(f"no user #{user_id}")
        if u.role == "admin" and role != "admin" and s.scalar(
                select(func.count()).select_from(User)
                .where(User.role == "admin", User.disabled.is_(False), User.id != u.id)) == 0:
            raise AccountError("this is the last administrator; add another first")
        u.role = role
        s.flush()
        log_event(s, actor, "user.role", _user_record(u))
        return u

    return store.write(work)


# -- sessions -----------------------------------------------------------------------------------

def _printable(text: str, limit: int = 80) -> str:
    """Text from a stranger, safe to keep in the log: no NUL or control characters, bounded."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:limit])


def log_login_failure(store: Store, username: str, address: str, reason: str,
                      **extra: Any) -> None:
    """Record a refused login in the account log: who tried, from where, why (and when)."""
    name = _printable(username.strip()) or "?"
    payload = {"username": name, "address": _printable(address, 64), "reason": reason, **extra}
    store.write(lambda s: log_event(s, name, "session.login_failed", payload))


def login(store: Store, username: str, password: str, *, hours: float = SESSION_HOURS,
          address: str = "", hashing: AbstractContextManager[Any] | None = None
          ) -> tuple[str, Identity] | None:
    """A new session token for a correct name and password, else None (no hint which was
    wrong; the account log says why). The token is returned once; only its hash is kept.
    `hashing` is held around the password hash (argon2: 64 MiB each), to bound how many run
    at once; `address` is the client's, for the log."""
    name = username.strip()
    with store.session(readonly=True) as s:
        u = s.scalars(select(User).where(User.username == name)).first()
    with hashing if hashing is not None else nullcontext():
        try:
            ok = _hasher.verify(u.password_hash if u else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            ok = False
    if u is None or not ok or u.disabled:
        reason = ("unknown user" if u is None else "wrong password" if not ok
                  else "user disabled")
        log_login_failure(store, name, address, reason)
        return None
    token = new_token()
    now = utc_now()

    def work(s: Session) -> Identity:
        row = WebSession(token_sha256=token_hash(token), user_id=u.id, created_at=now,
                         expires_at=now + dt.timedelta(hours=hours))
        s.add(row)
        s.flush()
        log_event(s, u.username, "session.login", {
            "user": u.id, "session": row.id, "expires_at": iso_utc(row.expires_at),
            "token_sha256": row.token_sha256, "address": _printable(address, 64)})
        return Identity(u.id, u.username, u.display_name, u.role, row.id)  # type: ignore[arg-type]

    return token, store.write(work)


def session_identity(store: Store, token: str) -> Identity | None:
    """Who holds this session token (None: unknown, expired, or the user is disabled)."""
    if not token or len(token) > 200:
        return None
    with store.session(readonly=True) as s:
        row = s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                        .where(WebSession.token_sha256 == token_hash(token))).first()
    if row is None:
        return None
    sess, u = row
    expires = sess.expires_at if sess.expires_at.tzinfo else sess.expires_at.replace(tzinfo=dt.UTC)
    if expires <= utc_now() or u.disabled:
        return None
    return Identity(u.id, u.username, u.display_name, u.role, sess.id)  # type: ignore[arg-type]


def logout(store: Store, token: str) -> None:
    """End a session (logged); an unknown token is a no-op."""

    def work(s: Session) -> None:
        row = s.scalars(select(WebSession).where(
            WebSession.token_sha256 == token_hash(token))).first()
        if row is None:
            return
        u = s.get(User, row.user_id)
        s.delete(row)
        s.flush()
        log_event(s, u.username if u else "?", "session.logout",
                  {"user": row.user_id, "session": row.id})

    store.write(work)


# -- display tokens -----------------------------------------------------------------------------

def _token_record(t: DisplayToken) -> dict[str, Any]:
    return {"kind": "display_token", "id": t.id, "label": t.label,
            "token_sha256": t.token_sha256, "created_by": t.created_by,
            "revoked_at": iso_utc(t.revoked_at)}


def create_display_token(store: Store, meeting_id: int, *, actor: str,
                         label: str = "") -> tuple[str, DisplayToken]:
    """A new hall-screen token for one meeting, logged in the meeting's audit chain. The token
    is returned once; only its hash is kept."""
    token = new_token()
    label = _clean(label, "the token label")

    def work(s: Session) -> DisplayToken:
        if s.get(Meeting, meeting_id) is None:
            raise AccountError(f"no meeting #{meeting_id}")
        t = DisplayToken(meeting_id=meeting_id, token_sha256=token_hash(token),
                         label=label[:80] or "hall", created_by=actor[:80])
        s.add(t)
        s.flush()
        audit.append(s, meeting_id, "display_token.create", _token_record(t), actor)
        return t

    return token, store.write(work)


def revoke_display_token(store: Store, meeting_id: int, token_id: int, *,
                         actor: str) -> DisplayToken:
    def work(s: Session) -> DisplayToken:
        t = s.get(DisplayToken, token_id)
        if t is None or t.meeting_id != meeting_id:
            raise AccountError(f"no display token #{token_id} for this meeting")
        if t.revoked_at is None:
            t.revoked_at = utc_now()
            s.flush()
            audit.append(s, meeting_id, "display_token.revoke", _token_record(t), actor)
        return t

    return store.write(work)


def display_tokens(store: Store, meeting_id: int) -> list[DisplayToken]:
    with store.session(readonly=True) as s:
        return list(s.scalars(select(DisplayToken).where(DisplayToken.meeting_id == meeting_id)
                              .order_by(DisplayToken.id)))


def display_token_meeting(store: Store, token: str) -> int | None:
    """The meeting a live display token opens, else None."""
    if not token or len(token) > 200:
        return None
    with store.session(readonly=True) as s:
        t = s.scalars(select(DisplayToken).where(
            DisplayToken.token_sha256 == token_hash(token))).first()
    if t is None or t.revoked_at is not None:
        return None
    return t.meeting_id


# -- checking the tables that decide an access --------------------------------------------------

def _differs(now: dict[str, Any], then: dict[str, Any]) -> str:
    """What differs between a row's record now and as logged (only the fields logged: an
    entry from an older version logged fewer)."""
    changed = sorted(k for k in then if now.get(k) != then.get(k))
    return ", ".join(f"{k} {then.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])


def _against_log(rows: dict[int, tuple[str, dict[str, Any]]], logged: dict[int, dict[str, Any]],
                 what: str, log: str, record: str, added: str) -> list[audit.Problem]:
    """Rows (id -> (subject, record now)) against the last record a log holds for each: one
    not logged was added, one that differs was edited, one logged but gone was deleted."""
    problems: list[audit.Problem] = []
    for rid, (subject, now) in sorted(rows.items()):
        if rid not in logged:
            problems.append(audit.Problem("record", subject, f"is not in the {log}: {added}"))
            continue
        detail = _differs(now, logged[rid])
        if detail:
            problems.append(audit.Problem("record", subject, f"differs from its {record} "
                                          f"({detail}): edited outside Scantally"))
    for rid in sorted(set(logged) - set(rows)):
        problems.append(audit.Problem("record", f"{what} #{rid}", f"is in the {log} but "
                                      "gone from the database: deleted"))
    return problems


def check_users(s: Session, entries: list[AccountEvent]) -> list[audit.Problem]:
    """Every user row against the last record the account log holds for it."""
    logged: dict[int, dict[str, Any]] = {}
    for e in entries:
        if e.action.startswith("user.") and isinstance(e.payload, dict) and "id" in e.payload:
            logged[int(e.payload["id"])] = e.payload
    rows = {u.id: u for u in s.scalars(select(User))}
    return _against_log(
        {uid: (f"user #{uid} ({u.username!r})", _user_record(u)) for uid, u in rows.items()},
        logged, "user", "account log", "account-log record", "added outside Scantally")


def check_sessions(s: Session, entries: list[AccountEvent]) -> list[audit.Problem]:
    """Every open session row must be a logged login that was not logged out."""
    logins: dict[int, dict[str, Any]] = {}
    ended: set[int] = set()
    for e in entries:
        p = e.payload if isinstance(e.payload, dict) else {}
        if e.action == "session.login" and "session" in p:
            logins[int(p["session"])] = p
        elif e.action == "session.logout" and "session" in p:
            ended.add(int(p["session"]))
    problems: list[audit.Problem] = []
    for row in s.scalars(select(WebSession).order_by(WebSession.id)):
        subject = f"login session #{row.id} (user #{row.user_id})"
        then = logins.get(row.id)
        if then is None:
            problems.append(audit.Problem("record", subject, "is not in the account log: a "
                                          "login made outside Scantally"))
            continue
        now = {"user": row.user_id, "session": row.id, "expires_at": iso_utc(row.expires_at),
               "token_sha256": row.token_sha256, "address": then.get("address")}
        detail = _differs(now, then)
        if detail:
            problems.append(audit.Problem("record", subject, f"differs from its login entry "
                                          f"({detail}): edited outside Scantally"))
        elif row.id in ended:
            problems.append(audit.Problem("record", subject, "was logged out but is still in "
                                          "the database: restored outside Scantally"))
    return problems


def check_accounts(s: Session) -> list[audit.Problem]:
    """The account log's chain, then every user and session row against it."""
    entries = list(s.scalars(select(AccountEvent).order_by(AccountEvent.seq)))
    return check_account_log(s) + check_users(s, entries) + check_sessions(s, entries)


def check_display_tokens(s: Session, meeting_id: int,
                         entries: list[AuditEntry] | None = None) -> list[audit.Problem]:
    """Every display token of the meeting against the last record its audit chain holds."""
    if entries is None:
        entries = list(s.scalars(select(AuditEntry)
                                 .where(AuditEntry.meeting_id == meeting_id)
                                 .order_by(AuditEntry.seq)))
    logged: dict[int, dict[str, Any]] = {}
    for e in entries:
        p = e.payload
        if isinstance(p, dict) and p.get("kind") == "display_token" and "id" in p:
            logged[int(p["id"])] = p
    rows = {t.id: t for t in s.scalars(select(DisplayToken)
                                       .where(DisplayToken.meeting_id == meeting_id))}
    return _against_log(
        {tid: (f"display token #{tid} ({t.label!r})", _token_record(t))
         for tid, t in rows.items()},
        logged, "display token", "audit log", "audit record",
        "added outside Scantally (it would open the hall screen)")
