"""姓氏笔画: stroke counts from Unihan kTotalStrokes, ties by stroke order (cnchar-order)."""

from __future__ import annotations

from tally.strokes import name_key, sort_by_strokes, stroke_count, stroke_order


def test_known_stroke_counts():
    # counts as in any dictionary (and Unihan kTotalStrokes)
    known = {"丁": 2, "于": 3, "马": 3, "王": 4, "方": 4, "田": 5, "刘": 6, "李": 7, "张": 7,
             "陈": 7, "赵": 9, "钟": 9, "黄": 11, "蒋": 12, "褚": 13, "戴": 17}
    assert {ch: stroke_count(ch) for ch in known} == known
    assert stroke_count("A") is None


def test_stroke_orders_in_five_classes():
    assert stroke_order("丁") == "15"  # 横, 竖钩 (a hooked stroke: 折)
    assert stroke_order("王") == "1121"  # 横 横 竖 提 (提 counts as 横)
    assert stroke_order("心") == "4544"  # 点 卧钩 点 点
    assert all(len(stroke_order(c) or "") == stroke_count(c) for c in "李张赵钟孙周吴郑")


def test_surnames_sort_like_official_lists():
    names = ["钟华", "赵强", "张伟", "李明", "王芳", "丁一", "方圆", "马力", "于洋", "万里"]
    ordered = sort_by_strokes(names, lambda n: n)
    # 2 丁; 3 于(115) 万(153) 马(551); 4 王(横) 方(点); 7 李(横) 张(折); 9 赵(横) 钟(撇)
    assert ordered == ["丁一", "于洋", "万里", "马力", "王芳", "方圆", "李明", "张伟", "赵强",
                       "钟华"]


def test_same_surname_goes_on_to_the_given_name():
    assert sort_by_strokes(["王建国", "王一", "王志刚"], lambda n: n) == ["王一", "王志刚",
                                                                        "王建国"]
    assert name_key("王 一") == name_key("王一")
    # a character outside the tables sorts after every known one
    assert sort_by_strokes(["Zhang", "齉鼻"], lambda n: n) == ["齉鼻", "Zhang"]
