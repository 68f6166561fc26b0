"""Meetings: create one from form specs, record the team's facts and settings, look them up.

A meeting keeps each form's spec text and compiled layout (with its hash) as they were when the
meeting was set up, so a later edit of a spec file cannot change how stored sheets are read or
counted. Every change is written with its full record to the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.code import SERIAL_PATTERN, is_test_serial
from forms.foreign import ForeignError
from forms.layout import compile_layout
from forms.layout_json import layout_to_dict
from forms.load import SpecError, parse_spec
from forms.plan import LayoutError
from forms.spec import FormSpec
from forms.text import TextError, clean_name
from forms.yamlsafe import DEFAULT_LIMITS, load_bounded
from tally import audit
from tally.db import Meeting, MeetingForm, PrintedSerial

# the read side (a meeting's stored forms) is tally.formstore; named here too for old imports
from tally.formstore import meeting_forms, meeting_specs
from tally.formstore import meeting_layouts as meeting_layouts
from tally.model import MeetingFacts, Settings
from tally.rules.result import N_
from tally.store import Store

#: the key of the whole meeting's 应到/实到 (all categories; the same as `tally.rules.result.ALL`)
ALL_CATEGORIES = "_all"
_SERIAL_RE = re.compile(rf"^{SERIAL_PATTERN}$")
#: what a key of a per-form setting must be (a message parameter, translated where shown)
FORM_NOUN = N_("a form of this meeting")


class MeetingError(ValueError):
    """Bad meeting input or an unknown meeting; the message names the thing and what to do.

    Raised as `MeetingError("no meeting #{meeting}", meeting=…)` the template is the message
    id the server translates by (server/i18n.py); a plain message is shown as it is."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template.format(**params) if params else template)

    @classmethod
    def raised_as(cls, exc: Exception) -> MeetingError:
        """Another layer's error passed on with its own message, not a template of this file
        (a refused spec is shown problem by problem from the cause, `server.i18n`)."""
        return cls("{error}", error=str(exc))


@dataclass(frozen=True)
class FormText:
    """A form spec as YAML text, and where it came from (for messages)."""

    yaml_text: str
    source: str

    @classmethod
    def read(cls, path: str | Path) -> FormText:
        p = Path(path)
        cap = DEFAULT_LIMITS.max_bytes
        try:
            with p.open("rb") as fh:  # never more than the cap into memory
                raw = fh.read(cap + 1)
            if len(raw) > cap:
                raise MeetingError("{path}: refused: over the limit of {cap:,} bytes "
                                   "(max_bytes); a form spec is a few KiB: check it is the "
                                   "right file", path=str(p), cap=cap)
            return cls(raw.decode("utf-8"), str(p))
        except (OSError, UnicodeDecodeError) as exc:
            raise MeetingError("cannot read the form spec {path}: {error}", path=str(p),
                               error=str(exc)) from None


def compile_form(form: FormText) -> tuple[FormSpec, dict[str, Any]]:
    """Validate and lay out a spec; MeetingError naming the file and the problem."""
    try:
        spec = parse_spec(form.yaml_text, form.source)
        if spec.foreign is not None:  # a form we did not print: its boxes are its targets
            from tally.references import foreign_form_layout

            return spec, foreign_form_layout(spec, form.source)[0]
        return spec, layout_to_dict(compile_layout(spec))
    except ForeignError as exc:
        raise MeetingError.raised_as(exc) from None
    except SpecError as exc:  # its problems, translatable, stay the cause (server/i18n.py)
        raise MeetingError.raised_as(exc) from exc
    except LayoutError as exc:
        raise MeetingError("{source}: cannot lay out the form: {error}", source=form.source,
                           error=str(exc)) from None


def parse_serials(text: str, source: str) -> list[str]:
    """The serials of a `--serials-out` file: one per line, each valid and unique."""
    serials: list[str] = []
    seen: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        serial = raw.strip()
        if not serial or serial.startswith("#"):
            continue
        if not _SERIAL_RE.match(serial):
            raise MeetingError("{source} line {line}: {serial!r} is not a sheet serial "
                               "(letters and digits, at most 16); use the file written by "
                               "`scantally form render --serials-out`", source=source, line=n,
                               serial=serial)
        if serial in seen:
            raise MeetingError("{source} line {line}: serial {serial!r} appears twice; a "
                               "printed set has each serial once — check the file",
                               source=source, line=n, serial=serial)
        seen.add(serial)
        serials.append(serial)
    if not serials:
        raise MeetingError("{source}: no serials in the file", source=source)
    return serials


