"""`scantally serve`, `scantally user add|list`: the web console.

`serve` opens the store (`--data DIR`, or `--db URL` for PostgreSQL) and runs the console, the
hall screen and the API with uvicorn. With no user yet it prints a one-time set-up URL for the
first administrator (or create one with `scantally user add --role admin`).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer

from server.cli.common import console, fail, open_or_fail
from server.cli.options import (
    DEFAULT_DATA,
    DataOpt,
    DbOpt,
    MaxFileMbOpt,
    MaxPageMpxOpt,
    MaxPdfPagesOpt,
    MaxTiffFramesOpt,
    page_caps,
)

user_app = typer.Typer(help="Console users (admin, operator, observer).", no_args_is_help=True)


def run_server(app: Any, host: str, port: int) -> None:
    """Serve until Ctrl-C; open streams are closed within 2 s on the way out."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.state.closing.set()  # end the open event streams first
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3, lifespan="on")
    Server(config).run()


def serve(
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    read_threads: Annotated[int, typer.Option("--read-threads", min=1, max=32,
                                              help="threads reading uploaded sheets")] = 2,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", min=1, max=100_000,
                                               help="largest upload accepted")] = 512,
    station: Annotated[str, typer.Option("--station", help="this station's name (reports)")
                       ] = "",
    login_attempts: Annotated[int, typer.Option(
        "--login-attempts", min=1, max=1000,
        help="wrong passwords per account before back-off (per address: 4x)")] = 5,
    login_window_s: Annotated[float, typer.Option(
        "--login-window-s", min=1, help="failures are forgotten after this long")] = 900.0,
    login_max_backoff_s: Annotated[float, typer.Option(
        "--login-max-backoff-s", min=1, help="the longest login back-off")] = 900.0,
    hash_concurrency: Annotated[int, typer.Option(
        "--hash-concurrency", min=1, max=64,
        help="password hashes at once (argon2: 64 MiB each)")] = 2,
    max_zip_mb: Annotated[int, typer.Option(
        "--max-zip-mb", min=1, help="MiB an uploaded ZIP may unpack to")] = 2048,
    max_pdf_pages: MaxPdfPagesOpt = None,
    max_tiff_frames: MaxTiffFramesOpt = None,
    max_page_mpx: MaxPageMpxOpt = None,
    max_file_mb: MaxFileMbOpt = None,
    max_job_resumes: Annotated[int, typer.Option(
        "--max-job-resumes", min=0, max=10,
        help="times an upload cut off by a crash is taken up again at restart (0: failed)")
    ] = 1,
) -> None:
    """Run the operator console, the hall screen and the JSON API (docs at /docs)."""
    from intake.limits import IntakeLimits, MiB
    from server.app import ServerSettings, create_app
    from server.throttle import LoginLimits
    from tally.accounts import user_count
    from tally.keys import load_key

    store = open_or_fail(data, db)
    setup_token = secrets.token_urlsafe(24) if user_count(store) == 0 else None
    login = LoginLimits(attempts=login_attempts, address_attempts=4 * login_attempts,
                        window_s=login_window_s, max_backoff_s=login_max_backoff_s,
                        hash_concurrency=hash_concurrency)
    limits = IntakeLimits(max_request_bytes=max_upload_mb * MiB, max_zip_bytes=max_zip_mb * MiB,
                          max_job_resumes=max_job_resumes,
                          **page_caps(max_pdf_pages, max_tiff_frames, max_page_mpx, max_file_mb))
    settings = ServerSettings(limits=limits,
                              read_threads=read_threads, setup_token=setup_token,
                              station=station, hall_workers=1, login=login)
    app = create_app(store, settings)
    base = f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"
    console.print(f"Scantally console on [bold]{base}/[/] (store {store.url})", soft_wrap=True)
    if setup_token:
        console.print(f"No user yet: create the administrator at [bold]{base}/setup?token="
                      f"{setup_token}[/] (one-time link), or run `scantally user add --role "
                      "admin`.", highlight=False, soft_wrap=True)
    if load_key(store.data_dir) is None:
        console.print(f"[yellow]No station key:[/] audit anchors are written unsigned; make "
                      f"one with `scantally keys new --data {store.data_dir}`.",
                      highlight=False, soft_wrap=True)
    run_server(app, host, port)


@user_app.command("add")
def user_add(
    name_arg: Annotated[str | None, typer.Argument(
        metavar="USERNAME", help="login name (or --username)", show_default=False)] = None,
    username: Annotated[str | None, typer.Option("--username", "-u", help="login name")] = None,
    role: Annotated[str, typer.Option("--role", help="admin, operator or observer")
                    ] = "operator",
    display_name: Annotated[str, typer.Option("--name", help="full name")] = "",
    password: Annotated[str | None, typer.Option(
        "--password", help="(default: asked for, not echoed)")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Add a console user (the first one should be an admin): `scantally user add NAME`."""
    from tally.accounts import AccountError, create_user

    if name_arg and username and name_arg != username:
        fail(f"two login names given ({name_arg!r} and --username {username!r}); give one")
    username = name_arg or username
    if not username:
        fail("which user? give the login name: scantally user add NAME [--role admin]")

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    store = open_or_fail(data, db)
    try:
        u = create_user(store, username, password, role, actor="cli", display_name=display_name)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"[green]added[/] user {u.username!r} ({u.role})")


@user_app.command("list")
def user_list(data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """List the console users."""
    from tally.accounts import list_users

    for u in list_users(open_or_fail(data, db)):
        state = "disabled" if u.disabled else "active"
        console.print(f"{u.id:>3}  {u.username:<20} {u.role:<9} {state}  {u.display_name}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
