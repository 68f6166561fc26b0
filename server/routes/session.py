"""Logging in and out, first-run set-up, the language switch, the health check."""

from __future__ import annotations

import hmac
import math
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from server import auth, i18n, throttle
from server.fields import Name, Text
from server.routes.common import render, store_of
from tally import accounts

router = APIRouter()


@router.get("/healthz", tags=["meta"])
def healthz() -> dict[str, bool]:
    """Liveness: the server answers."""
    return {"ok": True}


@router.get("/fonts/cjk-full.ttf", include_in_schema=False)
def full_font(request: Request) -> Response:
    """The whole CJK face (fallback for rare characters); public, like /static."""
    from fastapi.responses import FileResponse

    from server import fonts

    path = fonts.full_font(store_of(request).data_dir / "cache")
    return FileResponse(path, media_type="font/ttf",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    if accounts.user_count(store_of(request)) == 0:
        return render(request, "setup_needed.html")
    return render(request, "login.html", next=auth.safe_next(next), error=None)


@router.post("/login", tags=["session"],
             responses={429: {"description": "too many failed logins: see Retry-After"},
                        503: {"description": "too many logins at once: see Retry-After"}})
async def login(request: Request, username: Annotated[Name, Form(max_length=80)],
                password: Annotated[str, Form(max_length=256)],
                next: Annotated[Text, Form(max_length=500)] = "/") -> Response:
    """Log in: sets the HttpOnly session cookie and redirects to `next`. Failed logins are
    throttled per account and per address (429 with Retry-After, see `server.throttle`)
    and recorded in the account log."""
    store = store_of(request)
    guard: throttle.LoginGuard = request.app.state.login_guard
    address = request.client.host if request.client else ""
    try:
        attempt = guard.attempt(username, address)
    except throttle.Throttled as exc:
        seconds = max(math.ceil(exc.retry_after_s), 1)
        if exc.first:  # once per back-off, so a flood of refusals cannot flood the log
            await run_in_threadpool(accounts.log_login_failure, store, username, address,
                                    f"throttled ({exc.scope})", retry_after_s=seconds)
        return _refused(request, 429, next, THROTTLED_MESSAGE, seconds)
    try:
        async with guard.hashing():
            found = await run_in_threadpool(accounts.login, store, username, password,
                                            address=address)
    except throttle.HashingBusy as exc:
        attempt.release()
        return _refused(request, 503, next, BUSY_MESSAGE, math.ceil(exc.retry_after_s))
    except BaseException:
        attempt.release()
        raise
    if found is None:
        attempt.failed()
        return render(request, "login.html", status_code=401, next=auth.safe_next(next),
                      error=i18n.translate("用户名或密码不正确", i18n.lang_of(request)))
    attempt.succeeded()
    token, _who = found
    response = RedirectResponse(auth.safe_next(next), status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, token, max_age=int(accounts.SESSION_HOURS * 3600),
                        **auth.cookie_args(request))
    response.delete_cookie(auth.PRE_CSRF_COOKIE, path="/")
    return response


THROTTLED_MESSAGE = i18n.N_("登录失败次数过多，请 {seconds} 秒后再试")
BUSY_MESSAGE = i18n.N_("同时登录的请求过多，请 {seconds} 秒后再试")


def _refused(request: Request, status: int, next: str, message: str, seconds: int) -> Response:
    error = i18n.translate(message, i18n.lang_of(request)).format(seconds=seconds)
    response = render(request, "login.html", status_code=status, next=auth.safe_next(next),
                      error=error)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post("/logout", tags=["session"])
def logout(request: Request) -> Response:
    """End the session (logged) and forget the cookie."""
    token = auth.session_token(request)
    if token:
        accounts.logout(store_of(request), token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


def _check_setup(request: Request, token: str) -> None:
    want = request.app.state.settings.setup_token
    if not want or not token or not hmac.compare_digest(token, want):
        raise HTTPException(403, "this set-up link is wrong or used up; use the link "
                                 "`scantally serve` printed, or `scantally user add --role admin`")
    if accounts.user_count(store_of(request)) > 0:
        raise HTTPException(403, "set-up is done: an administrator exists; log in")


@router.get("/setup", include_in_schema=False)
def setup_page(request: Request, token: str = "") -> Response:
    _check_setup(request, token)
    return render(request, "setup.html", token=token, error=None)


@router.post("/setup", include_in_schema=False)
def setup(request: Request, token: Annotated[Text, Form(max_length=200)],
          username: Annotated[Name, Form(max_length=80)],
          password: Annotated[str, Form(max_length=256)],
          password2: Annotated[str, Form(max_length=256)]) -> Response:
    """First run: create the first administrator with the one-time set-up token."""
    _check_setup(request, token)
    lang = i18n.lang_of(request)
    if password != password2:
        return render(request, "setup.html", status_code=400, token=token,
                      error=i18n.translate("两次输入的密码不一致", lang))
    try:
        accounts.create_user(store_of(request), username, password, "admin",
                             actor=f"setup:{username}", only_if_none=True)
    except accounts.AccountError as exc:
        return render(request, "setup.html", status_code=400, token=token, error=str(exc))
    request.app.state.settings = _used_up(request.app.state.settings)
    return RedirectResponse("/login", status_code=303)


def _used_up(settings):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(settings, setup_token=None)


@router.get("/lang/{code}", include_in_schema=False)
def set_language(request: Request, code: str, next: str = "/") -> Response:
    """Switch the interface language (a cookie; no server state)."""
    response = RedirectResponse(auth.safe_next(next), status_code=303)
    if code in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, code, max_age=365 * 24 * 3600,
                            **auth.cookie_args(request))
    return response
