"""Who is asking: session cookies, roles, CSRF tokens and hall display tokens, as dependencies.

- A login sets `scantally_session` (HttpOnly, SameSite=Strict, Secure when served over HTTPS):
  a random token whose SHA-256 is the `web_sessions` row (`tally.accounts`).
- CSRF: every POST/PUT/PATCH/DELETE must carry a token, in the `csrf_token` form field or the
  `X-CSRF-Token` header. With a session it is HMAC(session token, "csrf"), so only a page
  served to that session knows it; before login (the login and set-up forms) it is the value of
  the `scantally_csrf` cookie (double submit). A missing or wrong token is refused with 403
  before the route runs, so nothing is stored. `csrf_check` is installed on the whole app.
- Roles: observer < operator < admin. `require(role)` gives 401 (API) or a redirect to the
  login page (pages) when nobody is logged in, 403 when the role is too low.
- A display token (`?token=…`) opens only the hall routes of its own meeting; on any other
  meeting's hall → 403; on an operator route → 403 with a message saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData

from tally import accounts
from tally.accounts import Identity

SESSION_COOKIE = "scantally_session"
PRE_CSRF_COOKIE = "scantally_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RANK = {"observer": 1, "operator": 2, "admin": 3}
_MISSING = object()


class LoginRequired(Exception):
    """Nobody is logged in: pages redirect to /login, the API answers 401."""


def csrf_for_session(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"scantally-csrf", hashlib.sha256).hexdigest()


def session_token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def identity(request: Request) -> Identity | None:
    """The logged-in user, looked up once per request."""
    cached = getattr(request.state, "identity", _MISSING)
    if cached is _MISSING:
        token = session_token(request)
        store = request.app.state.store
        cached = accounts.session_identity(store, token) if token else None
        request.state.identity = cached
    return cached  # type: ignore[return-value]


def expected_csrf(request: Request) -> str:
    """The token this request's forms must carry (with a session, else the pre-login cookie)."""
    token = session_token(request)
    if token and identity(request) is not None:
        return csrf_for_session(token)
    return request.cookies.get(PRE_CSRF_COOKIE, "")


def new_pre_csrf() -> str:
    return secrets.token_urlsafe(24)


async def csrf_check(request: Request) -> None:
    """Refuse any state-changing request without the right CSRF token (403, nothing stored)."""
    if request.method not in UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            try:
                form: FormData = await request.form()
            except Exception:  # a malformed body: no token could be read from it
                form = FormData()
            value = form.get(CSRF_FIELD, "")
            sent = value if isinstance(value, str) else ""
    want = expected_csrf(request)
    if not want or not sent or not hmac.compare_digest(sent, want):
        raise HTTPException(403, "CSRF check failed: the form's security token is missing or "
                                 "wrong (an old page, or a request from another site). Reload "
                                 "the page and try again; nothing was changed.")


def _display_token(request: Request) -> str:
    return request.query_params.get("token", "")


def current_user(request: Request) -> Identity:
    who = identity(request)
    if who is None:
        if _display_token(request):
            raise HTTPException(403, "a display token opens only its meeting's hall screen "
                                     "(/hall/…), not the console or the API; log in instead")
        raise LoginRequired()
    return who


def require(role: str) -> Callable[..., Identity]:
    """A dependency: the logged-in user, with at least `role`."""

    def dependency(who: Identity = Depends(current_user)) -> Identity:
        if RANK[who.role] < RANK[role]:
            raise HTTPException(403, f"this needs the {role} role; you are {who.username} "
                                     f"({who.role})")
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


viewer = require("observer")
operator = require("operator")
admin = require("admin")


def hall_access(meeting_id: int, request: Request) -> str:
    """Access to one meeting's hall: a logged-in user, or a live display token of that very
    meeting. Returns who (for nothing but logs)."""
    token = _display_token(request)
    if token:
        opened = accounts.display_token_meeting(request.app.state.store, token)
        if opened is None:
            raise HTTPException(403, "this display token is unknown or was revoked; ask the "
                                     "operator for the hall link")
        if opened != meeting_id:
            raise HTTPException(403, "this display token belongs to another meeting's hall "
                                     "screen")
        return "display"
    who = identity(request)
    if who is None:
        raise HTTPException(401, "open the hall screen with its display link (…?token=…) or "
                                 "log in")
    return who.username


def stream_access(request: Request, meeting_id: int | None = None) -> Callable[[], bool]:
    """A blocking check for an open event stream: is the access that opened it still good?
    A display token (hall streams): not revoked, still of `meeting_id`. A login: the same
    session, user and role as when the stream opened (not logged out, disabled or changed)."""
    store = request.app.state.store
    token = _display_token(request) if meeting_id is not None else ""
    if token:
        return lambda: accounts.display_token_meeting(store, token) == meeting_id
    opened, session = identity(request), session_token(request)
    return lambda: opened is not None and accounts.session_identity(store, session) == opened


def login_redirect(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target)}"


def safe_next(target: str | None) -> str:
    """Only local paths (no scheme, no //host) are followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": request.url.scheme == "https",
            "path": "/"}
