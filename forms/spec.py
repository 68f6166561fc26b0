"""Form specs: what a ballot asks, as validated pydantic models.

A spec is YAML (`schema: scantally.form/1`). Three kinds share a header, instructions and a
voter-category block; each kind has its own part. Every field and option has a stable id;
level labels are configurable because they vary by region.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from forms.code import ID_PATTERN
from forms.fonts import missing_glyphs
from forms.text import TextError, refuse_invisible


class SpecRuleError(ValueError):
    """A rule between fields is broken; `path` (from the model that checks it) says where.

    `forms.load` appends `path` to the model's location to name the exact field and line.
    Raised as `SpecRuleError("quota {quota} of …", path, quota=…)`: the literal template is the
    message id the server's catalogues translate by (babel.cfg), `params` fill it in.
    """

    def __init__(self, template: str, path: tuple[str | int, ...] = (),
                 **params: object) -> None:
        super().__init__(template.format(**params) if params else template)
        self.path = path
        self.template = template
        self.params = params


def _drawable(text: str) -> str:
    """Printed text must be drawable in the ballot font (checked here, where the line is known),
    with no control or invisible character (zero-width, bidi, BOM) hiding in it."""
    try:
        refuse_invisible(text)
    except TextError as exc:
        raise ValueError(str(exc)) from None
    bad = missing_glyphs(text)
    if bad:
        raise ValueError(
            f"the ballot font cannot draw {''.join(bad)!r} (U+{ord(bad[0]):04X}); use a common "
            "character or spell it differently"
        )
    return text


Drawable = AfterValidator(_drawable)
Id = Annotated[str, StringConstraints(pattern=rf"^{ID_PATTERN}$")]
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True), Drawable
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Model):
    """One column of a rating row: a stable id and its printed label."""

    id: Id
    label: Label
    #: score weight used by the weighted score (tally settings may override)
    weight: float | None = None


class Category(_Model):
    id: Id
    label: Label


class Categories(_Model):
    """参加人员类别: printed on the sheet (`sheet`) or assigned per scanned batch (`batch`)."""

    mode: Literal["sheet", "batch"] = "sheet"
    title: Label = "参加人员类别"
    options: list[Category] = Field(min_length=1, max_length=8)

    @model_validator(mode="after")
    def _unique(self) -> Categories:
        _check_unique("categories.options", [c.id for c in self.options], "options")
        return self


class Header(_Model):
    unit: Label
    meeting: Annotated[str, StringConstraints(min_length=1, max_length=80), Drawable]
    date: dt.date = Field(description="the meeting date, YYYY-MM-DD")

    @field_validator("date", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        # a bare number would be taken as seconds since 1970: a wrong date, silently
        if isinstance(value, int | float):
            raise ValueError("write the date as YYYY-MM-DD, e.g. 2026-11-20")
        return value


class Person(_Model):
    """A candidate, leader or promoted cadre; `id` is the stable person id across meetings."""

    id: Id
    name: Annotated[
        str, StringConstraints(min_length=1, max_length=12, strip_whitespace=True), Drawable
    ]
    profile: Annotated[str, StringConstraints(max_length=60), Drawable] = ""
    #: the person's id across specs and years (e.g. a staff or archive number), given by the
    #: department; the per-cadre analysis (综合分析, `tally.cadre`) joins meetings on it. Without
    #: it a person is matched only within one meeting (by `id`), never across meetings.
    person_id: Id | None = Field(
        default=None, description="stable person id across specs, meetings and years; "
        "the per-cadre analysis joins on it (optional: without it only within the meeting)")
    #: 职务: printed beside the name, and what tells two people of the same name apart
    post: Annotated[str, StringConstraints(max_length=30, strip_whitespace=True), Drawable] = ""

    @property
    def distinction(self) -> str:
        """What tells this person from a namesake: the 职务, else the profile ("" if neither)."""
        return self.post or self.profile


#: "应推荐2人" / "限推2人" / "推荐3名" in a position's title: the title states the quota itself
_QUOTA_IN_TITLE = re.compile(
    r"(?:应推荐|限推|推荐|限选|应选)\s*([0-9０-９一二三四五六七八九十两]+)\s*[人名]")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2}


def title_states_quota(title: str) -> bool:
    """Whether a position title says how many to recommend ("副局长人选（应推荐2人）")."""
    return _QUOTA_IN_TITLE.search(title) is not None


def _number(text: str) -> int | None:
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    if len(text) == 1:
        return _CN_DIGITS.get(text)
    if len(text) == 2 and text[0] == "十":
        return 10 + _CN_DIGITS.get(text[1], 0)
    if len(text) in (2, 3) and text[1] == "十":
        return _CN_DIGITS.get(text[0], 0) * 10 + (_CN_DIGITS.get(text[2], 0) if len(text) == 3
                                                  else 0)
    return None


class Position(_Model):
    id: Id
    title: Label
    quota: int = Field(ge=1, le=30, description="应推荐人数 N: at most N marks")
    writein_lines: int | None = Field(
        default=None, ge=0, description="另推荐人选 lines; default = quota, at most quota"
    )
    candidates: list[Person] = Field(min_length=1, max_length=60)

    @property
    def writeins(self) -> int:
        return self.quota if self.writein_lines is None else self.writein_lines

    @property
    def title_states_quota(self) -> bool:
        """The title already says how many to recommend ("…（应推荐2人）"): the ballot and the
        report print it as it is instead of adding "（应推荐N人，限推N人，多推无效）"."""
        return title_states_quota(self.title)

    @model_validator(mode="after")
    def _rules(self) -> Position:
        if self.writein_lines is None and self.quota > len(self.candidates):
            raise SpecRuleError(
                "quota {quota} of position '{position}' exceeds its {candidates} candidates; "
                "lower the quota, add candidates, or give writein_lines so that candidates and "
                "write-in lines reach the quota",
                ("quota",), quota=self.quota, position=self.id, candidates=len(self.candidates),
            )
        if self.quota > len(self.candidates) + self.writeins:
            raise SpecRuleError(
                "quota {quota} of position '{position}' exceeds its {candidates} candidates and "
                "{writeins} write-in lines; lower the quota or add candidates",
                ("quota",), quota=self.quota, position=self.id, candidates=len(self.candidates),
                writeins=self.writeins,
            )
        for m in _QUOTA_IN_TITLE.finditer(self.title):
            said = _number(m.group(1))
            if said is not None and said != self.quota:
                raise SpecRuleError(
                    "the title of position '{position}' says {said!r} but its quota is "
                    "{quota}; make the title and the quota agree",
                    ("title",), position=self.id, said=m.group(0), quota=self.quota,
                )
        if self.writeins > self.quota:
            raise SpecRuleError(
                "position '{position}' has {writeins} write-in lines but a quota of {quota}; "
                "give at most {quota}",
                ("writein_lines",), position=self.id, writeins=self.writeins, quota=self.quota,
            )
        _check_unique(f"positions.{self.id}.candidates", [c.id for c in self.candidates],
                      "candidates")
        return self


#: positions a form we print may have (a foreign form - an exam-style sheet - may have more)
MAX_PRINTED_POSITIONS = 20


class Recommendation(_Model):
    title: Label = "民主推荐"
    positions: list[Position] = Field(min_length=1, max_length=400)


class ForeignGeometry(_Model):
    """A form Scantally did not print (`forms.foreign`): its boxes are the numbered targets found
    on a scanned blank (`scantally form learn`) or imported from another tool, and each field
    lists its targets in option order. Paths are relative to the spec file."""

    reference: str = Field(description="the blank's image (PNG), the reference for registration")
    targets: str = Field(default="targets.json", description="where each numbered target is")
    #: the sheet is read on a dark background (find its edges first)
    page_edges: bool = False
    #: false when the reference image does not show the targets (erased on import)
    targets_shown: bool = True
    #: an image of the form's corner markers (their centres are the page's corners), and its
    #: width over the page's
    markers: str | None = None
    marker_width_share: float = Field(default=1 / 17, gt=0, lt=0.5)
    #: field id (as in the layout: category, pos.<id>, team.<dim>, leader.<id>, q.<id>,
    #: item.<id>) -> its target numbers, one per option in the spec's option order
    fields: dict[str, list[int]] = Field(default_factory=dict)


def _level(**values: object) -> Level:
    """A built-in level, not validated again: validating these constants at import would load
    the font's glyph table (~0.4 s) before any command, even one that refuses its input."""
    return Level.model_construct(**values)  # type: ignore[arg-type]


