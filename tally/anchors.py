"""Audit anchors: the chain heads, signed with the station key, kept outside the database.

A hash chain shows an edited or deleted entry, but not a chain cut at its newest entries, nor
one rewritten and re-hashed from some entry on: both look whole from inside the database. So
after the transactions that matter (a batch closed, a review decision, a meeting, user, session
or display-token change, and at least every `ANCHOR_EVERY_ENTRIES` log entries) the store
appends an anchor to `<data>/anchors.jsonl`, one JSON object per line:

    {"schema": "scantally.anchor/1", "seq": 7, "at": "…", "reason": "review.decide",
     "prev": "<SHA-256 of the previous line>",
     "chains": {"account": {"seq": 3, "hash": "…"}, "meeting:1": {"seq": 12, "hash": "…"}},
     "counts": {"pages": 40, "decisions": 3, …},
     "key": "<station key id>", "sig": "<Ed25519 over the canonical JSON of the rest>"}

`check` compares the database with every anchor: an anchored entry that is gone (a cut) or
has another hash (a rewrite), a protected table with fewer rows than anchored (rows deleted),
an anchor line edited (its signature, or the next line's `prev`). The file is only ever
appended to; the newest anchor is also printed on every report, so a copy of it outlives the
machine. Without a station key (`scantally keys new`) anchors are written unsigned.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tally import keys
from tally.audit import Problem
from tally.db import AuditEntry, Batch, Decision, Meeting, Page, canonical_json, iso_utc, utc_now

if TYPE_CHECKING:
    from tally.store import Store

ANCHOR_FILENAME = "anchors.jsonl"
SCHEMA = "scantally.anchor/1"
GENESIS = "0" * 64
#: an anchor after at most this many log entries, whatever they are
ANCHOR_EVERY_ENTRIES = 20
#: an anchor right after a transaction that logged one of these
ANCHOR_ACTIONS = frozenset({
    "meeting.create", "meeting.update", "meeting.official", "batch.close", "review.decide",
    "display_token.create", "display_token.revoke",
    "user.create", "user.disable", "user.enable", "user.role",
    "session.login", "session.logout",
})
ACCOUNT_CHAIN = "account"
log = logging.getLogger("scantally.anchors")


def _tables() -> dict[str, Any]:
    """Tables whose rows Scantally never deletes (but for the test data a meeting clears when it
    goes official, which anchors at once: "meeting.official"): fewer rows than anchored =
    deleted."""
    from tally.accounts import AccountEvent, DisplayToken, User

    return {"meetings": Meeting, "batches": Batch, "pages": Page, "decisions": Decision,
            "audit_log": AuditEntry, "users": User, "display_tokens": DisplayToken,
            "account_log": AccountEvent}


def meeting_chain(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


def anchor_path(data_dir: Path) -> Path:
    return Path(data_dir) / ANCHOR_FILENAME


def _line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _signed_bytes(anchor: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in anchor.items() if k != "sig"}).encode("utf-8")


def chain_heads(session: Session) -> dict[str, dict[str, Any]]:
    """The head (seq, hash) of every meeting's chain and of the account log."""
    from tally.accounts import AccountEvent

    newest = (select(AuditEntry.meeting_id, func.max(AuditEntry.seq).label("seq"))
              .group_by(AuditEntry.meeting_id).subquery())
    rows = session.execute(select(AuditEntry.meeting_id, AuditEntry.seq, AuditEntry.hash)
                           .join(newest, (AuditEntry.meeting_id == newest.c.meeting_id)
                                 & (AuditEntry.seq == newest.c.seq))).all()
    heads = {meeting_chain(m): {"seq": seq, "hash": h} for m, seq, h in rows}
    last = session.execute(select(AccountEvent.seq, AccountEvent.hash)
                           .order_by(AccountEvent.seq.desc()).limit(1)).first()
    if last is not None:
        heads[ACCOUNT_CHAIN] = {"seq": last[0], "hash": last[1]}
    return dict(sorted(heads.items()))


def table_counts(session: Session) -> dict[str, int]:
    return {name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in _tables().items()}


# -- the file ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnchorFile:
    anchors: list[dict[str, Any]]
    #: malformed lines, broken links or signatures: the file was edited
    problems: list[Problem]
    #: the key id that signed the anchors (None: unsigned)
    key_id: str | None


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        lines.pop()  # a torn last line (a crash while writing): not an anchor yet
    return lines