def parse_settings(data: Any, source: str) -> Settings:
    """A `Settings` from a mapping (a JSON or YAML settings file); errors name the field."""
    if not isinstance(data, Mapping):
        raise MeetingError("{source}: a settings file must be a mapping such as {example}",
                           source=source, example='{"denominator": "attendees"}')
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(x) for x in err["loc"]) or "(file)"
            if err["type"] == "literal_error":
                lines.append(f"{name} {err['input']!r} is not known: {err['msg'].lower()}")
            elif err["type"] == "extra_forbidden":
                lines.append(f"{name}: unknown setting; remove it or check its spelling")
            else:
                lines.append(f"{name}: {err['msg']}")
        raise MeetingError("{source}: invalid settings: {problems}; fix the file and try "
                           "again", source=source, problems="; ".join(lines)) from None


def load_settings_file(path: str | Path) -> Settings:
    p = Path(path)
    try:
        with p.open("rb") as fh:  # a settings file is tiny: never more than the cap
            text = fh.read(DEFAULT_LIMITS.max_bytes + 1).decode("utf-8")
        # YAML under the same caps as a spec (aliases, depth, size): no alias bomb
        data = json.loads(text) if p.suffix == ".json" else load_bounded(text)[1]
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise MeetingError("cannot read the settings file {path}: {error}", path=str(p),
                           error=str(exc)) from None
    return parse_settings(data, str(p))


def _check_counts(what: str, counts: Mapping[str, int] | None,
                  categories: set[str]) -> dict[str, int]:
    return _whole_counts(what, counts, categories | {ALL_CATEGORIES},
                         N_("a voter category of this meeting's forms"))


def _whole_counts(what: str, counts: Mapping[str, int] | None, allowed: set[str],
                  noun: str) -> dict[str, int]:
    """Counts keyed by one of `allowed` (`noun` says what a key is), each a whole number ≥ 0."""
    out: dict[str, int] = {}
    for key, value in (counts or {}).items():
        if key not in allowed:
            raise MeetingError("{what}: {key!r} is not {noun}; use {allowed}", what=what,
                               key=key, noun=noun, allowed=", ".join(sorted(allowed)))
        if not isinstance(value, int) or value < 0:
            raise MeetingError("{what}: {key}={value!r} must be a whole number ≥ 0", what=what,
                               key=key, value=value)
        out[key] = value
    return out


def categories_of(specs: Iterable[FormSpec]) -> set[str]:
    return {c.id for s in specs if s.categories for c in s.categories.options}


