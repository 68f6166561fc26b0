"""The reasons of pages and review items in the report's Chinese, keyed as `tally.reasons`.

The console shows the same reasons through the server's zh_CN catalogue; a test checks that
the two wordings agree and that every key (every `omr.reading.ReasonCode` among them) has one.
"""

from __future__ import annotations

from tally.reasons import TEMPLATES, reason_text

#: key of `tally.reasons.TEMPLATES` -> the report's Chinese template (same placeholders)
ZH: dict[str, str] = {
    "doubtful_marks": "有存疑标记，须人工核看",
    "blank": "空白页",
    "unknown_form": "不属于本会议表单的票",
    "not_read": "无法识别本页，请重新扫描",
    "no_image": "文件中没有页面图像",
    "decode_failed": "文件无法解码为图像，请重新扫描",
    "internal_error": "识别本页时发生内部错误，请报告",
    "worker_crashed": "识别进程在本页崩溃，请重新送入该票",
    "card_timing": "读卡机定位道无法识别，请重新送入该卡",
    "card_grid": "卡片与表单的格位不符，请重新送入该卡",
    "card_stray_marks": "卡片上有杂散标记，请检查该卡",
    "card_code_unreadable": "卡片印制编号无法识别，请重新送入",
    "test_sheet": "正式会议中送入了测试票：不计入",
    "unreadable": "无法识别本页，请重新扫描",
    "review": "识别程序要求人工复核",
    "serial_other_form": "编号 {serial} 印制于表单 {printed}，但本票属于表单 {form}："
                         "复印或错印的票；不计入——交工作组另行处理，或填写原因后排除",
    "serial_other_form.plain": "编号属于本会议另一表单：不计入——另行处理，或填写原因后排除",
    "unknown_serial": "编号 {serial} 不是本会议印制的编号：认可后计入，或排除",
    "unknown_serial.review": "编号 {serial} 不是本会议印制的编号：伪造的票或其他会议的票？"
                             "认可后计入，或排除",
    "duplicate": "与第 #{page} 页为同一张票的同一页：只计一次",
    "refed": "已重新送入，识别为第 #{page} 页",
    "dismissed": "已排除，不计入",
    "confirmed": "手工录入，已确认",
    "awaiting_confirmation": "手工录入：须另一登录用户对照图像确认",
    "review_pending": "在审核队列中等待处理",
    "blank.no_code": "空白页（无票面编码）",
    "blank.back": "空白背面",
    "blank.no_marks": "无任何标记",
    "blank.no_boxes": "本页没有选框",
    "image_too_small": "图像为 {shape} 像素：过小或不是页面图像，请重新扫描",
    "qr_unreadable": "二维码无法识别（未找到或已损坏）；请确认是本系统印制的票并重新扫描",
    "qr_not_ours": "二维码内容为 {shown}，不是本系统的票面编码",
    "form_not_loaded": "表单 {form} 的票，该表单未载入（已载入：{known}）；请添加该表单",
    "form_other_version": "按表单 {form} 的另一版本印制的票（版式 {printed}，已载入 {loaded}）；"
                          "请载入印制时的表单",
    "no_such_page": "编码标明第 {page} 页，但表单 {form} 只有 {pages} 页",
    "corner_marks_none": "未找到定位角标，且{detail}；请将票放正、完整地重新扫描",
    "corner_marks_missing": "定位角标只找到 {found} 个（共 {total} 个，缺：{missing}），"
                            "且{detail}；请将票放正、完整地重新扫描",
    "borders_found_some": "仅在 {boxes} 个选框中的 {found} 个找到边框",
    "borders_disagree": "找到的选框边框相互不一致",
    "borders_found_share": "仅在 {share} 的选框找到边框",
    "off_scan": "{boxes} 个选框在扫描范围之外（页面部分超出扫描区域）；请完整地重新扫描",
    "boxes_misplaced": "印制的选框不在定位角标所示位置（票面变形或印制尺寸不同）；请展平后重新扫描",
    "registration_error": "定位误差 {error_mm} 毫米，超过 {limit_mm} 毫米的限度"
                          "（票面变形或印制尺寸不同）；请展平后重新扫描",
    "foreign_page": "版式第 {page} 页没有定位角标和二维码（外来表单的页）；请作为外来表单载入",
    "doubtful_boxes": "{n} 个选框存疑：{boxes}",
    "corner.top-left": "左上",
    "corner.top-right": "右上",
    "corner.bottom-right": "右下",
    "corner.bottom-left": "左下",
    "ingest.refeed": "请重新送入该票",
    "ingest.not_ours": "不是本会议的票（{detail}）；请从票堆中取出或重新送入",
    "ingest.reread": "编号 {serial} 第 {page} 页已读过（第 #{first} 页，{source}）；"
                     "作为重复保存，不再计入",
    "ingest.same_ink": "与第 #{first} 页（{source}）为同一张票：笔迹相同，系重复扫描"
                       "（票上无编号）；作为重复保存，不再计入",
    "ingest.blank": "空白页（无票面编码）；不计入",
    "ingest.unknown_serial": "编号 {serial} 不是本会议印制的编号（伪造的票或其他会议的票？）；"
                             "暂存待复核，复核认可前不计入",
    "review.dismiss": "请填写原因后排除",
    "review.refeed": "请重新送入该票、按图像手工录入，或排除该页",
    "review.refed": "已重新送入并识别",
    "review.entered_confirmed": "由 {entered_by} 录入，{confirmed_by} 确认",
    "review.entered": "由 {entered_by} 手工录入：须另一登录用户对照图像确认",
    "review.pages_missing": "编号 {serial} 的第 {pages} 页未识别："
                            "请重新送入，或认可／作废／排除该票",
    "review.doubtful_mark": "存疑标记：该框是否已划？",
    "review.writein_no_name": "另推栏已划票：请按图像录入姓名",
    "review.writein_ink": "另推栏有字迹但未划票：是否计入姓名？",
}

_BY_TEMPLATE = {TEMPLATES[k]: v for k, v in ZH.items() if k in TEMPLATES}


def zh_template(template: str) -> str:
    """An English reason template of `tally.reasons` in the report's Chinese (as is if none)."""
    return _BY_TEMPLATE.get(template, template)


def reason_zh(code: str | None, sentence: str) -> str:
    """A page's or item's reason in the report's Chinese (the stored sentence if unknown)."""
    return reason_text(code, sentence, zh_template, "；")