def read(data_dir: Path) -> AnchorFile:
    """Every anchor of the data folder, each line's link and signature checked."""
    path = anchor_path(data_dir)
    problems: list[Problem] = []
    public = keys.station_public(data_dir)
    anchors: list[dict[str, Any]] = []
    prev, signed_seen, key_seen = GENESIS, False, None
    for n, line in enumerate(_read_lines(path), 1):
        subject = f"anchor line {n} of {path}"
        try:
            a = json.loads(line)
            if not isinstance(a, dict) or a.get("schema") != SCHEMA:
                raise ValueError("not an anchor")
            seq, chains, counts = int(a["seq"]), a["chains"], a["counts"]
            if not isinstance(chains, dict) or not isinstance(counts, dict):
                raise ValueError("bad fields")
        except (ValueError, KeyError, TypeError):
            problems.append(Problem("anchor", subject, "is not an anchor: the anchor file was "
                                    "edited; restore it from a backup"))
            prev = _line_hash(line)
            continue
        subject = f"anchor #{seq} ({a.get('at')})"
        if seq != len(anchors) + 1 or a.get("prev") != prev:
            problems.append(Problem("anchor", subject, "does not follow the anchor before it: "
                                    "anchors were removed, reordered or edited"))
        if a.get("sig"):
            signed_seen, key_seen = True, a.get("key")
            if public is None:
                problems.append(Problem("anchor", subject, "is signed but this data folder has "
                                        "no station key to check it (station.key / .pub gone)"))
            elif a.get("key") != public.id:
                problems.append(Problem("anchor", subject, f"is signed by key {a.get('key')}, "
                                        f"not by this station's key {public.id}"))
            elif not public.verify(_signed_bytes(a), a["sig"]):
                problems.append(Problem("anchor", subject, "its signature does not match: the "
                                        "anchor was edited"))
        elif signed_seen:
            problems.append(Problem("anchor", subject, "is unsigned after signed anchors: "
                                    "written outside Scantally"))
        anchors.append(a)
        prev = _line_hash(line)
    return AnchorFile(anchors, problems, key_seen)


#: the newest anchor line is looked for in this much of the file's end
_TAIL_BYTES = 1 << 20


def _last_line(fh: BinaryIO) -> bytes | None:
    """The newest complete line of the anchor file (a torn one after a crash is cut off)."""
    size = fh.seek(0, os.SEEK_END)
    start = max(size - _TAIL_BYTES, 0)
    fh.seek(start)
    tail = fh.read()
    if tail and not tail.endswith(b"\n"):  # a torn line from a crash: drop it
        cut = tail.rfind(b"\n") + 1
        if cut == 0 and start > 0:
            raise OSError(f"the anchor file's last {_TAIL_BYTES} bytes hold no whole line")
        fh.truncate(start + cut)
        tail = tail[:cut]
    lines = tail.split(b"\n")[:-1]
    if start > 0:
        lines = lines[1:]  # the first may be the end of a line cut by the tail's start
        if not lines:
            raise OSError(f"the anchor file's last {_TAIL_BYTES} bytes hold no whole line")
    return lines[-1] if lines else None


