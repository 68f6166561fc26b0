"""Synthetic meetings for demos, tests and the report benchmark (seeded, reproducible).

Ballots carry what real meetings do: skewed preferences, blanks, over-marked blocks, double
marks in rows, write-ins (and the odd write-in without a mark, or a mark without a name),
sheets without a category and a few sheets voided at review.
"""

from __future__ import annotations

import random

from forms.spec import FormSpec
from tally.model import Ballot, BallotPage, MeetingFacts
from tally.rules.compute import layout_fields

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文斌海涛晓东春燕浩然宏伟"
WRITEIN_NAMES = ["周七", "吴八", "郑九", "王十一", "冯立"]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def synthetic_ballots(spec: FormSpec, n_sheets: int, *, seed: int = 7) -> list[Ballot]:
    rng = random.Random(seed)
    fields = [f for f in layout_fields(spec) if f.group != "category"]
    pages = sorted({f.page for f in layout_fields(spec)})
    cats = [c.id for c in spec.categories.options] if spec.categories else []
    cat_weights = [2, 5, 8, 3, 3, 3, 3, 3][: len(cats)]
    # a per-field preference, so candidates and leaders differ
    prefs = {f.id: [rng.random() ** 2 + 0.05 for _ in f.options] for f in fields}
    ballots = []
    for i in range(n_sheets):
        category = rng.choices(cats, weights=cat_weights)[0] if cats else None
        if cats and rng.random() < 0.02:
            category = None
        marks: dict[int, dict[str, tuple[str, ...]]] = {p: {} for p in pages}
        writeins: dict[str, dict[str, str]] = {}
        for f in fields:
            chosen, names = _choose(rng, f.group, f.options, f.max, prefs[f.id])
            marks[f.page][f.id] = chosen
            if names:
                writeins[f.id] = names
        void = rng.random() < 0.008
        ballots.append(Ballot(
            serial=f"{rng.getrandbits(40):010X}{i:04d}"[-12:], form_id=spec.id, category=category,
            pages=tuple(BallotPage(page=p, status="ok", marks=marks[p]) for p in pages),
            void=void, void_reason="票面有署名，复核作废" if void else "", writeins=writeins,
        ))
    return ballots


def _choose(rng: random.Random, group: str, options: list[str], quota: int,
            weights: list[float]) -> tuple[tuple[str, ...], dict[str, str]]:
    roll = rng.random()
    if roll < 0.04:
        return (), {}
    if group != "recommendation":
        rated = [o for o in options if o != "unknown"]
        if roll < 0.06 and len(rated) >= 2:
            return tuple(rng.sample(rated, 2)), {}
        level_w = [6, 5, 2, 0.6][: len(rated)] + [0.5] * (len(options) - len(rated))
        level_w = [w * (0.7 + 0.6 * p) for w, p in zip(level_w, weights, strict=False)]
        return (rng.choices(options, weights=level_w)[0],), {}
    listed = [o for o in options if not o.startswith("writein")]
    lines = [o for o in options if o.startswith("writein")]
    k = quota + 1 if roll < 0.07 else rng.randint(1, quota)
    k = min(k, len(listed))
    picked: list[str] = []
    pool = list(zip(listed, weights, strict=False))
    while len(picked) < k and pool:
        o = rng.choices([x for x, _ in pool], weights=[w for _, w in pool])[0]
        picked.append(o)
        pool = [(x, w) for x, w in pool if x != o]
    names: dict[str, str] = {}
    if lines and rng.random() < 0.08:
        line = lines[0]
        r = rng.random()
        if r < 0.8:
            picked[-1:] = [line]
            names[line] = rng.choice(WRITEIN_NAMES)
        elif r < 0.9:
            picked[-1:] = [line]  # marked, the line left empty
        else:
            names[line] = rng.choice(WRITEIN_NAMES)  # written, not marked
    return tuple(picked), names


def synthetic_facts(spec: FormSpec, ballots: list[Ballot], *, seed: int = 7) -> MeetingFacts:
    """应到 a little above the sheets returned per category; 发出 a few above 收回."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for b in ballots:
        if b.category:
            counts[b.category] = counts.get(b.category, 0) + 1
    expected = {c: n + rng.randint(0, max(1, n // 8)) for c, n in counts.items()}
    return MeetingFacts(expected=expected, issued=len(ballots) + rng.randint(0, 5))


def cadre_spec(n_cadres: int, *, seed: int = 3) -> FormSpec:
    """An evaluation form (5 team dimensions, `n_cadres` leaders with 不了解) for benchmarks."""
    rng = random.Random(seed)
    leaders = [{"id": f"P9{k:04d}", "name": person_name(rng), "post": "副局长"}
               for k in range(n_cadres)]
    return FormSpec.model_validate({
        "schema": "scantally.form/1", "id": f"bench-eval-{n_cadres}", "kind": "evaluation",
        "title": "领导班子和领导干部民主测评表",
        "header": {"unit": "江州市交通运输局", "meeting": "年度考核民主测评会（基准测试）",
                   "date": "2026-11-20"},
        "categories": {"mode": "sheet", "options": [
            {"id": "leader", "label": "班子成员"}, {"id": "middle", "label": "中层干部"},
            {"id": "staff", "label": "一般干部"}]},
        "evaluation": {
            "team": {"dimensions": [{"id": f"d{k}", "label": lab} for k, lab in enumerate(
                ["思想政治建设", "领导能力", "工作实绩", "党风廉政建设", "选人用人"])]},
            "individual": {"include_unknown": True, "leaders": leaders},
        },
    })
