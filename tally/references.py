"""The reference images of a meeting's foreign forms (`forms.foreign`): kept in the store, given
to the readers.

A foreign form registers by the image of its blank (its layout's page `registration.kind:
reference`, naming the image by SHA-256). When a meeting is created, `foreign_form_layout`
makes the layout of a foreign spec from its targets file, and `keep_references` puts the
blank's image into the content-addressed image store beside the scans, so the meeting reads its
sheets from any station, and recounts them later, without the spec's folder.
`reading_layouts` is what a reader loads: the meeting's stored layout JSON parsed once into
typed layouts (`omr.layout.FormLayout`: the edge), with every reference image prepared for
`omr` as its page's typed fields (`omr.foreign.attach_references`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session

from forms.foreign import ForeignError, load_foreign
from forms.spec import FormSpec
from omr.layout import FormLayout
from tally.formstore import meeting_layouts
from tally.images import ImageError
from tally.store import Store

if TYPE_CHECKING:
    pass


class ReferenceMissing(ValueError):
    """A foreign form's reference image is not in the store (or does not decode)."""


def foreign_form_layout(spec: FormSpec, source: str) -> tuple[dict[str, Any], list[bytes]]:
    """The layout of a foreign spec read from the file `source`, and the bytes of its pages'
    reference images; ForeignError naming the file and what to do."""
    path = Path(source)
    if not path.is_file():
        raise ForeignError(f"{source}: a foreign form (with a 'foreign:' section) is loaded from "
                           "its folder (the spec beside its targets.json and reference image); "
                           "give the spec's path")
    form = load_foreign(path, spec)
    paths = form.page_references or {1: form.reference_path}
    return form.layout, [p.read_bytes() for p in paths.values()]


def keep_references(store: Store, images: list[bytes]) -> None:
    """Store the reference images (durably, idempotently) before a meeting names them."""
    for data in images:
        store.images.put(data)


def _references(store: Store, layout: FormLayout) -> dict[int, np.ndarray]:
    import cv2

    out = {}
    for number, page in layout.pages.items():
        reg = page.doc.registration
        if reg is None or reg.kind != "reference":
            continue
        form = layout.id
        try:
            if reg.image_sha256 is None:
                raise ValueError("the layout names no image_sha256")
            data = store.images.get(reg.image_sha256, what=f"reference of form {form}")
        except (ImageError, ValueError) as exc:
            raise ReferenceMissing(f"form {form!r} page {number}: its reference image is "
                                   f"not in the store ({exc}); create the meeting again from "
                                   "the form's folder") from None
        grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise ReferenceMissing(f"form {form!r}: its reference image does not decode")
        out[number] = grey
    return out


def reading_layouts(store: Store, session: Session, meeting_id: int) -> dict[str, FormLayout]:
    """The meeting's layouts (form id -> typed layout, parsed once here) ready for the
    readers: a foreign form's pages carry their prepared reference; ReferenceMissing when its
    image is not in the store."""
    from omr.foreign import attach_references
    layouts = meeting_layouts(session, meeting_id)
    return {fid: attach_references(lay, _references(store, lay)) if lay.foreign else lay
            for fid, lay in layouts.items()}