def write(store: Store, reason: str) -> dict[str, Any]:
    """Append an anchor of the store as it is now (signed when the station has a key)."""
    path = anchor_path(store.data_dir)
    key = keys.load_key(store.data_dir)
    with path.open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            line = _last_line(fh)
            last_seq = int(json.loads(line)["seq"]) if line else 0
            with store.session(readonly=True) as s:
                anchor: dict[str, Any] = {
                    "schema": SCHEMA, "seq": last_seq + 1,
                    "at": iso_utc(utc_now()), "reason": reason,
                    "prev": _line_hash(line.decode("utf-8")) if line else GENESIS,
                    "chains": chain_heads(s), "counts": table_counts(s),
                    "key": key.id if key else None,
                }
            anchor["sig"] = key.sign(_signed_bytes(anchor)) if key else None
            fh.write((json.dumps(anchor, ensure_ascii=False, sort_keys=True) + "\n")
                     .encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return anchor


def last(data_dir: Path) -> dict[str, Any] | None:
    lines = _read_lines(anchor_path(data_dir))
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None


def report_line(data_dir: Path, meeting_id: int, *, short: bool = False) -> str:
    """A line for a report: the newest anchor, this meeting's chain head in it and the key
    ("锚点 #7 · 审计链 #12 5f3a9c0e1b2d4a6f · 密钥 9d59b87a6d41e3db"); `short` for a page
    footer ("锚点 #7 · #12 5f3a9c0e1b2d"). "" when the store has no anchor."""
    a = last(data_dir)
    if a is None:
        return ""
    head = a.get("chains", {}).get(meeting_chain(meeting_id))
    if short:
        return f"锚点 #{a['seq']} · " + (f"#{head['seq']} {str(head['hash'])[:12]}" if head
                                         else "-")
    where = f"审计链 #{head['seq']} {str(head['hash'])[:16]}" if head else "审计链 -"
    signed = f"密钥 {a['key']}" if a.get("sig") else "未签名"
    return f"锚点 #{a['seq']} · {where} · {signed}"


# -- checking ---------------------------------------------------------------------------------

def _chain_hashes(session: Session, chain: str) -> dict[int, str]:
    from tally.accounts import AccountEvent

    if chain == ACCOUNT_CHAIN:
        rows = session.execute(select(AccountEvent.seq, AccountEvent.hash)).all()
        return {seq: h for seq, h in rows}
    mid = int(chain.split(":", 1)[1])
    rows = session.execute(select(AuditEntry.seq, AuditEntry.hash)
                           .where(AuditEntry.meeting_id == mid)).all()
    return {seq: h for seq, h in rows}


def _chain_name(chain: str) -> str:
    if chain == ACCOUNT_CHAIN:
        return "the account log"
    return f"meeting #{chain.split(':')[1]}'s audit chain"


def check_chain(session: Session, anchors: list[dict[str, Any]], chain: str) -> list[Problem]:
    """Every anchored head of `chain` must still be in the database with the same hash."""
    hashes = _chain_hashes(session, chain)
    top = max(hashes, default=0)
    for a in anchors:
        rec = a["chains"].get(chain)
        if not isinstance(rec, dict):
            continue
        seq, want = int(rec.get("seq", 0)), rec.get("hash")
        subject = f"{_chain_name(chain)} (anchor #{a['seq']}, {a.get('at')})"
        have = hashes.get(seq)
        if have is None and seq > top:
            return [Problem("anchor", subject,
                            f"was anchored at entry #{seq} but ends at #{top}: its newest "
                            f"entries were deleted (the chain was cut); restore from a backup")]
        if have is None:
            return [Problem("anchor", subject, f"anchored entry #{seq} is missing")]
        if have != want:
            return [Problem("anchor", subject,
                            f"entry #{seq} has hash {have[:16]}…, the anchor recorded "
                            f"{str(want)[:16]}…: the chain was rewritten and re-hashed from "
                            f"#{seq} or before; restore from a backup")]
    return []


def check(session: Session, data_dir: Path, meeting_id: int | None) -> tuple[
        list[Problem], dict[str, Any] | None]:
    """The anchor file and the database against it: problems, and the newest anchor."""
    found = read(data_dir)
    problems = list(found.problems)
    if not found.anchors:
        if chain_heads(session):
            problems.append(Problem(
                "anchor", str(anchor_path(data_dir)),
                "is missing or empty although the store has audit entries: the anchors were "
                "deleted (restore the file from a backup), or the store predates them (run "
                "`scantally keys anchor` to start anchoring it)"))
        return problems, None
    chains = [ACCOUNT_CHAIN] + ([meeting_chain(meeting_id)] if meeting_id is not None else [])
    for chain in chains:
        problems += check_chain(session, found.anchors, chain)
    newest = found.anchors[-1]
    now = table_counts(session)
    for table, count in sorted(newest["counts"].items()):
        if table in now and now[table] < int(count):
            problems.append(Problem(
                "anchor", f"table {table}",
                f"has {now[table]} row(s), anchor #{newest['seq']} ({newest.get('at')}) "
                f"recorded {count}: rows were deleted outside Scantally"))
    return problems, newest


# -- writing anchors after the commits that matter --------------------------------------------

class _Watcher:
    """Counts the log entries each transaction adds; anchors after the ones that matter."""

    def __init__(self, store: Store, every: int) -> None:
        self.store = store
        self.every = every
        self.pending = 0
        self.lock = threading.Lock()

    def after_flush(self, session: Session, _ctx: Any) -> None:
        from tally.accounts import AccountEvent

        actions = [o.action for o in session.new if isinstance(o, AuditEntry | AccountEvent)]
        if actions:
            session.info.setdefault("scantally_logged", []).extend(actions)

    def after_rollback(self, session: Session) -> None:
        session.info.pop("scantally_logged", None)

    def after_commit(self, session: Session) -> None:
        actions: list[str] = session.info.pop("scantally_logged", [])
        if not actions:
            return
        urgent = next((a for a in actions if a in ANCHOR_ACTIONS), None)
        with self.lock:
            self.pending += len(actions)
            due = urgent is not None or self.pending >= self.every
            if due:
                self.pending = 0
        if not due:
            return
        try:
            write(self.store, urgent or f"every {self.every} entries")
        except Exception:  # the commit stands; verify will say the anchors lag behind
            log.exception("cannot write the audit anchor in %s", self.store.data_dir)


def watch(store: Store, every: int = ANCHOR_EVERY_ENTRIES) -> None:
    """Anchor this store after the commits that matter (see the module docstring)."""
    watcher = _Watcher(store, every)
    sessions = store._sessions
    event.listen(sessions, "after_flush", watcher.after_flush)
    event.listen(sessions, "after_commit", watcher.after_commit)
    event.listen(sessions, "after_rollback", watcher.after_rollback)
