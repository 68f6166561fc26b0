"""People by identity: the name a person is shown under wherever space is short.

Names repeat (two candidates named 张伟 are common), so a person is shown as the name alone when
no other person of the form has it, and as "name（职务）" (or the profile when there is no 职务)
when one does. `forms.spec` refuses a spec whose namesakes cannot be told apart this way.
Tables carry the 职务 in a column of their own; charts, warnings, field labels and the hall
use `display_names`.
"""

from __future__ import annotations

from collections import defaultdict

from forms.spec import FormSpec, Person


def shown_name(person: Person, namesake: bool) -> str:
    """The person's name, with what tells them apart from a namesake when there is one."""
    if namesake and person.distinction:
        return f"{person.name}（{person.distinction}）"
    return person.name


def display_names(spec: FormSpec) -> dict[str, str]:
    """Person id -> the name it is shown under on this form (see the module docstring)."""
    ids_by_name: defaultdict[str, set[str]] = defaultdict(set)
    people = [p for _, p in spec.people()]
    for p in people:
        ids_by_name[p.name].add(p.id)
    return {p.id: shown_name(p, len(ids_by_name[p.name]) > 1) for p in people}
