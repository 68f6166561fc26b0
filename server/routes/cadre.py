"""The per-cadre view in the console (综合分析): the list with a search by name or person id,
one cadre's meetings, stages and years with their figures and categories, its PDF, and the
hand entry of a stage without ballots. Admin and operator only (the figures of named people)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from server import auth
from server.fields import Name
from server.routes.common import render, store_of
from tally.accounts import Identity
from tally.cadre.entries import EntryError, HandEntry, enter
from tally.cadre.model import Appearance, CadreView
from tally.cadre.people import search
from tally.cadre.stages import FIGURE_LABELS, STAGE_DEFS, STAGES
from tally.cadre.view import CadreNotFound, cadre_view
from tally.report.cadre_pdf import SHOWN, figure_text, key_rate, render_cadre

router = APIRouter(include_in_schema=False)
#: a person id (forms' ID pattern) or a local key (~meeting~id)
_KEY_RE = re.compile(r"^~?[A-Za-z0-9][A-Za-z0-9_.~-]{0,99}$")


def _key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise HTTPException(404, f"no person {key!r}")
    return key


def _view(request: Request, key: str) -> CadreView:
    try:
        return cadre_view(store_of(request), _key(key))
    except CadreNotFound as exc:
        raise HTTPException(404, str(exc)) from None


def row(a: Appearance) -> dict[str, Any]:
    """One appearance as the template shows it: texts already formatted."""
    rate = key_rate(a)
    return {"a": a, "key_label": FIGURE_LABELS[STAGE_DEFS[a.stage].key],
            "key_text": figure_text(STAGE_DEFS[a.stage].key, rate),
            "bar_pct": round(100 * rate, 1) if rate is not None else 0,
            "figures": [(FIGURE_LABELS[k], figure_text(k, a.figures.get(k)))
                        for k in SHOWN[a.stage] if k in a.figures],
            "cat_keys": [k for k in SHOWN[a.stage] if k in a.figures],
            "categories": [(c.label, [figure_text(k, c.figures.get(k))
                                      for k in SHOWN[a.stage] if k in a.figures])
                           for c in a.categories]}


@router.get("/cadres")
async def cadres_page(request: Request, q: Annotated[Name, Query(max_length=60)] = "",
                      who: Identity = Depends(auth.operator)) -> Response:
    found = await asyncio.to_thread(search, store_of(request), q)
    return render(request, "cadres.html", cadres=found, q=q)


@router.get("/cadres/{person_key}")
async def cadre_page(request: Request, person_key: str,
                     who: Identity = Depends(auth.operator)) -> Response:
    view = await asyncio.to_thread(_view, request, person_key)
    return render(request, "cadre.html", view=view, rows=[row(a) for a in view.appearances],
                  labels=FIGURE_LABELS, stages=STAGES, error=None)


@router.get("/cadres/{person_key}/report.pdf")
async def cadre_pdf(request: Request, person_key: str,
                    who: Identity = Depends(auth.operator)) -> Response:
    view = await asyncio.to_thread(_view, request, person_key)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    pdf = await asyncio.to_thread(render_cadre, view, generated=when)
    name = f"cadre-{view.person_id or 'local'}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


def _values(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        k, sep, v = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[k.strip()] = float(v)
        except ValueError:
            raise EntryError(f"{part!r}: write name=number pairs, e.g. votes=12,of=30") from None
    return out


@router.post("/cadres/{person_key}/entries")
async def add_entry(request: Request, person_key: str,
                    stage: Annotated[Name, Form(max_length=20)],
                    year: Annotated[int, Form(ge=1950, le=2100)],
                    meeting_label: Annotated[Name, Form(max_length=120)],
                    values: Annotated[Name, Form(max_length=200)],
                    why: Annotated[Name, Form(max_length=500)] = "",
                    who: Identity = Depends(auth.operator)) -> Response:
    store = store_of(request)
    try:
        entry = HandEntry(_key(person_key), stage, year, meeting_label, _values(values), why=why)
        await asyncio.to_thread(enter, store, entry, who=who.username)
    except EntryError as exc:
        view = await asyncio.to_thread(_view, request, person_key)
        return render(request, "cadre.html", status_code=400, view=view,
                      rows=[row(a) for a in view.appearances], labels=FIGURE_LABELS,
                      stages=STAGES, error=str(exc))
    return RedirectResponse(f"/cadres/{person_key}", status_code=303)