DEFAULT_TEAM_LEVELS = [
    _level(id="good", label="好", weight=100),
    _level(id="fair_good", label="较好", weight=80),
    _level(id="average", label="一般", weight=60),
    _level(id="poor", label="差", weight=0),
]
DEFAULT_INDIVIDUAL_LEVELS = [
    _level(id="excellent", label="优秀", weight=100),
    _level(id="competent", label="称职", weight=80),
    _level(id="basic", label="基本称职", weight=60),
    _level(id="incompetent", label="不称职", weight=0),
]
UNKNOWN_LEVEL = _level(id="unknown", label="不了解")
DEFAULT_SUB_ROWS = [
    _level(id="de", label="德"),
    _level(id="neng", label="能"),
    _level(id="qin", label="勤"),
    _level(id="ji", label="绩"),
    _level(id="lian", label="廉"),
]


class Dimension(_Model):
    id: Id
    label: Label


class TeamPart(_Model):
    title: Label = "领导班子总体评价"
    levels: list[Level] = Field(default_factory=lambda: list(DEFAULT_TEAM_LEVELS), min_length=2)
    dimensions: list[Dimension] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique(self) -> TeamPart:
        _check_unique("evaluation.team.levels", [x.id for x in self.levels], "levels")
        _check_unique("evaluation.team.dimensions", [x.id for x in self.dimensions],
                      "dimensions")
        return self


