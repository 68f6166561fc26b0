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
    "测试模式：测试数据，不计入正式结果": "TEST MODE: test data, not an official count",
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
    "重启前已保存": "stored before the restart",
    "未保存（需重新上传）": "not stored (upload again)",
    "拒绝": "refused",
    "待复核": "to review",
    "原因（必填）": "Reason (required)",
    "提交": "Submit",
    "图像": "Images",
    "下载": "Download",
    "条提示": "notices",
    "右侧为": "right of the bars: ",
    # the sheet ledger, manual entry, a sheet by serial (tally.ledger, tally.manual)
    "手工录入": "Manual entry",
    "编号": "Serial",
    "无法重新扫描时，由一名操作员照图像录入各项标记，再由另一位登录用户核对确认；确认后才计入。":
        "When a sheet cannot be re-scanned, one operator keys its marks from the image and "
        "another logged-in user checks and confirms them; only then do they count.",
    "选票图像": "Sheet image",
    "已录入的标记": "Marks entered",
    "已确认": "confirmed",
    "待确认": "awaiting confirmation",
    "录入人": "Entered by",
    "原因": "Reason",
    "确认人": "Confirmed by",
    "核对无误，确认录入": "Checked against the image: confirm",
    "须由另一位登录用户核对图像后确认。":
        "Another logged-in user must check it against the image and confirm it.",
    "录入标记": "Enter the marks",
    "重新录入将替换上面的录入，需重新确认":
        "a new entry replaces the one above and needs a new confirmation",
    "切换": "Switch",
    "限选": "at most",
    "保存录入": "Save the entry",
    "按编号查找选票": "Find a sheet by serial",
    "查找": "Find",
    "待处理": "unresolved",
    "复核记录": "Decisions",
    "时间": "Time",
    "操作人": "Who",
    "对象": "Item",
    "决定": "Decision",
    "没有复核记录": "No decision yet",
    "作废整张选票": "Void the whole sheet",
    "涂改作废": "Cancelled (struck out)",
    "无法重新扫描：照图像手工录入": "Cannot be re-scanned: enter it by hand from the image",
    "发出票数（可按表单：表单=张数）": "Issued (发出; per form: form=count)",
    "选票台账": "Sheet ledger",
    "临时结果": "Provisional results",
    "页待处理": "page(s) unresolved",
    "送入": "Fed",
    "按表单": "Per form",
    "按批次": "Per batch",
    "待处理的页": "Unresolved pages",
    "已计入": "counted",
    "拒收待处理": "refused, unresolved",
    "已排除": "dismissed",
    "确认录入": "Entry confirmed",
    # the per-cadre analysis (综合分析: server/routes/cadre.py, templates/cadre*.html)
    "干部": "Cadres",
    "干部综合分析": "Cadre analysis",
    "按姓名或人员编号查找": "Find by name or person id",
    "人员编号": "Person id",
    "职务": "Post",
    "会议数": "Meetings",
    "年度": "Year",
    "环节": "Stage",
    "未设编号（仅本会议）": "no person id (this meeting only)",
    "没有找到人员": "Nobody found",
    "下载综合分析报告（PDF）": "Download the cadre report (PDF)",
    "表单中此人未设人员编号（person_id），只能在本次会议内对应，不与其他会议合并。":
        "The form gives this person no person id: they are matched within this meeting "
        "only, never joined with other meetings.",
    "在其他会议中的登记": "Also listed as",
    "历次会议数据": "Every meeting",
    "对象 / 职位": "Subject / position",
    "关键指标": "Key figure",
    "主要数据": "Figures",
    "计票结果": "Tally result",
    "临时": "provisional",
    "分类别数据": "By voter category",
    "全体": "All",
    "无类别数据": "No category figures",
    "手工录入（谈话推荐等无选票环节）": "Enter by hand (stages without ballots, e.g. 谈话推荐)",
    "数据": "Values",
    "录入": "Enter",
    "民主推荐": "Democratic recommendation (民主推荐)",
    "谈话推荐": "Talk recommendation (谈话推荐)",
    "民主测评": "Democratic evaluation (民主测评)",
    "民意调查": "Opinion survey (民意调查)",
    "满意度评议": "Satisfaction review (满意度评议)",
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
