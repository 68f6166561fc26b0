"""A learned form uploaded through the console, laid out as the folder `scantally form learn`
wrote, for the same `tally.meetings.create_meeting` as `meeting new --form learned/form.yaml`.

Its own module: it needs `tally.meetings` (FormText, MeetingError), which itself needs
`tally.references`; here nothing imports it back.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from forms.foreign import ForeignError, load_foreign
from forms.spec import FormSpec
from tally.meetings import FormText, MeetingError


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
