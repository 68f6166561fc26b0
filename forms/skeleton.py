"""The spec skeleton of a learned form: every target numbered, rows as fields, to be renamed.

`learn` finds targets in rows; the skeleton makes each row a field so the spec is valid at once:
rows that all hold the same number of targets become an evaluation (rows = leaders, columns =
levels), other layouts a recommendation (rows = positions of quota 1). A person then edits the
YAML - ids, labels, kind, which targets a field takes (`foreign.fields`, in option order) -
looking at the overlay; never by pixel coordinates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import yaml

HEADER = """\
# 由 `scantally form learn` 从空白表生成（{source}）：共找到 {count} 个填涂框，按阅读顺序编号，
# 编号见 overlay.png。请按本表的实际内容修改 id、名称和类别；foreign.fields 中每个字段按选项
# 顺序列出它的框号（一个框只能属于一个字段）。改完后运行 `scantally form check` 校验并重画叠加图。
# Learned from a blank: rename ids and labels to what the sheet asks; foreign.fields lists each
# field's target numbers in option order. Then run `scantally form check` on this file.
"""


def skeleton_spec(rows: Sequence[Sequence[int]], *, form_id: str, source: str,
                  reference: str = "reference.png", targets: str = "targets.json",
                  page_edges: bool = False, today: dt.date | None = None) -> str:
    """YAML text of a valid spec whose fields are the rows of target numbers `rows`."""
    count = sum(len(r) for r in rows)
    widths = {len(r) for r in rows}
    day = (today or dt.date.today()).isoformat()
    doc: dict = {
        "schema": "scantally.form/1",
        "id": form_id,
        "kind": "",
        "title": "待命名的表（学习所得）",
        "header": {"unit": "待填写单位", "meeting": "待填写会议名称", "date": day},
    }
    fields: dict[str, list[int]] = {}
    if len(widths) == 1 and min(widths) >= 2:
        width = widths.pop()
        doc["kind"] = "evaluation"
        doc["evaluation"] = {"individual": {
            "title": "待命名部分",
            "levels": [{"id": f"o{c}", "label": f"选项{c}"} for c in range(1, width + 1)],
            "leaders": [{"id": f"r{i:02d}", "name": f"第{i}行"} for i in range(1, len(rows) + 1)],
        }}
        for i, row in enumerate(rows, 1):
            fields[f"leader.r{i:02d}"] = list(row)
    else:
        doc["kind"] = "recommendation"
        doc["recommendation"] = {"positions": [
            {"id": f"r{i:02d}", "title": f"第{i}行", "quota": 1, "writein_lines": 0,
             "candidates": [{"id": f"c{c}", "name": f"第{c}项"} for c in range(1, len(row) + 1)]}
            for i, row in enumerate(rows, 1)
        ]}
        for i, row in enumerate(rows, 1):
            fields[f"pos.r{i:02d}"] = list(row)
    doc["foreign"] = {"reference": reference, "targets": targets, "page_edges": page_edges,
                      "fields": fields}
    return HEADER.format(source=source, count=count) + dump_yaml(doc)


class _Dumper(yaml.SafeDumper):
    pass


def _flow_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(x, int | float | str) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _flow_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = len(data) <= 3 and all(isinstance(v, int | float | str) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(list, _flow_list)
_Dumper.add_representer(dict, _flow_dict)


def dump_yaml(doc: dict) -> str:
    """A spec dict as YAML: short lists and small mappings on one line, as in examples/."""
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
