"""Charts for the PDF report (reportlab graphics): drawings sized in points, CJK labels.

- `stacked_bars`: 100%-stacked horizontal bars (cadres by level; categories by level);
- `grouped_bars`: vertical bars grouped by row, one colour per voter category;
- `count_bars`: horizontal bars of vote counts (with their rates);
- `donut`: a doughnut of shares with the headline rate in its centre.
Values given as fractions are drawn as percentages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.doughnut import Doughnut
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from forms.fonts import FONT_NAME, register_font

INK = colors.HexColor("#222222")
GRID = colors.HexColor("#D0D5DC")
#: level colours by role: best to worst, then 不了解
GOOD_TO_BAD = ["#1B6B3A", "#6DB36D", "#F2B134", "#D64541"]
UNKNOWN_COLOUR = "#A7ADB5"
SERIES = ["#2F5597", "#C55A11", "#548235", "#7030A0", "#BF9000", "#2E75B6", "#843C0C", "#767171"]


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: list[float | None]  # fractions (stacked/grouped) or counts (count_bars)
    labelled: bool = True  # print the values on the bars


def level_colours(level_ids: Sequence[str]) -> list[str]:
    """Colours for levels in printed order: green → red for the rated ones, grey for 不了解."""
    rated = [i for i in level_ids if i != "unknown"]
    palette = {4: GOOD_TO_BAD, 3: [GOOD_TO_BAD[0], GOOD_TO_BAD[2], GOOD_TO_BAD[3]],
               2: [GOOD_TO_BAD[0], GOOD_TO_BAD[3]]}.get(len(rated))
    if palette is None:
        palette = [SERIES[k % len(SERIES)] for k in range(len(rated))]
    out, k = [], 0
    for i in level_ids:
        if i == "unknown":
            out.append(UNKNOWN_COLOUR)
        else:
            out.append(palette[k])
            k += 1
    return out


def _legend(d: Drawing, series: Sequence[Series], x: float, y: float, size: float = 8) -> None:
    leg = Legend()
    leg.x, leg.y = x, y
    leg.alignment = "right"
    leg.columnMaximum = 1
    leg.fontName, leg.fontSize = FONT_NAME, size
    leg.boxAnchor = "nw"
    leg.dx, leg.dy = 8, 8
    leg.dxTextSpace = 4
    leg.deltax = max(stringWidth(s.label, FONT_NAME, size) for s in series) + 22
    leg.strokeColor = None
    leg.colorNamePairs = [(colors.HexColor(s.colour), s.label) for s in series]
    d.add(leg)


def _title(d: Drawing, text: str, width: float, y: float) -> None:
    d.add(String(width / 2, y, text, fontName=FONT_NAME, fontSize=10, fillColor=INK,
                 textAnchor="middle"))


def stacked_bars(names: list[str], series: list[Series], width: float, *, title: str = "",
                 bar_pt: float = 13.0) -> Drawing:
    """One 100%-stacked bar per name (first name on top); segments ≥ 6% carry their %."""
    register_font()
    label_w = min(max(stringWidth(n, FONT_NAME, 8) for n in names) + 8, width * 0.35)
    plot_h = bar_pt * len(names) * 1.35
    top_pad, bottom_pad = (40 if title else 22), 20
    height = plot_h + top_pad + bottom_pad
    d = Drawing(width, height)
    if title:
        _title(d, title, width, height - 12)
    ch = HorizontalBarChart()
    ch.x, ch.y, ch.width, ch.height = label_w, bottom_pad, width - label_w - 10, plot_h
    ch.data = [tuple(100 * (v or 0.0) for v in reversed(s.values)) for s in series]
    ch.categoryAxis.categoryNames = list(reversed(names))
    ch.categoryAxis.style = "stacked"
    ch.categoryAxis.labels.fontName = FONT_NAME
    ch.categoryAxis.labels.fontSize = 8
    ch.categoryAxis.labels.dx = -3
    ch.categoryAxis.strokeColor = INK
    ch.valueAxis.valueMin, ch.valueAxis.valueMax, ch.valueAxis.valueStep = 0, 100, 20
    ch.valueAxis.labels.fontName = FONT_NAME
    ch.valueAxis.labels.fontSize = 7.5
    ch.valueAxis.labelTextFormat = "%d%%"
    ch.valueAxis.visibleGrid = True
    ch.valueAxis.gridStrokeColor = GRID
    ch.valueAxis.strokeColor = INK
    ch.barWidth = bar_pt
    ch.groupSpacing = bar_pt * 0.35
    ch.bars.strokeColor = colors.white
    ch.bars.strokeWidth = 0.4
    for i, s in enumerate(series):
        ch.bars[i].fillColor = colors.HexColor(s.colour)
    def fmt(v: float) -> str:
        return f"{v:.0f}%" if v >= 6 else ""

    ch.barLabelFormat = [fmt if s.labelled else None for s in series]
    ch.barLabels.fontName = FONT_NAME
    ch.barLabels.fontSize = 7
    ch.barLabels.fillColor = colors.white
    ch.barLabels.boxTarget = "mid"
    d.add(ch)
    _legend(d, series, label_w, height - (20 if title else 2))
    return d



def percent_bars(data: list[tuple[float | None, ...]], names: list[str],
                 colours: list[str]) -> VerticalBarChart:
    """A vertical bar chart of percentages (0-100, one tuple per series, None: no bar) in the
    reports' style: axes, grid, fonts and the series' colours; the caller places and sizes it."""
    ch = VerticalBarChart()
    ch.data = data
    ch.categoryAxis.categoryNames = names
    ch.categoryAxis.labels.fontName = FONT_NAME
    ch.categoryAxis.labels.fontSize = 8
    ch.categoryAxis.labels.dy = -3
    ch.valueAxis.valueMin, ch.valueAxis.valueMax, ch.valueAxis.valueStep = 0, 100, 20
    ch.valueAxis.labels.fontName = FONT_NAME
    ch.valueAxis.labels.fontSize = 7.5
    ch.valueAxis.labelTextFormat = "%d%%"
    ch.valueAxis.visibleGrid = True
    ch.valueAxis.gridStrokeColor = GRID
    for i, colour in enumerate(colours):
        ch.bars[i].fillColor = colors.HexColor(colour)
        ch.bars[i].strokeColor = None
    return ch

def grouped_bars(groups: list[str], series: list[Series], width: float, height: float, *,
                 title: str = "") -> Drawing:
    """Vertical bars: for each group (row) one bar per series (bucket); values are fractions."""
    register_font()
    d = Drawing(width, height)
    top = 40 if title else 26
    if title:
        _title(d, title, width, height - 12)
    ch = percent_bars([tuple(100 * (v or 0.0) for v in s.values) for s in series], groups,
                      [s.colour for s in series])
    ch.x, ch.y, ch.width, ch.height = 34, 30, width - 44, height - 30 - top
    n = max(len(series), 1)
    ch.barSpacing = 1
    ch.groupSpacing = 10
    ch.barWidth = 10
    ch.barLabelFormat = "%.0f" if n * len(groups) > 24 else "%.1f"
    ch.barLabels.fontName = FONT_NAME
    ch.barLabels.fontSize = 6 if n * len(groups) > 24 else 6.5
    ch.barLabels.nudge = 5
    d.add(ch)
    _legend(d, series, 34, height - (20 if title else 4))
    return d


def count_bars(names: list[str], votes: list[int], rates: list[float | None], width: float, *,
               colour: str = SERIES[0], title: str = "") -> Drawing:
    """Horizontal bars of vote counts, first name on top, labelled "票数（得票率）"."""
    register_font()
    label_w = min(max(stringWidth(n, FONT_NAME, 8.5) for n in names) + 10, width * 0.3)
    bar = 11.0
    plot_h = bar * len(names) * 1.5
    top = 24 if title else 8
    height = plot_h + top + 22
    d = Drawing(width, height)
    if title:
        _title(d, title, width, height - 12)
    ch = HorizontalBarChart()
    ch.x, ch.y, ch.width, ch.height = label_w, 20, width - label_w - 60, plot_h
    ch.data = [tuple(reversed(votes))]
    ch.categoryAxis.categoryNames = list(reversed(names))
    ch.categoryAxis.labels.fontName = FONT_NAME
    ch.categoryAxis.labels.fontSize = 8.5
    ch.categoryAxis.labels.dx = -3
    top_v = max([*votes, 1])
    step = _nice_step(top_v)
    ch.valueAxis.valueMin, ch.valueAxis.valueMax = 0, step * (-(-top_v // step))
    ch.valueAxis.valueStep = step
    ch.valueAxis.labels.fontName = FONT_NAME
    ch.valueAxis.labels.fontSize = 7.5
    ch.valueAxis.visibleGrid = True
    ch.valueAxis.gridStrokeColor = GRID
    ch.bars[0].fillColor = colors.HexColor(colour)
    ch.bars[0].strokeColor = None
    ch.barWidth = bar
    labels = {i: f"{v}（{_pct(r)}）" for i, (v, r) in enumerate(zip(reversed(votes),
                                                                   reversed(rates),
                                                                   strict=True))}
    ch.barLabelArray = [[labels[i] for i in range(len(votes))]]
    ch.barLabelFormat = "values"
    ch.barLabels.fontName = FONT_NAME
    ch.barLabels.fontSize = 7.5
    ch.barLabels.boxAnchor = "w"
    ch.barLabels.dx = 3
    d.add(ch)
    return d


def donut(series: list[Series], size: float, *, centre: str = "", centre_sub: str = "",
          title: str = "") -> Drawing:
    """A doughnut of one distribution (`Series.values[0]` per slice) with a legend on the right."""
    register_font()
    legend_w = max(stringWidth(f"{s.label} 100.0%", FONT_NAME, 8.5) for s in series) + 30
    width = size + legend_w + 20
    height = size + (22 if title else 6)
    d = Drawing(width, height)
    if title:
        d.add(String(size / 2 + 5, height - 12, title, fontName=FONT_NAME, fontSize=10,
                     fillColor=INK, textAnchor="middle"))
    values = [max(s.values[0] or 0.0, 0.0) for s in series]
    if sum(values) <= 0:
        d.add(Rect(5, 5, size, size, fillColor=colors.white, strokeColor=GRID))
        d.add(String(5 + size / 2, 5 + size / 2, "无数据", fontName=FONT_NAME, fontSize=9,
                     textAnchor="middle"))
        return d
    ch = Doughnut()
    ch.x, ch.y, ch.width, ch.height = 5, 5, size, size
    ch.data = [v if v > 0 else 1e-9 for v in values]
    ch.innerRadiusFraction = 0.55
    ch.slices.strokeColor = colors.white
    ch.slices.strokeWidth = 1
    ch.labels = [f"{v * 100:.1f}%" if v >= 0.05 else "" for v in values]
    ch.slices.fontName = FONT_NAME
    ch.slices.fontSize = 7.5
    ch.slices.fontColor = colors.white
    ch.slices.labelRadius = 0.78
    for i, s in enumerate(series):
        ch.slices[i].fillColor = colors.HexColor(s.colour)
    d.add(ch)
    cx, cy = 5 + size / 2, 5 + size / 2
    if centre:
        d.add(String(cx, cy - 1, centre, fontName=FONT_NAME, fontSize=13, fillColor=INK,
                     textAnchor="middle"))
    if centre_sub:
        d.add(String(cx, cy - 14, centre_sub, fontName=FONT_NAME, fontSize=8, fillColor=INK,
                     textAnchor="middle"))
    leg = Legend()
    leg.x, leg.y = size + 22, 5 + size / 2 + 7 * len(series)
    leg.fontName, leg.fontSize = FONT_NAME, 8.5
    leg.alignment = "right"
    leg.boxAnchor = "nw"
    leg.dx, leg.dy = 8, 8
    leg.dxTextSpace = 5
    leg.deltay = 14
    leg.columnMaximum = len(series)
    leg.strokeColor = None
    leg.colorNamePairs = [(colors.HexColor(s.colour), f"{s.label} {_pct(v)}")
                          for s, v in zip(series, values, strict=True)]
    d.add(leg)
    return d


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 8:
            return step
    return 2000
