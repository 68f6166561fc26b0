"""The reference images of a meeting's foreign forms (`forms.foreign`): kept in the store, given
to the readers.

A foreign form registers by the image of its blank (its layout's page `registration.kind:
reference`, naming the image by SHA-256). When a meeting is created, `foreign_form_layout`
makes the layout of a foreign spec from its targets file, and `keep_references` puts the
blank's image into the content-addressed image store beside the scans, so the meeting reads its
sheets from any station, and recounts them later, without the spec's folder.
`uploaded_forms` lays a learned form uploaded through the console (its spec and the files of
its folder) out as that folder, for the same `create_meeting`.
`reading_layouts` is what a reader loads: the meeting's stored layout JSON parsed once into
typed layouts (`omr.layout.FormLayout`: the edge), with every reference image prepared for
`omr` as its page's typed fields (`omr.foreign.attach_references`).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    from tally.meetings import FormText


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


@dataclass(frozen=True)
class UploadedFile:
    """A file of a learned form's folder, uploaded beside its spec (console)."""

    name: str
    data: bytes


#: most files of learned forms' folders one upload takes, and each one's size
MAX_FORM_FILES = 24
MAX_FORM_FILE_BYTES = 48 * 1024 * 1024


def _plain(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


@contextmanager
def uploaded_forms(forms: list[FormText], files: list[UploadedFile]
                   ) -> Iterator[list[FormText]]:
    """The uploaded specs (`tally.meetings.FormText`) as `create_meeting` takes them: a
    foreign spec is laid, with the uploaded files its `foreign:` section names (targets.json,
    its reference image(s), a marker image), into a private folder as `scantally form learn`
    wrote it, and read from there - the same code as `meeting new --form learned/form.yaml`.
    MeetingError naming the file and what to upload; the folder is gone on leaving."""
    from forms.load import SpecError, parse_spec
    from tally.meetings import FormText, MeetingError

    by_name: dict[str, bytes] = {}
    if len(files) > MAX_FORM_FILES:
        raise MeetingError("{count} form files uploaded: at most {most} (a learned form is its "
                           "spec, targets.json and one reference image per page)",
                           count=len(files), most=MAX_FORM_FILES)
    for f in files:
        if not _plain(f.name):
            raise MeetingError("{name}: not a plain file name", name=f.name)
        if f.name in by_name:
            raise MeetingError("two uploaded files are named {name}: upload one learned form's "
                               "folder at a time", name=f.name)
        by_name[f.name] = f.data
    with tempfile.TemporaryDirectory(prefix="scantally-form-") as tmp:
        out = []
        for i, form in enumerate(forms):
            try:
                spec = parse_spec(form.yaml_text, form.source)
            except SpecError:
                out.append(form)  # create_meeting names what is wrong with it
                continue
            if spec.foreign is None:
                out.append(form)
                continue
            folder = Path(tmp) / str(i)
            folder.mkdir()
            _lay_out(form.source, spec, by_name, folder)
            spec_name = Path(form.source).name if _plain(Path(form.source).name) else "form.yaml"
            spec_path = folder / spec_name
            spec_path.write_text(form.yaml_text, "utf-8")
            try:
                load_foreign(spec_path, spec)
            except ForeignError as exc:
                # the folder's files by their own names, never the server's path
                raise MeetingError("{problem}", problem=str(exc).replace(str(folder) + "/", "")
                                   ) from None
            out.append(FormText(form.yaml_text, str(spec_path)))
        yield out


def _lay_out(source: str, spec: FormSpec, files: dict[str, bytes], folder: Path) -> None:
    """Write the files the foreign spec names into `folder`; MeetingError for a missing one."""
    from forms.foreign import TargetsDoc
    from tally.meetings import MeetingError

    assert spec.foreign is not None
    needed = [spec.foreign.targets, spec.foreign.reference]
    if spec.foreign.markers:
        needed.append(spec.foreign.markers)
    targets = files.get(spec.foreign.targets)
    if targets is not None:
        try:
            doc = TargetsDoc.model_validate_json(targets)
        except ValueError:
            raise MeetingError("{name}: not a targets file of `scantally form learn` (upload "
                               "the targets.json of the form's folder)",
                               name=spec.foreign.targets) from None
        needed += [doc.page_reference(k).image for k in range(2, doc.page_count + 1)]
        for k in range(1, doc.page_count + 1):
            image = spec.foreign.reference if k == 1 else doc.page_reference(k).image
            data = files.get(image)
            if data is not None and hashlib.sha256(data).hexdigest() != \
                    doc.page_reference(k).sha256:
                raise MeetingError("{name} is not the image {targets} was learned from (another "
                                   "form's, or edited since): upload the reference image of "
                                   "the same folder", name=image, targets=spec.foreign.targets)
    for name in needed:
        if not _plain(name):
            raise MeetingError("{source}: its foreign section names {name}, not a file beside "
                               "the spec; name files of the spec's own folder", source=source,
                               name=name)
        data = files.get(name)
        if data is None:
            raise MeetingError("{source} is a learned form: upload its {name} too (choose the "
                               "spec, targets.json and reference image(s) of the folder "
                               "`scantally form learn` wrote)", source=source, name=name)
        if len(data) > MAX_FORM_FILE_BYTES:
            raise MeetingError("{name}: over {mib} MiB; a reference image is one page at the "
                               "dpi it was learned at", name=name,
                               mib=MAX_FORM_FILE_BYTES // (1024 * 1024))
        (folder / name).write_bytes(data)