def create_meeting(store: Store, *, name: str, forms: list[FormText], actor: str,
                   unit: str | None = None, date: dt.date | None = None,
                   expected: Mapping[str, int] | None = None,
                   present: Mapping[str, int] | None = None, issued: int | None = None,
                   serials: list[str] | None = None, settings: Settings | None = None,
                   issued_by_form: Mapping[str, int] | None = None,
                   serials_by_form: Mapping[str, list[str]] | None = None,
                   test_mode: bool = False) -> Meeting:
    """Create a meeting with its forms (all or nothing). Unit and date default to the first
    spec's header. `serials` are printed for any form; `serials_by_form` each for one form (a
    sheet of another form bearing one is refused at ingest); `issued_by_form`: 发出 per form;
    `test_mode`: it starts in test mode (`tally.testmode`)."""
    try:  # no NUL (PostgreSQL cannot store it), NFC, no invisible characters
        name = clean_name(name)
        unit = clean_name(unit) if unit is not None else None
    except TextError as exc:
        raise MeetingError("the meeting name or unit {problem}", problem=str(exc)) from None
    if not name or len(name) > 120:
        raise MeetingError("a meeting needs a name of 1-120 characters (--name)")
    if not forms:
        raise MeetingError("a meeting needs at least one form spec (--form SPEC.yaml)")
    compiled = [(f, *compile_form(f)) for f in forms]
    seen: dict[str, str] = {}
    for f, spec, _ in compiled:
        if spec.id in seen:
            raise MeetingError("{source} and {other} are both form '{form}'; give each form of "
                               "a meeting its own id", source=f.source, other=seen[spec.id],
                               form=spec.id)
        seen[spec.id] = f.source
    cats = categories_of(s for _, s, _ in compiled)
    first = compiled[0][1]
    if issued is not None and issued < 0:
        raise MeetingError("--issued must be ≥ 0")

    if any(spec.foreign is not None for _, spec, _ in compiled):
        from tally.references import foreign_form_layout, keep_references

        # the blanks of foreign forms, stored before any row names them
        keep_references(store, [image for f, spec, _ in compiled if spec.foreign is not None
                                for image in foreign_form_layout(spec, f.source)[1]])

    def work(s: Session) -> Meeting:
        if s.scalars(select(Meeting.id).where(Meeting.name == name)).first() is not None:
            raise MeetingError("a meeting named {name!r} already exists; choose another name or "
                               "use `scantally meeting show`", name=name)
        m = Meeting(name=name, unit=unit if unit is not None else first.header.unit,
                    date=date or first.header.date,
                    expected=_check_counts("--expected", expected, cats),
                    present=_check_counts("--present", present, cats), issued=issued,
                    serials_recorded=bool(serials), test_mode=test_mode,
                    settings=(settings or Settings()).model_dump(mode="json"))
        s.add(m)
        s.flush()
        for f, spec, layout in compiled:
            s.add(MeetingForm(meeting_id=m.id, form_id=spec.id, kind=spec.kind,
                              title=spec.title, spec_yaml=f.yaml_text, layout=layout,
                              layout_hash=layout["form"]["hash"]))
        m.issued_by_form = _check_forms("--issued", issued_by_form, set(seen))
        _add_serials(s, m, [(x, None) for x in serials or []] + [
            (x, fid) for fid, xs in _check_forms_of("--serials", serials_by_form,
                                                     set(seen)).items() for x in xs])
        s.flush()
        audit.record(s, "meeting", m, actor, "meeting.create")
        return m

    return store.write(work)


def update_meeting(store: Store, meeting_id: int, *, actor: str,
                   expected: Mapping[str, int] | None = None,
                   present: Mapping[str, int] | None = None, issued: int | None = None,
                   settings: Settings | None = None,
                   add_serials: list[str] | None = None, serials_form: str | None = None,
                   issued_by_form: Mapping[str, int] | None = None) -> Meeting:
    """Change what the team records (only the arguments given), logged in the audit chain.
    `add_serials` are printed for `serials_form` (None: for any form of the meeting);
    `issued_by_form` replaces the 发出 per form."""

    def work(s: Session) -> Meeting:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise MeetingError("no meeting #{meeting}", meeting=meeting_id)
        cats = categories_of(meeting_specs(s, meeting_id).values())
        if expected is not None:
            m.expected = _check_counts("--expected", expected, cats)
        if present is not None:
            m.present = _check_counts("--present", present, cats)
        if issued is not None:
            if issued < 0:
                raise MeetingError("--issued must be ≥ 0")
            m.issued = issued
        if settings is not None:
            m.settings = settings.model_dump(mode="json")
        forms = set(meeting_forms(s, meeting_id))
        if issued_by_form is not None:
            m.issued_by_form = _check_forms("--issued", issued_by_form, forms)
        if add_serials:
            if serials_form is not None and serials_form not in forms:
                raise MeetingError("{what}: {key!r} is not {noun}; use {allowed}",
                                   what="--serials", key=serials_form, noun=FORM_NOUN,
                                   allowed=", ".join(sorted(forms)))
            _add_serials(s, m, [(x, serials_form) for x in add_serials])
        s.flush()
        audit.record(s, "meeting", m, actor, "meeting.update")
        return m

    return store.write(work)


def _check_forms(what: str, counts: Mapping[str, int] | None, forms: set[str]) -> dict[str, int]:
    """发出 per form: every key a form of the meeting, every value a whole number ≥ 0."""
    return _whole_counts(what, counts, forms, FORM_NOUN)


