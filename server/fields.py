"""Text at the edge of the web app: annotated types for the routes' fields, and a guard that
refuses a NUL or a control character in any query, path, form or JSON value with 422.

- `Text`: free text (a reason, a device URI, a spec's YAML): no NUL or control character other
  than tab and line breaks, Unicode NFC.
- `Name`: a name or a label (a user, a meeting, a station, a token label, a write-in): no
  control character at all, invisible format characters (zero-width, bidi, BOM) removed, NFC,
  outer whitespace stripped.

Both raise a pydantic validation error, which FastAPI answers with 422 naming the field. The
rules themselves live in `forms.text`, so the CLI and `tally` apply the same ones. Passwords
are neither typed nor normalised (that would change them); the guard still refuses a NUL.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import HTTPException, Request
from pydantic import AfterValidator
from starlette.datastructures import UploadFile

from forms.text import clean_name, clean_text, control_chars, find_control

Text = Annotated[str, AfterValidator(clean_text)]
Name = Annotated[str, AfterValidator(clean_name)]
#: JSON bodies the guard parses to look inside (bigger ones are refused by BodyLimit first)
MAX_GUARDED_JSON_BYTES = 4 * 1024 * 1024
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refused(loc: tuple[str | int, ...]) -> HTTPException:
    return HTTPException(422, [{"loc": list(loc),
                                "msg": "contains a NUL or another control character; remove "
                                       "it (nothing was changed)"}])


async def refuse_control_characters(request: Request) -> None:
    """An app-wide dependency: 422 for a NUL or a control character in a query or path value
    (or key), a form field, an uploaded file's name, or anywhere in a JSON body. The typed
    fields (`Text`, `Name`) check the same and more; this guard covers every route at once."""
    for where, items in (("query", request.query_params.multi_items()),
                         ("path", list(request.path_params.items()))):
        for key, value in items:
            if control_chars(key, allow=frozenset()):
                raise refused((where, key))
            if isinstance(value, str) and control_chars(value, allow=frozenset()):
                raise refused((where, key))
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(_FORM_TYPES):
        try:
            form = await request.form()
        except Exception:  # a malformed body: the route's own parsing says what is wrong
            return
        for key, value in form.multi_items():
            if control_chars(key, allow=frozenset()):
                raise refused(("body", key))
            if isinstance(value, UploadFile):
                if value.filename and control_chars(value.filename, allow=frozenset()):
                    raise refused(("body", key, "filename"))
            elif control_chars(value):
                raise refused(("body", key))
    elif "json" in ctype:
        body = await request.body()
        if not body or len(body) > MAX_GUARDED_JSON_BYTES:
            return
        try:
            data = json.loads(body)
        except ValueError:  # the route answers malformed JSON itself (422)
            return
        found = find_control(data, ("body",))
        if found is not None:
            raise refused(found)
