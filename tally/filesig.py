"""A detached signature of one file (`<file>.sig`): its SHA-256 signed with the station key.

The sign-off page of a deck check (`scantally testdeck check -o signoff.pdf`) is written with
`signoff.pdf.sig` beside it: a small JSON document (`scantally.file-signature/1`) holding the
file's name, size and SHA-256, who signed it (key id, fingerprint, public key PEM), when, and
the base64 Ed25519 signature over the ASCII message

    scantally.file-signature/1 sha256:<the file's SHA-256, 64 hex digits>

(a prefix of its own, so no other signature of the station's — anchors, bundles — can be
passed off as one of these). `scantally keys verify signoff.pdf` checks it: the file's hash,
the signature, and that the signer is this station or a station the store trusts. Without
Scantally: `sha256sum signoff.pdf`, write the message above to msg.txt (no newline), put the
`public_key_pem` in pub.pem and the base64-decoded `signature` in sig.bin, and run
`openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg.txt -sigfile sig.bin`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tally import keys

SCHEMA = "scantally.file-signature/1"
SUFFIX = ".sig"


class FileSignature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["scantally.file-signature/1"] = Field(SCHEMA, alias="schema")
    file: str
    file_bytes: int
    sha256: str
    algorithm: Literal["ed25519"] = "ed25519"
    key_id: str
    fingerprint: str
    public_key_pem: str
    signed_at: str
    signature: str

    def to_json(self) -> bytes:
        return (self.model_dump_json(by_alias=True, indent=1) + "\n").encode("utf-8")


class SignatureError(ValueError):
    """A signature file that cannot be read or does not hold; the message says what."""


def message(sha256_hex: str) -> bytes:
    return f"{SCHEMA} sha256:{sha256_hex}".encode("ascii")


def sig_path(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def sign_bytes(key: keys.StationKey, content: bytes, name: str) -> FileSignature:
    """The detached signature of `content` (to be written as `<name>.sig`)."""
    digest = hashlib.sha256(content).hexdigest()
    public = key.public
    return FileSignature(file=name, file_bytes=len(content), sha256=digest, key_id=public.id,
                         fingerprint=public.fingerprint, public_key_pem=public.pem(),
                         signed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                         signature=key.sign(message(digest)))


Signer = Literal["this station", "trusted", "unknown"]


@dataclass(frozen=True)
class Verified:
    sig: FileSignature
    signer: Signer
    #: the keyring label of a trusted signer
    label: str = ""


def verify_file(path: Path, signature: Path, data_dir: Path) -> Verified:
    """Check `path` against its signature file: SignatureError naming what fails."""
    try:
        content = path.read_bytes()
        raw = signature.read_bytes()
    except OSError as exc:
        raise SignatureError(f"cannot read {exc.filename}: {exc.strerror}") from None
    try:
        sig = FileSignature.model_validate_json(raw)
    except ValidationError as exc:
        raise SignatureError(f"{signature} is not a Scantally file signature "
                             f"({SCHEMA}): {exc.errors()[0]['msg']}") from None
    digest = hashlib.sha256(content).hexdigest()
    if digest != sig.sha256 or len(content) != sig.file_bytes:
        raise SignatureError(f"{path} is not the file that was signed: its SHA-256 is "
                             f"{digest}, the signature's {sig.sha256} (the file was changed)")
    try:
        public = keys.parse_public(sig.public_key_pem, f"{signature} public_key_pem")
    except keys.KeyFileError as exc:
        raise SignatureError(str(exc)) from None
    if public.fingerprint != sig.fingerprint:
        raise SignatureError(f"{signature}: the public key is not the one its fingerprint "
                             "names (the signature file was edited)")
    if not public.verify(message(sig.sha256), sig.signature):
        raise SignatureError(f"{signature}: the signature does not verify with key "
                             f"{sig.key_id} (the signature file was edited)")
    own = keys.station_public(data_dir)
    if own is not None and own.fingerprint == public.fingerprint:
        return Verified(sig, "this station")
    known = keys.load_keyring(data_dir).find(public.fingerprint)
    if known is not None:
        return Verified(sig, "trusted", known.label)
    return Verified(sig, "unknown")
