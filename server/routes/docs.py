"""The API's documentation pages, /docs (Swagger UI) and /redoc, from vendored assets only.

FastAPI's own pages load their scripts from a CDN and start Swagger UI with an inline script;
both break offline and under the server's CSP (`script-src 'self'`). These pages reference
only /static (server/static/vendor/swagger-ui, server/static/vendor/redoc).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str) -> HTMLResponse:
    app = request.app
    return app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, {"title": app.title, "openapi_url": app.openapi_url})


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, "docs.html")


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _page(request, "redoc.html")
