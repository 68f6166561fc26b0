"""What the caller tells the report beyond the tally: people, hashes, appendix crops."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MeetingInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: report title; default "<form title>计票结果分析报告"
    title: str = ""
    operator: str = Field(default="", description="计票操作员 (printed beside the signature line)")
    scrutineers: list[str] = Field(default_factory=list, description="监票人")
    team_leader: str = Field(default="", description="考察组负责人")
    station: str = Field(default="", description="计票站点 / 设备")
    #: SHA-256 of the meeting's stored image set (the store computes it)
    image_set_sha256: str = ""
    #: the newest signed audit anchor, one short line (`tally.anchors.report_line`)
    audit_anchor: str = ""
    #: the same, short, for every page's footer
    audit_anchor_short: str = ""
    #: printed as the report time; None -> not printed (keeps the PDF reproducible)
    generated_at: dt.datetime | None = None
    classification: str = "内部资料  注意保密"
    #: the meeting is in test mode (测试模式): every page carries the banner and watermark
    test_mode: bool = False


class DecisionNote(BaseModel):
    """A reviewer's decision on the sheet, as the appendix prints it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: what was decided about, in names ("副局长人选 · 张伟（规划科副科长）"); "" for the sheet
    what: str = ""
    #: the decision in words ("判为已标记", "作废" …)
    decision: str
    who: str
    at: dt.datetime | None = None
    why: str = ""


class AppendixItem(BaseModel):
    """A void, doubtful or corrected sheet for the audit appendix, with its image crops."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: str
    #: void: the whole sheet; void_block: a block (position, row) void, the rest counted
    kind: Literal["void", "void_block", "doubtful", "corrected"] = "void"
    reason: str
    #: PNG images (crops of the sheet around the fields in question)
    crops: list[bytes] = Field(default_factory=list)
    #: what each crop shows ("第 1 页 · 局长人选"), one per crop (may be shorter)
    crop_labels: list[str] = Field(default_factory=list)
    #: the review decisions on the sheet, oldest first, with who made them and why
    decisions: list[DecisionNote] = Field(default_factory=list)


KIND_LABELS = {"void": "作废票", "void_block": "部分栏目无效", "doubtful": "存疑票",
               "corrected": "复核更正票"}
