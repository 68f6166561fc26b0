"""`scantally keys new|show|anchor|trust|trusted|verify`: the station's Ed25519 key, the audit
anchors it signs, the other stations' keys this store trusts, and files signed with a key
(`verify`: a deck check's signoff.pdf against signoff.pdf.sig, `tally.filesig`).

The key lives in the data folder (`station.key`, mode 0600; `station.pub` beside it) and signs
the audit anchors (`tally.anchors`) and the exported bundles (`tally.exchange`); the keyring
`trusted_keys.json` beside it names the stations whose bundles `scantally import` accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server.cli.common import console, fail, write_atomic

DataOpt = Annotated[Path, typer.Option(
    "--data", envvar="SCANTALLY_DATA", help="data folder: images (and the SQLite file)")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", envvar="SCANTALLY_DB", help="database URL (default: a SQLite file in the data "
    "folder)")]
DEFAULT_DATA = Path("data")

keys_app = typer.Typer(help="The station key (Ed25519) and the signed audit anchors.",
                       no_args_is_help=True)


@keys_app.command("new")
def keys_new(
    data: DataOpt = DEFAULT_DATA,
    replace: Annotated[bool, typer.Option(
        "--replace", help="make a new key although one exists (anchors signed by the old key "
        "then no longer verify here: keep the old station.pub)")] = False,
) -> None:
    """Make this station's key: <data>/station.key (0600) and its public half station.pub."""
    from tally.keys import KeyFileError, new_key, public_path

    try:
        key = new_key(data, replace=replace)
    except (KeyFileError, OSError) as exc:
        fail(str(exc))
    console.print(f"[green]station key[/] {key.id} written to {key.path} (mode 0600); public "
                  f"key {public_path(data)} — hand it to whoever checks this station",
                  highlight=False, soft_wrap=True)


@keys_app.command("show")
def keys_show(
    data: DataOpt = DEFAULT_DATA,
    out: Annotated[Path | None, typer.Option("--out", help="write the public key (PEM) here "
                                             "instead of printing it")] = None,
) -> None:
    """Print (or export) the station's public key and its id."""
    from tally.keys import KeyFileError, station_public

    try:
        public = station_public(data)
    except KeyFileError as exc:
        fail(str(exc))
    if public is None:
        fail(f"no station key in {data}; make one with `scantally keys new --data {data}`")
    if out is not None:
        write_atomic(out, public.pem().encode("ascii"))
        console.print(f"public key {public.id} written to {out}", highlight=False)
        return
    typer.echo(f"# station key {public.id}")
    typer.echo(public.pem(), nl=False)


@keys_app.command("anchor")
def keys_anchor(data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """Anchor the audit chains now (signed when the station has a key)."""
    from tally import anchors
    from tally.store import StoreError, open_store

    try:
        store = open_store(data, db)
    except StoreError as exc:
        fail(str(exc))
    with store:
        a = anchors.write(store, "by hand")
    console.print(f"anchor #{a['seq']} written to {anchors.anchor_path(data)} "
                  f"({'signed by ' + a['key'] if a['sig'] else 'unsigned: no station key'})",
                  highlight=False, soft_wrap=True)


@keys_app.command("trust")
def keys_trust(
    pubkey_file: Annotated[Path, typer.Argument(help="the other station's station.pub (PEM)")],
    label: Annotated[str, typer.Option("--label", help="whose key: team, station, place")
                     ] = "",
    why: Annotated[str, typer.Option("--why", help="why it is trusted (kept with the key)")
                   ] = "",
    data: DataOpt = DEFAULT_DATA,
) -> None:
    """Trust another station's public key: bundles it signs may then be imported here."""
    from server.cli.common import user
    from tally.keys import KeyFileError, load_public, trust

    try:
        entry, added = trust(data, load_public(pubkey_file), who=user(), label=label, why=why)
    except (KeyFileError, OSError) as exc:
        fail(str(exc))
    state = "now trusted" if added else "was trusted already"
    console.print(f"key {entry.key_id} (fingerprint {entry.fingerprint}) {state} in "
                  f"{data}; trusted by {entry.trusted_by} at {entry.trusted_at}",
                  highlight=False, soft_wrap=True)


@keys_app.command("trusted")
def keys_trusted(data: DataOpt = DEFAULT_DATA) -> None:
    """List the keys this store trusts (besides its own)."""
    from tally.keys import KeyFileError, load_keyring

    try:
        ring = load_keyring(data)
    except KeyFileError as exc:
        fail(str(exc))
    if not ring.keys:
        console.print(f"no trusted keys in {data} (trust one with `scantally keys trust FILE`)")
    for k in ring.keys:
        console.print(f"{k.key_id}  {k.fingerprint}  {k.label or '-'}  trusted by "
                      f"{k.trusted_by} at {k.trusted_at}" + (f": {k.why}" if k.why else ""),
                      highlight=False, soft_wrap=True)


@keys_app.command("verify")
def keys_verify(
    file: Annotated[Path, typer.Argument(help="a signed file, e.g. a deck check's signoff.pdf")],
    sig: Annotated[Path | None, typer.Option("--sig", help="its signature (default: the file "
                                             "name with .sig added)")] = None,
    data: DataOpt = DEFAULT_DATA,
) -> None:
    """Check a file against its detached signature: its SHA-256, the Ed25519 signature, and
    that the signer is this station or one it trusts (exit 0), else why not (exit 2)."""
    from tally import filesig
    from tally.keys import KeyFileError

    try:
        v = filesig.verify_file(file, sig or filesig.sig_path(file), data)
    except (filesig.SignatureError, KeyFileError) as exc:
        fail(f"not verified: {exc}")
    who = {"this station": "this station's key", "trusted": f"trusted key ({v.label or '-'})",
           "unknown": "a key this store does not know"}[v.signer]
    if v.signer == "unknown":
        fail(f"the signature holds but key {v.sig.key_id} (fingerprint {v.sig.fingerprint}) "
             "is not this station's nor trusted here: if it is the station's, trust its "
             "station.pub with `scantally keys trust`")
    console.print(f"[green]verified[/]: {file} (sha256 {v.sig.sha256}) signed at "
                  f"{v.sig.signed_at} by {who} {v.sig.key_id}", highlight=False,
                  soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
