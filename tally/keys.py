"""The station key: one Ed25519 key pair per data folder, signing what must stay provable.

The private key is `<data>/station.key` (PKCS#8 PEM, mode 0600, made once by
`scantally keys new`); the public key is `<data>/station.pub` (PEM), to hand to whoever checks
this station's signatures. The audit anchors (`tally.anchors`) are signed with it, and the
signed exports of a later issue use the same key. Nothing here knows about the database.

A signature is Ed25519 over the exact bytes given; `key_id` is the first 16 hex digits of the
SHA-256 of the raw 32-byte public key, short enough to print on paper and read aloud; the
`fingerprint` is all 64.

The keyring (`<data>/trusted_keys.json`, `scantally keys trust PUBKEY_FILE`) holds the public
keys of other stations whose signed bundles this store accepts (`tally.exchange`), each with
who trusted it, when and why. The station's own key is always trusted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, ValidationError

from tally.files import write_atomic

PRIVATE_FILENAME = "station.key"
PUBLIC_FILENAME = "station.pub"
KEYRING_FILENAME = "trusted_keys.json"
KEYRING_SCHEMA = "scantally.keyring/1"
KEY_ID_HEX = 16


class KeyFileError(ValueError):
    """A key file that cannot be made or read; the message says which and what to do."""



def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def key_id(public: Ed25519PublicKey) -> str:
    return fingerprint(public)[:KEY_ID_HEX]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


@dataclass(frozen=True)
class PublicKey:
    """A public key that checks signatures (the station's own, or one exported from it)."""

    key: Ed25519PublicKey

    @property
    def id(self) -> str:
        return key_id(self.key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def pem(self) -> str:
        return public_pem(self.key)

    def verify(self, message: bytes, signature_b64: str) -> bool:
        try:
            self.key.verify(base64.b64decode(signature_b64, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class StationKey:
    """The station's private key (signs) with its public half."""

    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.private.public_key())

    @property
    def id(self) -> str:
        return self.public.id

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of `message`, base64."""
        return base64.b64encode(self.private.sign(message)).decode("ascii")


def private_path(data_dir: Path) -> Path:
    return Path(data_dir) / PRIVATE_FILENAME


def public_path(data_dir: Path) -> Path:
    return Path(data_dir) / PUBLIC_FILENAME


def new_key(data_dir: Path, *, replace: bool = False) -> StationKey:
    """Make the station key in `data_dir` (private file 0600, created exclusively) and write its
    public half beside it. Refuses to overwrite an existing key unless `replace`."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = private_path(data_dir)
    if path.exists() and not replace:
        raise KeyFileError(f"{path} exists already: this station has a key (its public half is "
                         f"{public_path(data_dir)}); pass --replace to make a new one")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    public_path(data_dir).write_text(public_pem(private.public_key()), encoding="ascii")
    return StationKey(private, path)


def load_key(data_dir: Path) -> StationKey | None:
    """The station key of `data_dir`, or None when it has none."""
    path = private_path(data_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"cannot read the station key {path}: {exc}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM private key; restore it from a backup or make "
                         "a new one with `scantally keys new --replace`") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return StationKey(private, path)


def parse_public(pem: str | bytes, source: str) -> PublicKey:
    """A public key from PEM text; KeyFileError naming `source` when it is not Ed25519 PEM."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(f"{source} is not a PEM public key: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFileError(f"{source} is not an Ed25519 public key")
    return PublicKey(public)


def load_public(path: Path) -> PublicKey:
    """A public key from a PEM file (`station.pub`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the public key {path}: {exc}") from None
    return parse_public(data, str(path))


def station_public(data_dir: Path) -> PublicKey | None:
    """The public key that checks this data folder's signatures: from the private key when
    present, else from `station.pub`; None when there is neither."""
    key = load_key(data_dir)
    if key is not None:
        return key.public
    pub = public_path(data_dir)
    return load_public(pub) if pub.exists() else None


# -- the keyring: other stations' public keys this store trusts -------------------------------

class TrustedKey(BaseModel):
    """One trusted public key: whose (label), who trusted it, when and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str
    fingerprint: str
    public_pem: str
    label: str = ""
    trusted_by: str
    trusted_at: str
    why: str = ""


class Keyring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = KEYRING_SCHEMA
    keys: list[TrustedKey] = []

    def find(self, fp: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.fingerprint == fp), None)


def keyring_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEYRING_FILENAME


def load_keyring(data_dir: Path) -> Keyring:
    """The data folder's keyring (empty when there is none yet)."""
    path = keyring_path(data_dir)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Keyring()
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read the keyring {path}: {exc}; restore it from a backup "
                           "or delete it and trust the keys again") from None
    try:
        ring = Keyring.model_validate({"schema_": doc.get("schema"), "keys": doc.get("keys")})
    except (ValidationError, AttributeError) as exc:
        raise KeyFileError(f"{path} is not a Scantally keyring: {exc}") from None
    for k in ring.keys:  # an entry edited by hand must still be the key it claims to be
        if parse_public(k.public_pem, f"{path} key {k.key_id}").fingerprint != k.fingerprint:
            raise KeyFileError(f"{path}: key {k.key_id}'s fingerprint does not match its PEM; "
                               "the keyring was edited: delete the entry and trust it again")
    return ring


def trust(data_dir: Path, public: PublicKey, *, who: str, label: str = "",
          why: str = "") -> tuple[TrustedKey, bool]:
    """Add `public` to the keyring (atomically); (entry, False) when it was trusted already."""
    ring = load_keyring(data_dir)
    known = ring.find(public.fingerprint)
    if known is not None:
        return known, False
    entry = TrustedKey(key_id=public.id, fingerprint=public.fingerprint,
                       public_pem=public.pem(), label=label, trusted_by=who,
                       trusted_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                       why=why)
    doc = {"schema": KEYRING_SCHEMA,
           "keys": [k.model_dump() for k in [*ring.keys, entry]]}
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    write_atomic(keyring_path(data_dir), json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return entry, True


def is_trusted(data_dir: Path, public: PublicKey) -> bool:
    """The station's own key, or one in the keyring."""
    own = station_public(data_dir)
    if own is not None and own.fingerprint == public.fingerprint:
        return True
    return load_keyring(data_dir).find(public.fingerprint) is not None
