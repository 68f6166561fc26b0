"""Excel and CSV exports: they open, and their numbers are the JSON result's numbers.

CSV keeps every float digit; Excel stores 15-16 significant digits, so rates read back from the
workbook are compared to 1e-12.
"""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tally.model import Settings
from tally.report.csv import render_csv
from tally.report.xlsx import render_xlsx
from tally.rules import compute
from tally.rules.result import ALL
from tests.rules_helpers import example, make_ballot
from tests.test_tally_rules_recommendation import FACTS
from tests.test_tally_rules_recommendation import SPEC as REC_SPEC
from tests.test_tally_rules_recommendation import ballots as rec_ballots


@pytest.fixture(scope="module")
def rec():
    bs = rec_ballots()
    result = compute(bs, REC_SPEC, FACTS, Settings(denominator="valid_ballots"))
    return result, bs


def close(x):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


def _sheet(wb, title):
    rows = list(wb[title].iter_rows(values_only=True))
    return rows[0], rows[1:]


def test_xlsx_recommendation_equals_json(rec):
    result, bs = rec
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(result, REC_SPEC, bs, anonymous=False)))
    assert wb.sheetnames[0] == "说明" and "票面记录" in wb.sheetnames
    head, rows = _sheet(wb, "推荐得票")
    assert head[:4] == ("职位ID", "职位", "候选人ID", "姓名")
    got = {(r[0], r[2]): r for r in rows}
    for p in result.recommendation.positions:
        for c in p.candidates:
            row = got[(p.id, c.id)]
            for k, b in enumerate(result.buckets):
                votes, rate, rank = row[4 + 3 * k: 7 + 3 * k]
                assert (votes, rank) == (c.votes[b.id], c.rank[b.id])
                assert rate == (None if c.rate[b.id] is None else close(c.rate[b.id]))
    _, blocks = _sheet(wb, "栏目统计")
    director_all = next(r for r in blocks if r[0] == "director" and r[2] == ALL)
    assert director_all[4:] == (12, 9, 7, 2, 2, 1, 9)
    _, writeins = _sheet(wb, "另推人选")
    assert ("deputy", "副局长人选", "周七", 1, 1, 0, 0, 0, None) in writeins
    notes = dict(wb["说明"].iter_rows(values_only=True))
    assert notes["计票结果 SHA-256"] == result.sha256
    assert notes["得票率 / 占比计算基数"] == "有效票数"


def test_xlsx_raw_records(rec):
    result, bs = rec
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(result, REC_SPEC, bs, anonymous=False)))
    head, rows = _sheet(wb, "票面记录")
    assert head[:6] == ("序列号", "类别", "票面状态", "作废原因", "待复核", "无效栏目")
    assert head[6:] == ("局长人选", "副局长人选")
    assert [r[0] for r in rows] == sorted(b.serial for b in bs)  # by serial, not scan order
    by_serial = {r[0]: r for r in rows}
    assert by_serial["L1"][1:] == ("班子成员", "有效", None, None, None, "王一", "赵四、钱五")
    assert by_serial["L3"][5:] == ("副局长人选", "李二", "赵四、钱五、孙六")
    assert by_serial["L4"][7] == "钱五、另推:周七"
    assert by_serial["S3"][2:4] == ("无效", "有署名")
    assert by_serial["N1"][1] == "未标明类别"
    status = [r[2] for r in rows]
    total = next(r for r in result.reconciliation.rows if r.bucket == ALL)
    assert (status.count("有效"), status.count("无效"), status.count("弃权")) == (
        total.valid, total.invalid, total.abstain)
    # by default no serial stands beside a voter's choices (DOMAIN.md: anonymity)
    anon = openpyxl.load_workbook(io.BytesIO(render_xlsx(result, REC_SPEC, bs)))
    assert _sheet(anon, "票面记录")[0][0] == "类别"
    assert not any(b.serial in map(str, row) for row in _sheet(anon, "票面记录") for b in bs)


def test_csv_equals_json(rec):
    result, _ = rec
    files = render_csv(result)
    assert set(files) == {"reconciliation.csv", "recommendation.csv",
                          "recommendation_blocks.csv", "writeins.csv", "warning_summary.csv",
                          "warnings.csv"}
    text = files["recommendation.csv"]
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    by_id = {(r[0], r[2]): r for r in rows[1:]}
    for p in result.recommendation.positions:
        for c in p.candidates:
            r = by_id[(p.id, c.id)]
            assert int(r[4]) == c.votes[ALL] and float(r[5]) == c.rate[ALL]
            assert int(r[6]) == c.rank[ALL]
    recon = list(csv.reader(io.StringIO(files["reconciliation.csv"].lstrip("\ufeff"))))
    total = next(r for r in recon if r[0] == ALL)
    assert total[5:9] == ["12", "9", "2", "1"]


def test_evaluation_exports_equal_json():
    spec = example("evaluation")
    from tally.report.synthetic import synthetic_ballots

    bs = synthetic_ballots(spec, 40, seed=5)
    bs.append(make_ballot(spec, "ZZZ", "leader", {"leader.P310012": ("excellent", "competent")}))
    result = compute(bs, spec, settings=Settings(unknown_in_denominator=False))
    wb = openpyxl.load_workbook(io.BytesIO(render_xlsx(result, spec, bs, anonymous=False)))
    head, rows = _sheet(wb, "个人测评")
    part = result.evaluation.individual
    col = {h: i for i, h in enumerate(head)}
    for row in part.rows:
        got = next(r for r in rows if r[0] == row.person_id and r[3] == ALL)
        s = row.stats[ALL]
        assert got[col["优秀·票数"]] == s.counts["excellent"]
        assert got[col["称职以上率"]] == close(s.rates["competent_or_better"])
        assert got[col["不了解率"]] == close(s.rates["unknown"])
        assert got[col["得分"]] == close(s.score) and got[col["名次"]] == row.rank
    raw_head, raw = _sheet(wb, "票面记录")
    zzz = next(r for r in raw if r[0] == "ZZZ")
    assert zzz[raw_head.index("王建国")] == "优秀、称职" and "王建国" in zzz[5]
    files = render_csv(result)
    team = list(csv.reader(io.StringIO(files["evaluation_team.csv"].lstrip("\ufeff"))))
    hcol = {h: i for i, h in enumerate(team[0])}
    for row in result.evaluation.team.rows:
        got = next(r for r in team[1:] if r[0] == row.id and r[3] == ALL)
        assert float(got[hcol["好评率"]]) == row.stats[ALL].rates["favourable"]
        assert int(got[hcol["好·票数"]]) == row.stats[ALL].counts["good"]