def _check_forms_of(what: str, by_form: Mapping[str, list[str]] | None,
                    forms: set[str]) -> dict[str, list[str]]:
    for key in by_form or {}:
        if key not in forms:
            raise MeetingError("{what}: {key!r} is not {noun}; use {allowed}", what=what,
                               key=key, noun=FORM_NOUN, allowed=", ".join(sorted(forms)))
    return dict(by_form or {})


def _add_serials(s: Session, m: Meeting, serials: list[tuple[str, str | None]]) -> None:
    """Record printed serials (each with its form, or None for any form); a serial already
    recorded for another form is an error (a serial names one sheet)."""
    if not serials:
        return
    if not m.test_mode:
        test = [x for x, _ in serials if is_test_serial(x)]
        if test:
            raise MeetingError(
                "serial {serial!r} ({n} in all) is of the test-deck range (TD0 and four "
                "digits): meeting {name!r} is official and test sheets never count there; "
                "remove them from the serials file (a real printed set has none)",
                serial=test[0], n=len(test), name=m.name)
    known: dict[str, str | None] = {serial: form for serial, form in s.execute(
        select(PrintedSerial.serial, PrintedSerial.form_id)
        .where(PrintedSerial.meeting_id == m.id))}
    for serial, form_id in serials:
        if serial in known:
            if known[serial] != form_id:
                raise _serial_taken(serial, known[serial], form_id)
            continue
        s.add(PrintedSerial(meeting_id=m.id, serial=serial, form_id=form_id))
        known[serial] = form_id
    m.serials_recorded = True


def _serial_taken(serial: str, recorded: str | None, given: str | None) -> MeetingError:
    """A serial recorded for one form (or any form) given again for another."""
    if recorded is None:
        return MeetingError("serial {serial!r} is already recorded for any form, not form "
                            "{given!r}; each printed serial belongs to one form — check the "
                            "serials files", serial=serial, given=given)
    if given is None:
        return MeetingError("serial {serial!r} is already recorded for form {recorded!r}, not "
                            "any form; each printed serial belongs to one form — check the "
                            "serials files", serial=serial, recorded=recorded)
    return MeetingError("serial {serial!r} is already recorded for form {recorded!r}, not "
                        "form {given!r}; each printed serial belongs to one form — check the "
                        "serials files", serial=serial, recorded=recorded, given=given)


def find_meeting(session: Session, ref: str | int) -> Meeting:
    """A meeting by name, else by number; MeetingError saying how to list them."""
    m = session.scalars(select(Meeting).where(Meeting.name == str(ref))).first()
    if m is None and str(ref).isdigit():
        m = session.get(Meeting, int(ref))
    if m is None:
        raise MeetingError("no meeting {ref!r} in this store; see `scantally meeting list` (and "
                           "check --data / --db)", ref=str(ref))
    return m


def list_meetings(session: Session) -> list[Meeting]:
    return list(session.scalars(select(Meeting).order_by(Meeting.id)))


def meeting_facts(session: Session, meeting_id: int) -> MeetingFacts:
    m = session.get(Meeting, meeting_id)
    if m is None:
        raise MeetingError("no meeting #{meeting}", meeting=meeting_id)
    return MeetingFacts(expected=m.expected, present=m.present, issued=m.issued,
                        issued_by_form=m.issued_by_form or {})


def meeting_settings(session: Session, meeting_id: int) -> Settings:
    m = session.get(Meeting, meeting_id)
    if m is None:
        raise MeetingError("no meeting #{meeting}", meeting=meeting_id)
    return Settings.model_validate(m.settings)


def printed_serial_forms(session: Session, meeting_id: int) -> dict[str, str | None]:
    """Each printed serial with the form it was printed for (None: any form)."""
    return {serial: form for serial, form in session.execute(
        select(PrintedSerial.serial, PrintedSerial.form_id)
        .where(PrintedSerial.meeting_id == meeting_id))}


def printed_serials(session: Session, meeting_id: int) -> set[str] | None:
    """The printed serial set, or None when none was recorded."""
    m = session.get(Meeting, meeting_id)
    if m is None or not m.serials_recorded:
        return None
    return set(session.scalars(select(PrintedSerial.serial)
                               .where(PrintedSerial.meeting_id == meeting_id)))
