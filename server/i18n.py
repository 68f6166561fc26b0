"""Interface language: Chinese (zh-CN) by default, English on request (a cookie).

Templates write the Chinese text as the message id: `{{ _("开始计票") }}`; `EN` maps it to
English. A message missing from `EN` shows in Chinese (a test checks every message of the
templates has its English).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.templating import Jinja2Templates

LANG_COOKIE = "scantally_lang"
LANGS = ("zh-CN", "en")
DEFAULT = "zh-CN"

EN: dict[str, str] = {
    "Scantally 计票系统": "Scantally tally system",
    "登录": "Log in",
    "退出": "Log out",
    "用户名": "User name",
    "密码": "Password",
    "再次输入密码": "Password again",
    "用户名或密码不正确": "Wrong user name or password",
    "登录失败次数过多，请 {seconds} 秒后再试":
        "Too many failed logins; try again in {seconds} s",
    "同时登录的请求过多，请 {seconds} 秒后再试":
        "Too many logins at once; try again in {seconds} s",
    "两次输入的密码不一致": "The two passwords differ",
    "首次使用：创建管理员": "First run: create the administrator",
    "创建管理员": "Create administrator",
    "尚无用户。请使用 scantally serve 打印的设置链接，或运行 scantally user add --role admin。":
        "No user yet. Open the set-up link `scantally serve` printed, or run "
        "`scantally user add --role admin`.",
    "会议": "Meetings",
    "会议列表": "Meetings",
    "新建会议": "New meeting",
    "会议名称": "Meeting name",
    "表单定义（YAML，可多选）": "Form specs (YAML, one or more)",
    "应到人数": "Expected (应到)",
    "实到人数": "Present (实到)",
    "发出票数": "Issued (发出)",
    "按类别填写，例如 leader=10,middle=30,staff=60；无类别时填一个数字":
        "Per category, e.g. leader=10,middle=30,staff=60; one number when the form has no "
        "categories",
    "创建": "Create",
    "保存": "Save",
    "尚无会议": "No meeting yet",
    "单位": "Unit",
    "日期": "Date",
    "表单": "Forms",
    "用户": "Users",
    "角色": "Role",
    "状态": "State",
    "操作": "Action",
    "停用": "Disable",
    "启用": "Enable",
    "已停用": "disabled",
    "正常": "active",
    "新建用户": "New user",
    "管理员": "admin",
    "操作员": "operator",
    "观察员": "observer",
    "会议概况": "Meeting overview",
    "清点核对": "Reconciliation",
    "类别": "Category",
    "应到": "Expected",
    "实到": "Present",
    "发出": "Issued",
    "收回": "Returned",
    "有效": "Valid",
    "无效": "Invalid",
    "弃权": "Abstain",
    "待审核": "To review",
    "参会率": "Participation",
    "收回票数多于发出票数：本次投票无效，必须重新组织投票！":
        "More sheets returned than issued: this vote is VOID and must be held again!",
    "实到人数不足应到人数的三分之二": "Fewer than 2/3 of those expected are present",
    "参会率低于设定值": "Participation below the threshold",
    "修改会议数据": "Change meeting figures",
    "打印选票": "Print ballots",
    "份数": "Copies",
    "测试用票（顺序编号，不登记）": "Test deck (sequential serials, not recorded)",
    "下载选票 PDF": "Download ballots PDF",
    "开始一批：上传扫描件": "Start a batch: upload scans",
    "图像、PDF 或 ZIP": "Images, PDFs or a ZIP",
    "本批类别（按批分类时）": "Category of this batch (when assigned per batch)",
    "无": "none",
    "上传并读票": "Upload and read",
    "开始一批：从扫描仪": "Start a batch: from a scanner",
    "设备地址": "Device URI",
    "开始扫描": "Start scanning",
    "进度": "Progress",
    "已读": "Read",
    "张": "sheets",
    "页": "pages",
    "速度": "Rate",
    "页/分钟": "pages/min",
    "需重新送入的选票": "Sheets to re-feed",
    "被拒绝的": "Refused",
    "停止": "Stop",
    "进行中": "running",
    "已完成": "done",
    "已停止": "stopped",
    "失败": "failed",
    "审核": "Review",
    "审核队列": "Review queue",
    "待审核项": "open items",
    "没有待审核的项目": "Nothing to review",
    "理由": "Reason",
    "已标记": "Marked",
    "空白": "Empty",
    "作废": "Void",
    "撤销作废": "Unvoid",
    "另推人选": "Write-in",
    "接受": "Accept",
    "不计入": "Dismiss",
    "姓名": "Name",
    "快捷键": "Shortcuts",
    "上一项": "previous",
    "下一项": "next",
    "报告": "Reports",
    "下载报告": "Download the report",
    "大屏幕": "Hall screen",
    "大屏链接": "Hall screen links",
    "新建大屏链接": "New hall link",
    "撤销": "Revoke",
    "已撤销": "revoked",
    "此链接只显示一次，请立即复制：": "This link is shown once; copy it now:",
    "名称": "Label",
    "创建者": "Created by",
    "已读选票": "Sheets read",
    "实时计票": "Live tally",
    "正在连接…": "Connecting…",
    "已连接": "Live",
    "连接中断，正在重连…": "Disconnected, reconnecting…",
    "结果为初步结果，尚有待审核的选票": "Provisional: some sheets still await review",
    "票": "votes",
    "出错了": "Something went wrong",
    "返回": "Back",
    "英文": "English",
    "中文": "中文",
    "页码": "Page",
    "来源": "Source",
    "说明": "Reason",
    "上一批次": "Batches",
    "批次": "Batches",
    "开始时间": "Started",
    "结果": "Outcome",
    "计入": "counted",
    "重复": "duplicate",
    "无法识别": "unreadable",
    "未印制编号": "unknown serial",
    "空白页": "blank",
    "已存在": "already stored",
    "拒绝": "refused",
    "待复核": "to review",
    "原因（必填）": "Reason (required)",
    "提交": "Submit",
    "图像": "Images",
    "下载": "Download",
    "条提示": "notices",
    "右侧为": "right of the bars: ",
    "限推": "at most",
    "{n} 人": "{n} people",
    "每人 {k} 个分项取平均": "mean of {k} sub-rows per person",
    "已读选票（最多的表单）": "Sheets read (the form with most)",
}


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGS else DEFAULT


def translate(message: str, lang: str) -> str:
    return EN.get(message, message) if lang == "en" else message


def install(templates: Jinja2Templates) -> None:
    """Give templates `_()` (translating by the request's language cookie)."""
    from jinja2 import pass_context

    @pass_context
    def gettext(context, message: str) -> str:  # type: ignore[no-untyped-def]
        return translate(message, context.get("lang", DEFAULT))

    templates.env.globals["_"] = gettext
