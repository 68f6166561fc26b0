"""The app's routes, one module per screen or concern (each an `APIRouter`)."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from server.routes import api, cadre, console, docs, hall, review, session, users

    return [session.router, console.router, review.router, users.router, hall.router,
            api.router, docs.router, cadre.router]