class Leader(Person):
    """A leader of an evaluation or a cadre of a satisfaction sheet (`post` is its 职务)."""


class IndividualPart(_Model):
    title: Label = "领导干部个人评价"
    levels: list[Level] = Field(
        default_factory=lambda: list(DEFAULT_INDIVIDUAL_LEVELS), min_length=2
    )
    include_unknown: bool = False
    #: 德/能/勤/绩/廉 sub-rows: `true` for the default five, or a list of labelled rows
    sub_rows: bool | list[Level] = False
    leaders: list[Leader] = Field(min_length=1, max_length=80)

    @property
    def all_levels(self) -> list[Level]:
        return [*self.levels, UNKNOWN_LEVEL] if self.include_unknown else list(self.levels)

    @property
    def rows(self) -> list[Level]:
        if self.sub_rows is True:
            return list(DEFAULT_SUB_ROWS)
        return list(self.sub_rows) if self.sub_rows else []

    @model_validator(mode="after")
    def _unique(self) -> IndividualPart:
        ids = [x.id for x in self.levels]
        _check_unique("evaluation.individual.levels", ids, "levels")
        if self.include_unknown and UNKNOWN_LEVEL.id in ids:
            raise SpecRuleError(
                "level id '{level}' is taken by the {label} column that include_unknown adds; "
                "rename this level or drop include_unknown",
                ("levels", ids.index(UNKNOWN_LEVEL.id), "id"), level=UNKNOWN_LEVEL.id,
                label=UNKNOWN_LEVEL.label,
            )
        _check_unique("evaluation.individual.leaders", [x.id for x in self.leaders], "leaders")
        _check_person_ids("evaluation.individual.leaders", self.leaders, "leaders")
        _check_unique("evaluation.individual.sub_rows", [x.id for x in self.rows], "sub_rows")
        return self


class Evaluation(_Model):
    team: TeamPart | None = None
    individual: IndividualPart | None = None

    @model_validator(mode="after")
    def _some(self) -> Evaluation:
        if self.team is None and self.individual is None:
            raise ValueError("an evaluation needs a 'team' part, an 'individual' part or both")
        return self


DEFAULT_SATISFACTION_LEVELS = [
    _level(id="satisfied", label="满意", weight=100),
    _level(id="basic", label="基本满意", weight=60),
    _level(id="dissatisfied", label="不满意", weight=0),
    _level(id="unknown", label="不了解"),
]
DEFAULT_ITEM_LEVELS = [
    _level(id="agree", label="认同", weight=100),
    _level(id="basic", label="基本认同", weight=60),
    _level(id="disagree", label="不认同", weight=0),
    _level(id="unknown", label="不了解"),
]


class OverallQuestion(_Model):
    id: Id = "overall"
    label: Annotated[str, StringConstraints(min_length=1, max_length=60), Drawable]


class Comment(_Model):
    label: Label = "意见和建议"
    height_mm: float = Field(default=40.0, ge=15.0, le=150.0)


class Satisfaction(_Model):
    levels: list[Level] = Field(
        default_factory=lambda: list(DEFAULT_SATISFACTION_LEVELS), min_length=2
    )
    overall: list[OverallQuestion] = Field(min_length=1, max_length=10)
    items_title: Label = "对新选拔任用干部的评议"
    item_levels: list[Level] = Field(
        default_factory=lambda: list(DEFAULT_ITEM_LEVELS), min_length=2
    )
    items: list[Leader] = Field(default_factory=list, max_length=60)
    comment: Comment | None = None

    @model_validator(mode="after")
    def _unique(self) -> Satisfaction:
        _check_unique("satisfaction.levels", [x.id for x in self.levels], "levels")
        _check_unique("satisfaction.item_levels", [x.id for x in self.item_levels],
                      "item_levels")
        _check_unique("satisfaction.overall", [x.id for x in self.overall], "overall")
        _check_unique("satisfaction.items", [x.id for x in self.items], "items")
        _check_person_ids("satisfaction.items", self.items, "items")
        return self


