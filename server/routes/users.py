"""User administration (admin only): list, add, disable / enable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from server import auth
from server.fields import Name
from server.routes.common import Id, render, store_of
from tally import accounts
from tally.accounts import Identity

router = APIRouter(include_in_schema=False)


@router.get("/users")
def users_page(request: Request, who: Identity = Depends(auth.admin)) -> Response:
    return render(request, "users.html", users=accounts.list_users(store_of(request)),
                  error=None, roles=accounts.ROLES)


@router.post("/users")
def add_user(request: Request, username: Annotated[Name, Form(max_length=80)],
             password: Annotated[str, Form(max_length=256)],
             role: Annotated[Name, Form(max_length=16)],
             display_name: Annotated[Name, Form(max_length=120)] = "",
             who: Identity = Depends(auth.admin)) -> Response:
    store = store_of(request)
    try:
        accounts.create_user(store, username, password, role, actor=who.username,
                             display_name=display_name)
    except accounts.AccountError as exc:
        return render(request, "users.html", status_code=400, users=accounts.list_users(store),
                      error=str(exc), roles=accounts.ROLES)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/disable")
def disable_user(request: Request, user_id: Id, who: Identity = Depends(auth.admin)
                 ) -> Response:
    accounts.set_disabled(store_of(request), user_id, True, actor=who.username)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/enable")
def enable_user(request: Request, user_id: Id, who: Identity = Depends(auth.admin)
                ) -> Response:
    accounts.set_disabled(store_of(request), user_id, False, actor=who.username)
    return RedirectResponse("/users", status_code=303)
