"""What `scantally bench store` puts in a store: the plan (sheets, meetings, seed), the pool of
cadres with stable person ids, and meeting k's form spec, the same in every store built from
the same plan (so one meeting can be built alone and compared)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tally.report.synthetic import person_name

FIRST_YEAR = 2022
YEARS = 5
LEADERS_PER_EVALUATION = 12
POSITIONS, CANDIDATES_PER_POSITION = 2, 5
#: every how many meetings is a recommendation (the others are evaluations)
RECOMMENDATION_EVERY = 4
UNITS = ["交通运输局", "财政局", "教育局", "卫生健康委", "自然资源局", "住房城乡建设局",
         "农业农村局", "商务局", "文化旅游局", "应急管理局"]
@dataclass(frozen=True)
class Plan:
    sheets: int
    meetings: int
    seed: int = 11

    @property
    def people(self) -> int:
        """The cadre pool: each appears in about five meetings."""
        slots = self.meetings * LEADERS_PER_EVALUATION
        return max(slots // 5, LEADERS_PER_EVALUATION * 2)

    def sheets_of(self, k: int) -> int:
        base, extra = divmod(self.sheets, self.meetings)
        return base + (1 if k < extra else 0)


def person_pool(plan: Plan) -> list[tuple[str, str]]:
    rng = random.Random(plan.seed)
    return [(f"BJ{n:06d}", person_name(rng)) for n in range(plan.people)]


def meeting_spec(plan: Plan, k: int) -> dict[str, Any]:
    """Meeting k's form spec (a dict, as its YAML says), the same in every store."""
    rng = random.Random(plan.seed * 100_003 + k)
    pool = person_pool(plan)
    year = FIRST_YEAR + k % YEARS
    unit = f"江州市{UNITS[k % len(UNITS)]}"
    header = {"unit": unit, "meeting": f"{year}年度考核（基准{k:04d}）",
              "date": f"{year}-{1 + k % 12:02d}-{1 + k % 28:02d}"}
    cats = {"mode": "sheet", "options": [{"id": "leader", "label": "班子成员"},
                                         {"id": "middle", "label": "中层干部"},
                                         {"id": "staff", "label": "一般干部"}]}
    # posts differ within a form: two cadres of one name (the pool repeats names, as life
    # does) are told apart by their post, as the spec requires

    def person(n: int, post_key: str, post: str) -> dict[str, str]:
        pid, name = pool[n]
        return {"id": f"p{pid}", "name": name, post_key: post, "person_id": pid}

    if k % RECOMMENDATION_EVERY == RECOMMENDATION_EVERY - 1:
        picks = rng.sample(range(len(pool)), POSITIONS * CANDIDATES_PER_POSITION)
        positions = [{"id": f"pos{j}", "title": f"副局长人选{j + 1}", "quota": 1,
                      "writein_lines": 0,
                      "candidates": [person(n, "profile", f"现任第{i + 1}科科长")
                                     for i, n in enumerate(picks[j * CANDIDATES_PER_POSITION:
                                                           (j + 1) * CANDIDATES_PER_POSITION])]}
                     for j in range(POSITIONS)]
        return {"schema": "scantally.form/1", "id": f"bench-rec-{k:04d}",
                "kind": "recommendation", "title": "领导干部民主推荐票", "header": header,
                "categories": cats, "recommendation": {"positions": positions}}
    picks = rng.sample(range(len(pool)), LEADERS_PER_EVALUATION)
    return {"schema": "scantally.form/1", "id": f"bench-eval-{k:04d}", "kind": "evaluation",
            "title": "领导干部民主测评表", "header": header, "categories": cats,
            "evaluation": {"individual": {"include_unknown": True, "leaders": [
                person(n, "post", f"副局长（分管第{i + 1}处）") for i, n in enumerate(picks)]}}}