class FormSpec(_Model):
    """A whole ballot: exactly one of `recommendation`, `evaluation`, `satisfaction`."""

    schema_: Literal["scantally.form/1"] = Field(alias="schema")
    id: Id
    kind: Literal["recommendation", "evaluation", "satisfaction"]
    title: Annotated[str, StringConstraints(min_length=1, max_length=30), Drawable]
    header: Header
    instructions: Annotated[str, StringConstraints(min_length=1, max_length=400), Drawable] = (
        "请在相应栏内划“√”，不划或多划的视为弃权或无效。"
    )
    paper: Literal["A4", "A3"] = "A4"
    timing_track: bool = False
    categories: Categories | None = None
    recommendation: Recommendation | None = None
    evaluation: Evaluation | None = None
    satisfaction: Satisfaction | None = None
    foreign: ForeignGeometry | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _kind_part(self) -> FormSpec:
        parts = {
            "recommendation": self.recommendation,
            "evaluation": self.evaluation,
            "satisfaction": self.satisfaction,
        }
        if parts[self.kind] is None:
            raise SpecRuleError(
                "kind is '{kind}' but the '{kind}' section is missing; add it, or set kind to "
                "the section the spec has",
                ("kind",), kind=self.kind,
            )
        extra = [k for k, v in parts.items() if v is not None and k != self.kind]
        if extra:
            raise SpecRuleError(
                "kind is '{kind}' but the spec also has a '{section}' section; one ballot kind "
                "per spec",
                (extra[0],), kind=self.kind, section=extra[0],
            )
        if (self.recommendation and self.foreign is None
                and len(self.recommendation.positions) > MAX_PRINTED_POSITIONS):
            raise SpecRuleError(
                "{positions} positions; a form we print has at most {most}",
                ("recommendation", "positions"), positions=len(self.recommendation.positions),
                most=MAX_PRINTED_POSITIONS)
        if self.recommendation:
            _check_unique("recommendation.positions",
                          [p.id for p in self.recommendation.positions],
                          "recommendation", "positions")
        _check_namesakes(self.people())
        return self

    def people(self) -> list[tuple[tuple[str | int, ...], Person]]:
        """Every candidate, leader and promoted cadre of the form, with its path in the spec."""
        out: list[tuple[tuple[str | int, ...], Person]] = []
        if self.recommendation:
            for i, p in enumerate(self.recommendation.positions):
                out += [(("recommendation", "positions", i, "candidates", k), c)
                        for k, c in enumerate(p.candidates)]
        if self.evaluation and self.evaluation.individual:
            out += [(("evaluation", "individual", "leaders", k), x)
                    for k, x in enumerate(self.evaluation.individual.leaders)]
        if self.satisfaction:
            out += [(("satisfaction", "items", k), x)
                    for k, x in enumerate(self.satisfaction.items)]
        return out


def _check_namesakes(people: list[tuple[tuple[str | int, ...], Person]]) -> None:
    """Two different people (ids) of the same name must differ in 职务 (or profile), so that
    every table, chart, warning and screen can tell them apart."""
    first: dict[tuple[str, str], tuple[tuple[str | int, ...], Person]] = {}
    for path, person in people:
        key = (person.name, person.distinction)
        seen = first.get(key)
        if seen is not None and seen[1].id != person.id:
            where = ".".join(map(str, seen[0]))
            if person.distinction:
                raise SpecRuleError(
                    "two people named {name!r} with the same post/profile {post!r}: '{first}' "
                    "({where}) and '{second}'; give each a post (职务) that tells them apart",
                    (*path, "post"), name=person.name, post=person.distinction,
                    first=seen[1].id, where=where, second=person.id)
            raise SpecRuleError(
                "two people named {name!r} with no post or profile: '{first}' ({where}) and "
                "'{second}'; give each a post (职务) that tells them apart",
                (*path, "post"), name=person.name, first=seen[1].id, where=where,
                second=person.id)
        first.setdefault(key, (path, person))


def _check_unique(where: str, ids: list[str], *path: str) -> None:
    """SpecRuleError at the second use of an id; `path` leads to the list holding them."""
    seen: set[str] = set()
    for index, i in enumerate(ids):
        if i in seen:
            raise SpecRuleError("duplicate id '{id}' in {where}; every id must be unique",
                                (*path, index, "id"), id=i, where=where)
        seen.add(i)



def _check_person_ids(where: str, people: list[Leader], *path: str) -> None:
    """SpecRuleError when two rows of one list carry the same person id (one person, one row)."""
    seen: dict[str, str] = {}
    for index, p in enumerate(people):
        if p.person_id is None:
            continue
        if p.person_id in seen:
            raise SpecRuleError(
                "person_id '{person_id}' is given to both '{first}' and '{second}' in {where}; "
                "one person has one row: fix the id of one of them",
                (*path, index, "person_id"), person_id=p.person_id, first=seen[p.person_id],
                second=p.id, where=where)
        seen[p.person_id] = p.id
